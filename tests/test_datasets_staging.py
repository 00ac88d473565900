"""The shared extraction and list-file steps on small hand-made inputs: an archive that lacks an annotation file
is refused before anything is placed (UCF101, HVU, Kinetics), the release's file names placed by hand are renamed
(Kinetics), a list file that is absent, unreadable or stale is reported (HVU, ActivityNet, Kinetics), and file
digests are those of hashlib."""
import hashlib
import json
import zipfile

import pytest

from tsnbook.datasets import activitynet, archives, hvu, kinetics, listing, ucf101
from tsnbook.datasets.download import file_digest
from tsnbook.datasets.files import DatasetError
from tsnbook.datasets.report import Report


def _zip(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def test_an_archive_lacking_an_annotation_file_is_refused_and_nothing_is_placed(tmp_path):
    archive = _zip(tmp_path / "downloads" / ucf101.FILES[1].name,
                   {"ucfTrainTestlist/classInd.txt": "1 A\n", "ucfTrainTestlist/trainlist01.txt": "A/v_A.avi 1\n"})
    with pytest.raises(DatasetError) as error:
        ucf101.extract_archives(tmp_path, Report("ucf101", "extract", tmp_path))
    absent = [n for n in ucf101.annotation_files() if n not in ("classInd.txt", "trainlist01.txt")]
    assert str(error.value) == (f"{archive}: lacks {', '.join(absent)}; not the UCF101 splits archive? "
                                "download it again")
    assert not (tmp_path / "annotations").exists()


def test_the_annotations_are_placed_flat_and_the_stage_removed(tmp_path):
    _zip(tmp_path / "downloads" / ucf101.FILES[1].name,
         {f"ucfTrainTestlist/{n}": "x\n" for n in ucf101.annotation_files()})
    found = archives.unpack_annotations(tmp_path, [tmp_path / "downloads" / ucf101.FILES[1].name],
                                        ucf101.annotation_files(), lambda absent: "unused")
    assert archives.place_annotations(tmp_path, found) == len(ucf101.annotation_files())
    assert sorted(p.name for p in (tmp_path / "annotations").iterdir()) == sorted(ucf101.annotation_files())
    assert not (tmp_path / ".annotations.partial").exists()


def test_hvu_zips_lacking_a_csv_name_the_first_absent_one(tmp_path):
    _zip(tmp_path / "downloads" / hvu.FILES[0].name, {hvu.RELEASE_NAMES["train"]: "Tags\n"})
    _zip(tmp_path / "downloads" / hvu.FILES[1].name, {"other.csv": "Tags\n"})
    with pytest.raises(DatasetError) as error:
        hvu.extract_archives(tmp_path, Report("hvu", "extract", tmp_path))
    assert str(error.value) == (f"{tmp_path / 'downloads'}: the zips lack {hvu.RELEASE_NAMES['val']}; download "
                                "them again")
    assert not (tmp_path / "annotations").exists()


def test_kinetics_release_csvs_placed_by_hand_are_renamed_and_a_missing_one_named(tmp_path):
    dataset = kinetics.KINETICS400
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    for name in ("train.csv", "validate.csv"):
        (annotations / name).write_text("label\n")
    with pytest.raises(DatasetError) as error:
        kinetics.kinetics_download._extract_annotations(dataset, tmp_path, Report(dataset.NAME, "extract", tmp_path))
    assert str(error.value) == (f"{tmp_path / 'downloads' / dataset.FILES[0].name}: lacks test.csv; not DeepMind's "
                                f"{dataset.NAME} tarball? download it again")
    (annotations / "test.csv").write_text("label\n")
    report = Report(dataset.NAME, "extract", tmp_path)
    kinetics.kinetics_download._extract_annotations(dataset, tmp_path, report)
    assert sorted(p.name for p in annotations.iterdir()) == sorted(kinetics.kinetics_download.CSV_NAMES.values())
    assert report.actions["annotations extracted"] == 3


def test_a_list_file_absent_unreadable_or_stale_is_reported(tmp_path):
    report = Report("hvu", "verify", tmp_path)
    assert hvu._check_list(report, tmp_path, "hvu_train_video.json", {}) is None
    (tmp_path / "hvu_train_video.json").write_text("{not json")
    assert hvu._check_list(report, tmp_path, "hvu_train_video.json", {}) is None
    (tmp_path / "hvu_train_video.json").write_text(json.dumps([dict(filename="a.mp4", label={"action": [1]}),
                                                               dict(filename="b.mp4", label={"action": [2]})]))
    assert hvu._check_list(report, tmp_path, "hvu_train_video.json", {"a.mp4": {"action": [1]}}) == 2
    path = tmp_path / "hvu_train_video.json"
    assert [(p.kind, p.path, p.reason) for p in report.problems] == [
        ("missing", str(path), "list file not written: run prepare.py hvu lists"),
        ("annotation", str(path), "not a JSON list of videos: run prepare.py hvu lists again"),
        ("stray", f"{path}[1]", "b.mp4 with label {'action': [2]} is not what the CSV gives: a stale list; run "
                                "prepare.py hvu lists again")]


def test_a_rawframes_list_line_with_other_frames_is_a_frame_count_problem(tmp_path):
    (tmp_path / activitynet.list_name("train", "video")).write_text("v_a 10 3\nv_b 5 1\n")
    report = Report("activitynet", "verify", tmp_path)
    assert activitynet._check_list(report, tmp_path, "train", "video", {"v_a": (12, 3)}) == 2
    assert [(p.kind, p.reason) for p in report.problems] == [
        ("frame count", "v_a 10 3: the JSON and the frame folders give 12 frames, label 3: a stale list; run "
                        "prepare.py activitynet lists again"),
        ("stray", "v_b 5 1: not a video of the JSON with frames: a stale list; run prepare.py activitynet lists "
                  "again")]


def test_check_list_file_counts_entries_and_reports_each_problem(tmp_path):
    (tmp_path / "l.txt").write_text("a\nb\nc\n")
    report = Report("ucf101", "verify", tmp_path)
    count = listing.check_list_file(report, tmp_path / "l.txt", "ucf101", lambda p: p.read_text().split(),
                                    lambda e: ("stray", e, "odd") if e == "b" else None)
    assert count == 3 and [(p.kind, p.path) for p in report.problems] == [("stray", "b")]


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_file_digest_is_hashlibs(tmp_path, monkeypatch, algorithm):
    data = bytes(range(256)) * 9000  # more than one read block
    (tmp_path / "f").write_bytes(data)
    assert file_digest(tmp_path / "f", algorithm).hexdigest() == hashlib.new(algorithm, data).hexdigest()
    monkeypatch.delattr(hashlib, "file_digest", raising=False)  # Python 3.10's hashlib: the blocks read here
    assert file_digest(tmp_path / "f", algorithm).hexdigest() == hashlib.new(algorithm, data).hexdigest()
