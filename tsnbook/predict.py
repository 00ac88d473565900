"""Score one video with a trained TSN: MMAction2's ``inference_recognizer``, in tsnbook's terms.

    model, info = tsnbook.load_model("work_dirs/run/best.pth")      # or an MMAction2 zoo file
    scores = predict_video(model, "clip.mp4", cfg=info["cfg"])      # the config's own test protocol
    scores = predict_video(model, "clip.mp4", protocol="25x10")     # or a named one (`tsnbook.pipelines`)
    scores = predict_video(model, "long.mp4", cfg=cfg, frames=(250, 500))   # frames 250..499 only, as one clip
    result = predict_two_stream(rgb, flow, "clip.mp4", rgb_cfg, flow_cfg)   # the zoo's [1:1] on one raw video

The views come from `view_extractor` (`test_views` / `config_views` for a path or reader): `tsnbook.views`, the
same torch-free sampling, decoding and transforms as the test split of a dataset (`tsnbook.data.TSNDataset`),
bit-identical to MMAction2's test pipeline. A named protocol keeps the model's own sizes when its config is known
(a model trained on 48-px frames is tested on 48-px frames, not the zoo's 224-px crops). The model averages the
pooled features of *all* views and applies the classifier once, as MMAction2's TSNHead: `TSN.score_views`.

A flow model given a video file scores the video's own optical flow: `tsnbook.flow.video_flow` computes it as the
training data's was made (`tsnbook.flow`: the config's ``flow_algorithm`` [DIS], ``flow_bound`` [20] and
``flow_resolution``, quantised and JPEG-stored like denseflow's files) and reads it back with the same
`FlowFrames` reader a flow dataset uses, so the network sees exactly what a test on extracted flow would give it.
"""
import contextlib
from pathlib import Path

import numpy as np

from .configs import as_config, option
from .data import read_label_map  # noqa: F401  (kept here too: tests and notebooks import it from predict)
from .flow import video_flow
from .io import IMAGE_EXTENSIONS, FlowFrames, Video, open_selective
from .metrics import fuse_scores
from .pipelines import ZOO_INPUT_SIZE, ZOO_SHORT_SIDE, model_sizes, protocol_of
from .views import FrameRange, ViewExtractor


def check_video_path(path, origin=None):
    """Refuse, in one line, what cannot be a video: a missing path, a folder, an empty file, an image. ``origin``:
    where the path was named (a list file's "list:line", `expand_inputs`), said first: the line to fix."""
    path, at = Path(path), f"{origin}: " if origin else ""
    if path.is_dir():
        raise ValueError(f"{at}{path} is a folder: give its videos (predict and features take folders as many "
                         f"inputs)")
    if not path.is_file():
        raise FileNotFoundError(f"{at}video {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"{at}{path}: empty file (0 bytes): not a video (copy or download it again)")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise ValueError(f"{at}{path} is an image, not a video: a TSN needs frames over time (give a video file, or "
                         f"a folder of videos)")
    return path


def open_reader(video, backend=None):
    """An open reader (left open) or a file path (opened here, closed after use)."""
    if isinstance(video, Video):
        return contextlib.nullcontext(video)
    return open_selective(check_video_path(video), backend)


def _is_flow(video):
    return isinstance(video, FlowFrames)


def test_views(video, protocol="25x10", num_segments=None, backend=None, clip_len=None, cfg=None,
               modality=None):
    """Every test view of one video under a named protocol: uint8 [V, C, H, W], C-contiguous, MMAction2's order.

    ``video``: a file path (opened with `tsnbook.io.open_selective`), or an open tsnbook reader (`RawFrames`,
    `FlowFrames`, any `tsnbook.io.Video`, a `tsnbook.views.FrameRange`; left open). RGB: C = 3; flow (a FlowFrames
    reader): one image of 2 x clip_len channels per crop and clip; ``modality="rgbdiff"`` (RGB frames, or a
    ``cfg`` of an rgbdiff model): clip_len + 1 frames stacked, 3 x (clip_len + 1) channels. ``num_segments``
    replaces the protocol's clip count ("val": the segments of the 1x1xK layout: the config's, else 3);
    ``clip_len`` defaults to the config's, else 1 for RGB, 5 for flow and rgbdiff. ``cfg``: the model's config,
    whose sizes the protocol keeps (a model trained on 48-px frames is tested on 48-px frames,
    `tsnbook.pipelines.model_sizes`); without it, the zoo's 256 / 224.
    Output order is MMAction2's: all clips of view 1, then all clips of view 2, ... (TenCrop: UL, UL-mirror, ...).
    """
    extract = ViewExtractor.from_protocol(protocol, cfg, _is_flow(video), num_segments, clip_len, modality)
    with open_reader(video, backend) as reader:
        return extract(reader)


test_views.__test__ = False  # a library function, not a test, for pytest modules that import it by name


def config_views(video, cfg, backend=None):
    """Every test view of one video as ``cfg``'s own test split makes them (clips, sampler, crops, clip_len).

    A config of frame folders is applied to the video file itself (its frames are what the folders hold).
    """
    flow = _is_flow(video)
    if flow != (cfg["source"] == "flow"):
        raise ValueError(f"{cfg.get('name', 'this config')} is {'a flow' if cfg['source'] == 'flow' else 'an RGB'} "
                         f"model but got {'optical flow' if flow else 'RGB frames'}: "
                         + ("a flow model reads optical flow: give predict_video the video's path (its flow is "
                            "computed) or a tsnbook.FlowFrames reader of its flow_x/flow_y JPEGs"
                            if cfg["source"] == "flow" else "an RGB model reads the video itself"))
    with open_reader(video, backend) as reader:
        return ViewExtractor.from_config(cfg, flow=flow)(reader)


def view_extractor(model, cfg=None, protocol=None, num_segments=None, flow=None):
    """The `ViewExtractor` `predict_video` uses for ``model``: ``cfg``'s own test split when ``protocol`` is None,
    else the named protocol (default "25x10") at ``cfg``'s sizes ("val": the model's ``num_segments``). A flow
    model's extractor also says how a video's flow is computed (`flow_input`: ``flow``'s keys over ``cfg``'s), so
    that its ``from_file`` - and an export's sidecar - take the video itself. ``cfg``: a dict, name or file."""
    cfg = as_config(cfg)
    optical_flow = flow_input(model, cfg, flow)
    if cfg is not None and protocol is None:
        return ViewExtractor.from_config(cfg, flow=optical_flow is not None).computing_flow(optical_flow)
    protocol = protocol or "25x10"
    if num_segments is None and protocol == "val":
        num_segments = model.num_segments
    clip_len = {"flow": model.in_channels // 2, "rgbdiff": model.in_channels // 3 - 1}.get(model.modality)
    return ViewExtractor.from_protocol(protocol, cfg, optical_flow is not None, num_segments, clip_len,
                                       model.modality).computing_flow(optical_flow)


def flow_settings(cfg=None):
    """How a flow model's input was computed: ``dict(algorithm, bound, resolution)`` from ``cfg`` (the
    optional keys ``flow_algorithm``, ``flow_bound``, ``flow_resolution``; their defaults without one)."""
    cfg = as_config(cfg) or {}
    return dict(algorithm=option(cfg, "flow_algorithm"), bound=float(option(cfg, "flow_bound")),
                resolution=option(cfg, "flow_resolution"))


def flow_input(model, cfg=None, flow=None):
    """How ``model``'s input is made from a video file: None for a model that reads the frames, else the settings
    of `video_flow` (``flow``'s keys over `flow_settings` of ``cfg``): a flow model scores the video's own flow."""
    return dict(flow_settings(cfg), **(flow or {})) if model.modality == "flow" else None


def video_views(video, extract, flow=None, backend=None):
    """The views ``extract`` (a `tsnbook.views.ViewExtractor`) makes of a video file or open reader; ``flow``:
    the settings of `video_flow` when the model reads the video's optical flow (computed here; default: the
    extractor's own ``optical_flow``), else None."""
    flow = extract.optical_flow if flow is None else flow
    if flow is not None and not isinstance(video, Video):
        with video_flow(video, **flow) as reader:
            return extract(reader)
    with open_reader(video, backend) as reader:
        return extract(reader)


def predict_video(model, video_path, protocol=None, average_clips="prob", cfg=None, num_segments=None,
                  views_per_chunk=25, backend=None, flow=None, frames=None):
    """Class scores of one video (numpy [num_classes]).

    The views: ``cfg``'s own test protocol when a config is given and ``protocol`` is None (a tsnbook checkpoint
    stores its config: ``load_model(path)[1]["cfg"]``; a config's name or file works too); else the named
    ``protocol`` (default "25x10"; "val" uses the model's ``num_segments``) at ``cfg``'s sizes when a config is
    given (`view_extractor`). ``num_segments`` replaces a named protocol's clip count. ``video_path`` may also be an
    open tsnbook reader (a `FlowFrames` for a flow model). ``frames=(start, stop)``: score only frames start..stop-1
    (frame numbers, not seconds), as if the video were that range (`tsnbook.views.FrameRange`; a window of
    `tsnbook.timeline` equals this; for a flow model, flow frames).

    A flow model given a video *file* scores its optical flow, computed by `video_flow` with ``flow`` (a dict of
    its arguments; default `flow_settings` of ``cfg``, i.e. DIS, bound 20, the video's own size).
    """
    cfg = as_config(cfg)  # a config's name or file, as the commands take
    if model.modality == "flow" and not isinstance(video_path, Video):
        with video_flow(check_video_path(video_path), **flow_input(model, cfg, flow)) as reader:
            return predict_video(model, reader, protocol, average_clips, cfg, num_segments, views_per_chunk,
                                 frames=frames)
    if model.modality == "flow" and not isinstance(video_path, FlowFrames):
        raise ValueError(f"{type(model).__name__}(flow) reads optical flow, but got an RGB reader "
                         f"({type(video_path).__name__}): pass the video's path (its flow is then computed) or a "
                         f"tsnbook.FlowFrames reader of its flow_x/flow_y JPEGs")
    extract = view_extractor(model, cfg, protocol, num_segments)
    with open_reader(video_path, backend) as reader:
        views = extract(FrameRange(reader, *frames) if frames is not None else reader)
    was_training = model.training
    scores = view_scorer(model, extract, average_clips, views_per_chunk)(views)
    model.train(was_training)
    return scores


def describe_protocol(cfg=None, protocol=None):
    """The protocol name ``predict_video`` uses for these arguments (for reports); a named protocol applied at a
    model's own sizes says so ("25x3 at the model's sizes: short side 48, crops 48")."""
    if protocol is None:
        return protocol_of(cfg) if cfg is not None else "25x10"
    sizes = model_sizes(cfg) if cfg is not None else dict(short_side=ZOO_SHORT_SIDE, input_size=ZOO_INPUT_SIZE)
    if sizes == dict(short_side=ZOO_SHORT_SIDE, input_size=ZOO_INPUT_SIZE):
        return protocol
    steps = ViewExtractor.from_protocol(protocol, cfg).settings()["pipeline"]
    crop = next(step["crop_size"] for step in steps if "crop_size" in step)
    return f"{protocol} at the model's sizes: short side {sizes['short_side']}, crops {crop}"


def check_two_stream(rgb_model, flow_model):
    """Refuse a pair that is not an RGB and a flow model of the same classes, in one line."""
    if rgb_model.modality != "rgb" or flow_model.modality != "flow":
        raise ValueError(f"two-stream prediction takes an RGB model and a flow model, got {rgb_model.modality} and "
                         f"{flow_model.modality}: check which checkpoint is given as --rgb and which as --flow")
    if rgb_model.num_classes != flow_model.num_classes:
        raise ValueError(f"the RGB model has {rgb_model.num_classes} classes and the flow model "
                         f"{flow_model.num_classes}: both streams must be trained on the same classes")


def predict_two_stream(rgb_model, flow_model, video_path, rgb_cfg=None, flow_cfg=None, protocol=None,
                       coefficients=(1, 1), flow=None, views_per_chunk=25):
    """The whole two-stream TSN on one raw video: ``dict(rgb=, flow=, fused=)`` score vectors.

    The zoo's "[1:1]" fusion, as its two-stream rows were made: each stream is tested on its own (its config's
    test protocol, or the named ``protocol`` for both), its views' scores averaged *without* softmax (raw
    logits, the 0.x zoo's ``average_clips=None``), and the two are summed with ``coefficients`` (1 and 1;
    `tsnbook.metrics.fuse_scores`). The flow stream's input is the video's own flow (`video_flow`).
    """
    check_two_stream(rgb_model, flow_model)
    rgb = predict_video(rgb_model, video_path, protocol, "score", cfg=rgb_cfg, views_per_chunk=views_per_chunk)
    flow_scores = predict_video(flow_model, video_path, protocol, "score", cfg=flow_cfg, flow=flow,
                                views_per_chunk=views_per_chunk)
    fused = fuse_scores([rgb[None], flow_scores[None]], list(coefficients))[0]
    return dict(rgb=rgb, flow=flow_scores, fused=fused)


def view_scorer(model, extract, average_clips="prob", views_per_chunk=25):
    """A function from one video's views ``uint8 [V, C, H, W]`` (made by ``extract``, a
    `tsnbook.views.ViewExtractor`) to its scores, numpy [num_classes]: how `predict_video`, a timeline's windows,
    `tsnbook.batch.predict_videos` and each stream of ``predict`` (one model, or two of a two-stream TSN) score."""
    def score(views):
        return model.score_views(views, average_clips, views_per_chunk, num_clips=extract.num_segments)
    return score


def top_k(scores, k=5, names=None):
    """``[(class index, name or str(index), score)]`` of the k best classes, best first."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), names[i] if names else str(i), float(scores[i])) for i in order]


def top_k_cells(ranked):
    """The CSV cells of a ``top_k`` list of ``dict(rank, class, name, score)``: ``top1, top1_score, top1_class,
    top2, ...`` - the columns of ``predict --out x.csv`` for videos and for a timeline's windows alike."""
    cells = {}
    for top in ranked:
        cells.update({f"top{top['rank']}": top["name"], f"top{top['rank']}_score": f"{top['score']:.6g}",
                      f"top{top['rank']}_class": top["class"]})
    return cells
