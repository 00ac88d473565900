"""UCF101 on its replica: the real layout in miniature, prepare.py's steps, MMAction2 0.24.1's lists as the
oracle, the zoo config reading what the command writes, and bad input failing with file and line."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import pytest
from oracle import ORACLE, missing
from range_server import RangeServer

from conftest import file_lines, prepare_cli
from tsnbook.configs import get_config
from tsnbook.data import build_dataset
from tsnbook.datasets import archives, ucf101
from tsnbook.datasets.files import AnnotationError, DatasetError
from tsnbook.datasets.items import scan_videos

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "tsn_r50_1x1x3_75e_ucf101_rgb"
needs_rar = pytest.mark.skipif(archives.rar_backend() is None, reason="no RAR extractor (pip install unrar2-cffi)")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py ucf101 all` (one process): the state a user has after the command."""
    if archives.rar_backend() is None:
        pytest.fail(f"UCF101.rar cannot be extracted here: {archives.RAR_HELP}")
    root = tmp_path_factory.mktemp("ucf101")
    made = ucf101.make_replica(root, seed=0)
    code, printed = prepare_cli(["ucf101", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def test_replica_has_the_real_layout_and_quirks(prepared):
    root = prepared["root"]
    with zipfile.ZipFile(root / "downloads" / ucf101.FILES[1].name) as zf:
        assert sorted(zf.namelist()) == sorted(f"ucfTrainTestlist/{n}" for n in ucf101.annotation_files())
        assert zf.read("ucfTrainTestlist/classInd.txt") == b"1 ApplyEyeMakeup\r\n2 Hammering\r\n3 HammerThrow\r\n" \
                                                            b"4 HandstandPushups\r\n"
        assert zf.read("ucfTrainTestlist/testlist01.txt").startswith(b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\n")
    classes = ucf101.read_classes(root)
    assert classes != sorted(classes)  # sorted() would swap Hammering and HammerThrow
    assert sorted(os.listdir(root / "videos" / "HandstandPushups"))[0] == "v_HandStandPushups_g01_c01.avi"
    video = root / "videos" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi"
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        assert (container.format.name, context.name, context.codec_tag) == ("avi", "mpeg4", "XVID")
        assert (context.width, context.height, float(stream.average_rate)) == (320, 240, 25.0)
        assert 25 <= stream.frames <= 75
    assert len(scan_videos(root / "videos", ucf101.LEVEL)) == 71  # 72 listed, one missing
    assert (root / "downloads" / "UCF101.rar").read_bytes()[:7] == b"Rar!\x1a\x07\x00"


def test_replica_is_deterministic_from_its_seed(tmp_path, prepared):
    first = ucf101.make_replica(tmp_path / "a", seed=0)
    for made, reference in zip(first["files"], prepared["made"]["files"]):
        assert made.read_bytes() == reference.read_bytes(), made.name
    other = ucf101.make_replica(tmp_path / "b", seed=1)
    assert other["files"][0].read_bytes() != first["files"][0].read_bytes()


def test_prepare_all_writes_every_list_and_finds_the_missing_and_the_corrupt_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]  # problems found: training should not start
    for split in ucf101.SPLITS:
        for subset in ucf101.SUBSETS:
            for kind in ("videos", "rawframes"):
                assert (root / ucf101.list_name(subset, split, kind)).is_file()
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    corrupt = next(kind for kind, path in errors if made["corrupt"] in path)
    assert corrupt in ("unreadable", "truncated")
    assert errors == {("missing", str(root / "videos" / (made["missing"] + ".avi"))),
                      (corrupt, str(root / "videos" / (made["corrupt"] + ".avi")))}
    assert "2 error(s)" in prepared["printed"] and "not ok" in prepared["printed"]
    train = file_lines(root / "ucf101_train_split_1_videos.txt")
    assert "Hammering/v_Hammering_g02_c01.avi 1" in train and "HammerThrow/v_HammerThrow_g02_c01.avi 2" in train
    assert "HandstandPushups/v_HandStandPushups_g02_c01.avi 3" in train
    assert len(train) == 47 and not any(made["missing"] in line for line in train)  # 48 listed, one missing
    val_frames = file_lines(root / "ucf101_val_split_3_rawframes.txt")  # the corrupt video is in split 3's test
    assert len(val_frames) == 23 and not any(made["corrupt"] in line for line in val_frames)
    folder, count, label = file_lines(root / "ucf101_val_split_1_rawframes.txt")[0].split()
    assert (folder, label) == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01", "0")
    assert int(count) == len(os.listdir(root / "rawframes" / folder))
    assert sorted(os.listdir(root / "rawframes" / folder))[0] == "img_00001.jpg"
    assert "| split 1 train videos | 9,537 | 48 | 46 | 47 |" in prepared["printed"]  # published, listed, good, written


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["ucf101", "extract", "--root", str(prepared["root"]), "--workers", "1"])
    assert code == 1  # the corrupt video still cannot be extracted
    assert "annotations skipped (present) 1" in printed and "videos skipped (present) 1" in printed
    assert "frames skipped (done) 70" in printed and "frames extracted" not in printed
    code, printed = prepare_cli(["ucf101", "download", "--root", str(prepared["root"])])
    assert code == 0 and "skipped (already extracted) 2" in printed


def _mmaction2_lists(tmp_path, root, kind):
    """MMAction2 0.24.1's tools/data/build_file_list.py on ``root``, run as its README says (from a folder that
    holds data/ucf101), in a subprocess. Its mmcv imports are stubbed: build_file_list.py only calls
    mmcv.runner.set_random_seed (with --seed) and anno_txt2json.py imports mmcv without using it here."""
    tools = ORACLE / "mma024" / "mmaction" / ".mim" / "tools" / "data"
    if not (tools / "build_file_list.py").is_file():
        missing("MMAction2 0.24.1 oracle")
    work = tmp_path / f"mma_{kind}"
    (work / "tools" / "data").mkdir(parents=True)
    for name in ("build_file_list.py", "parse_file_list.py", "anno_txt2json.py"):
        shutil.copy(tools / name, work / "tools" / "data" / name)
    (work / "tools" / "__init__.py").touch()
    (work / "tools" / "data" / "__init__.py").touch()
    (work / "stubs" / "mmcv").mkdir(parents=True)
    (work / "stubs" / "mmcv" / "__init__.py").write_text("")
    (work / "stubs" / "mmcv" / "runner.py").write_text("def set_random_seed(seed):\n    pass\n")
    (work / "data").mkdir()
    os.symlink(root, work / "data" / "ucf101")
    (work / "out" / "ucf101").mkdir(parents=True)
    result = subprocess.run([sys.executable, "tools/data/build_file_list.py", "ucf101", f"data/ucf101/{kind}/",
                             "--level", "2", "--format", kind, "--out-root-path", "out/"], cwd=work,
                            env=dict(os.environ, PYTHONPATH=f"{work / 'stubs'}:{work}"), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    outputs = {p.name: file_lines(p) for p in (work / "out" / "ucf101").iterdir()}
    return outputs, result.stdout + result.stderr


def test_lists_equal_mmaction2_build_file_list(tmp_path, prepared):
    root = prepared["root"]
    for kind in ("videos", "rawframes"):
        theirs, printed = _mmaction2_lists(tmp_path, root, kind)
        assert len(theirs) == 6
        for name, lines in theirs.items():
            assert file_lines(root / name) == lines, name
        # Where MMAction2 is wrong: the missing video is left out there too, but without a word.
        assert prepared["made"]["missing"].split("/")[1] not in printed


def test_where_mmaction2_miscounts_frames_tsnbook_reports(tmp_path, prepared):
    root = tmp_path / "copy"
    shutil.copytree(prepared["root"], root, symlinks=True)
    empty = root / "rawframes" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01"
    for path in empty.iterdir():
        path.unlink()
    zero_based = root / "rawframes" / "HandstandPushups" / "v_HandStandPushups_g01_c01"
    count = len(os.listdir(zero_based))
    for number in range(1, count + 1):
        os.rename(zero_based / f"img_{number:05d}.jpg", zero_based / f"img_{number - 1:05d}.jpg")
    report = ucf101.build_lists(root, workers=1)
    theirs, _ = _mmaction2_lists(tmp_path, root, "rawframes")
    ours, mine = file_lines(root / "ucf101_val_split_1_rawframes.txt"), theirs["ucf101_val_split_1_rawframes.txt"]
    # MMAction2: the empty folder becomes a videos-style line with its full path; the 0-based folder is listed
    # with a count that makes RawframeDataset read img_{count:05d}.jpg, which does not exist.
    assert "data/ucf101/rawframes/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 0" in mine
    assert f"HandstandPushups/v_HandStandPushups_g01_c01 {count} 3" in mine
    assert not any("v_ApplyEyeMakeup_g01_c01" in l or "v_HandStandPushups_g01_c01" in l for l in ours)
    assert [l for l in mine if "g01_c01" not in l or "Hammer" in l] == ours  # the rest is equal
    found = {(p.kind, Path(p.path).name) for p in report.problems}
    assert ("zero frames", empty.name) in found and ("index base", zero_based.name) in found


def test_the_zoo_config_reads_what_prepare_writes(prepared):
    root, cfg = prepared["root"], get_config(CONFIG)
    assert Path(cfg["data_root"]).name == ucf101.NAME and cfg["data_prefix"] == "rawframes"
    assert cfg["ann_file_train"] == ucf101.list_name("train", 1, "rawframes")
    assert cfg["ann_file_val"] == cfg["ann_file_test"] == ucf101.list_name("val", 1, "rawframes")
    assert cfg["filename_tmpl"].format(7) == ucf101.FRAME_TMPL.format(7) and cfg["start_index"] == ucf101.START_INDEX
    shapes = {}
    for split in ("train", "val", "test"):
        dataset = build_dataset(cfg, split, data_root=root)
        item = dataset[0]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
        assert int(item["label"]) == 0
    assert shapes == {"train": (3, 3, 224, 224), "val": (3, 3, 256, 256), "test": (75, 3, 256, 256)}


@pytest.fixture()
def annotated(tmp_path, prepared):
    """A root with the replica's annotations and videos (symlinked) to damage."""
    root = tmp_path / "ucf101"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    return root


def _edit(path, transform):
    lines = path.read_bytes().decode().split("\r\n")[:-1]
    path.write_bytes("".join(l + "\r\n" for l in transform(lines)).encode())


@pytest.mark.parametrize("file, transform, message", [
    ("trainlist01.txt", lambda l: l + ["Juggling/v_Juggling_g01_c01.avi 5"],
     r"trainlist01\.txt:49: class folder 'Juggling' is not in classInd\.txt"),
    ("trainlist01.txt", lambda l: l + [l[0]], r"trainlist01\.txt:49: .* is listed twice \(first at line 1\)"),
    ("trainlist02.txt", lambda l: [l[0].replace(" 1", " 2")] + l[1:],
     r"trainlist02\.txt:1: label 2 but classInd\.txt gives ApplyEyeMakeup the id 1"),
    ("testlist03.txt", lambda l: l[:-1] + ["HandstandPushups/v_Hands"[:13]],
     r"testlist03\.txt:24: expected 'Class/v_Class_gXX_cXX\.avi'.*cut short"),
    ("testlist01.txt", lambda l: l + ["Apply Eye Makeup/v_x.avi"],
     r"testlist01\.txt:25: expected .*a name with a space"),
    ("classInd.txt", lambda l: l + ["6 Juggling"], r"classInd\.txt:5: id 6 where 5 was expected"),
    ("classInd.txt", lambda l: l + ["5 Hammering"], r"classInd\.txt:5: class 'Hammering' appears twice"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_line(annotated, file, transform, message):
    _edit(annotated / "annotations" / file, transform)
    with pytest.raises(AnnotationError, match=message) as error:
        ucf101.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("ucf101_*.txt"))  # nothing half-written


def test_missing_annotation_and_hostile_names(annotated, prepared):
    (annotated / "annotations" / "testlist02.txt").unlink()
    with pytest.raises(AnnotationError, match=r"testlist02\.txt: annotation file missing; run prepare.py ucf101 extract"):
        ucf101.build_lists(annotated, workers=1)
    shutil.copy(prepared["root"] / "annotations" / "testlist02.txt", annotated / "annotations")
    # Parentheses and an apostrophe pass through to lines that both readers split correctly.
    os.unlink(annotated / "videos")
    shutil.copytree(prepared["root"] / "videos", annotated / "videos")
    odd = "Rock(n)Roll's"
    (annotated / "videos" / odd).mkdir()
    shutil.copy(prepared["root"] / "videos" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi",
                annotated / "videos" / odd / f"v_{odd}_g01_c01.avi")
    _edit(annotated / "annotations" / "classInd.txt", lambda l: l + [f"5 {odd}"])
    _edit(annotated / "annotations" / "trainlist01.txt", lambda l: l + [f"{odd}/v_{odd}_g01_c01.avi 5"])
    ucf101.build_lists(annotated, workers=1)
    from tsnbook.data import load_annotations
    record = load_annotations(annotated / "ucf101_train_split_1_videos.txt", "", "video")[-1]
    assert (record.path, record.label) == (f"{odd}/v_{odd}_g01_c01.avi", 4)


def test_wrong_root_level_and_a_cut_archive_stop_with_what_to_do(tmp_path, prepared):
    code, printed = prepare_cli(["ucf101", "verify", "--root", str(prepared["root"] / "videos")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed
    code, printed = prepare_cli(["ucf101", "lists", "--root", str(prepared["root"] / "annotations")])
    assert code == 2 and "looks like the annotations folder" in printed
    root = tmp_path / "cut"
    made = ucf101.make_replica(root)
    rar = made["files"][0]
    rar.write_bytes(rar.read_bytes()[:len(rar.read_bytes()) // 2])
    code, printed = prepare_cli(["ucf101", "extract", "--root", str(root), "--workers", "1"])
    assert code == 2 and "UCF101.rar: the archive is damaged or cut short" in printed and "download it again" in printed
    assert not (root / "videos").exists()  # nothing a later step would take for the videos
    code, printed = prepare_cli(["ucf101", "lists", "--root", str(root)])
    assert code == 1 and "not on disk" in printed  # the lists say so instead of shrinking silently


def test_download_from_a_local_server_resumes(tmp_path, prepared):
    with RangeServer(prepared["root"] / "downloads", cut_after=100_000, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 100,000 (of [0-9,]+ )?bytes; run the same command again to resume$"):
            ucf101.download(tmp_path / "u", mirror=server.url, progress=False)
        report = ucf101.download(tmp_path / "u", mirror=server.url, progress=False)
        assert report.actions["downloaded"] == 2 and report.ok
        assert ("UCF101.rar", "bytes=100000-") in server.requests
    for remote in ucf101.FILES:
        assert (tmp_path / "u" / "downloads" / remote.name).read_bytes() == \
               (prepared["root"] / "downloads" / remote.name).read_bytes()


def test_prepare_script_names_unknown_datasets(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "data_scripts" / "prepare.py"), "hmdb5", "all", "--root",
                             str(tmp_path)], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 2 and "unknown dataset 'hmdb5'; valid names: ucf101" in result.stdout
