"""HMDB51 on its replica: the real layout in miniature (nested RARs, flag files, hostile names), prepare.py's
steps, MMAction2 0.24.1's lists as the oracle (and where it fails: strays, a stale classInd.txt), the three zoo
configs reading what the command writes, and bad input failing with file and line."""
import os
import shutil
import sys
from pathlib import Path

import av
import pytest
from mma_tools import build_file_list, tools_folder
from range_server import RangeServer

from conftest import file_lines, prepare_cli
from tsnbook.configs import get_config
from tsnbook.course.notebook import zoo_rows
from tsnbook.data import build_dataset
from tsnbook.datasets import archives, hmdb51
from tsnbook.datasets.files import AnnotationError, DatasetError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py hmdb51 all` (one process): the state a user has after the command."""
    if archives.rar_backend() is None:
        pytest.fail(f"hmdb51_org.rar cannot be extracted here: {archives.RAR_HELP}")
    root = tmp_path_factory.mktemp("hmdb51")
    made = hmdb51.make_replica(root, seed=0)
    code, printed = prepare_cli(["hmdb51", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def test_replica_has_the_real_layout_and_quirks(prepared, tmp_path):
    root = prepared["root"]
    outer = archives.extract(root / "downloads" / "hmdb51_org.rar", tmp_path / "outer")
    assert sorted(p.name for p in outer) == ["brush_hair.rar", "cartwheel.rar", "pour.rar"]
    inner = archives.extract(tmp_path / "outer" / "cartwheel.rar", tmp_path / "inner")
    assert "(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi" in {p.name for p in inner}
    assert {p.parent.name for p in inner} == {"cartwheel"}
    splits = archives.extract(root / "downloads" / "test_train_splits.rar", tmp_path / "splits")
    assert sorted(p.relative_to(tmp_path / "splits").as_posix() for p in splits) == sorted(
        f"testTrainMulti_7030_splits/{c}_test_split{k}.txt" for c in hmdb51.REPLICA_CLASSES for k in (1, 2, 3))
    text = (tmp_path / "splits" / "testTrainMulti_7030_splits" / "pour_test_split1.txt").read_text()
    assert text.startswith("#20_Rhythm_Bar_pour_u_nm_np1_fr_goo_0.avi 1 \n")
    flags = {k: [line.split()[1] for line in file_lines(root / "annotations" / f"pour_test_split{k}.txt")]
             for k in (1, 2, 3)}
    assert all(sorted(f) == ["0"] + ["1"] * 12 + ["2"] * 7 for f in flags.values()) and flags[1] != flags[2] != flags[3]
    widths = set()
    for cls in hmdb51.REPLICA_CLASSES:
        for name in hmdb51.REPLICA_VIDEOS[cls][2:4]:
            widths.add(_probe(root / "videos" / cls / f"{name}.avi"))
    assert widths == {320, 426}
    assert len(_splits_on_disk(root)) == 59  # 60 listed, one missing


def _probe(video):
    """The frame width of a replica video, after checking its container, codec, height, rate and length."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (container.format.name, stream.codec_context.name) == ("avi", "mpeg4")
        assert (stream.codec_context.height, float(stream.average_rate)) == (240, 30.0)
        assert 30 <= stream.frames <= 60
        return stream.codec_context.width


def _splits_on_disk(root):
    from tsnbook.datasets.items import scan_videos
    return scan_videos(root / "videos", 2)


def test_replica_is_deterministic_from_its_seed(tmp_path, prepared):
    first = hmdb51.make_replica(tmp_path / "a", seed=0)
    for made, reference in zip(first["files"], prepared["made"]["files"]):
        assert made.read_bytes() == reference.read_bytes(), made.name
    assert hmdb51.make_replica(tmp_path / "b", seed=1)["files"][0].read_bytes() != first["files"][0].read_bytes()


def test_prepare_all_writes_every_list_and_finds_the_missing_and_the_corrupt_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]  # problems found: training should not start
    for split in hmdb51.SPLITS:
        for subset in hmdb51.SUBSETS:
            for kind in ("videos", "rawframes"):
                assert (root / hmdb51.list_name(subset, split, kind)).is_file()
    report = file_lines(root / "prepare_verify_report.txt")
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    assert errors == {("missing", str(root / "videos" / (made["missing"] + ".avi"))),
                      ("truncated", str(root / "videos" / (made["corrupt"] + ".avi")))}
    assert not (root / "annotations" / "classInd.txt").exists()  # nothing written into the official files
    assert hmdb51.read_classes(root) == ["brush_hair", "cartwheel", "pour"]
    train = file_lines(root / "hmdb51_train_split_2_videos.txt")
    flagged = [v for c in hmdb51.REPLICA_CLASSES for v in hmdb51.REPLICA_VIDEOS[c]
               if hmdb51.replica_flag(c, v, 2) == "1"]
    assert len(flagged) == 36 and len(train) == 35  # the missing video is flag 1 in split 2
    assert "cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 1" in file_lines(
        root / "hmdb51_train_split_1_videos.txt")
    val = file_lines(root / "hmdb51_val_split_3_rawframes.txt")  # the corrupt and the missing one: flag 2 in split 3
    assert len(val) == 19 and not any(made["corrupt"] in line for line in val)
    folder, count, label = file_lines(root / "hmdb51_val_split_1_rawframes.txt")[0].split()
    assert int(count) == len(os.listdir(root / "rawframes" / folder)) and label == "0"
    assert "| split 1 train videos | 3,570 | 36 | 34 | 35 |" in prepared["printed"]  # published, listed, good, written


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["hmdb51", "extract", "--root", str(prepared["root"]), "--workers", "1"])
    assert code == 1  # the corrupt video still cannot be extracted
    assert "annotations skipped (present) 1" in printed and "videos skipped (present) 1" in printed
    assert "frames skipped (done) 58" in printed and "frames extracted" not in printed
    code, printed = prepare_cli(["hmdb51", "download", "--root", str(prepared["root"])])
    assert code == 0 and "skipped (already extracted) 2" in printed


def _mmaction2_copy(tmp_path, root, name="mma"):
    """A folder where MMAction2's tools find data/hmdb51: annotations copied (its tool writes classInd.txt and
    trainlist0N.txt there), videos and rawframes linked."""
    work = tools_folder(tmp_path / name)
    data = work / "data" / "hmdb51"
    data.mkdir()
    shutil.copytree(root / "annotations", data / "annotations")
    for folder in ("videos", "rawframes"):
        os.symlink(root / folder, data / folder)
    return work


def test_lists_equal_mmaction2_build_file_list(tmp_path, prepared):
    root = prepared["root"]
    work = _mmaction2_copy(tmp_path, root)
    for kind in ("videos", "rawframes"):
        theirs, printed, _ = build_file_list(work, "hmdb51", f"data/hmdb51/{kind}/", "--level", "2", "--format", kind)
        assert len(theirs) == 6
        for name, lines in theirs.items():
            assert file_lines(root / name) == lines, name
        assert prepared["made"]["missing"].split("/")[1] not in printed  # left out there too, without a word
    generated = file_lines(work / "data" / "hmdb51" / "annotations" / "classInd.txt")
    assert generated == ["1 brush_hair", "2 cartwheel", "3 pour"]  # what MMAction2 writes into annotations/


def test_where_mmaction2_fails_tsnbook_reports(tmp_path, prepared):
    root = tmp_path / "copy"
    shutil.copytree(prepared["root"], root, symlinks=True)
    (root / "videos" / ".DS_Store").write_bytes(b"\0")  # a stray entry of videos/
    work = _mmaction2_copy(tmp_path, root)
    _, printed, code = build_file_list(work, "hmdb51", "data/hmdb51/videos/", "--level", "2", "--format", "videos",
                                       check=False)
    assert code != 0 and "FileNotFoundError" in printed and ".DS_Store_test_split1.txt" in printed
    report = hmdb51.build_lists(root, workers=1)
    assert ("stray", str(root / "videos" / ".DS_Store")) in {(p.kind, p.path) for p in report.problems}
    name = "hmdb51_train_split_1_videos.txt"
    assert file_lines(root / name) == file_lines(prepared["root"] / name)
    # A classInd.txt left by an earlier run (another class set) is reused by MMAction2: its ids win.
    (root / "videos" / ".DS_Store").unlink()
    work = _mmaction2_copy(tmp_path, root, "mma_stale")
    (work / "data" / "hmdb51" / "annotations" / "classInd.txt").write_text("1 pour\n2 brush_hair\n3 cartwheel")
    theirs, printed, _ = build_file_list(work, "hmdb51", "data/hmdb51/videos/", "--level", "2", "--format", "videos")
    assert "has been generated before" in printed
    assert theirs["hmdb51_train_split_1_videos.txt"][0] == "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1"
    assert file_lines(root / "hmdb51_train_split_1_videos.txt")[0].endswith(".avi 0")


def test_rawframes_lists_need_no_videos_folder(tmp_path, prepared):
    root = tmp_path / "frames_only"
    root.mkdir()
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "rawframes", root / "rawframes")
    report = hmdb51.build_lists(root, workers=1)
    name = "hmdb51_val_split_1_rawframes.txt"
    assert file_lines(root / name) == file_lines(prepared["root"] / name)
    assert not (root / "hmdb51_val_split_1_videos.txt").exists()
    missing = {Path(p.path).name for p in report.problems if p.kind == "missing"}
    assert missing == {Path(prepared["made"]["missing"]).name, Path(prepared["made"]["corrupt"]).name}


@pytest.mark.parametrize("name", [name for name, _ in zoo_rows("HMDB51")])
def test_the_zoo_configs_read_what_prepare_writes(prepared, name):
    root, cfg = prepared["root"], get_config(name)
    assert Path(cfg["data_root"]).name == hmdb51.NAME and cfg["data_prefix"] == "rawframes"
    assert cfg["ann_file_train"] == hmdb51.list_name("train", 1, "rawframes")
    assert cfg["ann_file_val"] == cfg["ann_file_test"] == hmdb51.list_name("val", 1, "rawframes")
    assert cfg["filename_tmpl"].format(7) == hmdb51.FRAME_TMPL.format(7) and cfg["start_index"] == hmdb51.START_INDEX
    shapes = {}
    for split in ("train", "val", "test"):
        dataset = build_dataset(cfg, split, data_root=root)
        item = dataset[0]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
        assert int(item["label"]) == 0
    assert shapes == {"train": (8, 3, 224, 224), "val": (8, 3, 256, 256), "test": (8, 3, 256, 256)}


@pytest.fixture()
def annotated(tmp_path, prepared):
    """A root with the replica's annotations (copied) and videos (symlinked) to damage."""
    root = tmp_path / "hmdb51"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    return root


def _edit(path, transform):
    lines = path.read_text().split("\n")[:-1]
    path.write_text("".join(line + "\n" for line in transform(lines)))


@pytest.mark.parametrize("file, transform, message", [
    ("pour_test_split1.txt", lambda l: l + ["Tea_Time!_pour_u_cm_np1_ri_goo_9.avi 3"],
     r"pour_test_split1\.txt:21: flag '3' is not 0 \(unused\), 1 \(train\) or 2 \(test\)"),
    ("pour_test_split2.txt", lambda l: l + [l[1]], r"pour_test_split2\.txt:21: .* is listed twice \(first at line 2\)"),
    ("cartwheel_test_split3.txt", lambda l: l[:-1] + [l[-1][:20]],
     r"cartwheel_test_split3\.txt:20: expected '<video>\.avi <flag>'.*cut short"),
    ("brush_hair_test_split1.txt", lambda l: l + ["Brush my hair_brush_hair_u_nm_np1_fr_goo_0.avi 1"],
     r"brush_hair_test_split1\.txt:21: expected .*a name with a space"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_line(annotated, file, transform, message):
    _edit(annotated / "annotations" / file, transform)
    with pytest.raises(AnnotationError, match=message) as error:
        hmdb51.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("hmdb51_*.txt"))  # nothing half-written


def test_windows_line_ends_and_missing_trailing_blanks_are_accepted(annotated, prepared):
    path = annotated / "annotations" / "brush_hair_test_split1.txt"
    path.write_bytes(path.read_bytes().replace(b" \n", b"\r\n"))
    hmdb51.build_lists(annotated, workers=1)
    for name in ("hmdb51_train_split_1_videos.txt", "hmdb51_val_split_1_videos.txt"):
        assert file_lines(annotated / name) == file_lines(prepared["root"] / name)


def test_missing_and_foreign_split_files(annotated):
    (annotated / "annotations" / "pour_test_split3.txt").unlink()
    with pytest.raises(AnnotationError, match=r"pour_test_split3\.txt: annotation file missing \(the class has the "
                                              r"other splits' files\); run prepare.py hmdb51 extract"):
        hmdb51.build_lists(annotated, workers=1)
    shutil.rmtree(annotated / "annotations")
    with pytest.raises(AnnotationError, match=r"annotations: annotation folder missing"):
        hmdb51.build_lists(annotated, workers=1)
    assert hmdb51.verify(annotated, workers=1).problems[0].kind == "annotation"


def test_wrong_root_level_and_cut_archives_stop_with_what_to_do(tmp_path, prepared):
    code, printed = prepare_cli(["hmdb51", "verify", "--root", str(prepared["root"] / "videos")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed
    code, printed = prepare_cli(["hmdb51", "lists", "--root", str(prepared["root"] / "annotations")])
    assert code == 2 and "looks like the annotations folder" in printed
    root = tmp_path / "cut"
    made = hmdb51.make_replica(root)
    rar = made["files"][0]
    rar.write_bytes(rar.read_bytes()[:len(rar.read_bytes()) * 2 // 3])  # cuts the last inner archive
    code, printed = prepare_cli(["hmdb51", "extract", "--root", str(root), "--workers", "1"])
    assert code == 2 and "hmdb51_org.rar: the archive is damaged or cut short" in printed
    assert not (root / "videos").exists()  # nothing a later step would take for the videos
    code, printed = prepare_cli(["hmdb51", "lists", "--root", str(root)])
    assert code == 1 and "not on disk" in printed  # the lists say so instead of shrinking silently


def test_download_from_a_local_server_resumes(tmp_path, prepared):
    with RangeServer(prepared["root"] / "downloads", cut_after=50_000, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 50,000 (of [0-9,]+ )?bytes; run the same command"):
            hmdb51.download(tmp_path / "h", mirror=server.url, progress=False)
        report = hmdb51.download(tmp_path / "h", mirror=server.url, progress=False)
        assert report.actions["downloaded"] == 2 and report.ok
        assert ("hmdb51_org.rar", "bytes=50000-") in server.requests
    for remote in hmdb51.FILES:
        assert (tmp_path / "h" / "downloads" / remote.name).read_bytes() == \
               (prepared["root"] / "downloads" / remote.name).read_bytes()


def test_extract_through_a_system_rar_tool_that_keeps_folders(tmp_path, prepared, monkeypatch):
    # The README's second route: a system unrar / bsdtar / 7z extracts a whole archive and keeps its folders,
    # where flatten=True asks for the split files without their testTrainMulti_7030_splits/ folder. A stand-in
    # `unrar` on PATH extracts as they do (this tsnbook's own reader, folders kept).
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "unrar").write_text(f"#!{sys.executable}\nimport sys\nfrom tsnbook.datasets.archives import extract\n"
                                 "extract(sys.argv[-2], sys.argv[-1].rstrip('/'))  # unrar x -o+ -y ARCHIVE DEST/\n")
    (tools / "unrar").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    monkeypatch.setattr(archives, "rar_backend", lambda: "unrar")
    root = tmp_path / "hmdb51"
    hmdb51.make_replica(root)
    report = hmdb51.extract(root, workers=1, frames="none")
    assert report.ok and report.actions["annotations extracted"] == 9
    assert sorted(os.listdir(root / "annotations")) == sorted(os.listdir(prepared["root"] / "annotations"))
    for cls in hmdb51.REPLICA_CLASSES:
        assert sorted(os.listdir(root / "videos" / cls)) == sorted(os.listdir(prepared["root"] / "videos" / cls))
    assert report.actions["extracted"] == 3 + 59  # the inner archives, then their videos: each file once
    assert not [p for p in root.rglob("*.partial")] and not (root / ".videos.partial").exists()
    hmdb51.build_lists(root, workers=1)
    name = "hmdb51_train_split_1_videos.txt"
    assert file_lines(root / name) == file_lines(prepared["root"] / name)
