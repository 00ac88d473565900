"""tsnbook.transforms against MMAction2 1.2.0 (same crop/resize/flip logic as 0.x) and worked examples."""
import pathlib
import random
import re
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from oracle import mma1x_pipeline  # noqa: E402

from tsnbook.transforms import (CenterCrop, Compose, Flip, FormatShape, MultiScaleCrop, Normalize,  # noqa: E402
                                RandomResizedCrop, Resize, TenCrop, ThreeCrop, build_pipeline)


def clip(w, h, n=3, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, channels), dtype=np.uint8)


def results_of(imgs, **extra):
    modality = "flow" if imgs.shape[-1] == 2 else "rgb"
    return dict(imgs=imgs, modality=modality, label=3, num_clips=len(imgs), clip_len=1, **extra)


def oracle_run(configs, imgs, **extra):
    """Run MMAction2 1.2.0 transforms on the same frames (as its list of H x W x C images)."""
    pipeline = mma1x_pipeline(configs)
    frames = [frame.copy() for frame in imgs]
    modality = "Flow" if imgs.shape[-1] == 2 else "RGB"
    return pipeline(dict(imgs=frames, img_shape=imgs.shape[1:3], modality=modality, label=3,
                         num_clips=len(imgs), clip_len=1, **extra))


def gray_as_rgb(w, h, n=3):
    gray = clip(w, h, n, channels=1, seed=5)[..., 0]
    return np.stack([cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB) for frame in gray])


# ------------------------------------------------------------------------------------------------ Resize
@pytest.mark.parametrize("size, expected", [((640, 360), (455, 256)), ((1280, 720), (455, 256)),
                                            ((569, 320), (455, 256)), ((176, 100), (451, 256)),
                                            ((320, 240), (341, 256)), ((360, 640), (256, 455)),
                                            ((340, 256), (340, 256)), ((513, 512), (257, 256))])
def test_resize_short_side_256_sizes_from_spec(size, expected):
    out = Resize((-1, 256))(results_of(clip(*size, n=1)))
    assert out["imgs"].shape[1:3] == (expected[1], expected[0])
    assert out["img_shape"] == (expected[1], expected[0])


RESIZE_CASES = [
    (dict(scale=(-1, 256)), (176, 100)), (dict(scale=(-1, 256)), (569, 320)), (dict(scale=(-1, 256)), (360, 640)),
    (dict(scale=(-1, 256)), (341, 257)), (dict(scale=(-1, 256)), (513, 512)),  # 513 -> 256.5 rounds up
    (dict(scale=(340, 256), keep_ratio=False), (176, 100)),
    (dict(scale=(224, 224), keep_ratio=False), (192, 168)), (dict(scale=0.5), (455, 256)),
    (dict(scale=(300, 200)), (569, 320)), (dict(scale=(-1, 256)), "gray 569x320"),
]


@pytest.mark.parametrize("kwargs, size", RESIZE_CASES, ids=[str(c) for c in RESIZE_CASES])
def test_resize_bit_identical_to_mmaction(kwargs, size):
    imgs = gray_as_rgb(569, 320) if size == "gray 569x320" else clip(*size)
    ours = Resize(**kwargs)(results_of(imgs))
    theirs = oracle_run([dict(type="Resize", **kwargs)], imgs)
    assert ours["img_shape"] == tuple(theirs["img_shape"])
    assert np.array_equal(ours["imgs"], np.stack(theirs["imgs"]))
    assert np.array_equal(ours["scale_factor"], theirs["scale_factor"])


def test_same_size_resize_returns_input_and_scale_factor_accumulates():
    imgs = clip(340, 256)
    once = Resize((-1, 256))(results_of(imgs))
    assert once["imgs"] is imgs and np.array_equal(once["scale_factor"], [1, 1])
    twice = Resize(0.5)(once)
    assert twice["imgs"].shape == (3, 128, 170, 3)
    assert twice["scale_factor"].dtype == np.float32 and np.allclose(twice["scale_factor"], [0.5, 0.5])


# ------------------------------------------------------------------------------------------------ test crops
@pytest.mark.parametrize("crop", [dict(type="CenterCrop", crop_size=224), dict(type="ThreeCrop", crop_size=256),
                                  dict(type="TenCrop", crop_size=224), dict(type="TenCrop", crop_size=(200, 180))])
@pytest.mark.parametrize("size", [(569, 320), (340, 256), (176, 100)])
def test_test_pipelines_bit_identical_to_mmaction(crop, size):
    configs = [dict(type="Resize", scale=(-1, 256)), crop, dict(type="FormatShape", input_format="NCHW")]
    imgs = clip(*size, n=4)
    ours = build_pipeline(configs)(results_of(imgs))["imgs"]
    theirs = oracle_run(configs, imgs)["imgs"]
    assert ours.dtype == np.uint8 and ours.flags["C_CONTIGUOUS"]
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


def test_center_crop_offsets():
    out = CenterCrop(224)(results_of(clip(455, 256)))
    assert out["crop_box"] == (115, 16, 339, 240) and out["img_shape"] == (224, 224)


def test_three_crop_order_left_right_middle():
    imgs = clip(340, 256, n=2)
    out = ThreeCrop(256)(results_of(imgs))
    assert [box[0] for box in out["crop_boxes"]] == [0, 84, 42]
    assert out["num_views"] == 3 and out["imgs"].shape == (6, 256, 256, 3)
    assert np.array_equal(out["imgs"][2:4], imgs[:, :, 84:340])  # crop-major: both frames of crop 2
    assert [b[0] for b in ThreeCrop(256)(results_of(clip(455, 256)))["crop_boxes"]] == [0, 198, 99]
    tall = ThreeCrop(256)(results_of(clip(256, 455)))
    assert [b[1] for b in tall["crop_boxes"]] == [0, 198, 99]
    square = ThreeCrop(256)(results_of(clip(256, 256, n=1)))["imgs"]  # MMAction2: three identical crops
    assert np.array_equal(square[0], square[1]) and np.array_equal(square[0], square[2])


def test_ten_crop_offsets_and_mirrors():
    imgs = clip(340, 256, n=2)
    out = TenCrop(224)(results_of(imgs))
    corners = [box[:2] for box in out["crop_boxes"][::2]]
    assert corners == [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16)]
    assert out["crop_boxes"][0] == out["crop_boxes"][1] and out["num_views"] == 10
    views = out["imgs"].reshape(10, 2, 224, 224, 3)
    assert np.array_equal(views[2], imgs[:, 0:224, 116:340])  # UR
    assert np.array_equal(views[3], imgs[:, 0:224, 116:340][:, :, ::-1])  # UR mirrored
    wide = TenCrop(224)(results_of(clip(455, 256)))["crop_boxes"]
    assert wide[2][0] == 228 and wide[8][:2] == (114, 16)  # 4*step stops short of 231; centre is not 115


# ------------------------------------------------------------------------------------------------ train crops
def test_random_resized_crop_worked_example():
    np.random.seed(0)
    random.seed(0)
    out = RandomResizedCrop()(results_of(clip(340, 256)))
    assert out["crop_box"] == (49, 26, 285, 235) and out["imgs"].shape == (3, 209, 236, 3)


def test_multi_scale_crop_worked_example_and_candidates():
    crop = MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66))
    assert crop.candidate_sizes(340, 256) == [[256, 256], [224, 256], [256, 224], [224, 224], [192, 224],
                                              [224, 192], [192, 192], [168, 192], [192, 168], [168, 168]]
    assert MultiScaleCrop(224, scales=(1, 0.8), max_wh_scale_gap=0).candidate_sizes(340, 256) == [
        [256, 256], [204, 204]]
    random.seed(0)
    out = crop(results_of(clip(340, 256)))
    assert out["crop_box"] == (148, 64, 340, 256)


def _next_draws():
    return np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def _seed(seed):
    np.random.seed(seed)
    random.seed(seed)


STREAM_CASES = [
    dict(type="MultiScaleCrop", input_size=224, scales=(1, 0.875, 0.75, 0.66)),
    dict(type="MultiScaleCrop", input_size=224, scales=(1, 0.875, 0.75, 0.66), num_fixed_crops=13),
    dict(type="MultiScaleCrop", input_size=224, scales=(1, 0.875, 0.75, 0.66), random_crop=True),
    dict(type="RandomResizedCrop"),
    dict(type="RandomResizedCrop", area_range=(0.9, 1.0)),  # on 400x60 every candidate fails: centred square
    dict(type="Flip", flip_ratio=0.5, flip_label_map={3: 7}),
]


@pytest.mark.parametrize("config", STREAM_CASES, ids=[c["type"] + str(i) for i, c in enumerate(STREAM_CASES)])
def test_rng_none_reproduces_mmaction_stream(config):
    """Seeded like MMAction2's workers, rng=None gives the same crops, flips and generator consumption."""
    size = (400, 60) if config.get("area_range") == (0.9, 1.0) else (455, 256)
    ours_pipeline = build_pipeline([config])
    for seed in range(12):
        imgs = clip(*size, n=2, seed=seed)
        _seed(seed)
        ours = ours_pipeline(results_of(imgs))
        ours_next = _next_draws()
        _seed(seed)
        theirs = oracle_run([config], imgs)
        assert _next_draws() == ours_next
        assert np.array_equal(ours["imgs"], np.stack(theirs["imgs"]))
        if config["type"] == "Flip":
            assert ours["flip"] == theirs["flip"] and ours["label"] == theirs["label"]
        else:
            assert list(ours["crop_box"]) == theirs["crop_bbox"].tolist()


def test_generator_draws_multi_scale_sizes_from_candidates():
    crop = MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66))
    allowed = {tuple(size) for size in crop.candidate_sizes(455, 256)}
    seen = set()
    for seed in range(200):
        x1, y1, x2, y2 = crop(results_of(clip(455, 256, n=1)), rng=np.random.default_rng(seed))["crop_box"]
        seen.add((x2 - x1, y2 - y1))
        assert x1 in {0, (455 - (x2 - x1)) // 4 * 2, (455 - (x2 - x1)) // 4 * 4}
    assert seen == allowed
    first = crop(results_of(clip(455, 256)), rng=np.random.default_rng(1))["crop_box"]
    assert crop(results_of(clip(455, 256)), rng=np.random.default_rng(1))["crop_box"] == first


@pytest.mark.parametrize("scale, side", [(0.87, 224), (0.88, 224), (0.865, 221), (0.89, 227)])
def test_multi_scale_crop_snaps_sides_within_3px(scale, side):
    # 256 * 0.87 = 222 and 0.88 -> 225 snap to 224; 221 and 227 are 3 px away and stay.
    out = MultiScaleCrop(224, scales=(scale,))(results_of(clip(340, 256, n=1)), rng=np.random.default_rng(0))
    assert out["img_shape"] == (side, side)


def test_generator_random_resized_crop_within_ranges():
    crop = RandomResizedCrop()
    for seed in range(300):
        x1, y1, x2, y2 = crop.crop_box(340, 256, rng=np.random.default_rng(seed))
        w, h = x2 - x1, y2 - y1
        assert 0 <= x1 and x2 <= 340 and 0 <= y1 and y2 <= 256
        if (w, h) != (256, 256):  # the fallback square is the only exception
            assert 0.08 * 0.98 <= w * h / (340 * 256) <= 1.0 * 1.02
            assert 0.75 * 0.97 <= w / h <= 4 / 3 * 1.03


# ------------------------------------------------------------------------------------------------ Flip
def marked_flow(n=3, w=4, h=2):
    """x = 10 + 10*column + i, y = 100 + 10*column + i for frame i."""
    columns = np.arange(w)[None, None, :]
    frames = np.arange(n)[:, None, None]
    x = np.broadcast_to(10 + 10 * columns + frames, (n, h, w))
    y = np.broadcast_to(100 + 10 * columns + frames, (n, h, w))
    return np.stack([x, y], axis=-1).astype(np.uint8)


def test_flow_flip_mirrors_both_and_inverts_x_like_0x():
    imgs = marked_flow()
    out = Flip(flip_ratio=1.0)(results_of(imgs))
    assert out["flip"]
    assert np.array_equal(out["imgs"][..., 0], 255 - imgs[:, :, ::-1, 0])
    assert np.array_equal(out["imgs"][..., 1], imgs[:, :, ::-1, 1])
    assert out["imgs"][0, 0, 0].tolist() == [255 - 40, 130] and out["imgs"][1, 0, -1].tolist() == [255 - 11, 101]
    assert np.array_equal(imgs, marked_flow())  # the input is left alone


def test_flow_flip_differs_from_buggy_1x_on_stacked_frames():
    """MMAction2 1.x's Flip on stacked flow inverts x AND y of frames 0, 2, 4 and nothing in frames 1, 3; tsnbook
    follows 0.x."""
    imgs = np.zeros((2, 1, 1, 2), np.uint8)
    imgs[:, 0, 0, 0] = [10, 11]
    imgs[:, 0, 0, 1] = [100, 101]
    ours = Flip(flip_ratio=1.0)(results_of(imgs))["imgs"]
    assert ours[:, 0, 0].tolist() == [[245, 100], [244, 101]]
    theirs = oracle_run([dict(type="Flip", flip_ratio=1.0)], imgs)["imgs"]
    assert theirs[0][0, 0].tolist() == [245, 155] and theirs[1][0, 0].tolist() == [11, 101]


def test_flip_rgb_is_a_view_and_label_map():
    imgs = clip(8, 4)
    out = Flip(flip_ratio=1.0, flip_label_map={3: 7})(results_of(imgs))
    assert np.shares_memory(out["imgs"], imgs) and np.array_equal(out["imgs"], imgs[:, :, ::-1])
    assert out["label"] == 7
    assert Flip(1.0, flip_label_map={5: 6})(results_of(imgs))["label"] == 3  # unmapped stays
    kept = Flip(flip_ratio=0.0, flip_label_map={3: 7})(results_of(imgs))
    assert not kept["flip"] and kept["label"] == 3 and kept["imgs"] is imgs
    vertical = Flip(1.0, direction="vertical")(results_of(imgs))["imgs"]
    assert np.array_equal(vertical, imgs[:, ::-1])
    with pytest.raises(ValueError, match="label"):
        Flip(1.0, flip_label_map={3: 7})(dict(results_of(imgs), label=np.array([0, 1, 1])))


def test_flip_generator_rate():
    rng = np.random.default_rng(0)
    flips = [Flip(0.3)(results_of(clip(4, 4, n=1)), rng=rng)["flip"] for _ in range(2000)]
    assert 0.26 < np.mean(flips) < 0.34


def test_ten_crop_flow_mirrors_not_inverted_unless_invert_flow():
    imgs = marked_flow(n=2, w=8, h=6)
    plain = TenCrop(4)(results_of(imgs))["imgs"].reshape(10, 2, 4, 4, 2)
    assert np.array_equal(plain[1], plain[0][:, :, ::-1])  # MMAction2: x-flow keeps its sign
    fixed = TenCrop(4, invert_flow=True)(results_of(imgs))["imgs"].reshape(10, 2, 4, 4, 2)
    assert np.array_equal(fixed[0], plain[0])
    assert np.array_equal(fixed[1][..., 0], 255 - plain[0][:, :, ::-1, 0])
    assert np.array_equal(fixed[1][..., 1], plain[0][:, :, ::-1, 1])


# ------------------------------------------------------------------------------------------------ formatting
def test_nchw_flow_channel_order_with_marked_values():
    num_clips, clip_len = 3, 5
    imgs = np.zeros((num_clips * clip_len, 2, 3, 2), np.uint8)
    frame = np.arange(num_clips * clip_len)
    imgs[..., 0] = (10 + frame)[:, None, None]
    imgs[..., 1] = (100 + frame)[:, None, None]
    out = FormatShape("NCHW_Flow")(dict(imgs=imgs, modality="flow", num_clips=num_clips, clip_len=clip_len))
    assert out["imgs"].shape == (3, 10, 2, 3) and out["imgs"].flags["C_CONTIGUOUS"]
    for k in range(num_clips):
        for t in range(clip_len):
            assert (out["imgs"][k, 2 * t] == 10 + clip_len * k + t).all()  # x_t
            assert (out["imgs"][k, 2 * t + 1] == 100 + clip_len * k + t).all()  # y_t
    plain = FormatShape("NCHW")(dict(imgs=imgs, modality="flow", clip_len=clip_len))["imgs"]
    assert plain.shape == (15, 2, 2, 3)  # 0.x: NCHW on flow does not merge frames


def test_one_copy_crops_are_views_format_copies_once():
    imgs = clip(455, 256, n=2)
    cropped = CenterCrop(224)(results_of(imgs))
    assert np.shares_memory(cropped["imgs"], imgs)
    formatted = FormatShape()(cropped)["imgs"]
    assert formatted.flags["C_CONTIGUOUS"] and not np.shares_memory(formatted, imgs)
    ten = TenCrop(224)(results_of(imgs))
    assert np.shares_memory(FormatShape()(ten)["imgs"], ten["imgs"])  # TenCrop already wrote channel-first


@pytest.mark.parametrize("make", [
    lambda x: x[:, 3:40, 5:50], lambda x: x[:, 3:40, 5:50][:, :, ::-1], lambda x: x[:, ::-1, ::-1],
    lambda x: x[..., :2].astype(np.float32) / 7, lambda x: x[..., :2][:, :, ::-1].copy(),
    lambda x: x.astype(np.int16)[:, :, ::-1], lambda x: x[..., :1],
], ids=["crop", "mirrored crop", "rotated", "float32 flow", "flow", "int16 mirrored", "one channel"])
def test_format_shape_nchw_equals_numpy_transpose_for_any_strides(make):
    imgs = make(clip(61, 45))
    out = FormatShape("NCHW")(dict(imgs=imgs))["imgs"]
    assert out.flags["C_CONTIGUOUS"] and out.dtype == imgs.dtype
    assert np.array_equal(out, imgs.transpose(0, 3, 1, 2))


def test_normalize_rgb_and_flow():
    imgs = clip(5, 4)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    out = Normalize(mean, std)(results_of(imgs))["imgs"]
    expected = (imgs.astype(np.float32) - np.float32(mean)) / np.float32(std)
    assert out.dtype == np.float32 and np.array_equal(out, expected)
    bgr = Normalize(mean, std, to_bgr=True)(results_of(imgs))["imgs"]
    assert np.array_equal(bgr, (imgs[..., ::-1].astype(np.float32) - np.float32(mean)) / np.float32(std))
    flow = marked_flow()
    flow_out = Normalize([128, 128], [128, 128])(results_of(flow))["imgs"]
    assert np.array_equal(flow_out, (flow.astype(np.float32) - 128) / 128)
    scaled = Normalize([128, 128], [128, 128], adjust_magnitude=True)(
        dict(results_of(flow), scale_factor=np.float32([2, 0.5])))["imgs"]
    assert np.array_equal(scaled, flow_out * np.float32([2, 0.5]))


def test_build_pipeline_and_compose():
    configs = [dict(type="Resize", scale=(-1, 256)), dict(type="MultiScaleCrop", input_size=224,
                                                            scales=(1, 0.875, 0.75, 0.66)),
               dict(type="Resize", scale=(224, 224), keep_ratio=False), dict(type="Flip", flip_ratio=0.5),
               dict(type="FormatShape", input_format="NCHW")]
    built = build_pipeline(configs)
    manual = Compose([Resize((-1, 256)), MultiScaleCrop(224, (1, 0.875, 0.75, 0.66)),
                      Resize((224, 224), keep_ratio=False), Flip(0.5), FormatShape("NCHW")])
    imgs = clip(320, 240)
    a = built(results_of(imgs), rng=np.random.default_rng(3))
    b = manual(results_of(imgs), rng=np.random.default_rng(3))
    assert a["imgs"].shape == (3, 3, 224, 224) and np.array_equal(a["imgs"], b["imgs"])
    assert "MultiScaleCrop" in repr(built)
    with pytest.raises(ValueError, match="'Collect'.*valid types: CenterCrop"):
        build_pipeline([dict(type="Collect", keys=["imgs"])])
    with pytest.raises(ValueError, match="'type'"):
        build_pipeline([dict(scale=(-1, 256))])
    with pytest.raises(ValueError, match="Resize: unknown argument size"):
        build_pipeline([dict(type="Resize", size=3)])
    with pytest.raises(ValueError, match="CenterCrop: missing argument crop_size"):
        build_pipeline([dict(type="CenterCrop")])


# ------------------------------------------------------------------------------------------------ bad inputs
def test_crops_that_do_not_fit_name_both_sizes():
    small = results_of(clip(200, 150))
    for transform, crop in ((CenterCrop(224), "(224, 224)"), (TenCrop((100, 224)), "(100, 224)"),
                            (MultiScaleCrop(152), "(152, 152)")):  # 150 snaps to 152
        with pytest.raises(ValueError, match=f"{re.escape(crop)} does not fit.*{re.escape('(200, 150)')}"):
            transform(small)
    with pytest.raises(ValueError, match="ThreeCrop.*width or height"):
        ThreeCrop(100)(small)
    # 222-high frames: the crop snaps from 222 to 224 > 222, where MMAction2 would silently return a smaller crop.
    with pytest.raises(ValueError, match="does not fit"):
        MultiScaleCrop(224, scales=(1,))(results_of(clip(300, 222)))


@pytest.mark.parametrize("make, message", [
    (lambda: Resize(256), "scale"), (lambda: Resize((-1, 256), keep_ratio=False), "keep_ratio"),
    (lambda: Resize(0.5, keep_ratio=False), "keep_ratio"), (lambda: Resize((-1, 256), interpolation="x"), "interp"),
    (lambda: CenterCrop(0), "crop_size"), (lambda: TenCrop((224, 224, 3)), "crop_size"),
    (lambda: MultiScaleCrop(224, num_fixed_crops=4), "num_fixed_crops"),
    (lambda: MultiScaleCrop(224, scales=1), "scales"), (lambda: RandomResizedCrop((0.5, 0.1)), "area_range"),
    (lambda: Flip(1.5), "flip_ratio"), (lambda: Flip(direction="diagonal"), "direction"),
    (lambda: FormatShape("NCTHW"), "NCHW_Flow"), (lambda: Normalize([1, 2], [1]), "mean and std"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_results():
    with pytest.raises(KeyError, match="imgs"):
        CenterCrop(2)(dict(modality="rgb"))
    with pytest.raises(ValueError, match=r"np.stack"):
        CenterCrop(2)(dict(imgs=list(clip(4, 4))))
    with pytest.raises(TypeError, match="rng"):
        Flip()(results_of(clip(4, 4)), rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="horizontally"):
        Flip(1.0, direction="vertical")(results_of(marked_flow()))
    with pytest.raises(ValueError, match="modality"):
        Flip()(dict(results_of(clip(4, 4)), modality="depth"))
    with pytest.raises(KeyError, match="clip_len"):
        FormatShape("NCHW_Flow")(dict(imgs=marked_flow(), modality="flow"))
    with pytest.raises(ValueError, match="clip_len"):
        FormatShape("NCHW_Flow")(dict(imgs=marked_flow(n=3), modality="flow", clip_len=2))
    with pytest.raises(ValueError, match="channels"):
        Normalize([1, 2], [1, 1])(results_of(clip(4, 4)))
