"""What `test` writes beside its score file (tsnbook.cli.reports): per-class accuracy and the confusion matrix."""
import numpy as np

from tsnbook.cli.reports import beside, confusion_report, per_class_report


def test_a_side_file_that_cannot_be_written_is_named_and_the_test_goes_on(tmp_path, capsys):
    # A folder in the way of result_per_class.csv (or of the PNG) ended the command in a traceback, and, since
    # these were written before the score file, lost the scores of the whole test.
    scores, labels, classes = np.eye(3, dtype=np.float32)[[0, 1, 1]], np.array([0, 1, 2]), ["a", "b", "c"]
    out = tmp_path / "result.npz"
    for what in ("per_class.csv", "confusion_matrix.csv", "confusion_matrix.png"):
        beside(out, what).mkdir()
    per_class_report(scores, labels, classes, out)
    confusion_report(scores, labels, classes, out)
    printed = capsys.readouterr().out
    for what in ("per_class.csv", "confusion_matrix.csv"):
        assert f"could not write {beside(out, what)} (Is a directory)" in printed
    assert "per-class accuracy:" in printed and "true \\ predicted" in printed  # the tables are printed all the same
    assert "written to" not in printed


def test_side_files_are_written_beside_the_scores(tmp_path, capsys):
    scores, labels, classes = np.eye(3, dtype=np.float32)[[0, 1, 1]], np.array([0, 1, 2]), ["a", "b", "c"]
    out = tmp_path / "result.pkl"
    per_class_report(scores, labels, classes, out)
    confusion_report(scores, labels, classes, out)
    assert beside(out, "per_class.csv").read_text().splitlines()[3] == "2,c,1,0,0.0000"
    assert beside(out, "confusion_matrix.csv").read_text().splitlines()[3] == "c,0,1,0"
    assert f"per-class accuracy written to {beside(out, 'per_class.csv')}" in capsys.readouterr().out
