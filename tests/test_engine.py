import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import small_config
from tsnbook.data import build_dataset, collate_skipping_errors
from tsnbook.checkpoints import load_checkpoint, save_checkpoint
from tsnbook.engine import evaluate_checkpoint as run_test
from tsnbook.engine import train
from tsnbook.loops import train_one_epoch
from tsnbook.factory import build_model
from tsnbook.logs import JsonLog, read_log
from tsnbook.metrics import evaluation_report, mean_average_precision, mmit_mean_average_precision
from tsnbook.optim import build_optimizer, set_lr
from tsnbook.schedules import base_lr, lr_at
from tsnbook.scores import read_scores, write_scores
from tsnbook.sampling import dense_sample_frames


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


def test_cosine_schedule_with_linear_warmup_per_iteration():
    cfg = dict(lr=0.1, epochs=10, lr_schedule="cosine", min_lr=0.001, warmup_epochs=2, warmup_ratio=0.1)
    cosine = [0.001 + 0.099 * (1 + np.cos(np.pi * e / 10)) / 2 for e in range(10)]
    assert lr_at(cfg, 0) == pytest.approx(0.1 * cosine[0])  # warmup starts at warmup_ratio x the schedule
    assert lr_at(cfg, 1, 0.5) == pytest.approx(cosine[1] * (1 - (1 - 1.5 / 2) * 0.9))
    assert [lr_at(cfg, e) for e in range(2, 10)] == pytest.approx(cosine[2:])
    warming = [lr_at(cfg, e, i / 4) for e in range(2) for i in range(4)]
    assert all(a < b for a, b in zip(warming, warming[1:]))
    step = dict(lr=0.1, lr_steps=[2], warmup_epochs=1, warmup_ratio=0.5)
    assert [lr_at(step, 0, 0.0), lr_at(step, 0, 0.5), lr_at(step, 1), lr_at(step, 2)] == pytest.approx(
        [0.05, 0.075, 0.1, 0.01])
    with pytest.raises(ValueError, match="'step' or 'cosine'"):
        lr_at(dict(lr=0.1, lr_schedule="poly"), 0)


def test_linear_lr_scaling_to_the_total_batch():
    cfg = dict(lr=0.01, batch_size=8, lr_base_batch=64, lr_steps=[1])
    assert base_lr(cfg, world_size=4) == pytest.approx(0.005)
    assert lr_at(cfg, 1, world_size=16) == pytest.approx(0.002)
    assert base_lr(dict(cfg, auto_scale_lr=False), world_size=4) == 0.01
    assert base_lr(dict(cfg, lr_base_batch=None), world_size=4) == 0.01


def test_fc_lr5_builds_mmaction2_tsm_parameter_groups(small_synth):
    model = build_model(small_config("rgb", small_synth))
    assert len(build_optimizer(model, dict(weight_decay=1e-4), 0.1).param_groups) == 1
    optimizer = build_optimizer(model, dict(weight_decay=1e-4, fc_lr5=True), 0.1)
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    assert len(group_of) == len(list(model.parameters()))  # every parameter, once
    expect = {"fc.weight": (0.5, 1e-4), "fc.bias": (1.0, 0.0), "backbone.conv1.weight": (0.1, 1e-4),
              "backbone.layer1.0.conv1.weight": (0.1, 1e-4), "backbone.bn1.weight": (0.1, 0.0),
              "backbone.layer4.1.bn2.bias": (0.1, 0.0)}
    params = dict(model.named_parameters())
    for name, (lr, decay) in expect.items():
        group = group_of[id(params[name])]
        assert (group["lr"], group["weight_decay"]) == pytest.approx((lr, decay)), name
    set_lr(optimizer, 0.01)
    assert group_of[id(params["fc.bias"])]["lr"] == pytest.approx(0.1)


def test_resume_is_exact_with_cosine_and_warmup(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, batch_size=4, lr_schedule="cosine", warmup_epochs=1, warmup_ratio=0.2)
    train(cfg, tmp_path / "straight", progress=False, validate=False, device="cpu")
    train(dict(cfg, epochs=1), tmp_path / "stopped", progress=False, validate=False, device="cpu")
    train(cfg, tmp_path / "stopped", resume=True, progress=False, validate=False, device="cpu")
    straight = torch.load(tmp_path / "straight" / "latest.pth", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "stopped" / "latest.pth", weights_only=True)["model"]
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    lrs = [r["lr"] for r in read_log(tmp_path / "straight" / "log.jsonl") if r["mode"] == "train"]
    assert lrs == pytest.approx([0.01 * (1 - (1 - i / 4) * 0.8) for i in range(4)] + [0.005] * 4)


def _multi_label_list(small_synth, tmp_path):
    """The small videos list with two labels per video (its own and the next class), for BCE and mAP."""
    lines = []
    for line in (small_synth / "synthactions_train_split_1_videos.txt").read_text().splitlines():
        path, label = line.split()
        lines.append(f"{path} {label} {(int(label) + 1) % 8}")
    (tmp_path / "multi.txt").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "multi.txt")


def test_multi_label_loss_is_bce_times_loss_weight(small_synth, tmp_path):
    cfg = small_config("rgb", small_synth, multi_label=True, dropout=0.0, ann_file_train=_multi_label_list(
        small_synth, tmp_path))
    cfg["train_pipeline"] = [dict(t, flip_label_map=None) if t["type"] == "Flip" else t for t in cfg["train_pipeline"]]
    loader = torch.utils.data.DataLoader(build_dataset(cfg, "train"), batch_size=4, collate_fn=collate_skipping_errors)
    batch = next(iter(loader))
    assert batch["label"].shape == (4, 8) and batch["label"].sum(1).tolist() == [2.0] * 4
    losses = []
    for weight in (1.0, 160.0):
        torch.manual_seed(0)
        model = build_model(cfg)
        optimizer = build_optimizer(model, cfg, 0.0)
        loss, _, _ = train_one_epoch(model, [batch], optimizer, torch.device("cpu"), 0,
                                     dict(cfg, loss_weight=weight, lr=0.0), None, progress=False)
        losses.append(loss)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(model(batch["imgs"]), batch["label"]).item()
    assert losses[0] == pytest.approx(expected, rel=1e-5)
    assert losses[1] == pytest.approx(160 * expected, rel=1e-5)


def test_the_loops_take_a_device_name_like_the_rest_of_the_api(small_synth):
    """``tsnbook.evaluate(model, dataset, "cpu")`` and ``train_one_epoch(..., "cpu", ...)`` (issue 17, item 7)."""
    import tsnbook
    cfg = small_config("rgb", small_synth, test_clips=1)
    torch.manual_seed(0)
    model = build_model(cfg)
    test_set = build_dataset(cfg, "test")
    scores, labels, skipped = tsnbook.evaluate(model, test_set, "cpu", progress=False)
    assert scores.shape == (8, 8) and np.isfinite(scores).all() and skipped == [] and labels == list(range(8))
    np.testing.assert_array_equal(scores, tsnbook.evaluate(model, test_set, torch.device("cpu"), progress=False)[0])
    train_set = build_dataset(cfg, "train")
    batch = collate_skipping_errors([train_set[i] for i in range(4)])
    optimizer = build_optimizer(model, cfg, cfg["lr"])
    loss, top1, skipped = train_one_epoch(model, [batch], optimizer, "cpu", 0, cfg, None, progress=False)
    assert np.isfinite(loss) and 0 <= top1 <= 1 and skipped == []


def test_a_training_step_reads_its_numbers_from_the_device_once(small_synth, tmp_path, monkeypatch):
    """On a GPU every ``.item()`` / ``.tolist()`` waits for the device: a step reads its loss and top-1 hits in one
    transfer, and logs the loss a plain ``.item()`` reads."""
    cfg = small_config("rgb", small_synth)
    train_set = build_dataset(cfg, "train")
    batches = [collate_skipping_errors([train_set[i] for i in range(start, start + 4)]) for start in (0, 4)]
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg, cfg["lr"])
    reads = []
    for name in ("item", "tolist", "__float__", "__int__"):
        def counted(self, *args, _original=getattr(torch.Tensor, name), _name=name):
            reads.append(_name)
            return _original(self, *args)
        monkeypatch.setattr(torch.Tensor, name, counted)
    train_one_epoch(model, batches, optimizer, "cpu", 0, cfg, JsonLog(tmp_path / "log.jsonl"), progress=False)
    monkeypatch.undo()
    assert len(reads) == len(batches), reads
    logged = [r["loss"] for r in read_log(tmp_path / "log.jsonl") if r["mode"] == "train"]
    torch.manual_seed(0)
    model, expected = build_model(cfg).train(), []
    optimizer = build_optimizer(model, cfg, cfg["lr"])
    for batch in batches:  # the same steps by hand: each loss read alone
        loss = torch.nn.functional.cross_entropy(model(batch["imgs"]), batch["label"])
        expected.append(round(loss.item(), 5))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert logged == pytest.approx(expected, abs=2e-5)


def _without_class(small_synth, tmp_path, label):
    """The small training list (absolute paths) without the videos of class ``label``."""
    lines = (small_synth / "synthactions_train_split_1_videos.txt").read_text().splitlines()
    kept = [f"{small_synth / 'videos' / line.split()[0]} {line.split()[1]}" for line in lines
            if int(line.split()[1]) != label]
    (tmp_path / "train.txt").write_text("\n".join(kept) + "\n")
    return str(tmp_path / "train.txt")


def test_a_class_without_training_videos_is_named_in_a_warning(small_synth, tmp_path, capsys):
    """The model would never see class 3 and nothing said so (issue 17, item 13): its name when the config has
    a label map, else its index, on stdout and in log.jsonl."""
    from tsnbook.data import read_label_map
    name = read_label_map(small_synth / "classInd.txt")[3]
    cfg = small_config("rgb", small_synth, epochs=1, ann_file_train=_without_class(small_synth, tmp_path, 3))
    train(cfg, tmp_path / "named", resume=False, progress=False, device="cpu", validate=False)
    out = capsys.readouterr().out
    assert f"warning: 1 of the 8 classes has no training video in train.txt: 3 ({name})" in out, out
    warnings = [r for r in read_log(tmp_path / "named" / "log.jsonl") if r["mode"] == "warning"]
    assert [r["classes_without_videos"] for r in warnings] == [[3]]
    train(dict(cfg, label_map=None), tmp_path / "indices", resume=False, progress=False, device="cpu",
          validate=False)
    assert "warning: 1 of the 8 classes has no training video in train.txt: 3\n" in capsys.readouterr().out
    train(small_config("rgb", small_synth, epochs=1), tmp_path / "all", resume=False, progress=False, device="cpu",
          validate=False)
    assert "no training video" not in capsys.readouterr().out


def test_evaluation_report_computes_the_configured_metrics():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 4)).astype(np.float32)
    multi = [[0, 1], [2], [3, 0], [1], [2, 3], [0]]
    hot = np.zeros((6, 4), dtype=int)
    for row, labels in zip(hot, multi):
        row[labels] = 1
    report = evaluation_report(scores, multi, ["mmit_mean_average_precision", "mean_average_precision"])
    assert report["mmit_mean_average_precision"] == pytest.approx(100 * mmit_mean_average_precision(scores, hot))
    assert report["mean_average_precision"] == pytest.approx(100 * mean_average_precision(scores, hot))
    single = evaluation_report(scores, [0, 1, 2, 3, 0, 1])
    assert set(single) == {"top1", "top5", "mean_class_accuracy", "num_videos"}
    with pytest.raises(ValueError, match="choose from top_k_accuracy, mean_class_accuracy, mean_average_precision"):
        evaluation_report(scores, [0] * 6, ["top1_acc"])
    with pytest.raises(ValueError, match="needs a multi-label"):
        evaluation_report(scores, [0] * 6, ["mean_average_precision"])


def test_average_clips_prob_is_the_softmax_of_the_video_logits(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, test_clips=1)
    checkpoint = tmp_path / "init.pth"
    torch.manual_seed(0)
    save_checkpoint(checkpoint, dict(model=build_model(cfg).state_dict(), epoch=0))
    logits, labels, report, _ = run_test(cfg, checkpoint, progress=False, device="cpu")
    probs, _, _, _ = run_test(dict(cfg, average_clips="prob"), checkpoint, progress=False, device="cpu")
    assert np.allclose(probs, torch.softmax(torch.from_numpy(logits), 1).numpy(), atol=1e-6)
    assert not np.allclose(probs, logits)


def test_dense_sampler_uses_dense_sample_frames_with_the_item_rng(small_synth):
    cfg = small_config("rgb", small_synth, sampler="dense", dense_sample_range=16, dense_test_positions=3,
                       test_clips=4)
    train_set, test_set = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    train_set.set_epoch(2)
    results = train_set.load(5, np.random.default_rng([0, 2, 5]))
    with train_set.open(train_set.records[5]) as reader:
        frames = reader.num_frames
    expected = dense_sample_frames(frames, 1, 1, 3, 16, 3, rng=np.random.default_rng([0, 2, 5]))
    assert np.array_equal(results["frame_inds"], expected) and np.all(np.diff(expected) % frames == 16 // 3)
    item = test_set[0]
    assert item["imgs"].shape[0] == 4 * 3 * 3  # 4 clips x 3 window starts x ThreeCrop
    twice = build_dataset(dict(cfg, sampler="segments", twice_sample=True), "test")[0]
    assert twice["imgs"].shape[0] == 2 * 4 * 3


def test_score_files_round_trip_and_pickles_stay_arrays_only(tmp_path):
    scores = np.arange(12, dtype=np.float32).reshape(4, 3)
    for suffix in (".pkl", ".json", ".npz"):
        write_scores(tmp_path / f"s{suffix}", scores, [0, 1, 2, 0])
        read, labels = read_scores(tmp_path / f"s{suffix}")
        assert np.array_equal(read, scores)
        assert (labels is None) == (suffix != ".npz")
    import pickle
    with open(tmp_path / "s.pkl", "rb") as f:
        assert [a.tolist() for a in pickle.load(f)] == scores.tolist()  # MMAction2's format: a list of arrays

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hacked",))
    import os
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(ValueError, match="refusing to load posix.system|refusing to load os.system"):
        read_scores(tmp_path / "evil.pkl")


def test_gpu_augment_trains_like_the_cpu_pipeline(tmp_path, small_synth):
    """gpu_augment=True (here on the CPU device) draws the same boxes and flips as the CPU pipeline and only
    resamples pixels differently (< 1 grey level), so the first iterations' losses agree closely."""
    losses = {}
    for on in (False, True):
        cfg = small_config("rgb", small_synth, epochs=1, gpu_augment=on)
        train(cfg, tmp_path / str(on), resume=False, device="cpu", progress=False, validate=False)
        losses[on] = [r["loss"] for r in read_log(tmp_path / str(on) / "log.jsonl") if r["mode"] == "train"]
    assert len(losses[True]) == len(losses[False]) >= 2
    np.testing.assert_allclose(losses[True], losses[False], rtol=2e-2)
    assert losses[True] != losses[False]  # the pixels did go through the other (float) resampling path


def test_gpu_augment_refuses_a_pipeline_it_cannot_split(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, epochs=1, gpu_augment=True,
                       train_pipeline=[dict(type="Resize", scale=(-1, 48)), dict(type="CenterCrop", crop_size=40),
                                       dict(type="FormatShape", input_format="NCHW")])
    with pytest.raises(ValueError, match="MultiScaleCrop or RandomResizedCrop"):
        train(cfg, tmp_path, resume=False, device="cpu", progress=False, validate=False)


# ------------------------------------------------------------------ one odd video never ends a run (issue 9, item 9)
def _with(lines_file, extra, path):
    """``lines_file``'s lines with absolute paths (under its videos/ or rawframes/ folder), plus ``extra`` lines."""
    lines_file = Path(lines_file)
    folder = lines_file.parent / ("rawframes" if "flow" in lines_file.name else "videos")
    lines = [f"{folder / line.split()[0]} {' '.join(line.split()[1:])}"
             for line in lines_file.read_text().splitlines() if line.strip()]
    path.write_text("\n".join(lines + extra) + "\n")
    return str(path)


def test_a_video_smaller_than_the_crop_is_skipped_in_training_validation_and_test(tmp_path, small_synth):
    from test_data import CROP_FIRST, _tiny_video
    tiny = _tiny_video(tmp_path / "tiny.mp4")  # 52 x 38 pixels: smaller than the 40-px crops
    train_list = _with(small_synth / "synthactions_train_split_1_videos.txt", [f"{tiny} 3"], tmp_path / "t.txt")
    # (batch_size 17 below: all 16 + 1 videos in one batch, none dropped by drop_last)
    val_list = _with(small_synth / "synthactions_val_split_1_videos.txt", [f"{tiny} 3"], tmp_path / "v.txt")
    crop_first_val = [dict(type="CenterCrop", crop_size=40), dict(type="FormatShape", input_format="NCHW")]
    cfg = small_config("rgb", small_synth, epochs=1, batch_size=17, ann_file_train=train_list, ann_file_val=val_list,
                       ann_file_test=val_list, train_pipeline=CROP_FIRST, val_pipeline=crop_first_val,
                       test_pipeline=crop_first_val, test_clips=1)
    train(cfg, tmp_path / "run", resume=False, progress=False, device="cpu")
    log = read_log(tmp_path / "run" / "log.jsonl")
    epoch, val = [r for r in log if r["mode"] == "epoch"][0], [r for r in log if r["mode"] == "val"][0]
    for record in (epoch, val):
        assert record["skipped"] == 1 and "unexpected" not in record, record
        assert "tiny.mp4" in record["skipped_videos"][0] and "does not fit" in record["skipped_videos"][0]
    assert val["num_videos"] == 8 and not any(r["mode"] == "error" for r in log)
    scores, labels, report, skipped = run_test(cfg, tmp_path / "run" / "latest.pth", progress=False, device="cpu")
    assert np.isnan(scores[8]).all() and np.isfinite(scores[:8]).all()  # the tiny video's row is NaN
    assert len(skipped) == 1 and "tiny.mp4" in skipped[0] and report["num_videos"] == 8


def test_wrong_frame_counts_and_a_corrupt_jpeg_are_skipped_in_training_and_test(tmp_path, small_synth):
    import shutil
    lines = (small_synth / "synthactions_train_split_1_flow.txt").read_text().splitlines()
    name, frames = lines[0].split()[0], int(lines[0].split()[1])
    corrupt = tmp_path / "corrupt"
    shutil.copytree(small_synth / "rawframes" / name, corrupt)
    folder = small_synth / "rawframes" / name
    extra = [f"{folder} {3 * frames} 0", f"{folder} 0 0", f"{corrupt} {frames} 0"]
    listing = _with(small_synth / "synthactions_train_split_1_flow.txt", extra, tmp_path / "flow.txt")
    cfg = small_config("flow", small_synth, epochs=1, batch_size=19, ann_file_train=listing, ann_file_test=listing)
    # (one batch of all 19 items: a smaller batch size would drop_last some of them)
    # the JPEG that epoch 1 of training and the test read first in the corrupt copy: its flow_x is broken
    train_set, test_set = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    for dataset, rng in ((train_set, np.random.default_rng([0, 0, 18])), (test_set, None)):
        number = dataset.sample(frames, rng)[0] + 1
        (corrupt / f"flow_x_{number:05d}.jpg").write_bytes(b"\xff\xd8 a JPEG header and nothing else")
    train(cfg, tmp_path / "run", resume=False, progress=False, device="cpu", validate=False)
    epoch = [r for r in read_log(tmp_path / "run" / "log.jsonl") if r["mode"] == "epoch"][0]
    reasons = sorted(epoch["skipped_videos"])
    assert epoch["skipped"] == 3 and "unexpected" not in epoch, epoch
    assert any("corrupt/flow_x_" in r and "OpenCV cannot decode" in r for r in reasons), reasons
    assert any(name in r and "frame file missing" in r for r in reasons), reasons
    assert any(name in r and "num_frames=0" in r for r in reasons), reasons
    scores, _, report, skipped = run_test(cfg, tmp_path / "run" / "latest.pth", progress=False, device="cpu")
    assert np.isnan(scores[16:]).all() and np.isfinite(scores[:16]).all() and report["num_videos"] == 16
    assert len(skipped) == 3


def _failing_for(monkeypatch, fails):
    """Make TSNDataset.load_from raise a TypeError (a bug, not a data failure) for the videos ``fails`` picks."""
    from tsnbook.data import TSNDataset
    original = TSNDataset.load_from

    def load_from(self, reader, label=None, rng=None):
        if fails(reader.path):
            raise TypeError("a bug in a transform")
        return original(self, reader, label, rng)
    monkeypatch.setattr(TSNDataset, "load_from", load_from)


def test_the_first_unexpected_failure_is_logged_once_with_its_traceback(tmp_path, small_synth, monkeypatch,
                                                                         capsys):
    _failing_for(monkeypatch, lambda path: "_g02_" in path and ("RedBall" in path or "MoveUp" in path))
    summary = train(small_config("rgb", small_synth, epochs=2), tmp_path / "run", resume=False, progress=False,
                    device="cpu", validate=False)
    assert summary["epochs"] == 2  # the run went on
    log = read_log(tmp_path / "run" / "log.jsonl")
    errors, epochs = [r for r in log if r["mode"] == "error"], [r for r in log if r["mode"] == "epoch"]
    assert len(errors) == 1 and errors[0]["phase"] == "epoch 1"  # once a run, not once per video or epoch
    assert "TypeError: a bug in a transform" in errors[0]["traceback"] and "load_from" in errors[0]["traceback"]
    assert [(r["skipped"], r["unexpected"]) for r in epochs] == [(2, 2), (2, 2)]
    assert all("unexpected TypeError" in v for r in epochs for v in r["skipped_videos"])
    err = capsys.readouterr().err
    assert err.count("an unexpected failure while loading a video") == 1 and "Traceback" in err


def test_a_run_where_no_video_can_be_used_stops_with_the_reason(tmp_path, small_synth, monkeypatch):
    _failing_for(monkeypatch, lambda path: True)
    with pytest.raises(RuntimeError, match=r"epoch 1: no batch could be trained.*unexpected TypeError"):
        train(small_config("rgb", small_synth, epochs=1), tmp_path / "run", resume=False, progress=False,
              device="cpu", validate=False)
    assert [r["mode"] for r in read_log(tmp_path / "run" / "log.jsonl")].count("error") == 1
    cfg = small_config("rgb", small_synth)
    save_checkpoint(tmp_path / "w.pth", dict(model=build_model(cfg).state_dict(), epoch=0))
    with pytest.raises(RuntimeError, match="none of the 8 videos could be scored"):
        run_test(cfg, tmp_path / "w.pth", progress=False, device="cpu")


# ------------------------------------------------------------------------ loaders with workers (issue 9, item 10)
def test_train_order_is_the_order_of_earlier_runs():
    """TrainOrder replaces the per-epoch shuffled DataLoader; the order (and so every earlier result) is kept."""
    from tqdm.auto import tqdm

    from tsnbook.loops import TrainOrder
    order = TrainOrder(16, seed=3)
    for epoch in range(3):
        old_loader = torch.utils.data.DataLoader(range(16), batch_size=4, shuffle=True,
                                                 generator=torch.Generator().manual_seed(3000 + epoch))
        old = [i for batch in tqdm(old_loader, disable=True) for i in batch.tolist()]  # as train_one_epoch did
        order.set_epoch(epoch)
        assert list(order) == [(epoch, i) for i in old]
    assert len(order) == 16


def test_persistent_workers_train_and_validate_exactly_like_the_main_process(tmp_path, small_synth):
    """One spawned worker kept across both epochs (training and validation loaders): each epoch still gets its
    own augmentation (the epoch travels with the index), so the weights are those of num_workers=0."""
    runs = {}
    for workers in (0, 1):
        cfg = small_config("rgb", small_synth, num_workers=workers, persistent_workers=True)
        train(cfg, tmp_path / str(workers), resume=False, progress=False, device="cpu")
        runs[workers] = torch.load(tmp_path / str(workers) / "latest.pth", weights_only=True)["model"]
        vals = [r for r in read_log(tmp_path / str(workers) / "log.jsonl") if r["mode"] == "val"]
        runs[f"val{workers}"] = [(r["top1"], r["mean_class_accuracy"]) for r in vals]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert runs["val0"] == runs["val1"] and len(runs["val0"]) == 2


def test_evaluation_with_workers_gives_the_scores_of_one_process(tmp_path, small_synth):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    listing = _with(small_synth / "synthactions_val_split_1_videos.txt", [f"{broken} 1"], tmp_path / "test.txt")
    cfg = small_config("rgb", small_synth, ann_file_test=listing)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "w.pth", dict(model=build_model(cfg).state_dict(), epoch=0))
    inline, _, report, skipped = run_test(cfg, tmp_path / "w.pth", progress=False, device="cpu", workers=0)
    workers, _, report2, skipped2 = run_test(cfg, tmp_path / "w.pth", progress=False, device="cpu", workers=2)
    np.testing.assert_array_equal(inline, workers)  # NaN rows compare equal too
    assert np.isnan(workers[8]).all() and skipped == skipped2 and "broken.mp4" in skipped2[0]
    assert report == report2 and report["num_videos"] == 8


@pytest.mark.cuda  # skipped without a GPU (conftest); `pytest -m cuda` (tools/gpu_check.sh) selects it
def test_evaluation_feeds_a_gpu_from_pinned_worker_memory(tmp_path, small_synth):
    from tsnbook.loops import evaluation_loader
    cfg = small_config("rgb", small_synth, amp=None)  # fp32 on both devices
    assert next(iter(evaluation_loader(build_dataset(cfg, "test"), 1, "cuda")))["imgs"].is_pinned()
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "w.pth", dict(model=build_model(cfg).state_dict(), epoch=0))
    cpu, _, _, _ = run_test(cfg, tmp_path / "w.pth", progress=False, device="cpu", workers=0)
    gpu, _, _, _ = run_test(cfg, tmp_path / "w.pth", progress=False, device="cuda", workers=2)
    assert np.abs(gpu - cpu).max() <= 1e-3 * np.abs(cpu).max()  # cuDNN's sums, not other views
    summary = train(dict(cfg, epochs=1, num_workers=1), tmp_path / "run", resume=False, progress=False,
                    device="cuda")
    assert summary["epochs"] == 1


# -------------------------------------------------------------------------- multi-label "prob" (issue 9, item 13)
def _mma024_average_clip():
    """MMAction2 0.24.1's BaseRecognizer.average_clip, executed standalone from the oracle's source."""
    import ast

    from oracle import ORACLE, missing
    path = ORACLE / "mma024" / "mmaction" / "models" / "recognizers" / "base.py"
    if not path.is_file():
        missing("MMAction2 0.24.1 oracle")
    recognizer = next(n for n in ast.parse(path.read_text()).body
                      if isinstance(n, ast.ClassDef) and n.name == "BaseRecognizer")
    method = next(n for n in recognizer.body if isinstance(n, ast.FunctionDef) and n.name == "average_clip")
    namespace = {"F": torch.nn.functional}
    exec(compile(ast.Module(body=[method], type_ignores=[]), str(path), "exec"), namespace)
    return namespace["average_clip"]


def test_multi_label_prob_is_mmaction2s_softmax_by_default_and_sigmoid_on_request(tmp_path, small_synth):
    from types import SimpleNamespace
    cfg = small_config("rgb", small_synth, multi_label=True, test_clips=1, eval_metrics=["mean_average_precision"],
                       ann_file_test=_multi_label_list(small_synth, tmp_path))
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "w.pth", dict(model=build_model(cfg).state_dict(), epoch=0))
    logits, _, _, _ = run_test(cfg, tmp_path / "w.pth", progress=False, device="cpu")
    prob, _, report, _ = run_test(dict(cfg, average_clips="prob"), tmp_path / "w.pth", progress=False, device="cpu")
    sigmoid, _, _, _ = run_test(dict(cfg, average_clips="prob", multi_label_prob="sigmoid"), tmp_path / "w.pth",
                                progress=False, device="cpu")
    assert np.allclose(prob, torch.softmax(torch.from_numpy(logits), 1).numpy(), atol=1e-6)
    assert np.allclose(prob.sum(1), 1.0, atol=1e-5) and "mean_average_precision" in report
    assert np.allclose(sigmoid, torch.sigmoid(torch.from_numpy(logits)).numpy(), atol=1e-6)
    # MMAction2 0.24.1's own averaging of the same video-level logits (TSN: one score per video, num_segs = 1)
    average_clip = _mma024_average_clip()
    theirs = average_clip(SimpleNamespace(test_cfg=dict(average_clips="prob")), torch.from_numpy(logits), 1)
    assert np.allclose(prob, theirs.numpy(), atol=1e-6)


@pytest.mark.parametrize("options", [dict(), dict(partial_bn=True), dict(frozen_stages=2), dict(modality="flow")])
def test_fc_lr5_groups_equal_mmaction2s_tsm_constructor(options):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from oracle import mmaction_1x
    from tsnbook.models import TSN
    mmaction_1x()
    from mmaction.engine.optimizers.tsm_optim_wrapper_constructor import TSMOptimWrapperConstructor
    model = TSN("resnet18", num_classes=5, **options).train()
    constructor = TSMOptimWrapperConstructor(dict(type="OptimWrapper", optimizer=dict(
        type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4)), dict(fc_lr5=True))
    groups = []
    constructor.add_params(groups, model)
    theirs = {id(p): (round(g["lr"], 12), g["weight_decay"]) for g in groups for p in g["params"]}
    ours = {id(p): (round(g["lr"], 12), g["weight_decay"]) for g in
            build_optimizer(model, dict(weight_decay=1e-4, fc_lr5=True), 0.1).param_groups for p in g["params"]}
    names = {id(p): name for name, p in model.named_parameters()}
    assert {names[i]: v for i, v in ours.items()} == {names[i]: v for i, v in theirs.items()}
