"""The zoo's training recipe and test protocols as transform lists: the one place either is written down.

Every zoo config builds its ``train_pipeline`` with `train_pipeline` and its ``val_pipeline`` /
``test_pipeline`` (and ``test_clips``, sampler) with `protocol_settings`; ``predict``, ``bench-data`` and the
notebooks read the same definitions, so a protocol cannot mean two things in two places. The steps are MMAction2
0.24.1's: `DenseSampleFrames` in ``mmaction/datasets/pipelines/loading.py``, `MultiScaleCrop`, `Flip`, `CenterCrop`,
`ThreeCrop` and `TenCrop` in ``mmaction/datasets/pipelines/augmentations.py``, run the way ``tools/test.py`` runs a
test set.

**Training** (`train_pipeline`): [Resize(-1, 256)], MultiScaleCrop(224, scales (1, .875, .75, .66)) or
RandomResizedCrop, Resize((224, 224)), [Flip(0.5)], FormatShape.

**Test protocols** are named ``"{clips}x{views}"``, as the zoo's tables write them, with a grammar that keeps
every name unambiguous:

* ``"25x10"``: 25 clips at the segment centres (SampleFrames, test mode), each as TenCrop(224) - 4 corners and
  the centre, each also mirrored - after Resize(-1, 256): 250 views; the zoo's default test;
* ``"25x3"``: the same 25 clips, ThreeCrop(256) (left, middle, right squares): 75 views;
* ``"8x1"``, ``"16x3"``, ...: any clip count, with 1 (CenterCrop 224), 3 (ThreeCrop 256) or 10 (TenCrop 224)
  views; ``"@S"`` changes the crop size: ``"8x1@256"`` is HMDB51's CenterCrop 256;
* ``"dense-8x1"``: DenseSampleFrames' test: 8 clips ``64 // 8`` frames apart in a window, at 10 window
  positions = 80 clips, one CenterCrop(224) each - what the zoo's dense Kinetics rows call "8x10 frames";
  ``"dense-8x10"`` adds TenCrop (the video dense row: 800 views). The SthV1 row's "8x10" is ``"8x10"``:
  8 segment centres x TenCrop;
* ``"val"``: validation during training: the model's ``num_segments`` centres, CenterCrop(224) ("3x1" for the
  1x1x3 rows).

Flow models take the same protocols with ``clip_len=5`` (5 stacked flow frames per clip) and FormatShape NCHW_Flow;
RGB-difference models (``modality="rgbdiff"``) with ``clip_len + 1`` stacked RGB frames per clip and NCHW_Stack
(`frames_per_clip`, `format_shape`).

**Sizes.** The names above are the zoo's, at the zoo's sizes: short side 256, network input 224. A model trained at
other sizes (SynthActions' 48 and 40) would be tested on views it never saw, so `protocol_settings` takes the
model's own sizes (`model_sizes` reads them from its config): the short side replaces 256 (also ThreeCrop's square),
the input size replaces 224 (CenterCrop, TenCrop). An explicit ``"@S"`` crop stays S pixels.
"""
import re

from .sampling import dense_sample_frames, sample_frames

MSC_SCALES = (1, 0.875, 0.75, 0.66)
CROPS = {1: "CenterCrop", 3: "ThreeCrop", 10: "TenCrop"}  # views per clip -> the crop that makes them
DEFAULT_CROP_SIZE = {1: 224, 3: 256, 10: 224}
ZOO_SHORT_SIDE, ZOO_INPUT_SIZE = 256, 224
DENSE_TEST_POSITIONS = 10
_NAME = re.compile(r"^(?P<dense>dense-)?(?P<clips>0*[1-9]\d*)x(?P<views>1|3|10)(?:@(?P<size>0*[1-9]\d*))?$")
#   (a clip count or crop size of 0 is no protocol: refused with the name, not later by the sampler)

#: The protocols the zoo's tables name most, for help texts and menus; any name of the grammar above works.
PROTOCOLS = ("25x10", "25x3", "val", "dense-8x1", "8x10", "8x3", "16x3", "8x1@256")
#: modality -> FormatShape's input_format: one image per frame (rgb), or each clip's frames stacked in the channels
INPUT_FORMATS = {"rgb": "NCHW", "flow": "NCHW_Flow", "rgbdiff": "NCHW_Stack"}


# ------------------------------------------------------------------------------------------------ training
def train_pipeline(crop="msc", resize=True, flip=True, flip_label_map=None, num_fixed_crops=5,
                   scales=MSC_SCALES, max_wh_scale_gap=1, flow=False, modality=None):
    """MMAction2's TSN training augmentation: [Resize(-1,256)], MultiScaleCrop or RandomResizedCrop,
    Resize((224,224), keep_ratio=False), [Flip(0.5)], FormatShape (a fresh list of transform dicts).

    ``resize=False``: the video rows that crop straight from the decoded frame (no short side 256 first).
    ``num_fixed_crops=13``: the dense rows' MultiScaleCrop. ``flow`` / ``modality``: `format_shape`.
    """
    steps = [dict(type="Resize", scale=(-1, 256))] if resize else []
    if crop == "msc":
        steps.append(dict(type="MultiScaleCrop", input_size=224, scales=tuple(scales), random_crop=False,
                          max_wh_scale_gap=max_wh_scale_gap, num_fixed_crops=num_fixed_crops))
    elif crop == "rrc":
        steps.append(dict(type="RandomResizedCrop"))
    else:
        raise ValueError(f"crop must be 'msc' or 'rrc', got {crop!r}")
    steps.append(dict(type="Resize", scale=(224, 224), keep_ratio=False))
    if flip:
        steps.append(dict(type="Flip", flip_ratio=0.5, flip_label_map=flip_label_map))
    return steps + [format_shape(flow, modality)]


def format_shape(flow=False, modality=None):
    """The FormatShape step of a modality ("rgb", "flow", "rgbdiff"; ``flow=True`` means "flow")."""
    return dict(type="FormatShape", input_format=INPUT_FORMATS[modality or ("flow" if flow else "rgb")])


def frames_per_clip(modality, clip_len):
    """The frames one clip samples: ``clip_len``, but ``clip_len + 1`` for rgbdiff, whose ``clip_len``
    differences of consecutive frames need one frame more (tsn-pytorch's RGBDiff loads one more image too)."""
    return clip_len + 1 if modality == "rgbdiff" else clip_len


# ------------------------------------------------------------------------------------------------ testing
def parse_protocol(name, num_segments=3):
    """``dict(dense, clips, views, crop, crop_size)`` of a protocol name (see the module docstring)."""
    if name == "val":
        name = f"{num_segments}x1"
    found = _NAME.match(str(name))
    if not found:
        raise ValueError(f"unknown test protocol {name!r}: names look like '25x10' (clips x views: 1 clip or more, "
                         f"views 1, 3 or 10), '8x1@256' (crop size 256), 'dense-8x1' (dense sampling) or 'val'; e.g. "
                         f"{', '.join(PROTOCOLS)}")
    views = int(found.group("views"))
    return dict(dense=bool(found.group("dense")), clips=int(found.group("clips")), views=views, crop=CROPS[views],
                crop_size=int(found.group("size") or DEFAULT_CROP_SIZE[views]))


def eval_pipeline(views=1, crop_size=None, flow=False, short_side=256, modality=None):
    """Resize(-1, short_side), then the crop that gives ``views`` views per clip, then FormatShape."""
    if views not in CROPS:
        raise ValueError(f"views per clip must be 1, 3 or 10, got {views!r}")
    return [dict(type="Resize", scale=(-1, short_side)),
            dict(type=CROPS[views], crop_size=crop_size or DEFAULT_CROP_SIZE[views]), format_shape(flow, modality)]


def protocol_settings(name, flow=False, num_segments=3, short_side=ZOO_SHORT_SIDE, input_size=ZOO_INPUT_SIZE,
                      modality=None):
    """The config keys a protocol sets: ``test_clips``, ``test_pipeline`` and, for dense ones, the sampler's.

    ``dict(cfg, **protocol_settings("25x3"))`` tests ``cfg`` under 25x3; the zoo configs are written this way.
    ``short_side`` / ``input_size``: the model's sizes (module docstring; ``**model_sizes(cfg)``); ``modality``:
    the FormatShape step's (`format_shape`: "rgbdiff" stacks each clip's frames).
    """
    spec = parse_protocol(name, num_segments)
    crop = spec["crop_size"] if "@" in str(name) else short_side if spec["views"] == 3 else input_size
    keys = dict(test_clips=spec["clips"], test_pipeline=eval_pipeline(spec["views"], crop, flow, short_side, modality))
    if spec["dense"]:
        keys.update(sampler="dense", dense_test_positions=DENSE_TEST_POSITIONS)
    return keys


def model_sizes(cfg):
    """``dict(short_side, input_size)`` a config's model was trained and tested at: the short side of its test
    Resize(-1, S) and the square its training frames were resized to (Resize((I, I), keep_ratio=False)); the zoo's
    256 and 224 where a config does not say (no such Resize)."""
    short = next((s["scale"][1] for s in cfg.get("test_pipeline", ()) if s["type"] == "Resize"
                  and s["scale"][0] == -1), ZOO_SHORT_SIDE)
    square = [s["scale"][0] for s in cfg.get("train_pipeline", ()) if s["type"] == "Resize"
              and not s.get("keep_ratio", True) and s["scale"][0] == s["scale"][1]]
    return dict(short_side=int(short), input_size=int(square[-1]) if square else ZOO_INPUT_SIZE)


def protocol_of(cfg, split="test"):
    """The protocol name of a config's ``test`` (or ``val``) split, derived from its own keys: the name
    ``predict`` and ``test`` report, and the one `protocol_settings` would turn back into the same views."""
    pipeline = cfg[f"{split}_pipeline"]
    crop = next((step for step in pipeline if step["type"] in CROPS.values()), None)
    if crop is None:
        raise ValueError(f"{cfg.get('name', 'config')}: its {split}_pipeline has no CenterCrop/ThreeCrop/TenCrop")
    views = {v: k for k, v in CROPS.items()}[crop["type"]]
    size = crop["crop_size"] if isinstance(crop["crop_size"], int) else crop["crop_size"][0]
    clips = cfg.get("test_clips", 25) if split == "test" else cfg.get("val_clips", cfg["num_segments"])
    dense = cfg.get("sampler", "segments") == "dense"
    return f"{'dense-' if dense else ''}{clips}x{views}" + ("" if size == DEFAULT_CROP_SIZE[views] else f"@{size}")


def _clips(spec, num_segments):
    return num_segments or spec["clips"]


def protocol_sampler(name, num_segments=None, clip_len=1, frame_interval=1, dense_sample_range=64):
    """``sampler(num_frames) -> frame indices`` (0-based, test mode) of a protocol's temporal half.

    ``num_segments`` replaces the protocol's clip count ("val": the K of the 1x1xK layout, 3 if None).
    """
    spec = parse_protocol(name, num_segments or 3)
    clips = _clips(spec, num_segments)
    if spec["dense"]:
        return lambda num_frames, **kw: dense_sample_frames(
            num_frames, clip_len, frame_interval, clips, dense_sample_range, DENSE_TEST_POSITIONS,
            test_mode=True, **kw)
    return lambda num_frames, **kw: sample_frames(num_frames, clip_len, frame_interval, clips, test_mode=True, **kw)


def num_views(name, num_segments=None):
    """How many network inputs a protocol makes of one video: clips (x 10 window positions if dense) x views.

    ``num_segments`` replaces the protocol's clip count, as in `protocol_sampler`.
    """
    spec = parse_protocol(name, num_segments or 3)
    return _clips(spec, num_segments) * (DENSE_TEST_POSITIONS if spec["dense"] else 1) * spec["views"]
