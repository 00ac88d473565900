"""RGB difference (``modality="rgbdiff"``, TSN paper §3.2): clip_len + 1 stacked frames in, their clip_len
differences into a cross-modality-initialised first conv; from a config through training, testing, prediction and
a checkpoint."""
import json

import numpy as np
import pytest
import torch
import torchvision

from conftest import random_checkpoint, rgbdiff_config
from tsnbook.data import build_dataset
from tsnbook.engine import evaluate_checkpoint, train
from tsnbook.factory import build_model, load_model
from tsnbook.gpu_augment import split_train_pipeline
from tsnbook.mmaction2 import export_mmaction2_checkpoint
from tsnbook.models import TSN, rgb_difference
from tsnbook.predict import predict_video, test_views, view_extractor
from tsnbook.transforms import FormatShape
from tsnbook.views import ViewExtractor


def _first_conv_input(model, x):
    """What the backbone's first conv receives for input ``x`` (normalised, after any differencing)."""
    seen = []
    handle = model.backbone.conv1.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen[0]


def _moving_square(frames=3, size=32):
    """uint8 [frames, size, size, 3]: a white 8x8 square on black, one pixel further right in each frame."""
    clip = np.zeros((frames, size, size, 3), np.uint8)
    for t in range(frames):
        clip[t, 12:20, 4 + t:12 + t] = 255
    return clip


def test_rgb_difference_subtracts_each_frame_from_the_next():
    frames = torch.arange(4, dtype=torch.float32).view(1, 4, 1, 1, 1).expand(2, 4, 3, 5, 5) * 10  # frame t = 10 t
    frames = frames + torch.tensor([0.0, 1.0, 2.0]).view(1, 1, 3, 1, 1)  # R, G, B differ by a constant
    diff = rgb_difference(frames.reshape(2, 12, 5, 5))
    assert diff.shape == (2, 9, 5, 5) and torch.equal(diff, torch.full((2, 9, 5, 5), 10.0))


def test_format_shape_stacks_each_clips_rgb_frames_in_time_order():
    clip = _moving_square(frames=6)  # 2 clips of 3 frames
    out = FormatShape("NCHW_Stack")(dict(imgs=clip, clip_len=3))["imgs"]
    assert out.shape == (2, 9, 32, 32)
    assert np.array_equal(out[1, 3:6], clip[4].transpose(2, 0, 1))  # clip 2, frame 2, R G B
    with pytest.raises(ValueError, match="NCHW_Stack.*must be a positive int dividing N = 6"):
        FormatShape("NCHW_Stack")(dict(imgs=clip, clip_len=4))


def test_a_still_video_gives_a_zero_input_and_known_motion_its_edges():
    torch.manual_seed(0)
    model = TSN("resnet18", num_classes=4, num_segments=1, modality="rgbdiff", clip_len=2).eval()
    assert model.in_channels == 9 and model.backbone.conv1.in_channels == 6
    still = torch.from_numpy(np.repeat(_moving_square(1), 3, axis=0).transpose(0, 3, 1, 2).reshape(1, 1, 9, 32, 32))
    assert torch.equal(_first_conv_input(model, still), torch.zeros(1, 6, 32, 32))
    moving = FormatShape("NCHW_Stack")(dict(imgs=_moving_square(3), clip_len=3))["imgs"]
    seen = _first_conv_input(model, torch.from_numpy(moving)[None])
    std = torch.tensor([58.395, 57.12, 57.375]).repeat(2)
    diff = seen[0] * std.view(6, 1, 1)  # back to pixel units
    for t in range(2):  # the square's new column lights up (+255), the column it left goes dark (-255)
        assert torch.allclose(diff[3 * t:3 * t + 3, 12:20, 12 + t], torch.full((3, 8), 255.0))
        assert torch.allclose(diff[3 * t:3 * t + 3, 12:20, 4 + t], torch.full((3, 8), -255.0))
    assert int((diff.abs() > 1e-3).sum()) == 2 * 3 * 2 * 8  # and nothing else changes
    with pytest.raises(ValueError, match=r"expects input \[B, V, 9, H, W\].*clip_len \+ 1 RGB frames stacked"):
        model(torch.zeros(1, 1, 6, 32, 32))


def test_rgbdiff_first_conv_is_the_cross_modality_average_of_the_pretrained_rgb_filters(tmp_path):
    torch.manual_seed(0)
    rgb = torchvision.models.resnet18()
    torch.save(rgb.state_dict(), tmp_path / "rgb.pth")
    model = TSN("resnet18", num_classes=4, modality="rgbdiff", clip_len=5, pretrained=str(tmp_path / "rgb.pth"))
    weight = model.backbone.conv1.weight
    assert weight.shape == (64, 15, 7, 7)
    for channel in range(15):
        assert torch.allclose(weight[:, channel], rgb.conv1.weight.mean(dim=1))
    assert torch.equal(model.backbone.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    random = TSN("resnet18", num_classes=4, modality="rgbdiff", clip_len=5, pretrained=str(tmp_path / "rgb.pth"),
                 flow_init="random")
    assert not torch.allclose(random.backbone.conv1.weight[:, 0], rgb.conv1.weight.mean(dim=1))


def test_a_config_samples_clip_len_plus_one_consecutive_frames_per_snippet(small_synth):
    cfg = rgbdiff_config(small_synth)
    dataset = build_dataset(cfg, "train")
    results = dataset.load(0, np.random.default_rng(0))
    indices = np.asarray(results["frame_inds"]).reshape(3, 3)  # 3 segments x 3 frames
    assert (np.diff(indices, axis=1) == 1).all()
    assert tuple(dataset[0]["imgs"].shape) == (3, 9, 40, 40)
    assert build_model(cfg).in_channels == 9
    with pytest.raises(ValueError, match="NCHW_Stack"):
        split_train_pipeline(cfg["train_pipeline"])  # the GPU crop stays with flow and RGB


def test_an_rgbdiff_run_trains_tests_predicts_and_reloads(tmp_path, small_synth):
    cfg = rgbdiff_config(small_synth, epochs=1, test_clips=2)
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    model, info = load_model(tmp_path / "latest.pth")
    assert model.modality == "rgbdiff" and model.in_channels == 9
    scores, labels, report, skipped = evaluate_checkpoint(cfg, tmp_path / "latest.pth", device="cpu", progress=False)
    assert scores.shape == (8, 8) and np.isfinite(scores).all() and not skipped
    first = small_synth / "videos" / (small_synth / cfg["ann_file_test"]).read_text().split()[0]
    assert np.allclose(predict_video(model, first, cfg=cfg, average_clips=None), scores[0], atol=1e-4)
    views = test_views(first, "2x3", clip_len=2, modality="rgbdiff")
    assert views.shape == (6, 9, 256, 256)
    assert np.allclose(predict_video(model, first, protocol="2x3", average_clips=None), model.score_views(views))
    with pytest.raises(ValueError, match="RGB and flow inputs"):
        export_mmaction2_checkpoint(model, tmp_path / "mm.pth")


def test_views_stack_clip_len_plus_one_frames_at_the_models_sizes_and_rebuild_from_their_settings(small_synth,
                                                                                                  tmp_path):
    """`tsnbook.views`, which datasets, predict and exported models share: the config's own test and a named
    protocol at the model's sizes both give 3 consecutive frames a clip, and the settings an export writes (JSON)
    rebuild the very same views."""
    cfg = rgbdiff_config(small_synth, test_clips=3)
    model, info = load_model(random_checkpoint(tmp_path / "rgbdiff.pth", cfg))
    video = small_synth / "videos" / (small_synth / cfg["ann_file_test"]).read_text().split()[0]
    own, named = view_extractor(model, info["cfg"]), view_extractor(model, info["cfg"], "2x3")
    for extract, clips in ((own, 3), (named, 2)):
        views = extract.from_file(video)
        assert views.shape[:2] == (3 * clips, 9) and views.shape[2:] == own.from_file(video).shape[2:]
        assert (np.diff(extract.indices(48).reshape(clips, 3), axis=1) == 1).all()
        rebuilt = ViewExtractor.from_settings(json.loads(json.dumps(extract.settings())))
        assert np.array_equal(rebuilt.from_file(video), views)
    views = named.from_file(video)
    assert np.array_equal(test_views(video, "2x3", cfg=info["cfg"]), views)
    assert np.allclose(predict_video(model, video, "2x3", None, cfg=info["cfg"]), model.score_views(views), atol=1e-6)
