"""Score one video with a trained TSN: MMAction2's ``inference_recognizer``, in tsnbook's terms.

    model, info = tsnbook.load_model("work_dirs/run/best.pth")      # or an MMAction2 zoo file
    scores = predict_video(model, "clip.mp4", cfg=info["cfg"])      # the config's own test protocol
    scores = predict_video(model, "clip.mp4", protocol="25x10")     # or a named one (`tsnbook.pipelines`)
    result = predict_two_stream(rgb, flow, "clip.mp4", rgb_cfg, flow_cfg)   # the zoo's [1:1] on one raw video

The views come from `test_views` / `config_views`: the same sampling, decoding and transforms as the test split
of a dataset (`tsnbook.data.TSNDataset.load_from`), bit-identical to MMAction2's test pipeline. The model averages
the pooled features of *all* views and applies the classifier once (spec §6.1): `TSN.score_views`.

A flow model given a video file scores the video's own optical flow: `video_flow` computes it as the training
data's was made (`tsnbook.flow`: the config's ``flow_algorithm`` [DIS], ``flow_bound`` [20] and
``flow_resolution``, quantised and JPEG-stored like denseflow's files) and reads it back with the same
`FlowFrames` reader a flow dataset uses, so the network sees exactly what a test on extracted flow would give it.
"""
import contextlib
import tempfile
from pathlib import Path

import numpy as np

from .configs import option
from .data import TSNDataset, dataset_from_config, read_label_map  # noqa: F401  (read_label_map: kept here too)
from .flow import extract_video_flow
from .io import FlowFrames, RawFrames, Video, open_selective
from .metrics import fuse_scores
from .pipelines import frames_per_clip, parse_protocol, protocol_of, protocol_settings


def _reader(video, backend):
    """An open reader (left open) or a file path (opened here, closed after use)."""
    if isinstance(video, Video):
        return contextlib.nullcontext(video)
    if not Path(video).is_file():
        raise FileNotFoundError(f"video {video} does not exist")
    return open_selective(video, backend)


def _source(video):
    return "flow" if isinstance(video, FlowFrames) else "rawframes" if isinstance(video, RawFrames) else "video"


def _protocol_clips(protocol, num_segments):
    """The clips per crop a named protocol samples (``num_segments`` replaces its count, except for "val")."""
    return num_segments if num_segments and protocol != "val" else parse_protocol(protocol, num_segments or 3)["clips"]


def test_views(video, protocol="25x10", num_segments=None, backend=None, clip_len=None, modality=None):
    """Every test view of one video under a named protocol: uint8 [V, C, H, W], C-contiguous, MMAction2's order.

    ``video``: a file path (opened with `tsnbook.io.open_selective`), or an open tsnbook reader (`RawFrames`,
    `FlowFrames`, any `tsnbook.io.Video`; left open). RGB: C = 3; flow (a FlowFrames reader): one image of
    2 x clip_len channels per crop and clip; ``modality="rgbdiff"`` (an RGB video): clip_len + 1 frames stacked,
    3 x (clip_len + 1) channels. ``num_segments`` replaces the protocol's clip count ("val": the segments of the
    1x1xK layout, 3 by default); ``clip_len`` defaults to 1 for RGB, 5 for flow and rgbdiff. Output order is
    MMAction2's: all clips of view 1, then all clips of view 2, ... (TenCrop: UL, UL-mirror, UR, ...).
    """
    source = _source(video)
    flow = source == "flow"
    modality = modality or ("flow" if flow else "rgb")
    settings = protocol_settings(protocol, flow, num_segments or 3, modality=modality)
    clip_len = frames_per_clip(modality, clip_len or (1 if modality == "rgb" else 5))
    dataset = TSNDataset([], settings["test_pipeline"], source=source,
                         num_segments=_protocol_clips(protocol, num_segments), clip_len=clip_len, test_mode=True,
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
                         f"model but got {'optical flow' if source == 'flow' else 'RGB frames'}: "
                         + ("a flow model reads optical flow: give predict_video the video's path (its flow is "
                            "computed) or a tsnbook.FlowFrames reader of its flow_x/flow_y JPEGs"
                            if cfg["source"] == "flow" else "an RGB model reads the video itself"))
    dataset = dataset_from_config(dict(cfg, source=source), "test", [])
    with _reader(video, backend) as reader:
        return dataset.load_from(reader)["imgs"]


@contextlib.contextmanager
def video_flow(video_path, algorithm="dis", bound=20.0, resolution=None):
    """The optical flow of a video file, as the `FlowFrames` reader a flow dataset would open on its files.

    The flow is computed by `tsnbook.flow.extract_video_flow` - the extraction that makes training data: each
    frame pair's displacement clipped to +-``bound``, quantised to 0..255 and stored as x/y JPEGs - into a
    temporary folder that is removed when the ``with`` block ends. ``resolution``: the size the frames are
    brought to first (None: the video's own; "340x256", "short256", ... see `tsnbook.flow.output_size`).
    """
    if not Path(video_path).is_file():
        raise FileNotFoundError(f"video {video_path} does not exist")
    with tempfile.TemporaryDirectory(prefix="tsnbook-flow-") as folder:
        out = Path(folder) / Path(video_path).stem
        count = extract_video_flow(video_path, out, algorithm=algorithm, bound=bound, resolution=resolution)
        yield FlowFrames(out, count)


def flow_settings(cfg=None):
    """How a flow model's input was computed: ``dict(algorithm, bound, resolution)`` from ``cfg`` (the
    optional keys ``flow_algorithm``, ``flow_bound``, ``flow_resolution``; their defaults without one)."""
    cfg = cfg or {}
    return dict(algorithm=option(cfg, "flow_algorithm"), bound=float(option(cfg, "flow_bound")),
                resolution=option(cfg, "flow_resolution"))


def predict_video(model, video_path, protocol=None, average_clips="prob", cfg=None, num_segments=None,
                  views_per_chunk=25, backend=None, flow=None):
    """Class scores of one video (numpy [num_classes]).

    The views: ``cfg``'s own test protocol when a config is given and ``protocol`` is None (a tsnbook checkpoint
    stores its config: ``load_model(path)[1]["cfg"]``); else the named ``protocol`` (default "25x10"; "val" uses
    the model's ``num_segments``). ``num_segments`` replaces a named protocol's clip count. ``video_path`` may
    also be an open tsnbook reader (a `FlowFrames` for a flow model).

    A flow model given a video *file* scores its optical flow, computed by `video_flow` with ``flow`` (a dict of
    its arguments; default `flow_settings` of ``cfg``, i.e. DIS, bound 20, the video's own size).
    """
    if model.modality == "flow" and not isinstance(video_path, Video):
        settings = dict(flow_settings(cfg), **(flow or {}))
        with video_flow(video_path, **settings) as reader:
            return predict_video(model, reader, protocol, average_clips, cfg, num_segments, views_per_chunk)
    if model.modality == "flow" and not isinstance(video_path, FlowFrames):
        raise ValueError(f"{type(model).__name__}(flow) reads optical flow, but got an RGB reader "
                         f"({type(video_path).__name__}): pass the video's path (its flow is then computed) or a "
                         f"tsnbook.FlowFrames reader of its flow_x/flow_y JPEGs")
    clip_len = {"flow": model.in_channels // 2, "rgbdiff": model.in_channels // 3 - 1}.get(model.modality)
    if cfg is not None and protocol is None:
        views, num_clips = config_views(video_path, cfg, backend), cfg.get("test_clips", 25)
    else:
        protocol = protocol or "25x10"
        if num_segments is None and protocol == "val":
            num_segments = model.num_segments
        views = test_views(video_path, protocol, num_segments=num_segments, backend=backend, clip_len=clip_len,
                           modality=model.modality)
        num_clips = _protocol_clips(protocol, num_segments)
    was_training = model.training
    scores = model.score_views(views, average_clips, views_per_chunk, num_clips=num_clips)
    model.train(was_training)
    return scores


def describe_protocol(cfg=None, protocol=None):
    """The protocol name ``predict_video`` uses for these arguments (for reports)."""
    return protocol or (protocol_of(cfg) if cfg is not None else "25x10")


def predict_two_stream(rgb_model, flow_model, video_path, rgb_cfg=None, flow_cfg=None, protocol=None,
                       coefficients=(1, 1), flow=None, views_per_chunk=25):
    """The whole two-stream TSN on one raw video: ``dict(rgb=, flow=, fused=)`` score vectors.

    The zoo's "[1:1]" fusion, as its two-stream rows were made: each stream is tested on its own (its config's
    test protocol, or the named ``protocol`` for both), its views' scores averaged *without* softmax (raw
    logits, the 0.x zoo's ``average_clips=None``), and the two are summed with ``coefficients`` (1 and 1;
    `tsnbook.metrics.fuse_scores`). The flow stream's input is the video's own flow (`video_flow`).
    """
    if rgb_model.modality != "rgb" or flow_model.modality != "flow":
        raise ValueError(f"two-stream prediction takes an RGB model and a flow model, got {rgb_model.modality} and "
                         f"{flow_model.modality}: check which checkpoint is given as --rgb and which as --flow")
    if rgb_model.num_classes != flow_model.num_classes:
        raise ValueError(f"the RGB model has {rgb_model.num_classes} classes and the flow model "
                         f"{flow_model.num_classes}: both streams must be trained on the same classes")
    rgb = predict_video(rgb_model, video_path, protocol, "score", cfg=rgb_cfg, views_per_chunk=views_per_chunk)
    flow_scores = predict_video(flow_model, video_path, protocol, "score", cfg=flow_cfg, flow=flow,
                                views_per_chunk=views_per_chunk)
    fused = fuse_scores([rgb[None], flow_scores[None]], list(coefficients))[0]
    return dict(rgb=rgb, flow=flow_scores, fused=fused)


def top_k(scores, k=5, names=None):
    """``[(class index, name or str(index), score)]`` of the k best classes, best first."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), names[i] if names else str(i), float(scores[i])) for i in order]
