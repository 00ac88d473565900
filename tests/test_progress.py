"""Progress bars only where a person watches (issue 14): ``make demo > log 2>&1`` must read as one line per epoch,
not thousands of carriage-return fragments; a terminal or a notebook still gets its bars."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import small_config
from tsnbook import progress

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bars_only_on_a_terminal_or_in_a_notebook(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a file or a pipe
    assert not progress.watches() and not progress.bars_wanted(True)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress.watches() and progress.bars_wanted(True) and not progress.bars_wanted(False)
    shown = list(progress.bar(range(3), True, desc="epoch"))
    assert shown == [0, 1, 2] and "epoch" in sys.stderr.getvalue()  # drawn on the terminal
    monkeypatch.setenv("TQDM_DISABLE", "1")  # the test environment's switch wins even over explicit calls
    assert not progress.bars_wanted(True)
    monkeypatch.delenv("TQDM_DISABLE")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(progress, "in_notebook", lambda: True)  # a Jupyter kernel's stderr is no tty
    assert progress.bars_wanted(True)


def test_line_prints_only_when_progress_is_on(capsys):
    progress.line(True, "epoch 1/2: loss 1.0")
    progress.line(False, "never")
    assert capsys.readouterr().out == "epoch 1/2: loss 1.0\n"


def test_training_into_a_log_file_writes_one_line_per_epoch(tmp_path, small_synth):
    # `python -m tsnbook train ... > log 2>&1`: progress on (the CLI default), neither stream a terminal
    cfg = small_config("rgb", small_synth, epochs=2, eval_interval=2)
    options = [f"{key}={value!r}" for key, value in cfg.items() if key in (
        "data_root", "epochs", "batch_size", "lr_steps", "test_clips", "val_clips", "eval_interval")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TQDM_DISABLE", None)  # what a user's shell has: only the missing terminal may turn bars off
    with open(tmp_path / "log", "w") as log:
        done = subprocess.run([sys.executable, "-m", "tsnbook", "train", cfg["name"], "--work-dir",
                               str(tmp_path / "run"), "--validate", "--device", "cpu", "--cfg-options", *options],
                              stdout=log, stderr=subprocess.STDOUT, env=env, timeout=600)
    text = (tmp_path / "log").read_text()
    assert done.returncode == 0, text
    assert "\r" not in text and "it/s" not in text, text[:2000]
    epochs = [line for line in text.splitlines() if f"{cfg['name']} epoch " in line]
    assert [line.split(":")[0].split()[-1] for line in epochs] == ["1/2", "2/2", "2/2"], text
    assert "loss" in epochs[0] and "val top1" in epochs[2]
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["mode"] == "epoch"] == [1, 2]  # the JSON log is unchanged


def test_flow_extraction_reports_one_line_when_nobody_watches(tmp_path, small_synth, capsys, monkeypatch):
    from tsnbook.flow import extract_flow_dataset
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    video = sorted((small_synth / "videos").rglob("*.mp4"))[0]
    counts, failures = extract_flow_dataset([(video, tmp_path / "flow")], workers=1, progress=True)
    out, err = capsys.readouterr()
    assert counts[str(video)] == 23 and not failures
    assert "optical flow: 1 video(s) done, 0 failed" in out and "\r" not in out + err
