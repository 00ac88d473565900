"""TSN features: the vector the classifier reads, one per video (or one per snippet), saved as ``.npy``.

    model, info = tsnbook.load_model("work_dirs/run/best.pth")
    feature = tsnbook.extract_features(model, "clip.mp4", cfg=info["cfg"])                    # [D]
    per_clip = tsnbook.extract_features(model, "clip.mp4", cfg=info["cfg"], per_segment=True)  # [clips, D]

A TSN pools each view's backbone map to a vector, averages the vectors of all views (the segmental consensus) and
applies one linear classifier. The **pooled feature after the consensus** is what ``features`` saves by default:
for a ResNet-50 a 2048-d vector per video, and ``scores = feature @ fc.weight.T + fc.bias`` gives back exactly the
raw scores ``predict`` prints with ``--average-clips score`` (`tests/test_features_explain.py`). ``per_segment=True``
keeps one vector per snippet (clip), averaged over its crops only: ``[clips, D]``, the snippet-level features of
temporal action localisation on ActivityNet (notebook 13), where BSN/BMN-style methods read TSN features along the
video.

The other consensus functions (`tsnbook.consensus`): a **weighted** TSN's feature after the consensus is the
weighted mean of the views' features (each clip weighted by its segment, the crops alike), which the classifier
reads just the same; a **max** TSN has none - it takes each class's best snippet *score*, after the classifier -
so only its per-snippet features exist (`consensus_weights` refuses the rest).

The views are the config's own test views (or ``--protocol``), so a feature is what the model saw when it was
tested. MMAction2 0.x's ``tools/misc/clip_feature_extraction.py`` returns the same per-video vector (the mean over all
views that ``Recognizer2D`` computes in ``mmaction/models/recognizers/recognizer2d.py``), in one pickle keyed by list
order; here each video gets its own file, named after it (`feature_files`), and ``features.json`` records what the
vectors are.
"""
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .batch import expand_inputs, scored_videos
from .configs import as_config
from .predict import check_video_path, flow_input, view_extractor


@torch.no_grad()
def view_features(model, views, views_per_chunk=25):
    """The pooled feature of every view ``uint8 [V, C, H, W]`` -> float64 ``[V, D]`` (eval mode: no dropout), each
    view on its own, before any consensus."""
    model.eval()
    device = next(model.parameters()).device
    chunks = torch.as_tensor(views).split(views_per_chunk)
    return torch.cat([model.snippet_features(chunk[None].to(device))[0].double().cpu() for chunk in chunks]).numpy()


def consensus_weights(model, num_views, num_clips, refused):
    """The weights ``model``'s consensus gives ``num_views`` test views in the feature its classifier reads: None
    for the average (the plain mean, kept as its own arithmetic), float64 ``[V]`` summing to 1 for the weighted
    consensus (``num_clips`` clips per crop, `tsnbook.consensus`). A max consensus pools class scores, not
    features: refused with ``refused``, the line that says what to do instead."""
    kind = model.consensus.kind
    if kind == "max":
        raise ValueError(f"a max-consensus TSN takes each class's best snippet score, after its classifier: it has "
                         f"no feature after the consensus - {refused}")
    return None if kind == "avg" else model.consensus.view_weights(num_views, num_clips).numpy()


def video_features(model, views, per_segment=False, crops=1, views_per_chunk=25, num_clips=None):
    """One video's feature: the consensus of all views ``[D]`` (the mean; a weighted TSN's weighted mean, its
    clips ``num_clips`` per block, default all of a crop's), or per snippet ``[clips, D]`` (the views' order is
    MMAction2's, all clips of crop 1 first, so a snippet's ``crops`` views are ``clips`` apart). float32."""
    features = view_features(model, views, views_per_chunk)
    if per_segment:
        return features.reshape(crops, len(features) // crops, -1).mean(axis=0).astype(np.float32)
    weights = consensus_weights(model, len(features), num_clips or len(features) // crops,
                                "save its snippets' features instead (per_segment, --per-segment)")
    return (features.mean(axis=0) if weights is None else weights @ features).astype(np.float32)


def videos_features(model, inputs, cfg=None, protocol=None, per_segment=False, workers=0, video_root=None,
                    flow=None, views_per_chunk=25):
    """`video_features` of many videos, the model loaded once: an iterator of ``dict(video, features)`` or
    ``dict(video, error)`` per video, in input order (``inputs`` and the views as `tsnbook.batch.predict_videos`:
    files, folders, list files; ``cfg``'s test split or ``protocol``; ``workers`` DataLoader processes)."""
    origins = {}
    videos = expand_inputs(inputs, video_root, origins)
    return expanded_features(model, videos, cfg=cfg, protocol=protocol, per_segment=per_segment, workers=workers,
                             flow=flow, views_per_chunk=views_per_chunk, origins=origins)


def expanded_features(model, videos, *, cfg=None, protocol=None, per_segment=False, workers=0, flow=None,
                      views_per_chunk=25, origins=None):
    """`videos_features` of video files already expanded (`tsnbook.batch.expand_inputs`, which fills ``origins``,
    the ``list:line`` of each listed video): what ``features`` calls after expanding its inputs once."""
    cfg = as_config(cfg)  # a config's name or file, as the commands take
    extract = view_extractor(model, cfg, protocol)

    def features(views):
        return dict(features=video_features(model, views[0], per_segment, extract.crops, views_per_chunk,
                                            extract.num_segments))

    return scored_videos(videos, [(extract, flow_input(model, cfg, flow))], features, workers, origins)


def extract_features(model, video_path, cfg=None, protocol=None, per_segment=False, flow=None, views_per_chunk=25):
    """One video file's feature, float32: after the consensus ``[D]`` (the classifier's input), or per snippet
    ``[clips, D]`` with ``per_segment`` - exactly the array ``features`` saves for it. The views are ``cfg``'s own
    test split, or the named ``protocol``; a flow model reads the video's optical flow (`videos_features`)."""
    (result,) = expanded_features(model, [check_video_path(video_path)], cfg=cfg, protocol=protocol,
                                  per_segment=per_segment, flow=flow, views_per_chunk=views_per_chunk)
    if "error" in result:
        raise ValueError(result["error"])
    return result["features"]


def feature_files(paths, folder):
    """``{video: folder/<name>.npy}``: each video's file, named after its path below the videos' common folder
    (so two ``clip.mp4`` in different class folders do not overwrite each other), its extension dropped
    (``clip.npy``) unless another video of the folder has the same stem (``same.mp4`` and ``same.mkv`` write
    ``same.mp4.npy`` and ``same.mkv.npy``). A video named twice keeps one file; two videos that would still
    share a file are refused, naming both."""
    resolved = [Path(p).resolve() for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved])) if resolved else Path()
    relative = {p: p.relative_to(common) for p in resolved}
    videos_of_stem = Counter(name.with_suffix("") for name in set(relative.values()))
    names = {p: name.with_suffix(".npy") if videos_of_stem[name.with_suffix("")] == 1 else
             name.with_name(name.name + ".npy") for p, name in relative.items()}
    owner = {}
    for given, p in zip(paths, resolved):
        first = owner.setdefault(names[p], (given, p))
        if first[1] != p:
            raise ValueError(f"videos {first[0]} and {given} would both write the feature file {names[p]}: rename "
                             f"one, or extract their features into separate --out folders")
    return {str(given): Path(folder) / names[p] for given, p in zip(paths, resolved)}


def save_features(folder, files, features, meta):
    """Write each video's array to its file (`feature_files`) and ``features.json`` (``meta``, and for each video
    its file and shape)."""
    index = {}
    for video, array in features.items():
        files[video].parent.mkdir(parents=True, exist_ok=True)
        np.save(files[video], array)
        index[video] = dict(file=str(files[video].relative_to(folder)), shape=list(array.shape))
    (Path(folder) / "features.json").write_text(json.dumps(dict(meta, videos=index), indent=1) + "\n")
