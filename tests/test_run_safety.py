"""Long runs that lose nothing (review 4): a work dir that two runs, or another run's checkpoint, would share; a
work dir that cannot be written; kills while saving or validating; resumes that are not the run they continue;
the history a resumed log tells; what the CPU ignores."""
import json
import os
from pathlib import Path

import pytest
import torch

from conftest import small_config
from tsnbook import cli
from tsnbook.configs import get_config
from tsnbook.engine import train
from tsnbook.logs import JsonLog, read_log
from tsnbook.runs import RunExistsError

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"


def _exit(argv):
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in argv])
    return info.value.code


def _quick(small_synth, **overrides):
    return small_config("rgb", small_synth, **dict(dict(epochs=1), **overrides))


def test_resuming_another_runs_checkpoint_never_overwrites_the_run_in_the_work_dir(tmp_path, small_synth):
    """``train --resume OTHER/latest.pth --work-dir FINISHED`` wrote the other history's latest.pth and epoch
    files over the finished run's (its best.pth left behind, describing neither)."""
    cfg = _quick(small_synth)
    train(cfg, tmp_path / "a", resume=False, device="cpu", progress=False, validate=False)
    train(cfg, tmp_path / "b", resume=False, device="cpu", progress=False, validate=False)
    before = {path.name: path.read_bytes() for path in (tmp_path / "b").iterdir()}
    longer = dict(cfg, epochs=2, lr_steps=[1])
    with pytest.raises(RunExistsError, match=r"b already holds a run \(latest.pth, log.jsonl\); resuming .*a/latest"
                                             r".pth, another run.s checkpoint, there would overwrite it"):
        train(longer, tmp_path / "b", resume=tmp_path / "a" / "latest.pth", device="cpu", progress=False,
              validate=False)
    assert {path.name: path.read_bytes() for path in (tmp_path / "b").iterdir()} == before
    # its own checkpoints may be resumed from, and another run's into a new work dir
    train(longer, tmp_path / "c", resume=tmp_path / "a" / "latest.pth", device="cpu", progress=False, validate=False)
    assert torch.load(tmp_path / "c" / "latest.pth", weights_only=True)["epoch"] == 2


def test_a_second_run_into_a_work_dir_in_use_stops_at_once(tmp_path, small_synth, monkeypatch):
    """Two runs started into one work dir at once both passed the "already holds a run" check (nothing was
    written yet), then interleaved their logs and checkpoints until one died renaming the other's best.pth.tmp."""
    import tsnbook.engine
    cfg = _quick(small_synth)
    real, seen = tsnbook.engine._train, []

    def first_run(*args, **kwargs):  # while the first run is training, a second one is started into its work dir
        if seen:  # the second run got this far: nothing stopped it
            return real(*args, **kwargs)
        seen.append("first run")
        with pytest.raises(RuntimeError, match=r"is in use by another training run") as info:
            train(cfg, tmp_path, resume=False, device="cpu", progress=False, validate=False)
        seen[0] = str(info.value)
        with pytest.raises(RuntimeError, match=r"is in use by another training run"):
            train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
        return real(*args, **kwargs)

    monkeypatch.setattr(tsnbook.engine, "_train", first_run)
    train(cfg, tmp_path, resume=False, device="cpu", progress=False, validate=False)
    assert seen and str(tmp_path) in seen[0] and "\n" not in seen[0]
    assert [r["mode"] for r in read_log(tmp_path / "log.jsonl")].count("config") == 1
    monkeypatch.undo()  # the lock went with the run: resuming it now is fine
    train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)


def test_a_work_dir_that_cannot_be_made_is_one_line_before_anything_is_built(tmp_path, small_synth, monkeypatch):
    import tsnbook.engine
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setattr(tsnbook.engine, "build_model", lambda *a, **k: pytest.fail("built before the check"))
    argv = ["train", RGB, "--cfg-options", f"data_root='{small_synth}'", "epochs=1", "--no-progress", "--device",
            "cpu", "--work-dir"]
    message = str(_exit(argv + [tmp_path / "a_file" / "run"]))
    assert message.startswith(f"error: cannot make the work dir {tmp_path / 'a_file' / 'run'} (") and \
        "choose another --work-dir" in message and "\n" not in message, message
    message = str(_exit(argv + [tmp_path / "a_file"]))
    assert message.startswith(f"error: cannot make the work dir {tmp_path / 'a_file'} (") and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_work_dir_that_cannot_be_made_is_refused_before_generated_data_is_prepared(tmp_path, monkeypatch):
    """On a first use, ``train`` made SynthActions and the zoo twins' replicas (minutes) and only then found that
    the --work-dir could not be made."""
    import tsnbook.cli.training
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setattr(tsnbook.cli.training, "prepare_generated_data",
                        lambda *a, **k: pytest.fail("generated data prepared for a run that cannot start"))
    argv = ["train", RGB, "--cfg-options", f"data_root='{tmp_path / 'synth'}'", "--no-progress", "--work-dir"]
    assert str(_exit(argv + [tmp_path / "a_file" / "run"])) == (
        f"error: cannot make the work dir {tmp_path / 'a_file' / 'run'} ({tmp_path / 'a_file'} is a file): choose "
        "another --work-dir")
    (tmp_path / "locked").mkdir(mode=0o500)
    if not os.access(tmp_path / "locked", os.W_OK):  # root may write anywhere
        assert str(_exit(argv + [tmp_path / "locked" / "run"])) == (
            f"error: cannot make the work dir {tmp_path / 'locked' / 'run'} (no permission to write in "
            f"{tmp_path / 'locked'}): choose another --work-dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "locked"]


def test_a_run_that_fails_to_start_leaves_no_empty_work_dir(tmp_path, small_synth):
    typo = dict(_quick(small_synth), data_root=f"{small_synth}_typo")
    with pytest.raises(FileNotFoundError):
        train(typo, tmp_path / "new" / "run", resume=False, device="cpu", progress=False, validate=False)
    assert not (tmp_path / "new").exists()


def test_the_demo_figure_draws_the_history_a_resumed_run_kept(tmp_path, small_synth):
    """A run killed in epoch 2 and resumed from latest.pth (epoch 1) logged epoch 2's first iterations twice;
    the loss curve of demo.png then ran back in time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tsnbook.course.figures import plot_training
    cfg = _quick(small_synth, epochs=2, lr_steps=[1])
    train(dict(cfg, epochs=1), tmp_path, resume=False, device="cpu", progress=False, validate=False)
    log = JsonLog(tmp_path / "log.jsonl")
    for step in (1, 2):  # what the killed process wrote of epoch 2 before it died
        log.write(mode="train", epoch=2, iter=step, lr=0.001, loss=9.0)
    train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2)
    plot_training(ax_loss, ax_acc, tmp_path / "log.jsonl", "rgb")
    x, y = ax_loss.lines[0].get_xdata(), ax_loss.lines[0].get_ydata()
    plt.close(fig)
    assert list(x) == sorted(x) and 9.0 not in list(y)
    assert len(x) == len([r for r in read_log(tmp_path / "log.jsonl") if r["mode"] == "train"]) - 2


def test_a_torn_last_log_line_does_not_swallow_the_next_record(tmp_path):
    """A run killed (or out of disk) mid-write leaves half a line; the resumed run appended its first record to
    it, and read_log then failed on the merged line."""
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(dict(mode="config")) + "\n" + '{"mode": "epoch", "ep')
    JsonLog(path).write(mode="resume", epoch=1)
    with pytest.warns(UserWarning, match=r"log.jsonl: line 2 is not a JSON record \(a run killed while writing"):
        records = read_log(path)
    assert [r["mode"] for r in records] == ["config", "resume"]


def test_amp_asked_on_the_cpu_says_that_it_trains_fp32(tmp_path, small_synth, capsys):
    train(_quick(small_synth, amp="bf16"), tmp_path, device="cpu", progress=False, validate=False)
    assert "note: amp='bf16' is for CUDA devices; on cpu this run trains in fp32" in capsys.readouterr().out
    train(_quick(small_synth), tmp_path / "auto", device="cpu", progress=False, validate=False)
    assert "note" not in capsys.readouterr().out  # the default, "auto", is not a request


def test_the_validation_line_counts_the_videos_it_skipped(tmp_path, small_synth, capsys):
    val = (small_synth / "synthactions_val_split_1_videos.txt").read_text().splitlines()
    (tmp_path / "val.txt").write_text("\n".join(val[:4] + ["Missing/v_gone.mp4 0"]) + "\n")
    cfg = _quick(small_synth, ann_file_val=str(tmp_path / "val.txt"))
    train(cfg, tmp_path / "run", device="cpu", progress=True, validate=True)
    val_line = [line for line in capsys.readouterr().out.splitlines() if ": val top1" in line]
    assert val_line and val_line[0].endswith(", 1 video(s) skipped"), val_line


def test_resuming_past_the_end_of_a_shorter_schedule_is_refused(tmp_path, small_synth):
    cfg = _quick(small_synth, epochs=2, lr_steps=[1])
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    config_json = (tmp_path / "config.json").read_text()
    with pytest.raises(ValueError, match=r"latest.pth holds epoch 2, past epochs=1: nothing to train"):
        train(dict(cfg, epochs=1), tmp_path, resume=True, device="cpu", progress=False, validate=False)
    assert (tmp_path / "config.json").read_text() == config_json  # config.json still describes the run


def test_a_resume_by_another_number_of_processes_says_so(tmp_path, small_synth, capsys):
    """A run of torchrun's 2 processes resumed by ``python -m tsnbook train --resume`` trains on with half the
    total batch (and another shuffle): not the run it continues, and nothing said so."""
    cfg = _quick(small_synth, epochs=2, lr_steps=[1])
    train(dict(cfg, epochs=1), tmp_path, device="cpu", progress=False, validate=False)
    latest = tmp_path / "latest.pth"
    assert torch.load(latest, weights_only=True)["world_size"] == 1
    state = torch.load(latest, weights_only=True)
    torch.save(dict(state, world_size=2), latest)  # as torchrun --nproc_per_node 2 saves it
    capsys.readouterr()
    train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
    assert "; world_size 2 -> 1 (total batch 16 -> 8; 2 process(es) in all, as it was saved by, continue the " \
           "run)" in capsys.readouterr().out


def test_a_killed_writers_temporary_checkpoint_goes_when_the_run_goes_on(tmp_path, small_synth):
    """kill -9 in the middle of writing best.pth left best.pth.tmp (as large as a checkpoint) for good: no later
    best saves over it in a run that never improves again."""
    cfg = _quick(small_synth, epochs=2, lr_steps=[1])
    train(dict(cfg, epochs=1), tmp_path, device="cpu", progress=False, validate=False)
    (tmp_path / "best.pth.tmp").write_bytes(b"half a checkpoint")
    train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
    assert not list(tmp_path.glob("*.tmp"))


def test_testing_with_a_config_of_another_backbone_says_which_in_a_short_line(tmp_path, small_synth):
    cfg = _quick(small_synth)
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    message = str(_exit(["test", RGB, tmp_path / "latest.pth", "--cfg-options", "backbone=resnet50", "--device",
                         "cpu", "--no-progress"]))
    assert message.startswith(f"error: {tmp_path / 'latest.pth'} was trained by {RGB} (8 classes, rgb, resnet18) but "
                              f"the config given ({RGB}) describes (8 classes, rgb, resnet50)"), message
    assert len(message.replace(str(tmp_path), "")) < 300 and "\n" not in message


def test_an_epoch_whose_validation_fails_is_kept_and_validated_on_resume(tmp_path, small_synth, monkeypatch):
    """Validation after a long epoch ran out of memory (it scores more views than training), or the job was
    killed while it ran: latest.pth was written only after validation, so the epoch's training was lost."""
    import tsnbook.engine
    cfg = _quick(small_synth, epochs=2, lr_steps=[1], checkpoint_interval=1)

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(tsnbook.engine, "evaluate", out_of_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        train(cfg, tmp_path / "run", device="cpu", progress=False, validate=True)
    assert torch.load(tmp_path / "run" / "latest.pth", weights_only=True)["epoch"] == 1  # the training is kept
    monkeypatch.undo()
    train(cfg, tmp_path / "run", resume=True, device="cpu", progress=False, validate=True)
    assert [r["epoch"] for r in read_log(tmp_path / "run" / "log.jsonl") if r["mode"] == "val"] == [1, 2]
    assert sorted(p.name for p in (tmp_path / "run").glob("epoch_*")) == ["epoch_1.pth", "epoch_2.pth"]
    train(cfg, tmp_path / "straight", device="cpu", progress=False, validate=True)
    resumed, straight = (torch.load(tmp_path / run / "best.pth", weights_only=True) for run in ("run", "straight"))
    assert resumed["best"] == straight["best"] and resumed["epoch"] == straight["epoch"]
    assert all(torch.equal(resumed["model"][k], straight["model"][k]) for k in straight["model"])


def test_an_epoch_checkpoint_copied_when_interrupted_is_never_left_half_written(tmp_path, monkeypatch):
    """Where hard links are refused (some network and FUSE mounts) epoch_N.pth is a copy of latest.pth, which was
    written straight to its name: a kill mid-copy left a truncated epoch_N.pth that no later epoch rewrites."""
    import os
    import shutil
    from tsnbook.runs import keep_epoch_checkpoint, remove_partial_checkpoints
    (tmp_path / "latest.pth").write_bytes(b"x" * 1000)
    (tmp_path / "epoch_1.pth").write_bytes(b"the old epoch 1")

    def no_links(*args):
        raise OSError(95, "Operation not supported")

    def killed_midway(source, target):
        with open(target, "wb") as f:
            f.write(b"x" * 10)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(shutil, "copyfile", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        keep_epoch_checkpoint(tmp_path, 1, dict(epochs=2, checkpoint_interval=1, max_keep_ckpts=-1))
    assert (tmp_path / "epoch_1.pth").read_bytes() == b"the old epoch 1"  # the file is whole, the old one here
    remove_partial_checkpoints(tmp_path)  # what the resumed run does first
    monkeypatch.undo()
    keep_epoch_checkpoint(tmp_path, 2, dict(epochs=2, checkpoint_interval=1, max_keep_ckpts=-1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1.pth", "epoch_2.pth", "latest.pth"]


def test_ctrl_c_during_the_demo_says_how_to_go_on(tmp_path, monkeypatch):
    """``make demo`` interrupted printed a KeyboardInterrupt traceback from deep inside torch.save."""
    import tsnbook.course.demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tsnbook.course.demo, "run_demo", interrupted)
    message = _exit(["demo", "--work-dir", tmp_path, "--fresh"])
    assert message == (f"interrupted: the epochs trained so far are kept in {tmp_path}; python -m tsnbook demo "
                       f"--work-dir {tmp_path} goes on from them (without --fresh, which starts over)")
    assert _exit(["demo"]).endswith("; python -m tsnbook demo (make demo) goes on from them")


def test_a_resume_without_latest_pth_continues_from_the_newest_checkpoint_beside_it(tmp_path, small_synth, capsys):
    """latest.pth deleted (after an error said it was unreadable), or never written (killed while saving the first
    one, best.pth already there): ``--resume`` trained from scratch over the epoch_N.pth and best.pth beside it."""
    cfg = _quick(small_synth, epochs=3, lr_steps=[2], checkpoint_interval=1)
    train(dict(cfg, epochs=2), tmp_path, device="cpu", progress=False, validate=False)
    (tmp_path / "latest.pth").unlink()  # epoch_2.pth is a hard link to it: keep that one whole
    (tmp_path / "latest.pth").write_bytes(b"not a checkpoint any more")
    with pytest.raises(RuntimeError, match=rf"latest.pth is not a readable checkpoint .*; the newest other checkpoint "
                                           rf"here is {tmp_path / 'epoch_2.pth'} \(epoch 2\): --resume "):
        train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
    (tmp_path / "latest.pth").unlink()
    capsys.readouterr()
    train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
    assert f"note: {tmp_path / 'latest.pth'} is missing: resuming {tmp_path / 'epoch_2.pth'} (epoch 2)" in \
        capsys.readouterr().out
    assert [r["epoch"] for r in read_log(tmp_path / "log.jsonl") if r["mode"] == "resume"] == [2]
    assert torch.load(tmp_path / "latest.pth", weights_only=True)["epoch"] == 3


def test_looking_for_the_newest_checkpoint_maps_the_epoch_files_instead_of_reading_their_weights(tmp_path,
                                                                                                   monkeypatch):
    """With latest.pth missing, each epoch file was loaded whole (weights and optimizer: hundreds of MB for a
    ResNet-50) only to read its epoch; a zip checkpoint's tensors can stay on disk, mapped (torch.load mmap)."""
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.runs import newest_checkpoint
    for epoch in (1, 2):
        save_checkpoint(tmp_path / f"epoch_{epoch}.pth", dict(epoch=epoch, model={"w": torch.ones(1000)}))
    (tmp_path / "epoch_3.pth").write_bytes(b"cut short")
    loads, load = {}, torch.load
    monkeypatch.setattr(torch, "load", lambda path, **kwargs: loads.update({Path(path).name: kwargs.get("mmap")})
                        or load(path, **kwargs))
    assert newest_checkpoint(tmp_path) == (tmp_path / "epoch_2.pth", 2)
    assert loads == {"epoch_3.pth": loads["epoch_3.pth"], "epoch_2.pth": True}, loads  # not a zip: read as it is


def test_a_resume_without_the_validation_its_run_had_says_so(tmp_path, small_synth, capsys):
    """``train --validate`` killed and resumed by hand without ``--validate``: best.pth silently stopped following
    the run, and ``test best.pth`` then tested an early epoch."""
    cfg = _quick(small_synth, epochs=2, lr_steps=[1])
    train(dict(cfg, epochs=1), tmp_path, device="cpu", progress=False, validate=True)
    capsys.readouterr()
    train(cfg, tmp_path, resume=True, device="cpu", progress=False, validate=False)
    assert "; validation on -> off (best.pth stays at epoch 1)" in capsys.readouterr().out


# ------------------------------------------------------------------------------------- review 5 (runs2)
def _out_of_memory(*args, **kwargs):
    raise RuntimeError("CUDA out of memory (simulated)")


def test_the_work_dir_lock_is_a_posix_record_lock_on_a_file_that_is_not_a_run(tmp_path):
    """``flock`` on the folder covers only the processes of one NFS client: two cluster jobs on two nodes both got
    it. NFS enforces POSIX record locks (``lockf``) across clients, on a file."""
    import subprocess
    import sys
    from tsnbook.locks import hold_work_dir
    from tsnbook.runs import existing_run
    probe = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\ntry:\n"
             "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n    sys.exit(3)\n")
    run = tmp_path / "new" / "run"
    with hold_work_dir(run):
        lock = run / ".tsnbook.lock"
        assert lock.is_file() and existing_run(run) is None
        assert subprocess.run([sys.executable, "-c", probe, str(lock)]).returncode == 3  # another process: refused
    assert not (tmp_path / "new").exists()  # made for the run and left empty: removed, lock file and all
    (tmp_path / "old").mkdir()
    with hold_work_dir(tmp_path / "old"):
        pass
    assert subprocess.run([sys.executable, "-c", probe, str(tmp_path / "old" / ".tsnbook.lock")]).returncode == 0


def test_a_work_dir_that_cannot_be_locked_says_so_and_keeps_its_partial_checkpoints(tmp_path, small_synth,
                                                                                    monkeypatch, capsys):
    """Where locks fail (ENOLCK: NFS without a lock daemon; Lustre mounted without flock) the run went on unlocked
    without a word, and deleted the ``*.tmp`` files that another run, unseen, may be writing."""
    import errno
    import fcntl

    def no_locks(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "lockf", no_locks)
    (tmp_path / "best.pth.tmp").write_bytes(b"another run's best.pth, half written")
    train(_quick(small_synth), tmp_path, device="cpu", progress=False, validate=False)
    out = capsys.readouterr().out
    assert out.count(f"note: {tmp_path} runs unlocked: ") == 1 and "No locks available" in out, out
    assert (tmp_path / "best.pth.tmp").exists() and (tmp_path / "latest.pth").exists()


def test_the_loser_of_a_race_to_make_the_work_dir_leaves_the_winners_folder(tmp_path, monkeypatch):
    """Two runs into a new work dir: the second found it missing, the first made and locked it, the second's lock
    failed - and the second removed the folder that the first holds, as one it had made."""
    import contextlib
    from pathlib import Path
    from tsnbook.locks import hold_work_dir
    run, winner, real_mkdir = tmp_path / "run", contextlib.ExitStack(), Path.mkdir

    def racing_mkdir(self, *args, **kwargs):
        if self == run and not winner.racing:  # the winner makes and holds it just before the loser's mkdir
            winner.racing = True
            winner.enter_context(hold_work_dir(run))
        return real_mkdir(self, *args, **kwargs)

    winner.racing = False
    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    with pytest.raises(RuntimeError, match="is in use by another training run"):
        with hold_work_dir(run):
            pass
    assert run.is_dir()  # the winner's folder stays while the winner runs
    winner.close()
    assert not run.exists()  # and the winner, which made it, removes it empty


def test_a_resume_makes_the_epoch_file_its_checkpoint_never_got(tmp_path, small_synth, monkeypatch):
    """A run killed between saving latest.pth and linking its epoch_N.pth, or whose validation was killed and which
    was resumed without --validate, never got that epoch's file: "the final weights always have their own file"
    was not true."""
    import tsnbook.engine
    cfg = _quick(small_synth, checkpoint_interval=1)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tsnbook.engine, "keep_epoch_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "killed", device="cpu", progress=False, validate=False)
    monkeypatch.undo()
    monkeypatch.setattr(tsnbook.engine, "evaluate", _out_of_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        train(dict(cfg, epochs=2, lr_steps=[1]), tmp_path / "unvalidated", device="cpu", progress=False, validate=True)
    monkeypatch.undo()
    train(cfg, tmp_path / "killed", resume=True, device="cpu", progress=False, validate=False)  # nothing to train
    assert sorted(p.name for p in (tmp_path / "killed").glob("epoch_*")) == ["epoch_1.pth"]
    assert (tmp_path / "killed" / "epoch_1.pth").read_bytes() == (tmp_path / "killed" / "latest.pth").read_bytes()
    train(dict(cfg, epochs=2, lr_steps=[1]), tmp_path / "unvalidated", resume=True, device="cpu", progress=False,
          validate=False)
    assert sorted(p.name for p in (tmp_path / "unvalidated").glob("epoch_*")) == ["epoch_1.pth", "epoch_2.pth"]
    assert torch.load(tmp_path / "unvalidated" / "epoch_1.pth", weights_only=True)["epoch"] == 1


def test_resume_given_as_1_or_a_numpy_bool_means_what_true_and_false_mean(tmp_path, small_synth):
    """``resume=1`` (or numpy's True) failed the ``resume is True`` checks and trained from scratch over the run;
    numpy's False passed the ``resume is False`` check that refuses a work dir holding a run."""
    import numpy as np
    cfg = _quick(small_synth, epochs=2, lr_steps=[1])
    train(dict(cfg, epochs=1), tmp_path, device="cpu", progress=False, validate=False)
    with pytest.raises(RunExistsError, match="already holds a run"):
        train(cfg, tmp_path, resume=np.bool_(False), device="cpu", progress=False, validate=False)
    train(cfg, tmp_path, resume=1, device="cpu", progress=False, validate=False)
    assert [r["epoch"] for r in read_log(tmp_path / "log.jsonl") if r["mode"] == "resume"] == [1]
    assert [r["mode"] for r in read_log(tmp_path / "log.jsonl")].count("config") == 2  # one run, resumed once


def test_the_epoch_a_resume_validates_is_saved_with_the_resumed_runs_records(tmp_path, small_synth, monkeypatch):
    """The validation a resume owed wrote the *loaded* state to latest.pth and best.pth: the old config, list
    digests and world size, so the next resume warned of changes that had been made long before."""
    import tsnbook.engine
    cfg = _quick(small_synth)
    monkeypatch.setattr(tsnbook.engine, "evaluate", _out_of_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        train(cfg, tmp_path, device="cpu", progress=False, validate=True)
    monkeypatch.undo()
    state = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert state["validation_due"] and state["lists"]
    torch.save(dict(state, world_size=2, lists={}), tmp_path / "latest.pth")  # as torchrun saved it, lists unknown
    train(dict(cfg, dropout=0.3), tmp_path, resume=True, device="cpu", progress=False, validate=True)
    for name in ("latest.pth", "best.pth"):
        saved = torch.load(tmp_path / name, weights_only=True)
        assert (saved["world_size"], saved["cfg"]["dropout"], saved["lists"]) == (1, 0.3, state["lists"]), name
        assert saved["validating"] and not saved["validation_due"] and saved["best"]["epoch"] == 1


def test_the_world_size_warning_names_no_wrong_command():
    """"torchrun --nproc_per_node 1 continues the run" for a one-process run (plain python continues it), and
    "--nproc_per_node 8" for a run of 2 nodes of 4."""
    from tsnbook.runs import resume_changes
    cfg = dict(batch_size=8)
    for saved_by, now in ((1, 4), (8, 4)):
        [change] = resume_changes(dict(cfg=cfg, world_size=saved_by), cfg, {}, world_size=now)
        assert change == (f"world_size {saved_by} -> {now} (total batch {8 * saved_by} -> {8 * now}; {saved_by} "
                          f"process(es) in all, as it was saved by, continue the run)")


def test_ctrl_c_says_what_resume_continues_when_latest_pth_is_missing_or_unvalidated(tmp_path, monkeypatch):
    """With latest.pth gone but epoch_N.pth / best.pth there, Ctrl-C said "nothing was saved", which --resume
    continues; interrupted in the middle of validating an epoch, it said nothing of that validation."""
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.cli import training
    args = cli.build_parser().parse_args(["train", RGB, "--work-dir", str(tmp_path), "--validate"])
    assert training._interrupted(args, tmp_path) == (f"interrupted before the first epoch ended: nothing was saved "
                                                     f"in {tmp_path}")
    save_checkpoint(tmp_path / "epoch_2.pth", dict(epoch=2, validation_due=False))
    command = f"python -m tsnbook train {RGB} --work-dir {tmp_path} --resume --validate"
    assert training._interrupted(args, tmp_path) == (
        f"interrupted: {tmp_path / 'latest.pth'} is missing; {tmp_path / 'epoch_2.pth'} holds epoch 2, which --resume "
        f"continues (an epoch interrupted midway is trained again); continue with: {command}")
    save_checkpoint(tmp_path / "latest.pth", dict(epoch=3, validation_due=True))
    assert training._interrupted(args, tmp_path) == (
        f"interrupted: {tmp_path / 'latest.pth'} holds epoch 3, not validated yet (--resume validates it first; an "
        f"epoch interrupted midway is trained again); continue with: {command}")


def test_resuming_an_earlier_epoch_of_the_run_abandons_the_later_history(tmp_path, small_synth, monkeypatch, capsys):
    """``--resume WORK_DIR/epoch_1.pth`` while latest.pth holds epoch 3: no warning, and the abandoned epoch_3.pth
    outlived the new run's own final epoch_2.pth, which max_keep_ckpts (newest by N) rotated away."""
    import tsnbook.engine
    cfg = _quick(small_synth, epochs=3, lr_steps=[2], checkpoint_interval=1)
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    shorter = dict(cfg, epochs=2, max_keep_ckpts=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tsnbook.engine, "train_one_epoch", interrupted)
    capsys.readouterr()
    with pytest.raises(KeyboardInterrupt):  # interrupted before its first epoch is saved: nothing is lost
        train(shorter, tmp_path, resume=tmp_path / "epoch_1.pth", device="cpu", progress=False, validate=False)
    assert f"resuming epoch 1 ({tmp_path / 'epoch_1.pth'}) while {tmp_path / 'latest.pth'} holds epoch 3" in \
        capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.glob("epoch_*")) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    monkeypatch.undo()
    train(shorter, tmp_path, resume=tmp_path / "epoch_1.pth", device="cpu", progress=False, validate=False)
    assert sorted(p.name for p in tmp_path.glob("epoch_*")) == ["epoch_2.pth"]  # the new run's own final epoch
    assert torch.load(tmp_path / "epoch_2.pth", weights_only=True)["epoch"] == 2


def test_epoch_files_above_the_epoch_saved_are_a_history_gone_back_from_and_go(tmp_path):
    """The abandoned files were a list in memory, removed after the resumed run's first save: a resume whose
    validation rewrote latest.pth and was then interrupted forgot them, and max_keep_ckpts (highest N) then kept
    epoch_8-10 of the dead history and deleted the new epoch_4.pth at once."""
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.runs import keep_epoch_checkpoint
    for epoch in range(1, 11):
        save_checkpoint(tmp_path / f"epoch_{epoch}.pth", dict(epoch=epoch))
    save_checkpoint(tmp_path / "latest.pth", dict(epoch=4))
    keep_epoch_checkpoint(tmp_path, 4, dict(epochs=20, checkpoint_interval=1, max_keep_ckpts=3))
    assert sorted(p.name for p in tmp_path.glob("epoch_*")) == ["epoch_2.pth", "epoch_3.pth", "epoch_4.pth"]
    assert torch.load(tmp_path / "epoch_4.pth", weights_only=True)["epoch"] == 4


def test_ctrl_c_before_this_run_saved_an_epoch_never_offers_the_history_it_left(tmp_path):
    """``--resume W/epoch_1.pth`` (latest.pth at epoch 3) interrupted in its first epoch printed a bare --resume,
    which continues epoch 3 - the history the user went back from; a --force run interrupted before it started
    offered --resume of the run it was to replace."""
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.cli import training
    save_checkpoint(tmp_path / "latest.pth", dict(epoch=3))
    save_checkpoint(tmp_path / "epoch_1.pth", dict(epoch=1))
    before = training._saved(tmp_path)  # the run begins after those files were written
    back = cli.build_parser().parse_args(["train", RGB, "--work-dir", str(tmp_path), "--resume",
                                          str(tmp_path / "epoch_1.pth")])
    assert training._interrupted(back, tmp_path, before) == (
        f"interrupted before this run saved an epoch: {tmp_path} is as it was; continue with: python -m tsnbook "
        f"train {RGB} --work-dir {tmp_path} --resume {tmp_path / 'epoch_1.pth'}")
    force = cli.build_parser().parse_args(["train", RGB, "--work-dir", str(tmp_path), "--force"])
    assert training._interrupted(force, tmp_path, before) == (
        f"interrupted before the first epoch ended: nothing of this run was saved ({tmp_path} still holds the run "
        "--force was to replace)")
    save_checkpoint(tmp_path / "latest.pth", dict(epoch=2))  # this run saved its epoch 2
    assert "continue with: python -m tsnbook train" in training._interrupted(back, tmp_path, before)


def test_ctrl_c_tells_this_runs_checkpoint_from_an_old_one_whatever_the_file_servers_clock(tmp_path):
    """Whether this run saved anything was decided by comparing latest.pth's mtime with the run's start: on a file
    server whose clock runs ahead, the old run's latest.pth looked saved by this run (a bare --resume offered, which
    continues the history the user left); on one whose clock runs behind, this run's own epoch looked old."""
    import os
    import time
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.cli import training
    latest = tmp_path / "latest.pth"
    save_checkpoint(latest, dict(epoch=3))
    save_checkpoint(tmp_path / "epoch_1.pth", dict(epoch=1))
    before = training._saved(tmp_path)
    back = cli.build_parser().parse_args(["train", RGB, "--work-dir", str(tmp_path), "--resume",
                                          str(tmp_path / "epoch_1.pth")])
    hour = 3600
    os.utime(latest, (time.time() + hour, time.time() + hour))  # the old file, as a server an hour ahead dates it
    assert training._interrupted(back, tmp_path, training._saved(tmp_path)).startswith(
        "interrupted before this run saved an epoch")
    save_checkpoint(latest, dict(epoch=2))  # this run's epoch 2, dated an hour back by a server behind
    os.utime(latest, (time.time() - hour, time.time() - hour))
    assert training._interrupted(back, tmp_path, before).startswith(
        f"interrupted: {latest} holds epoch 2")


def test_any_failure_while_holding_the_work_dir_is_every_ranks_verdict(tmp_path, monkeypatch):
    """An OSError on rank 0 (a stale .pth.tmp another user owns) was raised before the verdict was shared: the
    other ranks waited in gather_objects until dist_timeout."""
    import tsnbook.runs
    from tsnbook.distributed import World
    shared = []
    monkeypatch.setattr(tsnbook.runs, "gather_objects", lambda value: shared.append(value) or [value])

    def denied(work_dir):
        raise PermissionError(13, "Permission denied", str(work_dir / "latest.pth.tmp"))

    monkeypatch.setattr(tsnbook.runs, "remove_partial_checkpoints", denied)
    with pytest.raises(PermissionError) as raised:
        with tsnbook.runs.hold_run(tmp_path / "run", World(rank=0, size=2, local_rank=0), False, False):
            pass
    assert len(shared) == 1 and isinstance(shared[0], PermissionError)
    from tsnbook.distributed import error_line  # every rank raises rank 0's verdict: rank 0 alone says it in full
    assert error_line(raised.value, raised.value).startswith("error: [Errno 13] Permission denied")
    monkeypatch.setenv("RANK", "1")
    assert error_line(raised.value, raised.value) == "error: rank 1 stopped with rank 0, whose error line says why"


def test_decoder_false_is_not_told_that_none_turns_it_off(tmp_path):
    from tsnbook.configs.checks import value_error
    assert "(None turns it off)" not in value_error("decoder", False)
    assert "(None turns it off)" in value_error("test_amp", False)


def test_resuming_a_run_of_another_architecture_names_both_and_offers_no_missing_option(tmp_path, small_synth):
    """``train mine.py --work-dir OTHER_RUN --resume`` (a ResNet-34 run, a ResNet-18 config) listed 96
    unexpected keys and said "pass strict=False (CLI: --no-strict)", an option ``train`` does not have."""
    train(_quick(small_synth, backbone="resnet34"), tmp_path / "run", resume=False, device="cpu", progress=False,
          validate=False)
    message = str(_exit(["train", RGB, "--work-dir", tmp_path / "run", "--resume", "--cfg-options", "epochs=2",
                         "lr_steps=[1]", f"data_root={small_synth}", "--device", "cpu", "--no-progress"]))
    assert "(8 classes, rgb, resnet34)" in message and "(8 classes, rgb, resnet18)" in message, message
    assert "config.json" in message and "no-strict" not in message, message


def test_resuming_with_the_runs_own_config_json_reports_no_changes(tmp_path, small_synth, capsys):
    """``train WORK_DIR/config.json --resume`` warned that every pipeline had changed: JSON holds ``(-1, 48)`` as
    ``[-1, 48]``, and the comparison with the checkpoint's config took the list for another value."""
    cfg = _quick(small_synth)
    train(cfg, tmp_path / "run", resume=False, device="cpu", progress=False, validate=False)
    capsys.readouterr()
    longer = get_config(tmp_path / "run" / "config.json", ["epochs=2", "lr_steps=[1]"])
    train(longer, tmp_path / "run", resume=True, device="cpu", progress=False, validate=False)
    printed = "".join(capsys.readouterr())
    assert "epochs 1 -> 2" in printed  # a real change is still named
    assert "pipeline" not in printed, printed
