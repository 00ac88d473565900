"""Score one video with a trained TSN: MMAction2's ``inference_recognizer``, in tsnbook's terms.

    model, info = tsnbook.load_model("work_dirs/run/best.pth")      # or an MMAction2 zoo file
    scores = predict_video(model, "clip.mp4", cfg=info["cfg"])      # the config's own test protocol
    scores = predict_video(model, "clip.mp4", protocol="25x10")     # or a named one (`tsnbook.pipelines`)

The views come from `test_views` / `config_views`: the same sampling, decoding and transforms as the test split
of a dataset (`tsnbook.data.TSNDataset.load_from`), bit-identical to MMAction2's test pipeline. The model averages
the pooled features of *all* views and applies the classifier once (spec §6.1): `TSN.score_views`.
"""
import contextlib
from pathlib import Path

import numpy as np

from .data import TSNDataset, dataset_from_config
from .io import FlowFrames, RawFrames, Video, open_selective
from .pipelines import parse_protocol, protocol_of, protocol_settings


def _reader(video, backend):
    """An open reader (left open) or a file path (opened here, closed after use)."""
    if isinstance(video, Video):
        return contextlib.nullcontext(video)
    if not Path(video).is_file():
        raise FileNotFoundError(f"video {video} does not exist")
    return open_selective(video, backend)


def _source(video):
    return "flow" if isinstance(video, FlowFrames) else "rawframes" if isinstance(video, RawFrames) else "video"


def test_views(video, protocol="25x10", num_segments=None, backend=None, clip_len=None):
    """Every test view of one video under a named protocol: uint8 [V, C, H, W], C-contiguous, MMAction2's order.

    ``video``: a file path (opened with `tsnbook.io.open_selective`), or an open tsnbook reader (`RawFrames`,
    `FlowFrames`, any `tsnbook.io.Video`; left open). RGB: C = 3; flow (a FlowFrames reader): one image of
    2 x clip_len channels per crop and clip. ``num_segments`` replaces the protocol's clip count ("val": the
    segments of the 1x1xK layout, 3 by default); ``clip_len`` defaults to 1 for RGB, 5 for flow. Output order is
    MMAction2's: all clips of view 1, then all clips of view 2, ... (TenCrop: UL, UL-mirror, UR, ...).
    """
    source = _source(video)
    flow = source == "flow"
    spec = parse_protocol(protocol, num_segments or 3)
    settings = protocol_settings(protocol, flow, num_segments or 3)
    clips = num_segments if num_segments and protocol != "val" else spec["clips"]
    dataset = TSNDataset([], settings["test_pipeline"], source=source, num_segments=clips,
                         clip_len=clip_len or (5 if flow else 1), test_mode=True,
                         sampler=settings.get("sampler", "segments"),
                         dense_test_positions=settings.get("dense_test_positions", 10))
    with _reader(video, backend) as reader:
        return dataset.load_from(reader)["imgs"]


test_views.__test__ = False  # a library function, not a test, for pytest modules that import it by name


def config_views(video, cfg, backend=None):
    """Every test view of one video as ``cfg``'s own test split makes them (clips, sampler, crops, clip_len).

    A config of frame folders is applied to the video file itself (its frames are what the folders hold).
    """
    source = _source(video)
    if (source == "flow") != (cfg["source"] == "flow"):
        raise ValueError(f"{cfg.get('name', 'this config')} is {'a flow' if cfg['source'] == 'flow' else 'an RGB'} "
                         f"model but got {'optical flow' if source == 'flow' else 'RGB frames'}: a flow model takes "
                         f"the video's flow (a tsnbook.FlowFrames reader of its flow_x/flow_y JPEGs)")
    dataset = dataset_from_config(dict(cfg, source=source), "test", [])
    with _reader(video, backend) as reader:
        return dataset.load_from(reader)["imgs"]


def predict_video(model, video_path, protocol=None, average_clips="prob", cfg=None, num_segments=None,
                  views_per_chunk=25, backend=None):
    """Class scores of one video (numpy [num_classes]).

    The views: ``cfg``'s own test protocol when a config is given and ``protocol`` is None (a tsnbook checkpoint
    stores its config: ``load_model(path)[1]["cfg"]``); else the named ``protocol`` (default "25x10"; "val" uses
    the model's ``num_segments``). ``num_segments`` replaces a named protocol's clip count. ``video_path`` may
    also be an open tsnbook reader (a `FlowFrames` for a flow model).
    """
    clip_len = model.in_channels // 2 if model.modality == "flow" else None
    if cfg is not None and protocol is None:
        views = config_views(video_path, cfg, backend)
    else:
        protocol = protocol or "25x10"
        if num_segments is None and protocol == "val":
            num_segments = model.num_segments
        views = test_views(video_path, protocol, num_segments=num_segments, backend=backend, clip_len=clip_len)
    was_training = model.training
    scores = model.score_views(views, average_clips, views_per_chunk)
    model.train(was_training)
    return scores


def describe_protocol(cfg=None, protocol=None):
    """The protocol name ``predict_video`` uses for these arguments (for reports)."""
    return protocol or (protocol_of(cfg) if cfg is not None else "25x10")


def read_label_map(path, num_classes):
    """Class names from a text file with one name per line; the count must equal the model's classes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label map {path} does not exist")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ValueError(f"label map {path} has {len(names)} names but the model has {num_classes} classes "
                         f"(one class per line, in label order)")
    return names


def top_k(scores, k=5, names=None):
    """``[(class index, name or str(index), score)]`` of the k best classes, best first."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), names[i] if names else str(i), float(scores[i])) for i in order]
