"""What the first GPU user and the first real-data user would hit (issue 9): devices, loading any checkpoint,
checkpoints that remember their config, and runs that are never overwritten by accident.
"""
import shlex

import pytest
import torch

from conftest import small_config
from tsnbook import cli
from tsnbook.configs import option
from tsnbook.engine import evaluate_checkpoint, train
from tsnbook.factory import load_model
from tsnbook.logs import read_log
from tsnbook.mmaction2 import export_mmaction2_checkpoint
from tsnbook.pipelines import protocol_of
from tsnbook.predict import predict_video
from tsnbook.runs import RunExistsError, existing_run
from tsnbook.utils import resolve_device

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"


def _exit(argv):
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in argv])
    return info.value.code


# ------------------------------------------------------------------------------------------------ 1. devices
def test_every_cuda_device_gets_an_index(monkeypatch):
    # torch.cuda.set_device(torch.device("cuda")) raises "Expected a torch.device with a specified index":
    # every entry point normalises through resolve_device (no GPU needed to check the rule).
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=3) == torch.device("cuda", 3)  # torchrun's LOCAL_RANK
    assert resolve_device("cuda:1", local_rank=3) == torch.device("cuda", 1)  # an explicit index wins
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv("TSNBOOK_DEVICE", "cuda")
    assert resolve_device(None) == torch.device("cuda", 0)  # what best_device() returns on a GPU machine


@pytest.mark.cuda
def test_training_on_a_bare_cuda_device(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, epochs=1)
    summary = train(cfg, tmp_path, device="cuda", progress=False, validate=False)
    assert summary["epochs"] == 1 and (tmp_path / "latest.pth").exists()


# ------------------------------------------------------------------------------- 2 + 6. one loader, own config
@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_synth):
    """A run with an override its config name does not know: 5 segments, dropout 0.1, 2 test clips."""
    folder = tmp_path_factory.mktemp("run")
    cfg = small_config("rgb", small_synth, epochs=1, num_segments=5, dropout=0.1, test_clips=2)
    cfg["data_root"] = small_synth  # a Path, not a string: the checkpoint must still load weights-only
    train(cfg, folder, device="cpu", progress=False, validate=False)
    return cfg, folder


def test_a_checkpoint_rebuilds_its_own_model_with_the_overrides_it_was_trained_with(trained, small_synth):
    cfg, folder = trained
    model, info = load_model(folder / "latest.pth")
    assert (model.num_segments, model.dropout.p) == (5, 0.1)  # today's config says 3 and 0.4
    assert info["cfg"]["test_clips"] == 2 and info["format"] == "tsnbook" and info["epoch"] == 1
    assert not model.training
    video = next((small_synth / "videos").rglob("*.mp4"))
    own = predict_video(model, video, cfg=info["cfg"])  # the run's own protocol: 2 clips x ThreeCrop
    assert protocol_of(info["cfg"]) == "2x3@48"
    assert own.shape == (8,) and abs(own.sum() - 1) < 1e-5


def test_a_released_mmaction2_file_tests_like_the_tsnbook_one(trained, tmp_path):
    cfg, folder = trained
    model, _ = load_model(folder / "latest.pth")
    export_mmaction2_checkpoint(model, tmp_path / "mmaction2.pth")  # what the zoo ships, offline
    ours = evaluate_checkpoint(cfg, folder / "latest.pth", device="cpu", progress=False)
    theirs = evaluate_checkpoint(cfg, tmp_path / "mmaction2.pth", device="cpu", progress=False)
    assert torch.allclose(torch.from_numpy(ours[0]), torch.from_numpy(theirs[0]), atol=1e-5)
    assert ours[2]["top1"] == theirs[2]["top1"]
    options = ["--cfg-options", f"data_root='{cfg['data_root']}'", "num_segments=5", "test_clips=2",
               "--no-progress", "--device", "cpu"]
    assert _exit(["test", RGB, tmp_path / "mmaction2.pth", *options]) == 0


def test_predict_uses_the_checkpoints_protocol_and_explains_flow_input(trained, small_synth, capsys):
    cfg, folder = trained
    video = next((small_synth / "videos").rglob("*.mp4"))
    assert _exit(["predict", folder / "latest.pth", video, "--device", "cpu"]) == 0
    assert "(2x3@48, average_clips=prob)" in capsys.readouterr().out
    assert _exit(["predict", folder / "latest.pth", video, "--protocol", "val", "--device", "cpu"]) == 0
    assert "(val at the model's sizes: short side 48, crops 40, average_clips=prob)" in capsys.readouterr().out
    assert _exit(["predict", folder / "latest.pth", video, "--protocol", "25x5"]) == 2  # refused as it is parsed
    assert "argument --protocol: unknown test protocol '25x5'" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- 7. runs are not overwritten
def test_a_second_run_in_the_same_work_dir_is_refused_unless_resumed_or_forced(tmp_path, small_synth, capsys):
    cfg = small_config("rgb", small_synth, epochs=1)
    train(cfg, tmp_path, resume=False, device="cpu", progress=False, validate=False)
    before = (tmp_path / "latest.pth").read_bytes()
    with pytest.raises(RunExistsError, match=r"already holds a run \(latest.pth, log.jsonl\): pass --resume"):
        train(cfg, tmp_path, resume=False, device="cpu", progress=False, validate=False)
    assert (tmp_path / "latest.pth").read_bytes() == before  # nothing was touched
    argv = ["train", RGB, "--work-dir", tmp_path, "--cfg-options", f"data_root='{small_synth}'", "epochs=1",
            "batch_size=8", "test_clips=1", "--no-progress", "--device", "cpu"]
    message = str(_exit(argv))
    assert message.startswith("error: ") and "\n" not in message and "--force to start over" in message
    assert "give one" in str(_exit(argv + ["--resume", "--force"]))
    assert _exit(argv + ["--force"]) == 0  # replaces the run
    records = [line for line in (tmp_path / "log.jsonl").read_text().splitlines() if '"mode": "config"' in line]
    assert len(records) == 1  # the old log went with the old run


def test_force_replaces_the_old_run_only_once_the_new_one_starts(tmp_path, small_synth):
    """``--force`` with a typo in data_root, or with load_from pointing at the very run it replaces: the new run
    is built and checked first, and the old one is removed only when the new one starts (issue 17, item 3)."""
    cfg = small_config("rgb", small_synth, epochs=1)
    train(cfg, tmp_path / "run", resume=False, device="cpu", progress=False, validate=False)
    before = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()}
    typo = dict(cfg, data_root=f"{small_synth}_typo")
    with pytest.raises(FileNotFoundError, match="_typo/synthactions_train_split_1_videos.txt does not exist"):
        train(typo, tmp_path / "run", resume=False, force=True, device="cpu", progress=False, validate=False)
    assert {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()} == before  # nothing lost
    with pytest.raises(FileNotFoundError):  # a first start that fails leaves no run behind: no --force to retry
        train(typo, tmp_path / "fresh", resume=False, device="cpu", progress=False, validate=False)
    assert existing_run(tmp_path / "fresh") is None
    # fine-tuning from the run being replaced: its weights are read before its files go
    own = dict(cfg, load_from=str(tmp_path / "run" / "latest.pth"))
    train(own, tmp_path / "run", resume=False, force=True, device="cpu", progress=False, validate=False)
    log = read_log(tmp_path / "run" / "log.jsonl")
    assert [r["mode"] for r in log].count("config") == 1 and log[0]["mode"] == "config"
    assert torch.load(tmp_path / "run" / "latest.pth", weights_only=True)["cfg"]["load_from"] == own["load_from"]


def test_the_last_epoch_keeps_its_checkpoint_off_the_interval(tmp_path, small_synth):
    """3 epochs, a checkpoint every 2: epoch_2.pth, and epoch_3.pth for the last one (MMAction2's save_last)."""
    cfg = small_config("rgb", small_synth, epochs=3, lr_steps=[2], checkpoint_interval=2)
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == ["epoch_2.pth", "epoch_3.pth"]
    assert (tmp_path / "epoch_3.pth").read_bytes() == (tmp_path / "latest.pth").read_bytes()


def test_epoch_checkpoints_every_interval_keep_the_newest(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, epochs=4, lr_steps=[3], checkpoint_interval=1, max_keep_ckpts=2)
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == ["epoch_3.pth", "epoch_4.pth"]
    assert torch.load(tmp_path / "epoch_3.pth", weights_only=True)["epoch"] == 3
    assert (tmp_path / "epoch_4.pth").read_bytes() == (tmp_path / "latest.pth").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))
    train(dict(cfg, checkpoint_interval=0), tmp_path / "none", device="cpu", progress=False, validate=False)
    assert not list((tmp_path / "none").glob("epoch_*.pth"))


# ------------------------------------------------------------------------------------------------ 5. fp32 tests
def test_testing_is_fp32_unless_asked_and_the_report_says_so(trained):
    from tsnbook.engine import test_precision
    cfg, folder = trained
    assert option(cfg, "amp") == "auto"  # training's autocast (CUDA) ...
    report = evaluate_checkpoint(cfg, folder / "latest.pth", device="cpu", progress=False)[2]
    assert (report["precision"], report["protocol"]) == ("fp32", "2x3@48")  # ... does not carry over to testing
    assert test_precision("cuda:0", None) == "fp32" and test_precision("cuda:0", "bf16") == "bf16"
    assert test_precision("cpu", "bf16") == "fp32"  # no autocast on the CPU


# -------------------------------------------------------------------------- autocast by GPU generation (issue 17)
def test_amp_auto_is_bf16_from_compute_capability_8_and_fp16_below(monkeypatch):
    """T4 / V100 (7.x) have no bf16 tensor cores: "auto" (the default) trains them in fp16 (with a GradScaler,
    the engine's part); Ampere and later in bf16. An explicit choice is kept; the CPU never autocasts."""
    from tsnbook.configs import OPTIONAL_KEYS
    from tsnbook.loops import autocast_precision
    gpu = torch.device("cuda", 0)
    for capability, expected in (((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert autocast_precision("auto", gpu) == expected, capability
        assert [autocast_precision(amp, gpu) for amp in ("bf16", "fp16", None)] == ["bf16", "fp16", None]
        assert autocast_precision("auto", "cpu") is None and autocast_precision("bf16", "cpu") is None
    assert OPTIONAL_KEYS["amp"] == "auto"
    with pytest.raises(ValueError, match="amp must be 'auto', 'bf16', 'fp16' or None, got 'fp8'"):
        autocast_precision("fp8", gpu)


# ------------------------------------------------------------------------------------------------ review
def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_stray_epoch_file_is_not_an_epoch_checkpoint(tmp_path):
    from tsnbook.runs import keep_epoch_checkpoint
    (tmp_path / "latest.pth").write_bytes(b"new")
    (tmp_path / "epoch_final.pth").write_bytes(b"mine")
    (tmp_path / "epoch_1.pth").write_bytes(b"old")
    assert existing_run(tmp_path) == "latest.pth, epoch_1.pth"
    keep_epoch_checkpoint(tmp_path, 2, dict(epochs=2, checkpoint_interval=1, max_keep_ckpts=1))
    assert _files(tmp_path) == ["epoch_2.pth", "epoch_final.pth", "latest.pth"]


def test_force_removes_everything_a_run_and_its_tests_wrote_and_nothing_else(tmp_path):
    from tsnbook.runs import remove_run
    from tsnbook.scores import save_scores
    import numpy as np
    written = ["latest.pth", "best.pth", "log.jsonl", "config.json", "epoch_3.pth", "latest.pth.tmp",
               "test_scores_per_class.csv", "test_scores_confusion_matrix.csv", "test_scores_confusion_matrix.png"]
    for name in written:
        (tmp_path / name).write_text("x")
    save_scores(tmp_path / "test_scores.npz", np.zeros((2, 3)), [0, 1], ["a.mp4", "b.mp4"])
    # what `tsnbook test --out` writes: with its average_clips (once left behind by --force)
    save_scores(tmp_path / "test_prob.npz", np.zeros((2, 3)), [0, 1], ["a.mp4", "b.mp4"], average_clips="prob")
    kept = ["notes.txt", "epoch_final.pth", "mine.npz", "other_per_class.csv", "data.json"]
    for name in kept:
        (tmp_path / name).write_text("mine")
    np.savez(tmp_path / "mine.npz", weights=np.zeros(2))
    remove_run(tmp_path)
    assert _files(tmp_path) == sorted(kept)


# ------------------------------------------------------------------ review: a resume, or a test, on changed data
def test_a_resume_names_what_changed_since_its_checkpoint(tmp_path, small_synth, capsys):
    """prepare.py run again between two runs of train --resume once continued on another split, unseen."""
    train_list = tmp_path / "train.txt"
    train_list.write_text((small_synth / "synthactions_train_split_1_videos.txt").read_text())
    cfg = small_config("rgb", small_synth, epochs=1, ann_file_train=str(train_list))
    train(cfg, tmp_path / "run", device="cpu", progress=False, validate=False)
    train(cfg, tmp_path / "run", device="cpu", progress=False, validate=False)  # the same: nothing to say
    assert "warning" not in capsys.readouterr().out
    train_list.write_text("".join(train_list.read_text().splitlines(keepends=True)[:-1]))  # one video fewer
    train(dict(cfg, epochs=2, lr_steps=[1]), tmp_path / "run", device="cpu", progress=False, validate=False)
    printed = capsys.readouterr().out
    assert f"warning: resuming {tmp_path / 'run' / 'latest.pth'} with changes since it was saved: " in printed
    assert "epochs 1 -> 2" in printed and f"{train_list} (ann_file_train) was rebuilt since" in printed, printed
    assert any(r["mode"] == "warning" and "epochs 1 -> 2" in r["message"]
               for r in read_log(tmp_path / "run" / "log.jsonl"))


def test_test_refuses_a_checkpoint_whose_classes_the_label_map_now_names_otherwise(tmp_path, small_synth, capsys):
    from conftest import random_checkpoint
    from tsnbook.course.synth import CLASSES
    cfg = small_config("rgb", small_synth, label_map=str(tmp_path / "classes.txt"))
    (tmp_path / "classes.txt").write_text("".join(f"{name}\n" for name in CLASSES))
    checkpoint = random_checkpoint(tmp_path / "best.pth", cfg, list(CLASSES))
    assert _exit(["test", checkpoint, "--device", "cpu", "--no-progress"]) == 0
    assert "note: the test list is the val list (synthactions_val_split_1_videos.txt), on which validation chose " \
           "best.pth: the figure is optimistic" in capsys.readouterr().out
    renamed = [CLASSES[1], CLASSES[0], *CLASSES[2:]]  # a class renamed, the lists rebuilt: the labels moved
    (tmp_path / "classes.txt").write_text("".join(f"{name}\n" for name in renamed))
    message = _exit(["test", checkpoint, "--device", "cpu"])
    assert message == (f"error: {checkpoint} learned other classes than {tmp_path / 'classes.txt'} names now (label 0: "
                       f"{CLASSES[0]!r} then, {CLASSES[1]!r} now): the lists were rebuilt since training (or CONFIG is "
                       "another dataset's); test it on the lists it was trained with, or train again"), message


def test_ctrl_c_during_training_says_what_is_kept_and_how_to_go_on(tmp_path, small_synth, monkeypatch):
    import tsnbook.engine
    argv = ["train", RGB, "--work-dir", tmp_path, "--cfg-options", f"data_root='{small_synth}'", "epochs=1",
            "batch_size=8", "test_clips=1", "--no-progress", "--device", "cpu"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tsnbook.engine, "train", interrupted)
    assert _exit(argv) == f"interrupted before the first epoch ended: nothing was saved in {tmp_path}"
    monkeypatch.undo()
    assert _exit(argv) == 0
    monkeypatch.setattr(tsnbook.engine, "train", interrupted)
    assert _exit(argv) == (f"interrupted: {tmp_path / 'latest.pth'} holds epoch 1 (an epoch interrupted midway is "
                           f"trained again); continue with: python -m tsnbook train {RGB} --work-dir {tmp_path} --resume "
                           f"--cfg-options {shlex.quote(argv[5])} epochs=1 batch_size=8 test_clips=1 --device cpu "
                           "--no-progress")  # the same options, quoted for a shell, or it would resume another run
    both = ["train", RGB, "--seed", "3", "--work-dir", tmp_path, "--cfg-options", "seed=4", "epochs=1"]
    assert _exit(both) == "error: --seed 3 and --cfg-options seed=... both set the seed; give one"


def test_ctrl_c_under_torchrun_one_rank_speaks_and_the_command_is_torchruns(tmp_path, monkeypatch):
    """Every torchrun process gets Ctrl-C: one line from rank 0, naming torchrun with the run's processes per node
    (``python -m tsnbook train ... --resume`` would continue a 4-process run in one process), silence and the
    interrupt's exit code from the others."""
    from tsnbook.cli import training
    (tmp_path / "latest.pth").touch()
    monkeypatch.setattr("tsnbook.checkpoints.read_checkpoint", lambda path, trusted: {"epoch": 3})
    args = cli.build_parser().parse_args(["train", RGB, "--work-dir", str(tmp_path), "--validate"])
    for name, value in dict(RANK="1", WORLD_SIZE="4", LOCAL_WORLD_SIZE="4").items():
        monkeypatch.setenv(name, value)
    assert training._interrupted(args, tmp_path) == 130
    monkeypatch.setenv("RANK", "0")
    assert training._interrupted(args, tmp_path).endswith(
        f"continue with: torchrun --nproc_per_node 4 -m tsnbook train {RGB} --work-dir {tmp_path} --resume --validate")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert training._interrupted(args, tmp_path).endswith(
        "continue with (on each node, with the rendezvous options the run was started with): torchrun --nnodes 2 "
        f"--nproc_per_node 2 -m tsnbook train {RGB} --work-dir {tmp_path} --resume --validate")


def test_processes_that_would_start_apart_are_named_by_the_groups_that_differ(monkeypatch):
    # 2 nodes x 8 GPUs, node-local work dirs: the message named ranks 0, 1, 2 and 3 (all node 0's, all agreeing)
    # and "12 more", never a rank that starts elsewhere
    from tsnbook import runs
    starts = [(5, "/scratch/run/latest.pth", "/scratch/run")] * 8 + [(0, None, "/scratch/run")] * 8
    monkeypatch.setattr(runs, "gather_objects", lambda start: starts)
    with pytest.raises(RuntimeError) as raised:
        runs.check_same_start("/scratch/run", "/scratch/run/latest.pth", 5)
    assert ("ranks 0-7 resume /scratch/run/latest.pth (epoch 5); ranks 8-15 find no checkpoint in /scratch/run"
            in str(raised.value)), raised.value
