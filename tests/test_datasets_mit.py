"""Moments in Time on its replica: the zip's layout ('+' classes, headerless 4-column CSVs, split folders), the
registration step, MMAction2's script typos, MMAction2 0.24.1's lists as the oracle, the zoo config's
split-specific roots, and bad input failing with file and line."""
import csv
import io
import os
import shutil
import zipfile

import av
import pytest
from mma_lists import build_file_list, lines, run_generator
from range_server import RangeServer

from conftest import prepare_cli
from tsnbook.configs import get_config
from tsnbook.data import build_dataset
from tsnbook.datasets import archives, mit
from tsnbook.datasets.files import AnnotationError, DatasetError
from tsnbook.io import probe_video

CONFIG = "tsn_r50_1x1x6_100e_mit_rgb"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py mit all` (one process): the state a user has after the command."""
    root = tmp_path_factory.mktemp("mit")
    made = mit.make_replica(root, seed=0)
    code, printed = prepare_cli(["mit", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def test_replica_has_the_real_layout_and_quirks(prepared):
    root, made = prepared["root"], prepared["made"]
    with zipfile.ZipFile(root / "downloads" / mit.ARCHIVE) as zf:
        names = zf.namelist()
        rows = zf.read("trainingSet.csv").decode().splitlines()
        categories = zf.read("moments_categories.txt").decode().splitlines()
    assert {n.split("/")[0] for n in names} == {"training", "validation", "moments_categories.txt", "trainingSet.csv",
                                                "validationSet.csv", "README.txt", "license.txt"}
    assert categories == ["adult+female+singing,0", "blocking,1", "juggling,2", "yawning,3"]
    assert all(len(row) == 4 and row[0].split("/")[0] == row[1] and row[2].isdigit() for row in csv.reader(rows))
    assert len(rows) == 20 and not rows[0].startswith("filename")  # no header: the first line is a video
    assert len(list(csv.DictReader(io.StringIO("\n".join(rows))))) == 19  # what a header-taking reader keeps
    styles = {key.split("/")[1].split("-")[0] for key in made["videos"]}
    assert {"yt", "getty"} <= styles
    sizes = {}
    for key in made["videos"]:
        path = root / "videos" / ("validation" if key in _val_keys(root) else "training") / f"{key}.mp4"
        if key in (made["missing"], made["corrupt"]):
            continue
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            sizes[key] = (context.name, context.width, context.height)
        frames, fps = probe_video(str(path))
        assert abs(frames / fps - 3.0) < 1e-6, key  # 3-s clips
    assert sizes.pop(made["odd"]) == ("h264", 640, 360)
    assert set(sizes.values()) == {("h264", 256, 256)}


def _val_keys(root):
    return {row.split(",")[0].rsplit(".", 1)[0] for row in lines(root / "annotations" / "validationSet.csv")}


def test_replica_is_deterministic_from_its_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(mit, "REPLICA_TRAIN", 3)  # a smaller replica: the same generator, faster
    monkeypatch.setattr(mit, "REPLICA_VAL", 1)
    first, again, other = (mit.make_replica(tmp_path / name, seed=seed)["files"][0].read_bytes()
                           for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    assert first == again and other != first


def test_prepare_all_writes_the_lists_and_finds_the_missing_and_the_corrupt_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    assert errors == {("missing", str(root / "videos" / "training" / f"{made['missing']}.mp4")),
                      ("unreadable", str(root / "videos" / "training" / f"{made['corrupt']}.mp4"))}
    train, val = lines(root / "mit_train_list_videos.txt"), lines(root / "mit_val_list_videos.txt")
    assert len(train) == 19 and len(val) == 40  # 20 listed, one missing
    assert train[0].startswith("adult+female+singing/") and train[0].endswith(".mp4 0")
    assert all((root / "videos" / "validation" / line.split()[0]).is_file() for line in val)  # relative to its split
    assert [line.split()[1] for line in val] == [str(label) for label in range(4) for _ in range(mit.REPLICA_VAL)]
    assert "| train videos | 802,264 | 20 | 18 | 19 |" in prepared["printed"]
    assert sorted(os.listdir(root / "annotations")) == ["README.txt", "license.txt", "moments_categories.txt",
                                                        "trainingSet.csv", "validationSet.csv"]


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["mit", "extract", "--root", str(prepared["root"]), "--workers", "1"])
    assert code == 0 and "videos and annotations skipped (present) 1" in printed
    code, printed = prepare_cli(["mit", "download", "--root", str(prepared["root"])])
    assert code == 0 and "skipped (already extracted) 1" in printed


def test_lists_equal_mmaction2_build_file_list(tmp_path, prepared):
    root = tmp_path / "mit"
    shutil.copytree(prepared["root"], root)
    code, printed = prepare_cli(["mit", "extract", "--root", str(root), "--workers", "1", "--frames", "rgb"])
    assert code == 1 and "frames extracted 58" in printed and "frames failed 1" in printed  # the corrupt video
    mit.build_lists(root, workers=1)
    for kind in ("videos", "rawframes"):
        for subset, folder in mit.SPLIT_FOLDERS.items():
            # generate_{videos,rawframes}_filelist.sh: one run per split folder
            theirs, printed = build_file_list(tmp_path / "mma", "mit", root, f"{kind}/{folder}/", 2, kind, subset, 1)
            name = mit.list_name(subset, kind)
            assert lines(root / name) == theirs[name], name
            assert prepared["made"]["missing"] not in printed  # MMAction2 drops the missing video without a word
    folder, count, label = lines(root / "mit_val_list_rawframes.txt")[mit.REPLICA_VAL].split()
    assert folder.startswith("blocking/") and label == "1"
    assert int(count) == len(os.listdir(root / "rawframes" / "validation" / folder)) == 90
    # MMAction2's per-dataset scripts (tools/data/mit/generate_*_filelist.sh): the same lines, shuffled
    for kind in ("videos", "rawframes"):
        found, _ = run_generator(tmp_path / "gen", "mit", root, f"generate_{kind}_filelist.sh")
        for subset in mit.SUBSETS:
            name = mit.list_name(subset, kind)
            assert sorted(found[name]) == sorted(lines(root / name)), name


def test_mmaction2_preprocess_typo_layout_is_repaired(tmp_path, prepared):
    """What MMAction2's preprocess_data.sh leaves: videos/training, the validation set in ROOT/video (its typo
    'mv ./validation ./video'), annotations/; extract moves ROOT/video to videos/validation."""
    root = tmp_path / "mit"
    archives.extract(prepared["root"] / "downloads" / mit.ARCHIVE, root)  # unzip Moments_in_Time_Raw.zip
    (root / "videos").mkdir()
    os.replace(root / "training", root / "videos" / "training")  # mv ./training ./videos
    os.replace(root / "validation", root / "video")  # && mv ./validation ./video
    (root / "annotations").mkdir()
    for name in os.listdir(root):
        if name.endswith((".txt", ".csv")):
            os.replace(root / name, root / "annotations" / name)
    assert not mit.verify(root, workers=1).ok  # verify names the typo folder
    assert any(p.kind == "stray" and p.path.endswith("/video") for p in mit.verify(root, workers=1).problems)
    code, printed = prepare_cli(["mit", "extract", "--root", str(root), "--workers", "1"])
    assert code == 0 and f"moved {root / 'video'} to {root / 'videos' / 'validation'}" in printed
    mit.build_lists(root, workers=1)
    for name in ("mit_train_list_videos.txt", "mit_val_list_videos.txt"):
        assert lines(root / name) == lines(prepared["root"] / name)


def test_an_archive_unzipped_by_hand_into_the_root_is_adopted(tmp_path, prepared):
    root = tmp_path / "mit"
    archives.extract(prepared["root"] / "downloads" / mit.ARCHIVE, root)
    code, printed = prepare_cli(["mit", "lists", "--root", str(root)])
    assert code == 2 and "run prepare.py mit extract" in printed  # annotations/ not there yet
    code, printed = prepare_cli(["mit", "extract", "--root", str(root), "--workers", "1"])
    assert code == 0 and sorted(os.listdir(root / "videos")) == ["training", "validation"]
    assert (root / "annotations" / "trainingSet.csv").is_file() and not (root / "trainingSet.csv").exists()


def test_the_zoo_config_reads_what_prepare_writes_from_split_specific_roots(prepared):
    root, cfg = prepared["root"], get_config(CONFIG)
    assert cfg["data_prefix"] == "videos/training" and cfg["data_prefix_val"] == "videos/validation"
    assert cfg["ann_file_train"] == mit.list_name("train", "videos")
    assert cfg["ann_file_val"] == cfg["ann_file_test"] == mit.list_name("val", "videos")
    shapes = {}
    for split in ("train", "val", "test"):
        dataset = build_dataset(cfg, split, data_root=root)
        assert all(os.path.isfile(r.path) for r in dataset.records)
        item = dataset[0]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
        assert int(item["label"]) == 0
    assert shapes == {"train": (6, 3, 224, 224), "val": (6, 3, 224, 224), "test": (18, 3, 256, 256)}
    # one root for both splits (MMAction2's data_root for val too) finds no validation video
    records = build_dataset(dict(cfg, data_prefix_val=cfg["data_prefix"]), "val", data_root=root).records
    assert not any(os.path.isfile(r.path) for r in records)


def test_registration_is_a_clear_message_or_a_mirror(tmp_path, prepared):
    code, printed = prepare_cli(["mit", "download", "--root", str(tmp_path / "m")])
    assert code == 2 and "need registration" in printed and "http://moments.csail.mit.edu/" in printed
    assert f"put them into {tmp_path / 'm' / 'downloads'}" in printed and "Moments_in_Time_Raw.zip" in printed
    with RangeServer(prepared["root"] / "downloads", cut_after=30_000, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 30,000"):
            mit.download(tmp_path / "m", mirror=server.url, progress=False)
        report = mit.download(tmp_path / "m", mirror=server.url, progress=False)
    assert report.ok and report.actions["downloaded"] == 1
    assert (tmp_path / "m" / "downloads" / mit.ARCHIVE).read_bytes() == \
        (prepared["root"] / "downloads" / mit.ARCHIVE).read_bytes()
    code, printed = prepare_cli(["mit", "download", "--root", str(tmp_path / "m")])
    assert code == 0 and "skipped (present) 1" in printed


@pytest.fixture()
def annotated(tmp_path, prepared):
    """A root with the replica's annotations (copied) and videos (symlinked) to damage."""
    root = tmp_path / "mit"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    return root


def _edit(path, transform):
    path.write_text("".join(line + "\n" for line in transform(lines(path))))


@pytest.mark.parametrize("file, transform, message", [
    ("trainingSet.csv", lambda l: ["filename,label,positive,negative"] + l,
     r"trainingSet\.csv:1: expected .*4 fields, no header.*a header line\? the official files have none"),
    ("trainingSet.csv", lambda l: l + ["dancing/yt-x_1.mp4,dancing,2,1"],
     r"trainingSet\.csv:21: class folder 'dancing' is not in moments_categories\.txt"),
    ("validationSet.csv", lambda l: [l[0].replace(",adult+female+singing,", ",blocking,")] + l[1:],
     r"validationSet\.csv:1: the label column says 'blocking', the folder 'adult\+female\+singing'"),
    ("validationSet.csv", lambda l: l + [l[1]], r"validationSet\.csv:41: .* is listed twice \(first at line 2\)"),
    ("trainingSet.csv", lambda l: l[:-1] + [l[-1].rsplit(",", 2)[0]], r"trainingSet\.csv:20: expected 'class/file"),
    ("trainingSet.csv", lambda l: l + ["yawning.mp4,yawning,1,0"], r"trainingSet\.csv:21: expected .*got the path"),
    ("moments_categories.txt", lambda l: l + ["dancing,5"], r"moments_categories\.txt: the indices run 0\.\.5 with gaps"),
    ("moments_categories.txt", lambda l: l + ["blocking,4"], r"moments_categories\.txt:5: class 'blocking' appears twice"),
    ("moments_categories.txt", lambda l: l + ["dancing,1"], r"moments_categories\.txt:5: index 1 is also 'blocking'"),
    ("moments_categories.txt", lambda l: l + ["dancing"], r"moments_categories\.txt:5: expected 'name,index'"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_line(annotated, file, transform, message):
    _edit(annotated / "annotations" / file, transform)
    with pytest.raises(AnnotationError, match=message) as error:
        mit.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("mit_*.txt"))  # nothing half-written


def test_crlf_lines_are_read_and_categories_in_any_line_order(annotated, prepared):
    for name in ("trainingSet.csv", "moments_categories.txt"):
        path = annotated / "annotations" / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    categories = annotated / "annotations" / "moments_categories.txt"
    categories.write_bytes(b"".join(reversed(categories.read_bytes().splitlines(keepends=True))))
    mit.build_lists(annotated, workers=1)
    assert lines(annotated / "mit_train_list_videos.txt") == lines(prepared["root"] / "mit_train_list_videos.txt")


def test_wrong_root_level_and_a_cut_archive_stop_with_what_to_do(tmp_path, prepared):
    for inner, what in (("videos", "the videos folder"), ("annotations", "the annotations folder"),
                        ("videos/training", "one split's videos folder")):
        code, printed = prepare_cli(["mit", "verify", "--root", str(prepared["root"] / inner)])
        assert code == 2 and what in printed and "instead" in printed, inner
    root = tmp_path / "cut"
    (root / "downloads").mkdir(parents=True)
    data = (prepared["root"] / "downloads" / mit.ARCHIVE).read_bytes()
    (root / "downloads" / mit.ARCHIVE).write_bytes(data[:len(data) // 2])
    code, printed = prepare_cli(["mit", "extract", "--root", str(root), "--workers", "1"])
    assert code == 2 and "Moments_in_Time_Raw.zip: the archive is damaged or cut short" in printed
    assert not (root / "videos").exists() and not (root / "annotations").exists()
