"""Something-Something V1 on its replica: frames in a split tarball, `;` CSVs, prepare.py's steps, MMAction2
0.24.1's lists as the oracle (and where it counts a cut or gapped folder whole), the zoo configs reading what the
command writes, the left/right label map, the registration, and bad input failing with file and line."""
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import pytest
from mma_tools import build_file_list, tools_folder
from range_server import RangeServer

from conftest import file_lines, prepare_cli
from tsnbook.configs import get_config
from tsnbook.course.notebook import zoo_rows
from tsnbook.data import build_dataset
from tsnbook.datasets import something, sthv1
from tsnbook.datasets.files import AnnotationError, DatasetError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py sthv1 all`: the state a user has after the command."""
    root = tmp_path_factory.mktemp("sthv1")
    made = sthv1.make_replica(root, seed=0)
    code, printed = prepare_cli(["sthv1", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def test_replica_has_the_real_layout_and_quirks(prepared):
    root = prepared["root"]
    parts = sorted((root / "downloads").glob("20bn-something-something-v1-??"))
    assert [p.name for p in parts] == ["20bn-something-something-v1-00", "20bn-something-something-v1-01"]
    joined = root / "joined.tgz"  # cat 20bn-something-something-v1-?? | tar zx
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(joined) as tf:
        names = tf.getnames()
    joined.unlink()
    assert "20bn-something-something-v1/1024/00001.jpg" in names and names[0] == "20bn-something-something-v1"
    labels = file_lines(root / "annotations" / sthv1.ANNOTATIONS["labels"])
    assert labels == list(sthv1.REPLICA_CLASSES) and labels != sorted(labels)
    assert file_lines(root / "annotations" / sthv1.ANNOTATIONS["train"])[0] == "1;Pushing something from right to left"
    assert file_lines(root / "annotations" / sthv1.ANNOTATIONS["test"]) == ["100218"]
    folders = sorted(p.name for p in (root / "rawframes").iterdir())
    assert len(folders) == 6 and sthv1.REPLICA_MISSING not in folders
    for folder in folders:
        files = sorted(os.listdir(root / "rawframes" / folder))
        assert files[0] == "00001.jpg" and 24 <= len(files) <= 48 and files[-1] == f"{len(files):05d}.jpg"
        height, width = cv2.imread(str(root / "rawframes" / folder / "00001.jpg")).shape[:2]
        assert height == 100 and 132 <= width <= 176


def test_replica_is_deterministic_also_without_simd_jpeg(tmp_path, prepared):
    first = sthv1.make_replica(tmp_path / "a", seed=0)
    for made, reference in zip(first["files"], prepared["made"]["files"]):
        assert made.read_bytes() == reference.read_bytes(), made.name
    code = ("import sys; from tsnbook.datasets import sthv1; sthv1.make_replica(sys.argv[1])")
    env = dict(os.environ, JSIMD_FORCENONE="1")  # libjpeg-turbo's plain C code instead of its SIMD code
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "c")], env=env, check=True)
    for made in first["files"]:
        assert (tmp_path / "c" / "downloads" / made.name).read_bytes() == made.read_bytes(), made.name
    assert sthv1.make_replica(tmp_path / "b", seed=1)["files"][0].read_bytes() != first["files"][0].read_bytes()


def test_prepare_all_writes_the_lists_and_finds_the_missing_and_the_cut_folder(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]
    report = file_lines(root / "prepare_verify_report.txt")
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    assert errors == {("missing", str(root / "rawframes" / made["missing"])),
                      ("truncated", str(root / "rawframes" / made["corrupt"]))}
    assert file_lines(root / "sthv1_train_list_rawframes.txt") == [
        f"1 {len(os.listdir(root / 'rawframes' / '1'))} 0", f"37 {len(os.listdir(root / 'rawframes' / '37'))} 1",
        f"1024 {len(os.listdir(root / 'rawframes' / '1024'))} 2"]
    assert [line.split()[0] for line in file_lines(root / "sthv1_val_list_rawframes.txt")] == ["20031"]
    assert not list(root.glob("sthv1_*_videos.txt")) and not list(root.glob("sthv1_test_*"))
    assert "| test (no labels) | 10,960 | 1 | 1 |  |" in prepared["printed"]
    assert "| train rawframes | 86,017 | 4 | 3 | 3 |" in prepared["printed"]


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["sthv1", "extract", "--root", str(prepared["root"])])
    assert code == 0 and "annotations skipped (present) 1" in printed and "frames skipped (present) 1" in printed
    code, printed = prepare_cli(["sthv1", "download", "--root", str(prepared["root"])])
    assert code == 0 and "skipped (already extracted) 1" in printed


def _mmaction2_lists(tmp_path, root, name="mma"):
    work = tools_folder(tmp_path / name)
    (work / "data" / "sthv1").mkdir()
    for folder in ("annotations", "rawframes"):
        os.symlink(root / folder, work / "data" / "sthv1" / folder)
    lists = {}
    for subset in ("train", "val"):
        theirs, _, _ = build_file_list(work, "sthv1", "data/sthv1/rawframes/", "--rgb-prefix", "0", "--num-split", "1",
                                       "--level", "1", "--subset", subset, "--format", "rawframes")
        lists.update(theirs)
    return lists


def test_lists_equal_mmaction2_except_the_cut_folder(tmp_path, prepared):
    root, corrupt = prepared["root"], prepared["made"]["corrupt"]
    theirs = _mmaction2_lists(tmp_path, root)
    assert file_lines(root / "sthv1_train_list_rawframes.txt") == theirs["sthv1_train_list_rawframes.txt"]
    frames = len(os.listdir(root / "rawframes" / corrupt))
    # MMAction2 counts the folder whole, cut last frame included; tsnbook leaves it out and reports it.
    assert theirs["sthv1_val_list_rawframes.txt"] == file_lines(root / "sthv1_val_list_rawframes.txt") + [
        f"{corrupt} {frames} 2"]
    cut = cv2.imread(str(root / "rawframes" / corrupt / f"{frames:05d}.jpg"))
    assert cut is not None  # OpenCV decodes the cut JPEG without an error (grey below the cut)


def test_a_gap_in_a_folder_is_reported_where_mmaction2_counts_the_files(tmp_path, prepared):
    root = tmp_path / "copy"
    shutil.copytree(prepared["root"], root, symlinks=True)
    os.unlink(root / "rawframes" / "37" / "00010.jpg")
    report = sthv1.build_lists(root, workers=1)
    theirs = _mmaction2_lists(tmp_path, root)
    count = len(os.listdir(root / "rawframes" / "37"))
    assert f"37 {count} 1" in theirs["sthv1_train_list_rawframes.txt"]  # RawframeDataset would read 00010.jpg
    assert not any(line.startswith("37 ") for line in file_lines(root / "sthv1_train_list_rawframes.txt"))
    gap = next(p for p in report.problems if p.path.endswith("/37"))
    assert gap.kind == "frame count" and "00010.jpg is missing" in gap.reason


@pytest.mark.parametrize("name", [name for name, _ in zoo_rows("Something-Something V1")])
def test_the_zoo_configs_read_what_prepare_writes(prepared, name):
    root, cfg = prepared["root"], get_config(name)
    assert Path(cfg["data_root"]).name == sthv1.NAME and cfg["data_prefix"] == "rawframes"
    assert (cfg["ann_file_train"], cfg["ann_file_val"], cfg["ann_file_test"]) == (
        sthv1.list_name("train", "rawframes"), sthv1.list_name("val", "rawframes"), sthv1.list_name("val", "rawframes"))
    assert cfg["filename_tmpl"].format(7) == sthv1.FRAME_TMPL.format(7) and cfg["start_index"] == sthv1.START_INDEX
    shapes = {}
    for split in ("train", "val", "test"):
        item = build_dataset(cfg, split, data_root=root)[0]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
    views = 10 if name.endswith("1x1x8_50e_sthv1_rgb") else 1
    assert shapes == {"train": (cfg["num_segments"], 3, 224, 224), "val": (8, 3, 224, 224),
                      "test": (8 * views, 3, 224, 224)}


def test_the_left_right_label_map_follows_the_names():
    assert something.flip_label_map(sthv1.REPLICA_CLASSES) == {0: 2, 2: 0}
    assert something.partner("Turning the camera left while filming something") == \
        "Turning the camera right while filming something"
    assert something.flip_label_map(["Holding something", "Pushing something from left to right"]) == {}


@pytest.fixture()
def annotated(tmp_path, prepared):
    root = tmp_path / "sthv1"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "rawframes", root / "rawframes")
    return root


def _edit(path, transform):
    path.write_text("".join(line + "\n" for line in transform(path.read_text().splitlines())))


@pytest.mark.parametrize("file, transform, message", [
    ("train", lambda l: l + ["77;Juggling something"],
     r"v1-train\.csv:5: template 'Juggling something' is not in something-something-v1-labels\.csv \(unknown class"),
    ("train", lambda l: l + [l[1]], r"v1-train\.csv:5: id 37 is listed twice \(first at line 2\)"),
    ("val", lambda l: l[:-1] + [l[-1][:4]], r"v1-validation\.csv:2: expected 'id;template', got '8601'.*cut short"),
    ("test", lambda l: l + ["100219;Holding something"], r"v1-test\.csv:2: expected 'id'"),
    ("labels", lambda l: l + [l[0]], r"v1-labels\.csv:4: template .* is listed twice \(first at line 1\)"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_line(annotated, file, transform, message):
    _edit(annotated / "annotations" / sthv1.ANNOTATIONS[file], transform)
    with pytest.raises(AnnotationError, match=message) as error:
        sthv1.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("sthv1_*.txt"))


def test_crlf_is_accepted_and_a_missing_labels_file_says_what_to_do(annotated, prepared):
    path = annotated / "annotations" / sthv1.ANNOTATIONS["train"]
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    sthv1.build_lists(annotated, workers=1)
    name = "sthv1_train_list_rawframes.txt"
    assert file_lines(annotated / name) == file_lines(prepared["root"] / name)
    (annotated / "annotations" / sthv1.ANNOTATIONS["labels"]).unlink()
    with pytest.raises(AnnotationError, match=r"v1-labels\.csv: annotation file missing; run prepare.py sthv1 extract"):
        sthv1.build_lists(annotated, workers=1)


def test_registration_wrong_level_and_frames_it_cannot_make(tmp_path, prepared):
    code, printed = prepare_cli(["sthv1", "download", "--root", str(tmp_path / "empty")])
    assert code == 2 and "needs registration and a manual download" in printed and something.HOME in printed
    assert "something-something-v1-labels.csv" in printed and "20bn-something-something-v1-00" in printed
    code, printed = prepare_cli(["sthv1", "lists", "--root", str(prepared["root"] / "rawframes")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed
    code, printed = prepare_cli(["sthv1", "extract", "--root", str(prepared["root"]), "--frames", "flow"])
    assert code == 2 and "ships its frames" in printed


def test_a_missing_or_cut_part_stops_extraction(tmp_path):
    root = tmp_path / "cut"
    made = sthv1.make_replica(root)
    second = root / "downloads" / "20bn-something-something-v1-01"
    data = second.read_bytes()
    second.write_bytes(data[:len(data) // 2])
    code, printed = prepare_cli(["sthv1", "extract", "--root", str(root)])
    assert code == 2 and "the split archive is damaged or cut short" in printed
    assert not (root / "rawframes").exists() and not (root / ".rawframes.partial" / "x").exists()
    second.write_bytes(data)
    os.rename(made["files"][0], root / "downloads" / "moved")
    code, printed = prepare_cli(["sthv1", "extract", "--root", str(root)])
    assert code == 2 and "20bn-something-something-v1-00: part missing" in printed


def test_download_from_a_mirror_finds_the_parts_and_resumes(tmp_path, prepared):
    with RangeServer(prepared["root"] / "downloads", cut_after=40, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 40 of"):
            sthv1.download(tmp_path / "m", mirror=server.url, progress=False)
        report = sthv1.download(tmp_path / "m", mirror=server.url, progress=False)
        assert report.ok and ("20bn-something-something-v1-02", None) in server.requests  # asked: 404, done
        assert (sthv1.ANNOTATIONS["labels"], "bytes=40-") in server.requests
    for path in prepared["made"]["files"]:
        assert (tmp_path / "m" / "downloads" / path.name).read_bytes() == path.read_bytes()
    assert not (tmp_path / "m" / "downloads" / "20bn-something-something-v1-02").exists()
