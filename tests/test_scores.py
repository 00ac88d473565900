"""Score files (tsnbook.scores): every format holds every kind of test run, and a bad --out fails before the test."""
import os
import pickle

import numpy as np
import pytest
import torch

from tsnbook import cli
from tsnbook.checkpoints import save_checkpoint
from tsnbook.configs import get_config
from tsnbook.factory import build_model
from tsnbook.scores import check_out_path, read_fusion_inputs, read_scores, save_scores, write_scores

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


def _fuse_error(argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fuse", *map(str, argv)])
    return str(exit_info.value.code)


def test_a_damaged_or_foreign_npz_is_refused_in_one_line_naming_it(tmp_path):
    # A copy cut short, an empty file or another program's .npz used to end `fuse` in a zipfile / EOFError /
    # KeyError traceback.
    scores, labels = np.eye(3, dtype=np.float32), [0, 1, 2]
    save_scores(tmp_path / "good.npz", scores, labels, ["a", "b", "c"])
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", weights=scores)
    for name in ("cut.npz", "empty.npz", "other.npz"):
        with pytest.raises(ValueError, match=f"{tmp_path / name} is not a score file tsnbook can read"):
            read_scores(tmp_path / name)
        message = _fuse_error([tmp_path / name, tmp_path / "good.npz"])
        assert message.startswith(f"error: {tmp_path / name} is not a score file") and "\n" not in message
    with pytest.raises(FileNotFoundError):
        read_scores(tmp_path / "missing.npz")


def _pair(tmp_path, rgb_names, flow_names, rgb_labels=(0, 1, 2), flow_labels=(0, 1, 2), flow_classes=3):
    rng = np.random.default_rng(0)
    save_scores(tmp_path / "rgb.npz", rng.normal(size=(len(rgb_labels), 3)), list(rgb_labels), rgb_names)
    save_scores(tmp_path / "flow.npz", rng.normal(size=(len(flow_labels), flow_classes)), list(flow_labels),
                flow_names)
    return [tmp_path / "rgb.npz", tmp_path / "flow.npz"]


def test_fusion_joins_the_streams_by_video_name(tmp_path):
    # The zoo's pickles carry no names (MMAction2's trap: another list or order fuses silently); tsnbook's .npz
    # do. An RGB list names videos (x.mp4), a flow list their frame folders (x): the same videos.
    paths = _pair(tmp_path, ["a/x.mp4", "a/y.avi", "b/z.mp4@8"], ["a/x", "a/y", "b/z@8"])
    streams, labels = read_fusion_inputs(paths)
    assert len(streams) == 2 and labels.tolist() == [0, 1, 2]
    # Clip lists: a flow list may start each clip a frame earlier (flow has one frame less) - the same clips.
    paths = _pair(tmp_path, ["a/x.mp4@12", "a/x.mp4@40", "b/z.mp4@12"], ["a/x@11", "a/x@39", "b/z@11"])
    assert read_fusion_inputs(paths)[1].tolist() == [0, 1, 2]
    paths = _pair(tmp_path, ["u@12.mp4", "a/x.mp4", "b/z.mp4"], ["u@12", "a/x", "b/z"])  # "@12" of a name, no clip
    assert read_fusion_inputs(paths)[1].tolist() == [0, 1, 2]
    for rgb, flow in ((["x.mp4@0", "x.mp4@64", "z.mp4"], ["x@32", "x@96", "z"]),  # other clips of one video
                      (["x.mp4", "y.mp4", "z.mp4"], ["x@5", "y", "z"])):  # a whole video against a clip of it
        with pytest.raises(ValueError, match="video 1 of .*rgb.npz is x.mp4"):
            read_fusion_inputs(_pair(tmp_path, rgb, flow))
    # Other videos with the same labels (another split, another group) used to be fused without a word.
    paths = _pair(tmp_path, ["a/x.mp4", "a/y.mp4", "b/z.mp4"], ["a/x", "a/w", "b/z"])
    with pytest.raises(ValueError, match=r"video 2 of .*rgb.npz is a/y.mp4 but .*flow.npz has a/w"):
        read_fusion_inputs(paths)
    assert "video 2 of" in _fuse_error(paths)  # `fuse` reads its files with read_fusion_inputs
    paths = _pair(tmp_path, ["x", "y", "z"], ["x", "y"], flow_labels=(0, 1))
    with pytest.raises(ValueError, match="rgb.npz has 3 videos but .*flow.npz 2"):
        read_fusion_inputs(paths)
    # Positions ("0", "1", ...: write_scores without names) name nothing and are not compared.
    streams, labels = read_fusion_inputs(_pair(tmp_path, ["0", "1", "2"], ["a/x", "a/y", "b/z"]))
    assert labels.tolist() == [0, 1, 2]


def test_fusion_refuses_other_class_counts_and_multi_label_files_saying_which(tmp_path):
    paths = _pair(tmp_path, list("xyz"), list("xyz"), flow_classes=4)
    with pytest.raises(ValueError, match=r"flow.npz scores 4 classes but .*rgb.npz 3"):
        read_fusion_inputs(paths)
    rng = np.random.default_rng(0)
    save_scores(tmp_path / "ml.npz", rng.normal(size=(3, 3)), [[0, 1], [2], [1]], list("xyz"))
    save_scores(tmp_path / "ml2.npz", rng.normal(size=(3, 3)), [[0, 1], [2], [1]], list("xyz"))
    # Two multi-label files of the same videos used to be called "other videos/labels".
    for files in ([tmp_path / "ml.npz", tmp_path / "ml2.npz"], [tmp_path / "rgb.npz", tmp_path / "ml.npz"]):
        with pytest.raises(ValueError, match=r"ml.npz holds several labels per video \(a multi-label test\)"):
            read_fusion_inputs(files)


def test_the_datalist_is_read_with_its_line_named_and_checked_against_the_files(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("rgb.pkl", "flow.json"):
        write_scores(tmp_path / name, rng.normal(size=(3, 3)), [0, 1, 2])
    files = [tmp_path / "rgb.pkl", tmp_path / "flow.json"]
    listing = tmp_path / "list.txt"
    listing.write_text("x.mp4 0\n\ny.mp4 1\nz.mp4 2\n")
    assert read_fusion_inputs(files, listing)[1].tolist() == [0, 1, 2]
    listing.write_text("x.mp4 0\ny.mp4\nz.mp4 2\n")  # a test list without labels (testlist01.txt)
    with pytest.raises(ValueError, match=f"{listing}:2: 'y.mp4' ends in no class id"):
        read_fusion_inputs(files, listing)
    listing.write_text("x.mp4 0\ny.mp4 1\nz.mp4 5\n")  # another dataset's list: a label beyond the scores
    with pytest.raises(ValueError, match=f"{listing}:3: label 5 .* 3 classes"):
        read_fusion_inputs(files, listing)
    # A datalist that contradicts the labels the .npz files carry is another list, not an override.
    paths = _pair(tmp_path, list("xyz"), list("xyz"))
    listing.write_text("x.mp4 0\ny.mp4 2\nz.mp4 1\n")
    with pytest.raises(ValueError, match=r"list.txt: video 2 has label 2 there but 1 in .*rgb.npz"):
        read_fusion_inputs(paths, listing)
    with pytest.raises(FileNotFoundError):
        read_fusion_inputs(paths, tmp_path / "nope.txt")
    listing.write_bytes("x.mp4 0\ncafé.mp4 1\nz.mp4 2\n".encode("latin-1"))  # was Python's bare codec error
    with pytest.raises(ValueError, match=r"--datalist .*list.txt:2: not UTF-8 text \(byte 0xe9\)"):
        read_fusion_inputs(paths, listing)


def test_a_skipped_video_is_null_in_a_json_score_file_so_that_strict_readers_read_it(tmp_path):
    # json.dumps writes a NaN row (a video the test skipped) as the bare word NaN, which is not JSON: JavaScript's
    # JSON.parse and Python's json with parse_constant refusing it stop there. null is JSON, and reads back as NaN.
    import json
    scores = np.array([[0.5, 1.5], [np.nan, np.nan]], dtype=np.float32)
    write_scores(tmp_path / "s.json", scores, [0, 1])
    text = (tmp_path / "s.json").read_text()
    assert json.loads(text, parse_constant=lambda word: pytest.fail(f"not JSON: {word}")) == [[0.5, 1.5], [None, None]]
    read, _ = read_scores(tmp_path / "s.json")
    assert read[0].tolist() == [0.5, 1.5] and np.isnan(read[1]).all()


def test_test_refuses_an_out_onto_its_config(tmp_path, monkeypatch):
    # `test run/config.json run/latest.pth --out run/config.json` used to replace the run's config with scores.
    import json

    import tsnbook.engine

    def test_run(*args, **kwargs):
        raise AssertionError("the test ran although --out is its config")
    monkeypatch.setattr(tsnbook.engine, "evaluate_checkpoint", test_run)
    cfg = dict(get_config(RGB), data_root=str(tmp_path))
    config = tmp_path / "config.json"
    config.write_text(text := json.dumps(cfg))
    checkpoint = tmp_path / "latest.pth"
    save_checkpoint(checkpoint, dict(model=build_model(cfg).state_dict(), epoch=0))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["test", str(config), str(checkpoint), "--out", str(config)])
    assert f"--out {config} is CONFIG {config}" in str(exit_info.value.code)
    assert config.read_text() == text


def test_fusion_refuses_softmax_on_probabilities_and_mixed_scales(tmp_path):
    """``test --average-clips prob`` then ``fuse --apply-softmax`` applied softmax twice (MMAction2's fusion trap:
    its pickles do not say what they hold); an .npz now records the test's average_clips."""
    from tsnbook.scores import score_scale
    rng, names = np.random.default_rng(0), ["x.mp4", "y.mp4"]
    for name, average_clips in (("prob.npz", "prob"), ("score.npz", "score"), ("raw.npz", None)):
        write_scores(tmp_path / name, rng.random((2, 3)), [0, 1], names, average_clips)
    write_scores(tmp_path / "old.npz", rng.random((2, 3)), [0, 1], names)  # written before the scale was kept
    write_scores(tmp_path / "mm.pkl", rng.random((2, 3)), [0, 1])
    assert [score_scale(tmp_path / n) for n in ("prob.npz", "score.npz", "raw.npz", "old.npz", "mm.pkl")] == [
        "prob", "logits", "logits", None, None]
    with pytest.raises(ValueError, match=r"prob.npz holds probabilities .* softmax to them twice"):
        read_fusion_inputs([tmp_path / "prob.npz", tmp_path / "prob.npz"], apply_softmax=True)
    with pytest.raises(ValueError, match=r"prob.npz holds probabilities but .*raw.npz scores before softmax"):
        read_fusion_inputs([tmp_path / "prob.npz", tmp_path / "raw.npz"])
    assert len(read_fusion_inputs([tmp_path / "score.npz", tmp_path / "raw.npz"], apply_softmax=True)[0]) == 2
    # an older .npz does not say, but its rows do: distributions are probabilities, other rows are not
    write_scores(tmp_path / "old_prob.npz", rng.dirichlet(np.ones(3), 2), [0, 1], names)
    assert score_scale(tmp_path / "old_prob.npz") == "prob"
    assert len(read_fusion_inputs([tmp_path / "prob.npz", tmp_path / "old_prob.npz"])[0]) == 2
    with pytest.raises(ValueError, match=r"old_prob.npz holds probabilities \(its rows sum to 1\)"):
        read_fusion_inputs([tmp_path / "old_prob.npz"] * 2, apply_softmax=True)
    with pytest.raises(ValueError, match=r"prob.npz holds probabilities but the rows of .*old.npz are not "
                                         r"distributions \(scores before softmax\?\)"):
        read_fusion_inputs([tmp_path / "prob.npz", tmp_path / "old.npz"])


def test_mmaction2_1x_dumps_of_sample_dicts_are_read_and_fused(tmp_path):
    """MMAction2 1.x's ``tools/test.py --dump result.pkl`` pickles a list of sample dicts holding torch tensors
    (``pred_score``, ``pred_label``, ``gt_label``): read without unpickling anything else, and fused with their
    labels; a pickle that names another function is still refused."""
    rng = np.random.default_rng(0)
    scores = {name: rng.random((5, 4)).astype(np.float32) for name in ("rgb", "flow")}
    labels = [3, 0, 2, 2, 1]
    for name, array in scores.items():
        samples = [dict(pred_score=torch.from_numpy(row), pred_label=torch.tensor([int(row.argmax())]),
                        gt_label=torch.tensor([label]), num_classes=4, img_shape=(224, 224))
                   for row, label in zip(array, labels)]
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(samples, protocol=2))  # mmengine.dump's pickle
    read, read_labels = read_scores(tmp_path / "rgb.pkl")
    np.testing.assert_array_equal(read, scores["rgb"])
    assert list(read_labels) == labels
    streams, fused_labels = read_fusion_inputs([tmp_path / "rgb.pkl", tmp_path / "flow.pkl"])
    assert list(fused_labels) == labels and len(streams) == 2

    class Evil:
        def __reduce__(self):
            return os.system, ("echo pwned",)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([dict(pred_score=torch.zeros(4), x=Evil())]))
    with pytest.raises(ValueError, match="evil.pkl.*refusing to load"):
        read_scores(tmp_path / "evil.pkl")


def test_mmaction2_1_0_dumps_with_label_data_items_are_read(tmp_path):
    """MMAction2 1.0 and 1.1 kept a sample's scores and labels in LabelData (``pred_scores.item``,
    ``gt_labels.item``), which ``--dump`` writes as nested dicts; 1.2 made them the tensors ``pred_score`` and
    ``gt_label``. Both are MMAction2 1.x's --dump, so both are read."""
    rows = np.random.default_rng(1).random((3, 5)).astype(np.float32)
    samples = [dict(pred_scores=dict(item=torch.from_numpy(row)), pred_labels=dict(item=torch.tensor([0])),
                    gt_labels=dict(item=torch.tensor([label]))) for row, label in zip(rows, [4, 0, 1])]
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(samples, protocol=2))
    read, labels = read_scores(tmp_path / "old.pkl")
    np.testing.assert_array_equal(read, rows)
    assert list(labels) == [4, 0, 1]


def test_a_1x_dump_of_probabilities_is_not_given_softmax_again_nor_fused_with_logits(tmp_path):
    """MMAction2 1.x's TSN configs test with average_clips='prob' (0.x's with None), so a 1.x ``--dump`` holds
    probabilities: its pickle does not say so, but rows that are all distributions do; rows of logits do not."""
    from tsnbook.scores import score_scale
    logits = np.random.default_rng(2).normal(0, 3, (4, 5)).astype(np.float32)
    probabilities = torch.softmax(torch.from_numpy(logits), dim=1)
    samples = [dict(pred_score=row, gt_label=torch.tensor([i % 5])) for i, row in enumerate(probabilities)]
    (tmp_path / "dump.pkl").write_bytes(pickle.dumps(samples, protocol=2))
    write_scores(tmp_path / "raw.npz", logits, [i % 5 for i in range(4)], None, None)
    write_scores(tmp_path / "logits.pkl", logits, [0] * 4)
    assert [score_scale(tmp_path / n) for n in ("dump.pkl", "logits.pkl")] == ["prob", None]
    with pytest.raises(ValueError, match=r"dump.pkl holds probabilities .* softmax to them twice"):
        read_fusion_inputs([tmp_path / "dump.pkl", tmp_path / "dump.pkl"], apply_softmax=True)
    with pytest.raises(ValueError, match=r"dump.pkl holds probabilities but .*raw.npz scores before softmax"):
        read_fusion_inputs([tmp_path / "dump.pkl", tmp_path / "raw.npz"])
    # neither pickle says what it holds: the dump's rows are distributions, the other's are not (they were fused
    # silently: probabilities added to logits)
    with pytest.raises(ValueError, match=r"dump.pkl holds probabilities but the rows of .*logits.pkl are not "
                                         r"distributions"):
        read_fusion_inputs([tmp_path / "logits.pkl", tmp_path / "dump.pkl"])


def test_files_without_labels_are_told_apart_from_a_1x_dump_that_has_them(tmp_path):
    # a 1.x --dump carries gt_label, so "(.pkl files do not)" sent its reader to --datalist for nothing
    write_scores(tmp_path / "a.pkl", np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match=r"none of the score files carries labels \(\.json files and MMAction2 0\.x's "
                                         r"--out \.pkl do not; 1\.x's --dump does\)"):
        read_fusion_inputs([tmp_path / "a.pkl", tmp_path / "a.pkl"])


def test_a_dump_reads_its_samples_as_plain_dicts_whatever_their_pickled_attributes(tmp_path):
    """A pickle can set instance attributes on a dict it builds ('get', 'keys'), which Python consults before the
    type's methods: only allow-listed callables can be put there, but reading must not call them at all."""
    import _codecs
    import collections

    class Shadowed:
        def __reduce__(self):
            return (collections.OrderedDict, (), {"get": _codecs.encode, "keys": np.dtype}, None,
                    iter([("pred_score", torch.ones(3)), ("gt_label", torch.tensor([2]))]))
    (tmp_path / "shadowed.pkl").write_bytes(pickle.dumps([Shadowed()], protocol=2))
    scores, labels = read_scores(tmp_path / "shadowed.pkl")
    np.testing.assert_array_equal(scores, np.ones((1, 3), np.float32))
    assert list(labels) == [2]
