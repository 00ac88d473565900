"""The model zoo's protocol names ("25x10", "25x3", "val", "8x10") as pipelines, in one documented place.

A zoo row says "25x10" and means two things: a temporal half (25 clips at the segment centres, kept with the
other sampling names in `tsnbook.sampling.ZOO_SAMPLING`) and a spatial half (short side 256, then ten 224-pixel
crops). Notebooks, the test engine and the benchmark all need the pair; spelling it out here once keeps them
from drifting apart (spec `mmaction2_tsn.md` §2, §4.5, §7.1).

    views = test_views("clip.mp4", "25x10")    # uint8 [250, 3, 224, 224]: crop-major, then clip (MMAction2's order)

Output order is MMAction2's: all clips of view 1, then all clips of view 2, ... (TenCrop: UL, UL-mirror, UR, ...).
Flow: pass an open `FlowFrames` reader; clip_len becomes 5 and each clip is one 10-channel image (NCHW_Flow).
Video files are decoded by `tsnbook.io.SelectiveVideo` (bit-identical to decord and 1.4-1.6x faster on the benchmark clips:
it skips frames nobody needs); `backend="decord"` / `"pyav"` or TSNBOOK_DECODER choose `open_video` instead.
"""
import contextlib

from .io import FlowFrames, Video, open_selective
from .sampling import ZOO_SAMPLING, zoo_sampling
from .transforms import build_pipeline

#: protocol -> sampling name in ZOO_SAMPLING, the short-side resize, the spatial crop and views per clip.
#: num_segments (test_views) overrides the clip count: 25 for "25x.", 3 for "val", 8 (x 10 positions) for "8x10".
PROTOCOLS = {
    # 25 segment centres x (4 corners + centre, each with its mirror) of 224: 250 views (the zoo's default test).
    "25x10": dict(sampling="25x10", scale=(-1, 256), crop="TenCrop", crop_size=224, views=10),
    # 25 segment centres x 3 crops of 256 along the long side (left, right, middle): 75 views, no rescaling.
    "25x3": dict(sampling="25x3", scale=(-1, 256), crop="ThreeCrop", crop_size=256, views=3),
    # Validation during training: num_segments centres (3 by default), one centre crop each.
    "val": dict(sampling="1x1x3", scale=(-1, 256), crop="CenterCrop", crop_size=224, views=1),
    # Dense rows: 8 clips 8 frames apart at 10 window positions = 80 clips, one centre crop each (spec §2).
    "8x10": dict(sampling="8x10", scale=(-1, 256), crop="CenterCrop", crop_size=224, views=1),
}

#: TSN's training augmentation as the zoo's configs write it (spec §4.3, §4.4); FormatShape is appended per modality.
TRAIN_TRANSFORMS = [
    dict(type="Resize", scale=(-1, 256)),
    dict(type="MultiScaleCrop", input_size=224, scales=(1, 0.875, 0.75, 0.66), max_wh_scale_gap=1),
    dict(type="Resize", scale=(224, 224), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5),
]


def _format(modality):
    return dict(type="FormatShape", input_format="NCHW_Flow" if modality == "flow" else "NCHW")


def train_pipeline(modality="rgb"):
    """The zoo's TSN training transforms (a fresh list of dicts for `build_pipeline`), ending in FormatShape."""
    if modality not in ("rgb", "flow"):
        raise ValueError(f"modality must be 'rgb' or 'flow', got {modality!r}")
    return [dict(step) for step in TRAIN_TRANSFORMS] + [_format(modality)]


def _protocol(name):
    if name not in PROTOCOLS:
        raise ValueError(f"unknown test protocol {name!r}; valid protocols: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def protocol_sampler(protocol, num_segments=None, clip_len=1):
    """`sampler(num_frames) -> frame indices` (0-based, test mode) for a protocol; see `PROTOCOLS`."""
    spec = _protocol(protocol)
    overrides = dict(clip_len=clip_len)
    if num_segments is not None:
        overrides["num_clips"] = num_segments
    return zoo_sampling(spec["sampling"], test_mode=True, **overrides)


def protocol_transforms(protocol, modality="rgb"):
    """The spatial half of a protocol as a Compose: Resize to short side 256, the crop(s), FormatShape."""
    spec = _protocol(protocol)
    if modality not in ("rgb", "flow"):
        raise ValueError(f"modality must be 'rgb' or 'flow', got {modality!r}")
    return build_pipeline([dict(type="Resize", scale=spec["scale"]),
                           dict(type=spec["crop"], crop_size=spec["crop_size"]), _format(modality)])


def num_views(protocol, num_segments=None):
    """How many network inputs `test_views` returns per video (RGB): clips x crops (x 10 positions for 8x10)."""
    spec = _protocol(protocol)
    clips = num_segments or ZOO_SAMPLING[spec["sampling"]]["num_clips"]
    positions = ZOO_SAMPLING[spec["sampling"]].get("num_sample_positions", 1)
    return clips * positions * spec["views"]


def test_views(video, protocol="25x10", num_segments=None, backend=None, clip_len=None):
    """Every test view of one video, ready for the model: uint8 [V, C, H, W], C-contiguous, MMAction2's order.

    `video`: a file path (opened with `open_selective(path, backend)`), or an open tsnbook reader (`RawFrames`,
    `FlowFrames`, any `tsnbook.io.Video`; left open). RGB: C = 3, V = num_views(protocol, num_segments). Flow
    (a FlowFrames reader): one image of 2 * clip_len channels per crop and clip. `num_segments` replaces the
    protocol's clip count (e.g. "val" with 8); `clip_len` defaults to 1 for RGB, 5 for flow.
    """
    _protocol(protocol)
    modality = "flow" if isinstance(video, FlowFrames) else "rgb"
    clip_len = clip_len or (5 if modality == "flow" else 1)
    sampler = protocol_sampler(protocol, num_segments, clip_len)
    with (contextlib.nullcontext(video) if isinstance(video, Video) else open_selective(video, backend)) as reader:
        indices = sampler(reader.num_frames)
        frames = reader.get(indices)
    results = dict(imgs=frames, modality=modality, clip_len=clip_len, num_clips=len(indices) // clip_len)
    return protocol_transforms(protocol, modality)(results)["imgs"]


test_views.__test__ = False  # a library function, not a test, for pytest modules that import it by name
