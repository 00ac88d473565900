"""The course code behind notebooks 21 and 22: the synthetic tasks (`tsnbook.course.tasks`), the in-memory runs
(`tsnbook.course.experiments`) and the exercises' check functions."""
import numpy as np
import pytest
import torch

from tsnbook.course import exercises, experiments, tasks
from tsnbook.data import build_dataset
from tsnbook.factory import build_model
from tsnbook.io import open_video


@pytest.fixture(scope="module")
def flash_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("flash")
    tasks.prepare(root, "flash")
    return root


def _colour_frames(frames, colour, tolerance=30):
    """Indices of the frames holding at least 20 pixels of ``colour``."""
    close = (np.abs(frames.astype(int) - np.array(colour)).max(axis=-1) < tolerance).sum(axis=(1, 2))
    return np.flatnonzero(close >= 20)


def test_a_flash_lasts_six_frames_and_shows_the_class_colour(flash_root):
    for line in (flash_root / "test.txt").read_text().split("\n")[:4]:
        path, label = line.split()
        with open_video(flash_root / "videos" / path) as video:
            frames = video.get(np.arange(video.num_frames))
        assert len(frames) == 48
        seen = _colour_frames(frames, tasks.COLOURS[tasks.TASKS["flash"][0][int(label)]])
        assert 5 <= len(seen) <= 6 and seen.max() - seen.min() == len(seen) - 1  # one run (H.264 blurs an edge)


def test_late_and_majority_put_the_class_colour_where_their_rule_says():
    for seed in range(5):
        late = tasks.render("late", 2, np.random.default_rng(seed))
        blue = tasks.COLOURS["Blue"]
        assert set(_colour_frames(late, blue)) == set(range(16, 24))
        majority = tasks.render("majority", 2, np.random.default_rng(seed))
        assert len(_colour_frames(majority, blue)) == 16


def test_tasks_are_reused_and_regenerated_when_damaged(tmp_path):
    manifest = tasks.prepare(tmp_path, "finetune")
    assert len(manifest["files"]) == 5 * 32
    assert len((tmp_path / "train_2.txt").read_text().split()) == 2 * 5 * 2  # path and label per line
    video = tmp_path / next(iter(manifest["files"]))
    stamp = video.stat().st_mtime_ns
    tasks.prepare(tmp_path, "finetune")
    assert video.stat().st_mtime_ns == stamp  # reused
    video.write_bytes(b"damaged")
    assert tasks.prepare(tmp_path, "finetune") == manifest  # regenerated: the same bytes again


def test_the_cached_dataset_gives_the_librarys_items(flash_root):
    cfg = experiments.task_config("flash", flash_root, num_segments=8)
    disk, memory = build_dataset(cfg, "train"), experiments.cached_dataset(cfg, "train")
    for index in (0, 5):
        assert torch.equal(disk[(1, index)]["imgs"], memory[(1, index)]["imgs"])
    diff = experiments.stacked(cfg, "rgbdiff", 2)
    assert tuple(experiments.cached_dataset(diff, "test")[0]["imgs"].shape) == (3, 9, 32, 32)


def test_a_run_trains_tests_and_is_reused(flash_root, tmp_path):
    cfg = experiments.task_config("flash", flash_root, epochs=1, lr_steps=[], num_segments=1, val_clips=1,
                                  test_clips=1)
    result = experiments.train_and_test(cfg, seed=0)
    assert 0 <= result["top1"] <= 100 and len(result["class_accuracy"]) == 4 and result["scores"].shape == (64, 4)
    checkpoint = experiments.cached_run(cfg, 0, tmp_path / "run")
    stamp = checkpoint.stat().st_mtime_ns
    assert experiments.cached_run(cfg, 0, tmp_path / "run").stat().st_mtime_ns == stamp
    backbone = experiments.backbone_file(checkpoint, tmp_path / "backbone.pth")
    flow = build_model(dict(experiments.stacked(cfg, "flow", 5), pretrained=str(backbone)))
    assert flow.backbone.conv1[0].in_channels == 10


def test_few_clips_keeps_the_first_clips_of_each_class(flash_root):
    cfg = experiments.few_clips(experiments.task_config("flash", flash_root), 3)
    lines = (flash_root / cfg["ann_file_train"]).read_text().split("\n")
    labels = [line.split()[1] for line in lines if line]
    assert sorted(labels) == sorted(["0", "1", "2", "3"] * 3)


def test_margins_and_paired_gains():
    assert experiments.margin([80, 90], [60, 70]) == 10
    assert experiments.margin([80, 90], [85, 70]) == -5
    assert experiments.paired_gains([80, 90], [85, 70]) == [-5, 20]
    assert experiments.spread([10, 20, 30]) == "20.0 (10.0-30.0)"


def test_exercise_checks_know_the_answers(capsys):
    rates = exercises.flash_hit_rates()
    assert rates == pytest.approx({1: 6 / 43, 3: 18 / 43, 8: 1.0})
    assert exercises.check_flash_hit_rates(rates) and not exercises.check_flash_hit_rates({1: 0.5, 3: 0.5, 8: 1})
    model = build_model(dict(experiments.task_config("finetune"), frozen_stages=4)).train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert exercises.check_frozen_parameter_count(trainable) and not exercises.check_frozen_parameter_count(96)
    assert exercises.check_flash_hit_rates(None) is None and exercises.check_frozen_parameter_count(None) is None
    out = capsys.readouterr().out
    assert "exercise 1: right" in out and "expected top-1" in out and "not answered yet - hint:" in out
