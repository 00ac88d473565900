import json

import numpy as np
import pytest
import torch

from conftest import small_config
from tsnbook.engine import build_model, load_checkpoint, lr_at, read_log, save_checkpoint, train
from tsnbook.engine import test as run_test


def test_step_schedule_counts_passed_milestones():
    cfg = dict(lr=0.1, lr_steps=[2, 4], lr_gamma=0.1)
    assert [round(lr_at(cfg, e), 6) for e in range(6)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    save_checkpoint(path, dict(epoch=1, model={"w": torch.ones(2)}))

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, dict(epoch=2))
    assert torch.load(path, weights_only=True)["epoch"] == 1  # the previous checkpoint is intact


def test_truncated_checkpoint_and_wrong_class_count_are_explained(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth)
    model = build_model(cfg)
    good = tmp_path / "good.pth"
    save_checkpoint(good, dict(model=model.state_dict(), epoch=1))
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(RuntimeError, match="truncated"):
        load_checkpoint(truncated, model)
    other = build_model(dict(cfg, num_classes=5))
    with pytest.raises(ValueError, match=r"fc.weight: checkpoint \(8, 512\) vs model \(5, 512\).*drop the classifier"):
        load_checkpoint(good, other)
    flow = build_model(dict(cfg, modality="flow", clip_len=5))
    with pytest.raises(ValueError, match=r"conv1.weight: checkpoint \(64, 3, 7, 7\).*another backbone or modality"):
        load_checkpoint(good, flow)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth)
    train(cfg, tmp_path / "straight", progress=False, validate=False, device="cpu")
    train(dict(cfg, epochs=1), tmp_path / "stopped", progress=False, validate=False, device="cpu")
    train(cfg, tmp_path / "stopped", resume=True, progress=False, validate=False, device="cpu")
    straight = torch.load(tmp_path / "straight" / "latest.pth", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "stopped" / "latest.pth", weights_only=True)["model"]
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    log = read_log(tmp_path / "stopped" / "log.jsonl")
    assert [r["epoch"] for r in log if r["mode"] == "epoch"] == [1, 2]
    assert any(r["mode"] == "resume" for r in log)


def test_a_corrupt_video_is_skipped_counted_and_listed(tmp_path, small_synth):
    import shutil
    root = tmp_path / "data"
    shutil.copytree(small_synth, root)
    victim = root / "videos" / "RedBall" / "v_RedBall_g02_c01.mp4"
    victim.write_bytes(b"\x00" * 4096)
    cfg = small_config("rgb", root, epochs=1)
    summary = train(cfg, tmp_path / "run", progress=False, device="cpu")
    epoch = [r for r in read_log(tmp_path / "run" / "log.jsonl") if r["mode"] == "epoch"][0]
    assert epoch["skipped"] == 1 and "v_RedBall_g02_c01.mp4" in epoch["skipped_videos"][0]
    assert summary["epochs"] == 1


def test_test_protocol_scores_every_video(tmp_path, small_synth):
    cfg = small_config("flow", small_synth, epochs=1)
    train(cfg, tmp_path / "run", progress=False, validate=False, device="cpu")
    scores, labels, report, skipped = run_test(cfg, tmp_path / "run" / "latest.pth", progress=False, device="cpu")
    assert scores.shape == (8, 8) and np.isfinite(scores).all()
    assert labels == list(range(8)) and not skipped
    assert report["num_videos"] == 8 and 0 <= report["top1"] <= 100
    assert json.loads((tmp_path / "run" / "config.json").read_text())["modality"] == "flow"
