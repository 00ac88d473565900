"""TSN features: the vector the classifier reads, one per video (or one per snippet), saved as ``.npy``.

A TSN pools each view's backbone map to a vector, averages the vectors of all views (the segmental consensus) and
applies one linear classifier. The **pooled feature after the consensus** is what ``features`` saves by default:
for a ResNet-50 a 2048-d vector per video, and ``scores = feature @ fc.weight.T + fc.bias`` gives back exactly the
raw scores ``predict`` prints with ``--average-clips score`` (`tests/test_features.py`). ``per_segment=True`` keeps
one vector per snippet (clip), averaged over its crops only: ``[clips, D]``, the snippet-level features of temporal
action localisation on ActivityNet (notebook 13), where BSN/BMN-style methods read TSN features along the video.

The views are the config's own test views (or ``--protocol``), so a feature is what the model saw when it was
tested. MMAction2's ``clip_feature_extraction.py`` returns the same per-video vector (mean over all views, spec
`mmaction2_tools.md` §4.1), in one pickle keyed by list order; here each video gets its own file, named after it,
and ``features.json`` records what the vectors are.
"""
import json
import os
from pathlib import Path

import numpy as np
import torch


@torch.no_grad()
def view_features(model, views, views_per_chunk=25):
    """The pooled feature of every view ``uint8 [V, C, H, W]`` -> float64 ``[V, D]`` (eval mode: no dropout)."""
    model.eval()
    device = next(model.parameters()).device
    chunks = torch.as_tensor(views).split(views_per_chunk)
    return torch.cat([model.features(chunk[:, None].to(device)).double().cpu() for chunk in chunks]).numpy()


def video_features(model, views, per_segment=False, crops=1, views_per_chunk=25):
    """One video's feature: the mean over all views ``[D]``, or per snippet ``[clips, D]`` (the views' order is
    MMAction2's, all clips of crop 1 first, so a snippet's ``crops`` views are ``clips`` apart). float32."""
    features = view_features(model, views, views_per_chunk)
    if per_segment:
        return features.reshape(crops, len(features) // crops, -1).mean(axis=0).astype(np.float32)
    return features.mean(axis=0).astype(np.float32)


def feature_files(paths, folder):
    """``{video: folder/<name>.npy}``: each video's file, named after its path below the videos' common folder
    (so two ``clip.mp4`` in different class folders do not overwrite each other)."""
    resolved = [Path(p).resolve() for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved])) if resolved else Path()
    return {str(given): Path(folder) / p.relative_to(common).with_suffix(".npy") for given, p in zip(paths, resolved)}


def save_features(folder, files, features, meta):
    """Write each video's array to its file (`feature_files`) and ``features.json`` (``meta``, and for each video
    its file and shape)."""
    index = {}
    for video, array in features.items():
        files[video].parent.mkdir(parents=True, exist_ok=True)
        np.save(files[video], array)
        index[video] = dict(file=str(files[video].relative_to(folder)), shape=list(array.shape))
    (Path(folder) / "features.json").write_text(json.dumps(dict(meta, videos=index), indent=1) + "\n")
