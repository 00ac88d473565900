"""Score files (tsnbook.scores): every format holds every kind of test run, and a bad --out fails before the test."""
import numpy as np
import pytest

from tsnbook import cli
from tsnbook.checkpoints import save_checkpoint
from tsnbook.configs import get_config
from tsnbook.factory import build_model
from tsnbook.scores import check_out_path, read_scores, write_scores

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"


def test_multi_label_scores_round_trip_in_every_format(tmp_path):
    # MMiT / HVU videos have lists of labels, of different lengths (even none): np.asarray of them used to crash
    # the .npz writer after the whole test had run.
    scores = np.arange(12, dtype=np.float32).reshape(3, 4)
    labels = [[0, 2], [1], []]
    for suffix in (".npz", ".pkl", ".json"):
        write_scores(tmp_path / f"s{suffix}", scores, labels)
        read, read_labels = read_scores(tmp_path / f"s{suffix}")
        assert np.array_equal(read, scores)
        assert read_labels == (labels if suffix == ".npz" else None)
    write_scores(tmp_path / "single.npz", scores, [3, 0, 1])  # single-label files stay as they were
    assert read_scores(tmp_path / "single.npz")[1].tolist() == [3, 0, 1]


def test_a_bad_out_path_is_refused_before_the_test_runs(tmp_path, monkeypatch):
    import tsnbook.engine

    def test_run(*args, **kwargs):
        raise AssertionError("the test ran although its scores could not be written")
    monkeypatch.setattr(tsnbook.engine, "evaluate_checkpoint", test_run)
    checkpoint = tmp_path / "init.pth"
    save_checkpoint(checkpoint, dict(model=build_model(get_config(RGB)).state_dict(), epoch=0))
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    (tmp_path / "folder.npz").mkdir()
    for out, problem in ((blocker / "scores.npz", "cannot write"), (tmp_path / "folder.npz", "is a folder"),
                         (tmp_path / "scores.txt", ".pkl, .json, .npz")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["test", RGB, str(checkpoint), "--out", str(out), "--cfg-options", f"data_root='{tmp_path}'"])
        assert problem in str(exit_info.value.code) and str(out) in str(exit_info.value.code)
    check_out_path(tmp_path / "new" / "scores.pkl")  # a missing folder is made, as MMAction2's test.py does
    assert (tmp_path / "new").is_dir() and not list((tmp_path / "new").iterdir())
