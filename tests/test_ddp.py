"""DistributedDataParallel on CPU: 2 Gloo processes launched by torchrun, against one process in this one."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from conftest import small_config
from tsnbook.engine import train
from tsnbook.logs import read_log

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"
ROOT = Path(__file__).resolve().parents[1]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", TSNBOOK_DEVICE="cpu")


def _options(data_root, **overrides):
    # 16 training videos = 2 processes x 8; BN on running statistics and no dropout make a step independent of
    # how the batch is split, so 2 x 8 must give what 1 x 16 gives. lr_base_batch=8 doubles the lr (total 16).
    options = dict(dict(data_root=str(data_root), batch_size=8, dropout=0.0, norm_eval=True, lr_steps=[1],
                        val_clips=1, eval_interval=1, lr_base_batch=8), **overrides)
    return [f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}" for key, value in options.items()]


def _torchrun(work_dir, options, *extra):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "tsnbook", "train", RGB, "--work-dir", str(work_dir), "--no-progress",
               "--cfg-options", *options, *extra]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_two_processes_of_8_train_as_one_of_16_and_resume(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, batch_size=16, dropout=0.0, norm_eval=True, val_clips=1, lr_base_batch=8)
    train(cfg, tmp_path / "single", progress=False, device="cpu")  # 2 epochs, validated after each

    run = tmp_path / "ddp"
    stdout = _torchrun(run, _options(small_synth, epochs=1))
    assert "linear lr scaling: lr 0.01 x 2 process(es) x 8 videos / lr_base_batch 8 = 0.02" in stdout
    assert stdout.count("done:") == 1  # rank 0 alone reports
    _torchrun(run, _options(small_synth, epochs=2), "--resume", "--validate")

    single = torch.load(tmp_path / "single" / "latest.pth", weights_only=True)["model"]
    ddp = torch.load(run / "latest.pth", weights_only=True)["model"]
    assert single.keys() == ddp.keys()
    for key in single:
        assert torch.allclose(single[key].float(), ddp[key].float(), rtol=1e-4, atol=1e-6), key
    log = read_log(run / "log.jsonl")
    config = [r for r in log if r["mode"] == "config"]
    assert [(r["world_size"], r["total_batch"], r["effective_lr"]) for r in config] == [(2, 16, 0.02)] * 2
    assert [r["lr"] for r in log if r["mode"] == "epoch"] == [0.02, 0.002]
    assert sum(r["mode"] == "train" for r in log) == 2  # one iteration of 2 x 8 videos per epoch
    assert any(r["mode"] == "resume" for r in log)
    # Validation sharded over the 2 ranks and gathered: the same report as one process on the same weights.
    ddp_val = [r for r in log if r["mode"] == "val"]
    single_val = [r for r in read_log(tmp_path / "single" / "log.jsonl") if r["mode"] == "val"]
    assert len(ddp_val) == 1 and ddp_val[0]["num_videos"] == 8
    assert ddp_val[0]["top1"] == single_val[-1]["top1"]
    assert ddp_val[0]["mean_class_accuracy"] == single_val[-1]["mean_class_accuracy"]
    assert (run / "best.pth").exists()


def test_an_unreachable_peer_ends_with_a_clear_message(tmp_path):
    """Rank 1 pointed at an address nobody answers, and rank 0 waiting for a rank 1 that never starts."""
    runs = []
    for rank, address in ((1, "10.255.255.1"), (0, "127.0.0.1")):
        port = _free_port()
        env = dict(_env(), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR=address,
                   MASTER_PORT=str(port))
        command = [sys.executable, "-m", "tsnbook", "train", RGB, "--work-dir", str(tmp_path / str(rank)),
                   "--no-progress", "--cfg-options", "dist_timeout=3", f"data_root='{tmp_path}'"]
        runs.append((address, port, subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                                      stderr=subprocess.PIPE, text=True)))
    for address, port, process in runs:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, stdout + stderr
        assert f"MASTER_ADDR:MASTER_PORT = {address}:{port}" in stderr, stderr
        assert "within the 3 s timeout" in stderr and "all 2 processes were started" in stderr
        assert "Traceback" not in stderr and "frame #" not in stderr, stderr


def test_sync_bn_on_cpu_says_it_needs_cuda():
    import pytest

    from tsnbook.distributed import convert_sync_batchnorm
    with pytest.raises(RuntimeError, match="sync_bn=True needs CUDA"):
        convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm2d(3)), "cpu")
    converted = convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm2d(3)), "cuda")
    assert isinstance(converted[0], torch.nn.SyncBatchNorm)


def test_a_batch_that_fails_on_one_rank_is_skipped_by_both(tmp_path, small_synth):
    """One corrupt video, batch 1 per rank: the step where a rank has nothing to train on is skipped by every
    rank together (before, the other rank waited for its gradients until dist_timeout)."""
    lines = (Path(small_synth) / "synthactions_train_split_1_videos.txt").read_text().split("\n")[:3]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 200)
    listing = [f"{Path(small_synth) / 'videos' / line.split()[0]} {line.split()[1]}" for line in lines]
    (tmp_path / "list.txt").write_text("\n".join(listing + [f"{broken} 0"]) + "\n")
    options = _options(small_synth, epochs=1, batch_size=1, ann_file_train=str(tmp_path / "list.txt"),
                       dist_timeout=60)
    _torchrun(tmp_path / "run", options)
    log = read_log(tmp_path / "run" / "log.jsonl")
    epoch = [r for r in log if r["mode"] == "epoch"][0]
    assert epoch["skipped"] == 1 and "broken.mp4" in epoch["skipped_videos"][0]
    assert sum(r["mode"] == "train" for r in log) == 1  # 2 steps per rank, the broken one skipped by both


def test_test_sharded_over_two_processes_scores_every_video_as_one_process(tmp_path, small_synth):
    """``torchrun -m tsnbook test``: each rank scores every other video (one worker each) and rank 0 reports the
    gathered scores - those of a single process, video for video; a broken video is skipped once, its row NaN."""
    import numpy as np

    from conftest import small_config
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.engine import evaluate_checkpoint
    from tsnbook.factory import build_model
    from tsnbook.scores import read_scores

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 200)
    lines = (Path(small_synth) / "synthactions_val_split_1_videos.txt").read_text().split()
    listing = [f"{Path(small_synth) / 'videos' / path} {label}" for path, label in zip(lines[::2], lines[1::2])]
    listing.insert(3, f"{broken} 2")
    (tmp_path / "test.txt").write_text("\n".join(listing) + "\n")
    cfg = small_config("rgb", small_synth, ann_file_test=str(tmp_path / "test.txt"), num_workers=1)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "w.pth", dict(model=build_model(cfg).state_dict(), epoch=0))
    single, labels, report, skipped = evaluate_checkpoint(cfg, tmp_path / "w.pth", device="cpu", progress=False)

    options = [f"data_root='{small_synth}'", f"ann_file_test='{tmp_path / 'test.txt'}'", "test_clips=2",
               "num_workers=1"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "tsnbook", "test", RGB, str(tmp_path / "w.pth"), "--no-progress",
               "--out", str(tmp_path / "ddp.npz"), "--cfg-options", *options]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sharded, sharded_labels = read_scores(tmp_path / "ddp.npz")
    assert sharded.shape == single.shape == (9, 8) and list(sharded_labels) == labels
    np.testing.assert_allclose(sharded, single, rtol=1e-5, atol=1e-6)  # NaN where the broken video is, in both
    assert np.isnan(sharded[3]).all() and np.isfinite(np.delete(sharded, 3, axis=0)).all()
    assert result.stdout.count("testing ") == 1 and result.stdout.count("skipped 1 unusable video(s)") == 1
    assert f"top1: {report['top1']:.2f}" in result.stdout and "num_videos: 8" in result.stdout
    assert "broken.mp4" in skipped[0]


def test_the_backend_follows_the_device_unless_overridden(monkeypatch):
    """NCCL on CUDA, Gloo on the CPU; TSNBOOK_DIST_BACKEND=gloo lets several processes share one GPU (NCCL
    refuses two ranks on one device), and a wrong value is one clear error."""
    import pytest

    from tsnbook.distributed import backend_for
    monkeypatch.delenv("TSNBOOK_DIST_BACKEND", raising=False)
    assert (backend_for("cuda"), backend_for("cpu")) == ("nccl", "gloo")
    monkeypatch.setenv("TSNBOOK_DIST_BACKEND", "gloo")
    assert backend_for("cuda") == "gloo"
    monkeypatch.setenv("TSNBOOK_DIST_BACKEND", "nccl")
    with pytest.raises(ValueError, match="nccl needs CUDA devices"):
        backend_for("cpu")
    monkeypatch.setenv("TSNBOOK_DIST_BACKEND", "mpi")
    with pytest.raises(ValueError, match="TSNBOOK_DIST_BACKEND='mpi': choose one of nccl, gloo"):
        backend_for("cuda")


#: Launched by torchrun in place of ``-m tsnbook``: the same command line, and each rank saves the weights and
#: buffers of the model it has just validated, so that the test can see which model every shard was scored with.
_RECORD_VALIDATED_MODEL = """
import os, sys
import torch
import tsnbook.engine as engine
from tsnbook import cli

evaluate = engine.evaluate

def recording_evaluate(model, *args, **kwargs):
    result = evaluate(model, *args, **kwargs)
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    torch.save(state, os.path.join(sys.argv[1], f"validated_rank{os.environ['RANK']}.pth"))
    return result

engine.evaluate = recording_evaluate
cli.main(sys.argv[2:])
"""


def test_validation_under_ddp_scores_every_shard_with_rank_0s_model(tmp_path, small_synth):
    """BatchNorm's running statistics are each rank's own after a training step (DDP syncs gradients, not
    buffers: it broadcasts rank 0's buffers at the start of the *next* forward). Validation is sharded over the
    ranks, so each shard must be scored with the model best.pth saves - rank 0's, whose buffers are broadcast
    first (MMAction2's broadcast_bn_buffer=True)."""
    script = tmp_path / "record_validated_model.py"
    script.write_text(_RECORD_VALIDATED_MODEL)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), str(script), str(tmp_path), "train", RGB, "--work-dir", str(run), "--no-progress",
               "--validate", "--cfg-options", *_options(small_synth, epochs=1, norm_eval=False)]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    best = torch.load(run / "best.pth", weights_only=True)["model"]
    statistics = [key for key in best if key.endswith(("running_mean", "running_var"))]
    assert statistics and any(best[key].abs().sum() > 0 for key in statistics)
    for rank in (0, 1):
        validated = torch.load(tmp_path / f"validated_rank{rank}.pth", weights_only=True)
        assert validated.keys() == best.keys()
        for key in statistics:
            assert torch.equal(validated[key], best[key]), f"rank {rank}: {key} is not rank 0's"
        for key in best:
            assert torch.allclose(validated[key].float(), best[key].float(), rtol=1e-5, atol=1e-7), (rank, key)


#: Launched by torchrun in place of ``-m tsnbook``: a video whose name ends in "_odd.mp4" fails to load with an
#: unexpected error (not a known data failure: a bug), as a pipeline bug would.
_ODD_VIDEO_IS_A_BUG = """
import sys
from tsnbook import cli, data

load = data.TSNDataset.load

def load_or_fail(self, index, rng):
    if self.records[index].path.endswith("_odd.mp4"):
        raise ZeroDivisionError("a bug in the pipeline")
    return load(self, index, rng)

data.TSNDataset.load = load_or_fail
cli.main(sys.argv[1:])
"""


def test_the_epoch_and_validation_records_speak_for_every_rank_once(tmp_path, small_synth):
    """3 processes over 4 training videos, one failing by a bug: the DistributedSampler pads the epoch to 6 by
    repeating videos, so in the second epoch that one is loaded by two ranks - still one unusable video, one
    unexpected failure. One step per epoch: the loss logged for it and the epoch's loss are the world's mean over
    its videos (not rank 0's share, nor a mean of the ranks' means, which weighs a rank that lost a video like the
    others). The validation video that fails by a bug is rank 1's: the val record counts it. The first
    unexpected failure is reported once, and the config's note is printed once, not per rank."""
    import shutil
    videos = [Path(small_synth) / "videos" / line.split()[0] for line in
              (Path(small_synth) / "synthactions_train_split_1_videos.txt").read_text().split("\n")[:3]]
    odd = tmp_path / "v_odd.mp4"
    shutil.copyfile(videos[1], odd)
    (tmp_path / "train.txt").write_text("".join(f"{path} {i}\n" for i, path in enumerate(videos)) + f"{odd} 0\n")
    (tmp_path / "val.txt").write_text(f"{videos[0]} 0\n{odd} 1\n")
    script = tmp_path / "odd_video_is_a_bug.py"
    script.write_text(_ODD_VIDEO_IS_A_BUG)
    options = [f"data_root='{small_synth}'", f"ann_file_train='{tmp_path / 'train.txt'}'",
               f"ann_file_val='{tmp_path / 'val.txt'}'", "epochs=2", "batch_size=2", "val_clips=1",
               "eval_interval=1", "dist_timeout=60"]  # epochs=2 keeps lr_steps [8, 11]: a note says so
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "3", "--master_port",
               str(_free_port()), str(script), "train", RGB, "--work-dir", str(tmp_path / "run"), "--no-progress",
               "--validate", "--cfg-options", *options]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    log = read_log(tmp_path / "run" / "log.jsonl")
    epochs = [r for r in log if r["mode"] == "epoch"]
    assert [(r["skipped"], len(r["skipped_videos"]), r["unexpected"]) for r in epochs] == [(1, 1, 1)] * 2
    assert "skipped 2" not in result.stdout
    steps = [r for r in log if r["mode"] == "train"]
    assert [r["epoch"] for r in steps] == [1, 2]
    for step, epoch in zip(steps, epochs):
        assert abs(step["loss"] - epoch["loss"]) < 1e-3, (step, epoch)
    validations = [r for r in log if r["mode"] == "val"]
    assert [(r["num_videos"], r["skipped"], r.get("unexpected")) for r in validations] == [(1, 1, 1)] * 2
    assert sum(r["mode"] == "error" for r in log) == 1 and result.stderr.count("a bug in the pipeline") >= 1
    assert result.stderr.count("keeps lr_steps") == 1, result.stderr


def test_the_note_that_augmentation_stays_on_the_cpu_is_printed_by_rank_0_alone(small_synth, capsys):
    """gpu_augment="auto" on CUDA with a pipeline the GPU step cannot take (RGB difference): every process builds
    its loaders, and only rank 0 says that the augmentation stays on the CPU (not once per GPU)."""
    from conftest import rgbdiff_config
    from tsnbook.data import build_dataset
    from tsnbook.distributed import World
    from tsnbook.engine import _gpu_augment
    cfg = rgbdiff_config(small_synth)
    for rank in (0, 1):
        gpu, _ = _gpu_augment(cfg, build_dataset(cfg, "train"), torch.device("cuda"), World(rank, 2).is_main)
        assert gpu is None
    assert capsys.readouterr().out.count("training augmentation stays on the CPU") == 1


def test_processes_that_would_resume_different_epochs_stop_before_training(tmp_path, small_synth):
    """A work dir that is not the same for every process (node-local storage; here each rank is given its own
    folder): rank 0 finds epoch 1 to resume, rank 1 nothing. Before, rank 0 trained epoch 2 with a rank 1 at
    epoch 0 - another lr, a fresh optimizer - saved it and said "done", and rank 1 crashed in Gloo; now every
    rank stops with one message before anything is written."""
    cfg = small_config("rgb", small_synth, epochs=1)
    train(cfg, tmp_path / "rank0", progress=False, device="cpu", validate=False)
    (tmp_path / "rank1").mkdir()
    before = (tmp_path / "rank0" / "log.jsonl").read_text()
    (code, _, stderr), (other_code, _, other) = _resume_in_own_work_dirs(tmp_path, small_synth, epochs=2)
    assert code == other_code == 1, stderr + other
    assert "rank 0 resumes" in stderr and "epoch 1" in stderr and "rank 1 finds no checkpoint" in stderr, stderr
    assert "file system" in stderr and "Traceback" not in stderr + other, stderr + other
    _said_by_rank_0_alone(other)
    assert (tmp_path / "rank0" / "log.jsonl").read_text() == before
    assert torch.load(tmp_path / "rank0" / "latest.pth", weights_only=True)["epoch"] == 1


def _resume_in_own_work_dirs(tmp_path, small_synth, epochs, dist_timeout=60):
    """``train --resume`` as 2 processes, rank r in ``tmp_path / f"rank{r}"`` (a work dir per node, as on node-local
    storage): each process's ``(exit code, stdout, stderr)``."""
    port, runs = _free_port(), []
    for rank in (0, 1):
        env = dict(_env(), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        command = [sys.executable, "-m", "tsnbook", "train", RGB, "--work-dir", str(tmp_path / f"rank{rank}"),
                   "--no-progress", "--resume", "--cfg-options", f"epochs={epochs}", "batch_size=8", "lr_steps=[1]",
                   f"data_root='{small_synth}'", f"dist_timeout={dist_timeout}"]
        runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=300) for process in runs]
    return [(process.returncode, *output) for process, output in zip(runs, outputs)]


def _said_by_rank_0_alone(other):
    """Every rank printed the same ``error:`` line (N lines for one reason under torchrun): a rank other than 0
    whose error rank 0 reports says one short line that points there."""
    lines = [line for line in other.splitlines() if line.startswith("error:")]
    assert lines == ["error: rank 1 stopped with rank 0, whose error line says why"], other


def test_a_rank_whose_checkpoint_is_past_the_schedule_stops_every_rank_with_the_same_message(tmp_path, small_synth):
    """Rank 0 resumes epoch 2 of a run cut to epochs=1, rank 1 finds no checkpoint: rank 0 raised "past epochs"
    before the check that every rank starts alike, and rank 1 waited for it in that check's collective until Gloo
    gave up (a bare connection error, or dist_timeout later). The check comes first: both name each one's start."""
    train(small_config("rgb", small_synth, epochs=2), tmp_path / "rank0", progress=False, device="cpu",
          validate=False)
    (tmp_path / "rank1").mkdir()
    (code, _, stderr), (other_code, _, other) = _resume_in_own_work_dirs(tmp_path, small_synth, epochs=1,
                                                                          dist_timeout=30)
    assert code == other_code == 1, stderr + other
    assert "rank 0 resumes" in stderr and "rank 1 finds no checkpoint" in stderr, stderr
    _said_by_rank_0_alone(other)


def test_a_checkpoint_one_rank_cannot_read_stops_every_rank_with_its_reason(tmp_path, small_synth):
    """Rank 1's work dir (node-local) holds an unreadable latest.pth, rank 0's none: rank 1 raised alone while
    rank 0 waited for it in the next collective, and rank 0 ended on Gloo's "Connection closed by peer" (or
    dist_timeout later). Now every rank stops with rank 1's reason."""
    (tmp_path / "rank0").mkdir()
    (tmp_path / "rank1").mkdir()
    (tmp_path / "rank1" / "latest.pth").write_bytes(b"not a checkpoint")
    (code, _, stderr), (other_code, _, other) = _resume_in_own_work_dirs(tmp_path, small_synth, epochs=1,
                                                                          dist_timeout=30)
    assert code == other_code == 1, stderr + other
    assert "rank 1 stopped: " in stderr and "rank1/latest.pth is not a readable checkpoint" in stderr, stderr
    assert "Connection closed" not in stderr + other, stderr + other
    _said_by_rank_0_alone(other)
