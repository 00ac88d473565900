"""``pip install tsnbook`` without extras: what needs an optional package says so in one line, before the work.

The lean install has no matplotlib (the ``course`` extra). Here it is hidden from this process (``None`` in
``sys.modules`` makes its import fail, as when it is not installed), with the course's figure modules forgotten so
that they are imported again.
"""
import sys

import pytest

from conftest import SMALL, cli_exit, random_checkpoint, small_config


@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in ("matplotlib", "matplotlib.pyplot", "tsnbook.course.figures", "tsnbook.course.images"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def rgb_model(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth)
    checkpoint = random_checkpoint(tmp_path / "rgb.pth", cfg)
    video = small_synth / "videos" / sorted((small_synth / "videos").iterdir())[0].name
    return checkpoint, next(video.iterdir())


def _fail_if_called(what):
    def called(*args, **kwargs):
        raise AssertionError(f"{what} ran although its figure cannot be drawn")
    return called


def test_the_demo_without_matplotlib_still_writes_its_results(tmp_path, small_synth, monkeypatch, no_matplotlib):
    """The demo trained both streams (5 min on a CPU), then died in a traceback at ``import matplotlib``: no
    table, no results.json, and the same again on every rerun."""
    import tsnbook.course.demo as demo
    prepare = demo.prepare_synthactions
    monkeypatch.setattr(demo, "prepare_synthactions", lambda root, **kw: prepare(root, **dict(kw, **SMALL)))
    small = small_config("rgb", small_synth)
    overrides = {key: small[key] for key in ("epochs", "batch_size", "lr_steps", "test_clips", "val_clips")}
    lines = []
    results = demo.run_demo(tmp_path / "demo", small_synth, device="cpu", progress=False,
                            configs=("tsn_r18_1x1x3_12e_synthactions_rgb",), overrides=overrides, log=lines.append)
    assert [r["config"] for r in results["rows"]] == ["tsn_r18_1x1x3_12e_synthactions_rgb"]
    assert "figure" not in results and (tmp_path / "demo" / "results.json").exists()
    notes = [line for line in lines if "matplotlib" in line]
    assert notes == ["note: matplotlib is not installed, so demo.png is not drawn (pip install 'tsnbook[course]'); "
                     "the table and results.json are written"]


def test_explain_without_matplotlib_stops_before_loading_the_model(rgb_model, tmp_path, monkeypatch, no_matplotlib):
    import tsnbook.cli.using
    checkpoint, video = rgb_model
    monkeypatch.setattr(tsnbook.cli.using, "load_for_use", _fail_if_called("the model"))
    message = cli_exit(["explain", checkpoint, video, "--out", tmp_path / "why.png"])
    assert message == (f"error: explain --out {tmp_path / 'why.png'} draws with matplotlib, which is not installed: "
                       "pip install 'tsnbook[course]' (or pip install matplotlib)")


def test_a_timeline_plot_without_matplotlib_stops_before_the_timeline(rgb_model, tmp_path, monkeypatch,
                                                                         no_matplotlib):
    """A stream's timeline ran until it was stopped, and only then said that --plot needs matplotlib."""
    import tsnbook.timeline
    checkpoint, video = rgb_model
    monkeypatch.setattr(tsnbook.timeline, "run_timeline", _fail_if_called("the timeline"))
    message = cli_exit(["predict", checkpoint, video, "--timeline", "--window", "0.4", "--stride", "0.4",
                        "--plot", tmp_path / "t.png", "--device", "cpu"])
    assert message == (f"error: predict --plot {tmp_path / 't.png'} draws with matplotlib, which is not installed: "
                       "pip install 'tsnbook[course]' (or pip install matplotlib)")


def test_prepare_runs_from_the_installed_package(tmp_path, capsys):
    """A wheel holds the package, not data_scripts/: ``pip install tsnbook`` had no way to prepare a folder of
    videos (``python -m tsnbook prepare`` was an invalid choice)."""
    assert cli_exit(["prepare", "folder", "replica", "--root", tmp_path / "my_videos"]) == 0
    assert cli_exit(["prepare", "folder", "all", "--root", tmp_path / "mine", "--videos", tmp_path / "my_videos",
                     "--base", "tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb_tiny"]) == 0
    assert "base = 'tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb_tiny'" in (tmp_path / "mine" / "config.py").read_text()
    capsys.readouterr()
    assert cli_exit(["prepare", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m tsnbook prepare [-h] --root ROOT")
    assert cli_exit(["--help"]) == 0
    assert "prepare             prepare a dataset or your own videos" in capsys.readouterr().out
