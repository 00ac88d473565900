"""Test views without torch: which frames of a video a TSN sees at test time, and which crops of them.

A deployed TSN (an exported ONNX or TorchScript file, `tsnbook.export`) needs its input made exactly as in testing,
and nothing of that needs PyTorch: this module imports only numpy, OpenCV and PyAV (through `tsnbook.io` and
`tsnbook.flow`, which computes a flow model's input from the video as its training flow was made), so

    from tsnbook.views import ViewExtractor
    extract = ViewExtractor.from_settings(json.load(open("model.onnx.json"))["views"])   # the export's sidecar
    views = extract.from_file("clip.mp4")                # uint8 [V, 3, H, W]: feed it to onnxruntime as [1, V, ...]
    views = extract(reader)                              # or any reader: .num_frames and .get(indices) -> [T,H,W,C]

runs on a machine without torch. The steps, in order (MMAction2's test pipeline; tests/test_pipelines.py compares the
views with it):

1. **sampling** (`tsnbook.sampling`): ``num_clips`` segment centres over the ``num_frames`` frames (SampleFrames,
   test mode; or DenseSampleFrames' windows), ``clip_len`` consecutive frames each (5 for a flow stack, 6 for
   an RGB-difference model of 5 differences);
2. **decoding** those frames only (`tsnbook.io.open_selective`, or the reader given), RGB uint8; for a flow model
   (``optical_flow`` settings), the video's optical flow, computed as its training flow was (`tsnbook.flow.video_flow`);
3. **resize** the short side (Resize(-1, S)) and **crop** (CenterCrop, ThreeCrop or TenCrop) with OpenCV and numpy
   (`tsnbook.transforms`);
4. **FormatShape**: ``[V, C, H, W]`` with V = crops x clips, all clips of crop 1 first (MMAction2's order).

Normalisation is not here: the model does it (`tsnbook.TSN` takes uint8), so an exported graph takes these uint8
views as they are. This is the one implementation: `tsnbook.data.TSNDataset` (training items, ``test``) samples and
transforms through `sample_indices` and `load_frames`, and ``predict``, the timeline, features, export and
explanations through `ViewExtractor` - so a view cannot mean two things in two places.

`FrameRange` makes any reader, or frames held in memory, look like a video of frames ``start..stop-1``: the views
of one window of a long video (`tsnbook.timeline`) are the views of that frame range.
"""
import numpy as np

from .configs import option
from .flow import video_flow
from .io import open_selective
from .pipelines import CROPS, frames_per_clip, model_sizes, parse_protocol, protocol_settings
from .sampling import dense_sample_frames, sample_frames
from .transforms import build_pipeline


CROPS_PER_CLIP = {crop: views for views, crop in CROPS.items()}


def sample_indices(num_frames, num_segments, clip_len=1, frame_interval=1, test_mode=True, sampler="segments",
                   twice_sample=False, dense_sample_range=64, dense_test_positions=10, rng=None):
    """The 0-based frame indices a TSN takes from a video of ``num_frames`` frames (`tsnbook.sampling`):
    SampleFrames (``sampler="segments"``) or DenseSampleFrames (``"dense"``), in test mode or a training draw."""
    if sampler == "dense":
        return dense_sample_frames(num_frames, clip_len, frame_interval, num_segments, dense_sample_range,
                                   dense_test_positions, test_mode=test_mode, rng=rng)
    if sampler != "segments":
        raise ValueError(f"sampler must be 'segments' or 'dense', got {sampler!r}")
    return sample_frames(num_frames, clip_len, frame_interval, num_segments, test_mode=test_mode,
                         twice_sample=twice_sample, rng=rng)


def load_frames(reader, indices, pipeline, flow=False, num_clips=1, clip_len=1, label=None, rng=None):
    """Decode ``indices`` from ``reader`` and run ``pipeline`` (a callable `tsnbook.transforms.Compose`): the
    results dict (``imgs``, ``frame_inds``, ...), as MMAction2's pipeline hands it on."""
    results = dict(imgs=reader.get(indices), modality="flow" if flow else "rgb", label=label, num_clips=num_clips,
                   clip_len=clip_len, frame_inds=indices)
    return pipeline(results, rng)


def split_settings(cfg, split="test"):
    """The sampling and transform keys of a config's ``split`` ("train", "val", "test"): keyword arguments of
    `ViewExtractor` and `tsnbook.data.TSNDataset` (``pipeline``, ``num_segments``, ``clip_len``, ``sampler``, ...).
    ``clip_len`` is the frames a clip samples: the config's, one more for rgbdiff (`frames_per_clip`)."""
    num_segments = {"train": cfg["num_segments"], "val": cfg.get("val_clips", cfg["num_segments"]),
                    "test": cfg.get("test_clips", 25)}[split]
    return dict(pipeline=cfg[f"{split}_pipeline"], num_segments=num_segments,
                clip_len=frames_per_clip(cfg.get("modality"), cfg.get("clip_len", 1)),
                frame_interval=cfg.get("frame_interval", 1), sampler=option(cfg, "sampler"),
                dense_sample_range=option(cfg, "dense_sample_range"),
                dense_test_positions=option(cfg, "dense_test_positions"), twice_sample=option(cfg, "twice_sample"))


class ViewExtractor:
    """A video (or a reader) -> its test views ``uint8 [V, C, H, W]``: one config's split, or a named protocol.

    ``pipeline``: transform dicts (Resize, a crop, FormatShape); the other arguments are `sample_indices`'
    (``clip_len``: the frames one clip samples, `tsnbook.pipelines.frames_per_clip`). ``flow``: the frames are
    optical flow; ``optical_flow``: how a video file's flow is computed for them (`tsnbook.flow.video_flow`'s
    ``algorithm``, ``bound``, ``resolution``: the model's training flow), so that `from_file` takes the video itself.
    `settings` gives them back as plain JSON-able values, and `from_settings` rebuilds the same extractor.
    """

    def __init__(self, pipeline, flow=False, num_segments=25, clip_len=1, frame_interval=1, sampler="segments",
                 dense_sample_range=64, dense_test_positions=10, twice_sample=False, optical_flow=None):
        self._settings = dict(pipeline=[dict(step) for step in pipeline], flow=bool(flow), num_segments=num_segments,
                              clip_len=clip_len, frame_interval=frame_interval, sampler=sampler,
                              dense_sample_range=dense_sample_range, dense_test_positions=dense_test_positions,
                              twice_sample=twice_sample, optical_flow=dict(optical_flow) if optical_flow else None)
        self.flow, self.num_segments, self.clip_len = bool(flow), num_segments, clip_len
        self.optical_flow = self._settings["optical_flow"]
        self.pipeline = build_pipeline(pipeline)

    @classmethod
    def from_config(cls, cfg, split="test", flow=None):
        """The views of ``cfg``'s ``split``. ``flow``: whether the frames are optical flow (default: the config's
        source; a config of RGB frame folders applies to the video file itself, its frames are what they hold)."""
        return cls(flow=cfg["source"] == "flow" if flow is None else flow, **split_settings(cfg, split))

    @classmethod
    def from_protocol(cls, name, cfg=None, flow=False, num_segments=None, clip_len=None, modality=None):
        """A named protocol (`tsnbook.pipelines`: "25x10", "25x3", "val", "dense-8x1", ...).

        With ``cfg`` (the model's config) the protocol keeps the model's sizes (`tsnbook.pipelines.model_sizes`),
        its ``num_segments`` ("val"), clip length, frame interval and dense window; without, the zoo's.
        ``num_segments`` replaces the protocol's clip count ("val": the segments of the 1x1xK layout, 3 by default).
        ``clip_len``: the model's (flow fields or frame differences per clip; default the config's, else 1 for RGB,
        5 for flow and rgbdiff). ``modality``: "rgbdiff" stacks ``clip_len + 1`` RGB frames per clip (default: flow
        for flow frames, else the config's rgbdiff or rgb).
        """
        cfg = cfg or {}
        if modality is None:  # RGB frames feed an rgb or an rgbdiff model: the config says which
            modality = "flow" if flow else "rgbdiff" if cfg.get("modality") == "rgbdiff" else "rgb"
        segments = num_segments or cfg.get("num_segments") or 3
        spec = parse_protocol(name, segments)
        sizes = model_sizes(cfg) if cfg else {}
        settings = protocol_settings(name, flow, segments, **sizes, modality=modality)
        clips = num_segments if num_segments and name != "val" else spec["clips"]
        clip_len = clip_len or cfg.get("clip_len") or (1 if modality == "rgb" else 5)
        return cls(settings["test_pipeline"], flow=flow, num_segments=clips,
                   clip_len=frames_per_clip(modality, clip_len),
                   frame_interval=cfg.get("frame_interval", 1), sampler=settings.get("sampler", "segments"),
                   dense_sample_range=option(cfg, "dense_sample_range") if cfg else 64,
                   dense_test_positions=settings.get("dense_test_positions", 10))

    @classmethod
    def from_settings(cls, settings):
        return cls(**settings)

    def computing_flow(self, optical_flow):
        """This extractor, with ``optical_flow`` (`tsnbook.flow.video_flow`'s settings) saying how `from_file`
        computes a video's flow; None: only readers of flow frames are taken."""
        if (dict(optical_flow) if optical_flow else None) == self.optical_flow:
            return self  # an RGB model's extractor (None, None): not rebuilt
        return type(self).from_settings(dict(self.settings(), optical_flow=optical_flow))

    def settings(self):
        """The extractor as plain values (what an export writes into its sidecar JSON)."""
        return {key: (list(map(dict, value)) if key == "pipeline" else value) for key, value in self._settings.items()
                if key != "optical_flow" or value is not None}  # an RGB sidecar as before: older readers take it

    @property
    def crops(self):
        """Views per clip: 1 (CenterCrop, or no crop), 3 (ThreeCrop), 10 (TenCrop)."""
        return next((CROPS_PER_CLIP[step["type"]] for step in self._settings["pipeline"]
                     if step["type"] in CROPS_PER_CLIP), 1)

    def indices(self, num_frames):
        """The frame indices (0-based, MMAction2's order) these views take from ``num_frames`` frames."""
        s = self._settings
        return sample_indices(num_frames, s["num_segments"], s["clip_len"], s["frame_interval"], True, s["sampler"],
                              s["twice_sample"], s["dense_sample_range"], s["dense_test_positions"])

    def __call__(self, reader):
        """The views of an open reader (anything with ``num_frames`` and ``get(indices)``)."""
        indices = self.indices(reader.num_frames)
        return load_frames(reader, indices, self.pipeline, self.flow, self.num_segments, self.clip_len)["imgs"]

    def from_file(self, path, backend=None):
        """The views of a video file, decoded selectively (`tsnbook.io.open_selective`); flow views: of the
        video's optical flow, computed with the ``optical_flow`` settings as the model's training flow was."""
        if self.flow:
            if self.optical_flow is None:
                raise ValueError(f"{path}: these views are optical flow and their settings do not say how it is "
                                 f"computed (no 'optical_flow'): export the model again with this version, or give "
                                 f"the views a tsnbook.io.FlowFrames reader of the video's flow_x/flow_y JPEGs "
                                 f"(tsnbook.flow.extract_video_flow)")
            with video_flow(path, **self.optical_flow) as reader:
                return self(reader)
        with open_selective(path, backend) as reader:
            return self(reader)

    def __repr__(self):
        return f"ViewExtractor({self._settings})"


class FrameRange:
    """Frames ``start..stop-1`` of a reader - or of frames held in memory, ``{index: frame}`` - as a video of
    ``stop - start`` frames: the views of a window of a long video are the views of its range."""

    def __init__(self, frames, start, stop):
        if any(not np.isfinite(float(n)) or float(n) != int(n) for n in (start, stop)):  # 0.5 was cut to frame 0
            raise ValueError(f"a frame range takes whole frame numbers, got {start}..{stop}; for seconds, multiply "
                             "by the video's fps (tsnbook.io.probe_video) or use a timeline's windows")
        if not 0 <= start < stop:
            raise ValueError(f"a frame range needs 0 <= start < stop, got {start}..{stop}")
        total = getattr(frames, "num_frames", None)
        if total is not None and stop > total:
            raise ValueError(f"frames {start}..{stop - 1} asked of {getattr(frames, 'path', 'a video')}, which has "
                             f"{total} frames")
        self.frames, self.start, self.stop, self.num_frames = frames, int(start), int(stop), int(stop - start)
        self.path = getattr(frames, "path", "frames in memory")

    def get(self, indices):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1) + self.start
        if isinstance(self.frames, dict):
            return np.stack([self.frames[i] for i in indices.tolist()])
        return self.frames.get(indices)

    def __repr__(self):
        return f"FrameRange({self.path!r}, {self.start}, {self.stop})"
