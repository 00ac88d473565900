"""Multi-Moments in Time on its replica: multi-label rows, the official .txt and MMAction2's .csv names, MMAction2
0.24.1's lists as the oracle (and its doubled multi-label rawframes lines), the zoo config's multi-hot labels, and
bad input failing with file and line."""
import os
import shutil
import zipfile

import pytest
import torch
from mma_lists import build_file_list, lines, run_generator

from conftest import prepare_cli
from tsnbook.configs import get_config
from tsnbook.data import build_dataset
from tsnbook.datasets import mmit
from tsnbook.datasets.files import AnnotationError

CONFIG = "tsn_r101_1x1x5_50e_mmit_rgb"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py mmit all` (one process): the state a user has after the command."""
    root = tmp_path_factory.mktemp("mmit")
    made = mmit.make_replica(root, seed=0)
    code, printed = prepare_cli(["mmit", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def test_replica_has_the_real_layout_and_quirks(prepared):
    root, made = prepared["root"], prepared["made"]
    with zipfile.ZipFile(root / "downloads" / mmit.ARCHIVES[0]) as zf:
        names = zf.namelist()
        rows = [row.split(",") for row in zf.read("trainingSet.txt").decode().splitlines()]
    assert {n.split("/")[0] for n in names} == {"videos", "moments_categories.txt", "trainingSet.txt",
                                                "validationSet.txt", "README.txt", "license.txt"}
    assert {len(row) - 1 for row in rows} == {1, 2, 3}  # 1-3 labels per video
    folders = [mmit.REPLICA_CLASSES.index(row[0].split("/")[0]) for row in rows]
    assert any(folder != int(row[1]) for folder, row in zip(folders, rows))  # the folder is not the first label
    assert len(made["videos"]) == 60 and len(os.listdir(root / "videos")) == 5


def test_replica_is_deterministic_from_its_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(mmit, "REPLICA_PLAN", mmit.REPLICA_PLAN[:12])  # a smaller replica, the same generator
    first, again, other = (mmit.make_replica(tmp_path / name, seed=seed)["files"][0].read_bytes()
                           for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    assert first == again and other != first


def test_prepare_all_writes_multi_label_lists_and_finds_the_missing_and_the_corrupt_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    assert errors == {("missing", str(root / "videos" / f"{made['missing']}.mp4")),
                      ("unreadable", str(root / "videos" / f"{made['corrupt']}.mp4"))}
    train = lines(root / "mmit_train_list_videos.txt")
    expected = [f"{key}.mp4 " + " ".join(map(str, labels)) for key, (_, labels, subset) in
                zip(made["videos"], mmit.REPLICA_PLAN) if subset == "train" and key != made["missing"]]
    assert train == expected and len(train) == 27
    assert any(len(line.split()) == 4 for line in train)  # three labels
    assert "| val videos | 32 | 32 | 32 |" in prepared["printed"]


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["mmit", "extract", "--root", str(prepared["root"]), "--workers", "1"])
    assert code == 0 and "videos and annotations skipped (present) 1" in printed
    code, printed = prepare_cli(["mmit", "download", "--root", str(prepared["root"])])
    assert code == 0 and "skipped (already extracted) 1" in printed


def _mmaction2_root(tmp_path, root):
    """The same copy as MMAction2's users prepare it: trainingSet.txt renamed to .csv (parse_mmit_splits opens
    trainingSet.csv / validationSet.csv)."""
    theirs = tmp_path / "mma_root"
    (theirs / "annotations").mkdir(parents=True)
    for subset in mmit.SUBSETS:
        official, renamed = mmit.SPLIT_FILES[subset]
        shutil.copy(root / "annotations" / official, theirs / "annotations" / renamed)
    for folder in ("videos", "rawframes"):
        os.symlink(root / folder, theirs / folder)
    return theirs


def test_lists_equal_mmaction2_build_file_list_except_its_doubled_rawframes_lines(tmp_path, prepared):
    root = tmp_path / "mmit"
    shutil.copytree(prepared["root"], root)
    code, printed = prepare_cli(["mmit", "extract", "--root", str(root), "--workers", "1", "--frames", "rgb"])
    assert code == 1 and "frames extracted 58" in printed and "frames failed 1" in printed
    mmit.build_lists(root, workers=1)
    theirs, renamed = {}, _mmaction2_root(tmp_path, root)
    for kind in ("videos", "rawframes"):
        for subset in mmit.SUBSETS:
            found, printed = build_file_list(tmp_path / "mma", "mmit", renamed, f"{kind}/", 2, kind, subset, 1)
            theirs.update(found)
            assert prepared["made"]["missing"] not in printed  # dropped without a word
    for subset in mmit.SUBSETS:
        name = mmit.list_name(subset, "videos")
        assert lines(root / name) == theirs[name], name
        # MMAction2's multi-label branch writes each video twice to the RGB list, the second time with the flow
        # count (0: no flow); RawframeDataset would then train on every video twice, once with 0 frames
        ours, mine = lines(root / mmit.list_name(subset, "rawframes")), theirs[mmit.list_name(subset, "rawframes")]
        doubled = [copy for line in ours for copy in (line, " ".join([line.split()[0], "0"] + line.split()[2:]))]
        assert mine == doubled and len(mine) == 2 * len(ours)
    assert lines(root / "mmit_val_list_rawframes.txt")[1].split()[1:] == ["90", "4", "3", "0"]
    # MMAction2's per-dataset scripts (tools/data/mmit/generate_*_filelist.sh): the same, shuffled
    for kind in ("videos", "rawframes"):
        found, _ = run_generator(tmp_path / "gen", "mmit", renamed, f"generate_{kind}_filelist.sh")
        for subset in mmit.SUBSETS:
            name = mmit.list_name(subset, kind)
            assert sorted(found[name]) == sorted(theirs[name]), name


def test_the_csv_names_of_mmaction2_are_read_and_conflicts_refused(tmp_path, prepared):
    root = tmp_path / "mmit"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    for subset in mmit.SUBSETS:
        official, renamed = mmit.SPLIT_FILES[subset]
        os.replace(root / "annotations" / official, root / "annotations" / renamed)  # as MMAction2's users do
    mmit.build_lists(root, workers=1)
    for subset in mmit.SUBSETS:
        name = mmit.list_name(subset, "videos")
        assert lines(root / name) == lines(prepared["root"] / name)
    shutil.copy(prepared["root"] / "annotations" / "trainingSet.txt", root / "annotations")  # both: fine if equal
    assert mmit.build_lists(root, workers=1).counts["train videos"]["written"] == 27
    (root / "annotations" / "trainingSet.txt").write_text(lines(root / "annotations" / "trainingSet.csv")[0] + "\n")
    with pytest.raises(AnnotationError, match=r"trainingSet\.txt: differs from trainingSet\.csv next to it"):
        mmit.build_lists(root, workers=1)


def test_the_zoo_config_reads_multi_hot_labels_from_what_prepare_writes(prepared):
    root, cfg = prepared["root"], get_config(CONFIG)
    assert cfg["multi_label"] and cfg["num_classes"] == 313 and cfg["data_prefix"] == "videos"
    assert "data_prefix_val" not in cfg  # MMAction2's absolute '/data/mmit/videos' is the same folder
    assert cfg["ann_file_train"] == mmit.list_name("train", "videos")
    assert cfg["ann_file_val"] == cfg["ann_file_test"] == mmit.list_name("val", "videos")
    shapes = {}
    for split in ("train", "val", "test"):
        dataset = build_dataset(cfg, split, data_root=root)
        item = dataset[1]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
        assert item["label"].shape == (313,) and item["label"].dtype == torch.float32
        expected = dataset.records[1].label
        assert torch.nonzero(item["label"]).flatten().tolist() == sorted(expected)
    assert shapes == {"train": (5, 3, 224, 224), "val": (5, 3, 224, 224), "test": (5, 3, 256, 256)}


@pytest.fixture()
def annotated(tmp_path, prepared):
    root = tmp_path / "mmit"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    return root


def _edit(path, transform):
    path.write_text("".join(line + "\n" for line in transform(lines(path))))


@pytest.mark.parametrize("file, transform, message", [
    ("trainingSet.txt", lambda l: l + ["juggling/yt-x_1.mp4,3,5"],
     r"trainingSet\.txt:29: label 5 is not an index of moments_categories\.txt \(0\.\.4\)"),
    ("trainingSet.txt", lambda l: l + ["juggling/yt-x_1.mp4"], r"trainingSet\.txt:29: expected .*one or more"),
    ("validationSet.txt", lambda l: l + ["juggling/yt-x_1.mp4,3,"], r"validationSet\.txt:33: expected"),
    ("validationSet.txt", lambda l: ["video,labels"] + l, r"validationSet\.txt:1: .*a header line\?"),
    ("validationSet.txt", lambda l: l + [l[0]], r"validationSet\.txt:33: .* is listed twice \(first at line 1\)"),
    ("moments_categories.txt", lambda l: l[1:], r"moments_categories\.txt: the indices run 1\.\.4"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_line(annotated, file, transform, message):
    _edit(annotated / "annotations" / file, transform)
    with pytest.raises(AnnotationError, match=message) as error:
        mmit.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("mmit_*.txt"))


def test_verify_finds_a_stale_list_with_other_labels(annotated, prepared):
    mmit.build_lists(annotated, workers=1)
    path = annotated / "mmit_val_list_videos.txt"
    stale = lines(path)
    stale[0] = stale[0] + " 3"
    path.write_text("".join(line + "\n" for line in stale))
    report = mmit.verify(annotated, workers=1)
    assert any(p.kind == "label" and p.path == f"{path}:1" and "(3, 2, 3) here, (3, 2)" in p.reason for p in report.errors)


def test_wrong_root_level_and_registration(tmp_path, prepared):
    code, printed = prepare_cli(["mmit", "lists", "--root", str(prepared["root"] / "videos")])
    assert code == 2 and "the videos folder" in printed and f"pass --root {prepared['root']} instead" in printed
    code, printed = prepare_cli(["mmit", "verify", "--root", str(prepared["root"] / "annotations")])
    assert code == 2 and "the annotations folder" in printed
    code, printed = prepare_cli(["mmit", "download", "--root", str(tmp_path / "m")])
    assert code == 2 and "Multi_Moments_in_Time_Raw.zip from http://moments.csail.mit.edu/" in printed
    (tmp_path / "m" / "downloads").mkdir(parents=True)
    shutil.copy(prepared["root"] / "downloads" / mmit.ARCHIVES[0], tmp_path / "m" / "downloads" / mmit.ARCHIVES[1])
    code, printed = prepare_cli(["mmit", "extract", "--root", str(tmp_path / "m"), "--workers", "1"])
    assert code == 0 and (tmp_path / "m" / "annotations" / "trainingSet.txt").is_file()  # MMAction2's other name
