"""GPU-batched training augmentation (tsnbook.gpu_augment), run on the CPU device: same draws as the CPU
pipeline, pixels within interpolation rounding, flow-aware flips, padded collation, and the dataset hook."""
import random

import cv2
import numpy as np
import pytest
import torch

from tsnbook import pipelines
from tsnbook.data import TSNDataset, VideoRecord
from tsnbook.gpu_augment import DeferredCropFlip, GPUCropFlip, benchmark, collate_padded, split_train_pipeline
from tsnbook.transforms import Compose, Flip, MultiScaleCrop, RandomResizedCrop, build_pipeline

RRC_PIPELINE = [dict(type="Resize", scale=(-1, 256)), dict(type="RandomResizedCrop"),
                dict(type="Resize", scale=(224, 224), keep_ratio=False), dict(type="Flip", flip_ratio=0.5),
                dict(type="FormatShape", input_format="NCHW")]


def _frames(n=3, h=256, w=340, seed=0):
    """Smooth-ish RGB frames (blurred noise), like real video content."""
    noise = np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    return np.stack([cv2.GaussianBlur(frame, (5, 5), 1.5) for frame in noise])


@pytest.mark.parametrize("configs", [pipelines.train_pipeline(), RRC_PIPELINE], ids=["multiscale", "rrc"])
def test_same_boxes_flips_and_close_pixels_as_cpu_pipeline(configs):
    cpu = build_pipeline(configs)
    steps, gpu = split_train_pipeline(configs)
    deferred = Compose(steps)
    frames, worst, means = _frames(), 0.0, []
    for seed in range(12):
        ref = cpu(dict(imgs=frames, modality="rgb", label=1), np.random.default_rng(seed))
        item = deferred(dict(imgs=frames, modality="rgb", label=1), np.random.default_rng(seed))
        assert item["crop_box"] == ref["crop_box"] and item["flip"] == ref["flip"]
        assert item["imgs"].shape == frames.shape and item["imgs"].dtype == np.uint8  # pixels untouched
        out = gpu(torch.from_numpy(item["imgs"])[None], [item["crop_box"]], [item["flip"]])
        assert out.shape == (1, 3, 3, 224, 224) and out.dtype == torch.float32
        diff = (out[0] - torch.from_numpy(ref["imgs"]).float()).abs()
        worst, means = max(worst, diff.max().item()), means + [diff.mean().item()]
    assert worst < 1.0  # cv2 rounds to uint8 (and its weights to 11 bits); torch keeps float32
    assert np.mean(means) < 0.4


def test_global_stream_draws_match_mmaction_order():
    """rng=None: the same calls on Python's random and numpy's legacy generator as the CPU pipeline."""
    cpu = build_pipeline(pipelines.train_pipeline())
    deferred = Compose(split_train_pipeline(pipelines.train_pipeline())[0])
    frames = _frames(1)
    for seed in range(5):
        random.seed(seed), np.random.seed(seed)
        ref = cpu(dict(imgs=frames, modality="rgb"))
        random.seed(seed), np.random.seed(seed)
        item = deferred(dict(imgs=frames, modality="rgb"))
        assert (item["crop_box"], item["flip"]) == (ref["crop_box"], ref["flip"])


def test_flow_flip_inverts_x_and_stacks_like_nchw_flow():
    configs = pipelines.train_pipeline(flow=True)
    cpu = build_pipeline(configs)
    steps, gpu = split_train_pipeline(configs)
    flow = _frames(10)[..., :2].copy()  # 2 clips of 5 (x, y) frames
    seen_flip = set()
    for seed in range(8):
        results = dict(imgs=flow, modality="flow", clip_len=5, label=0)
        ref = cpu(results, np.random.default_rng(seed))
        item = Compose(steps)(results, np.random.default_rng(seed))
        out = gpu(torch.from_numpy(item["imgs"])[None], [item["crop_box"]], [item["flip"]], clip_len=5)
        assert out.shape == (1, 2, 10, 224, 224) and ref["imgs"].shape == (2, 10, 224, 224)
        assert (out[0] - torch.from_numpy(ref["imgs"]).float()).abs().max() < 1.0
        seen_flip.add(item["flip"])
    assert seen_flip == {True, False}


def test_flip_label_map_applies_on_the_cpu_side():
    deferred = DeferredCropFlip(MultiScaleCrop(224), Flip(1.0, flip_label_map={3: 4}))
    item = deferred(dict(imgs=_frames(1), modality="rgb", label=3), np.random.default_rng(0))
    assert item["flip"] and item["label"] == 4
    never = DeferredCropFlip(RandomResizedCrop(), None)(dict(imgs=_frames(1), label=3), np.random.default_rng(0))
    assert not never["flip"] and never["label"] == 3


def test_collate_pads_different_widths_and_drops_errors():
    rng = np.random.default_rng(0)
    deferred = DeferredCropFlip(MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66)), Flip(0.5))
    items = []
    for index, (h, w) in enumerate([(256, 340), (256, 455), (300, 256)]):
        results = deferred(dict(imgs=_frames(3, h, w, seed=index), modality="rgb", label=index), rng)
        items.append(dict(imgs=torch.from_numpy(results["imgs"]), label=torch.tensor(index), index=index,
                          crop_box=torch.tensor(results["crop_box"]), flip=torch.tensor(results["flip"])))
    batch = collate_padded(items[:2] + [dict(error="bad.mp4: broken", index=9)] + items[2:])
    assert batch["imgs"].shape == (3, 3, 300, 455, 3) and batch["errors"] == ["bad.mp4: broken"]
    assert batch["crop_box"].shape == (3, 4) and batch["label"].tolist() == [0, 1, 2]
    gpu = GPUCropFlip()
    together = gpu(batch["imgs"], batch["crop_box"], batch["flip"])
    for k, item in enumerate(items):  # padding never leaks into a crop
        alone = gpu(item["imgs"][None], item["crop_box"][None], item["flip"][None])
        torch.testing.assert_close(together[k], alone[0], rtol=0, atol=0)
    assert collate_padded([dict(error="x", index=0)])["imgs"] is None


def test_dataset_hook_passes_boxes_and_flips(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for number, frame in enumerate(_frames(8, 240, 320), start=1):
        cv2.imwrite(str(folder / f"img_{number:05d}.jpg"), frame)
    steps, gpu = split_train_pipeline(pipelines.train_pipeline())
    dataset = TSNDataset([VideoRecord(str(folder), 2, num_frames=8)] * 2, steps, source="rawframes",
                         num_segments=3)
    batch = collate_padded([dataset[0], dataset[1]])
    assert batch["imgs"].shape == (2, 3, 256, 341, 3) and batch["imgs"].dtype == torch.uint8
    assert batch["crop_box"].shape == (2, 4) and batch["flip"].dtype == torch.bool
    assert gpu(batch["imgs"], batch["crop_box"], batch["flip"]).shape == (2, 3, 3, 224, 224)


@pytest.mark.parametrize("configs, message", [
    ([dict(type="Resize", scale=(-1, 256)), dict(type="FormatShape")], "no MultiScaleCrop or RandomResizedCrop"),
    ([dict(type="MultiScaleCrop", input_size=224), dict(type="Flip"), dict(type="FormatShape")],
     "expected Resize"),
    ([dict(type="MultiScaleCrop", input_size=224), dict(type="Resize", scale=(224, 224), keep_ratio=False,
                                                        interpolation="bicubic"), dict(type="FormatShape")],
     "bilinear"),
])
def test_split_rejects_pipelines_it_cannot_move(configs, message):
    with pytest.raises(ValueError, match=message):
        split_train_pipeline(configs)


def test_bad_batches_are_named():
    gpu = GPUCropFlip()
    with pytest.raises(ValueError, match="uint8"):
        gpu(torch.zeros(1, 3, 256, 256, 3), [(0, 0, 224, 224)], [False])
    with pytest.raises(ValueError, match="1 videos but 2 boxes"):
        gpu(torch.zeros(1, 3, 256, 256, 3, dtype=torch.uint8), [(0, 0, 224, 224)] * 2, [False])


def test_benchmark_reports_a_rate_on_the_cpu():
    result = benchmark("cpu", batch=2, frames=1, repeat=1)
    assert result["device"] == "cpu" and result["videos_per_s"] > 0


def test_bench_data_gpu_augment_arguments(tmp_path):
    from tsnbook import bench
    with pytest.raises(SystemExit, match="--gpu-augment applies to training pipelines, not 'video_test_25x3'"):
        bench.main(["--pipeline", "video_test_25x3", "--root", str(tmp_path), "--gpu-augment"])
    with pytest.raises(SystemExit, match="--pipeline and --root are required"):
        bench.main(["--root", str(tmp_path)])
