"""tsnbook.predict against MMAction2 1.2.0's inference_recognizer (the oracle; skipped when it is absent).

The recognizer is MMAction2's own Recognizer2D + ResNet + TSNHead, built through its registry with a seeded
random init (BN statistics and the classifier randomised too, so every key mapping matters). Its state dict is
saved as a 1.x file and a 0.x file, loaded with `load_mmaction2_checkpoint`, and both sides score the same H.264
clip under each protocol's spatial half. The clip counts are reduced (3 clips x TenCrop instead of 25) to keep
the CPU time small; the full 25-clip protocols give the same agreement (figures in the README/report).
"""
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from oracle import mmaction_1x  # noqa: E402

from tsnbook.checkpoints import save_checkpoint  # noqa: E402
from tsnbook.mmaction2 import load_mmaction2_checkpoint  # noqa: E402
from tsnbook.io import decord_available, write_video  # noqa: E402
from tsnbook.models import TSN  # noqa: E402
from tsnbook.predict import predict_video, read_label_map, top_k  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CROPS = {"25x10": dict(type="TenCrop", crop_size=224), "25x3": dict(type="ThreeCrop", crop_size=256),
         "val": dict(type="CenterCrop", crop_size=224)}
CLIPS = {"25x10": 3, "25x3": 4, "val": 3}  # 30, 12 and 3 views


def moving_frames(num=40, width=320, height=240, seed=0):
    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.integers(0, 256, (2 * height, 2 * width, 3), dtype=np.uint8), (0, 0), 2)
    frames = []
    for t in range(num):
        frame = canvas[t * 3:t * 3 + height, t * 4:t * 4 + width].copy()
        cv2.circle(frame, (t * 7 % width, height // 2), height // 6, (255, 40, 40), -1)
        frames.append(frame)
    return np.stack(frames)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("predict") / "clip.mp4"
    write_video(path, moving_frames())
    return path


def mmaction2_recognizer(depth, num_classes=7, seed=0):
    mmaction_1x()
    from mmaction.registry import MODELS
    torch.manual_seed(seed)
    recognizer = MODELS.build(dict(
        type="Recognizer2D", backbone=dict(type="ResNet", depth=depth, pretrained=None),
        cls_head=dict(type="TSNHead", num_classes=num_classes, in_channels=512 if depth < 50 else 2048,
                      spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=0.4,
                      init_std=0.01, average_clips="prob"),
        data_preprocessor=dict(type="ActionDataPreprocessor", mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], format_shape="NCHW")))
    recognizer.init_weights()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # random BN statistics / affine parameters and a classifier with spread-out logits
        for key, value in recognizer.state_dict().items():
            if key.endswith("running_var") or (key.endswith(".weight") and ".bn." in key):
                value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
            elif key.endswith(("running_mean", ".bias")):
                value.copy_(torch.randn(value.shape, generator=generator) * 0.1)
            elif key == "cls_head.fc_cls.weight":
                value.copy_(torch.randn(value.shape, generator=generator) * 0.05)
    return recognizer.eval()


def mmaction2_scores(recognizer, path, protocol, mode):
    from mmaction.apis import inference_recognizer
    from mmengine.dataset import Compose
    pipeline = Compose([dict(type="DecordInit"),
                        dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=CLIPS[protocol],
                             test_mode=True),
                        dict(type="DecordDecode"), dict(type="Resize", scale=(-1, 256)), CROPS[protocol],
                        dict(type="FormatShape", input_format="NCHW"), dict(type="PackActionInputs")])
    recognizer.cls_head.average_clips = mode
    return inference_recognizer(recognizer, str(path), pipeline).pred_score.numpy()


def save_mmaction2_file(recognizer, path, version):
    meta = (dict(mmengine_version="0.10.7", epoch=100,
                 cfg="train_pipeline = [\n    dict(clip_len=1, num_clips=8, type='SampleFrames'),\n]")
            if version == "1.x" else
            dict(mmcv_version="1.7.0", epoch=100, config="train_pipeline = [\n    dict(type='SampleFrames', "
                                                         "clip_len=1, frame_interval=1, num_clips=3),\n]"))
    state = dict(meta=meta, state_dict=recognizer.state_dict())
    if version == "0.x":  # 0.x files have no data_preprocessor entries
        state["state_dict"] = {k: v for k, v in state["state_dict"].items() if not k.startswith("data_pre")}
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    if not decord_available():
        pytest.skip("MMAction2's DecordInit needs decord")
    recognizer = mmaction2_recognizer(18)
    folder = tmp_path_factory.mktemp("ckpt")
    return recognizer, folder, save_mmaction2_file(recognizer, folder / "r18_1x.pth", "1.x")


@pytest.mark.parametrize("protocol", ["25x10", "25x3", "val"])
def test_scores_equal_mmaction2_inference_recognizer(r18, video, protocol):
    recognizer, _, checkpoint = r18
    model, report = load_mmaction2_checkpoint(checkpoint)
    assert report["missing"] == [] and report["unexpected"] == []
    for mode in ("prob", "score"):
        theirs = mmaction2_scores(recognizer, video, protocol, mode)
        ours = predict_video(model, video, protocol, mode, num_segments=CLIPS[protocol])
        assert ours.shape == theirs.shape == (7,)
        if mode == "prob":
            assert np.abs(ours - theirs).max() <= 1e-4
            assert abs(ours.sum() - 1) < 1e-5
        else:
            assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()
            assert np.ptp(theirs) > 0.5  # the logits are spread: a wrong mapping could not pass by luck


def test_a_0x_file_and_a_bottleneck_resnet_give_the_same_scores(r18, video, tmp_path):
    recognizer, _, _ = r18
    model, report = load_mmaction2_checkpoint(save_mmaction2_file(recognizer, tmp_path / "r18_0x.pth", "0.x"))
    assert report["format"] == "0.x" and report["num_segments"] == 3 and report["num_segments_from"] == "meta config"
    np.testing.assert_allclose(predict_video(model, video, "val", "prob"), mmaction2_scores(recognizer, video, "val",
                                                                                             "prob"), atol=1e-4)
    r50 = mmaction2_recognizer(50, num_classes=5, seed=3)
    model, report = load_mmaction2_checkpoint(save_mmaction2_file(r50, tmp_path / "r50.pth", "1.x"))
    assert report["backbone"] == "resnet50" and report["num_classes"] == 5 and not report["missing"]
    ours, theirs = predict_video(model, video, "val", "score", num_segments=3), mmaction2_scores(r50, video, "val",
                                                                                                "score")
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()  # relative to the largest logit


def test_val_protocol_uses_the_models_segments_and_views_are_chunked(video):
    torch.manual_seed(0)
    model = TSN("resnet18", num_classes=4, num_segments=2, dropout=0.0).eval()
    default = predict_video(model, video, "val", "score")
    assert np.allclose(default, predict_video(model, video, "val", "score", num_segments=2), atol=1e-6)
    assert not np.allclose(default, predict_video(model, video, "val", "score", num_segments=3), atol=1e-6)
    assert np.allclose(default, predict_video(model, video, "val", "score", views_per_chunk=1), atol=1e-5)
    model.multi_label = True  # MMAction2's quirk by default: a softmax over the classes, as single-label
    probs = predict_video(model, video, "val", "prob")
    assert np.allclose(probs, np.exp(default) / np.exp(default).sum(), atol=1e-6)
    model.multi_label_prob = "sigmoid"  # the option: each class its own probability
    probs = predict_video(model, video, "val", "prob")
    assert np.allclose(probs, 1 / (1 + np.exp(-default)), atol=1e-6)


def test_label_maps_and_top_k(tmp_path):
    (tmp_path / "labels.txt").write_text("run\njump\n\nswim\n")
    names = read_label_map(tmp_path / "labels.txt", 3)
    assert top_k(np.array([0.1, 0.7, 0.2]), 2, names) == [(1, "jump", pytest.approx(0.7)), (2, "swim",
                                                                                         pytest.approx(0.2))]
    with pytest.raises(ValueError, match="has 3 names but the model has 4 classes"):
        read_label_map(tmp_path / "labels.txt", 4)
    with pytest.raises(FileNotFoundError, match="label map"):
        read_label_map(tmp_path / "missing.txt", 3)


def run_cli(capsys, *args):
    """``python -m tsnbook predict ...`` in this process: (exit code, stdout, stderr-or-exit message)."""
    from tsnbook.cli import main
    with pytest.raises(SystemExit) as exited:
        main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code, out, err) if isinstance(code, int) or code is None else (1, out, str(code))


def test_cli_predicts_with_a_tsnbook_checkpoint_and_reports_errors(video, tmp_path, capsys):
    from tsnbook.configs import get_config
    from tsnbook.factory import build_model
    cfg = get_config("tsn_r18_1x1x3_12e_synthactions_rgb")
    torch.manual_seed(0)
    model = build_model(cfg)
    save_checkpoint(tmp_path / "latest.pth", dict(model=model.state_dict(), epoch=3, cfg_name=cfg["name"]))
    names = [f"class_{i}" for i in range(cfg["num_classes"])]
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n")
    code, out, err = run_cli(capsys, tmp_path / "latest.pth", video, "--protocol", "val", "--topk", "2",
                             "--label-map", tmp_path / "labels.txt")
    assert code == 0, err
    expected = predict_video(model.eval(), video, "val", "prob", cfg=cfg)  # "val" at the config's 48-px sizes
    best = int(np.argmax(expected))
    lines = out.strip().splitlines()
    assert f"class_{best}" in lines[-2] and f"{expected[best]:.4f}" in lines[-2]
    assert len([line for line in lines if "class_" in line]) == 2
    (tmp_path / "short.txt").write_text("a\nb\n")
    code, _, err = run_cli(capsys, tmp_path / "latest.pth", video, "--label-map", tmp_path / "short.txt")
    assert code != 0 and "has 2 names but the model has" in err
    code, _, err = run_cli(capsys, tmp_path / "latest.pth", tmp_path / "nothing.mp4")
    assert code != 0 and "nothing.mp4 does not exist" in err
    code, _, err = run_cli(capsys, tmp_path / "nothing.pth", video)
    assert code != 0 and "nothing.pth does not exist" in err


def test_cli_runs_as_a_module(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tsnbook", "predict", str(tmp_path / "x.pth"), "missing.mp4"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode != 0 and "error: video missing.mp4 does not exist" in done.stderr
