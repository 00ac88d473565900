"""Kinetics-400/600/700 on their replicas: DeepMind's CSV variants, CVDF's flat trees, prepare.py's steps, MMAction2
0.24.1's build_file_list.py as the oracle, every zoo config reading what the command writes, bad input."""
import csv
import io
import os
import shutil
import tarfile
from pathlib import Path

import av
import pytest
from mma_tools import lines, run_tool, tool_tree
from range_server import RangeServer

from conftest import prepare_cli
from tsnbook.configs import all_configs, get_config
from tsnbook.data import build_dataset, load_annotations
from tsnbook.datasets import get, kinetics
from tsnbook.datasets.files import AnnotationError, DatasetError

K400, K600, K700 = kinetics.KINETICS400, kinetics.KINETICS600, kinetics.KINETICS700


def _made(tmp_path_factory, version):
    root = tmp_path_factory.mktemp(f"kinetics{version}")
    made = kinetics.VERSIONS[version].make_replica(root, seed=0)
    code, printed = prepare_cli([f"kinetics{version}", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


@pytest.fixture(scope="module")
def k400(tmp_path_factory):
    """The K400 replica after `prepare.py kinetics400 all`, then RGB frames at 340x256 (the main row's)."""
    state = _made(tmp_path_factory, 400)
    state["frames"] = K400.extract(state["root"], workers=1, frames="rgb", resolution="340x256")
    state["lists"] = K400.build_lists(state["root"], workers=1)
    return state


@pytest.fixture(scope="module")
def k600(tmp_path_factory):
    return _made(tmp_path_factory, 600)


@pytest.fixture(scope="module")
def k700(tmp_path_factory):
    return _made(tmp_path_factory, 700)


def _csv(root, subset):
    return list(csv.reader(io.StringIO((Path(root) / "annotations" / kinetics.CSV_NAMES[subset]).read_text())))


def test_registry_serves_three_versions_from_one_module():
    assert [get(f"kinetics{v}") for v in (400, 600, 700)] == [K400, K600, K700]
    assert (K400.NAME, K600.NUM_CLASSES, K700.list_name("val", "videos")) == \
        ("kinetics400", 600, "kinetics700_val_list_videos.txt")
    assert K400.list_name("train", "rawframes", "_320p") == "kinetics400_train_list_rawframes_320p.txt"
    assert K400.flow_aliases("train", "_320p") == ["kinetics_flow_train_list.txt"] and not K600.flow_aliases("train",
                                                                                                              "_320p")


def test_replica_has_the_csv_variants_cvdf_trees_and_real_codecs(k400, k600):
    root, made = k400["root"], k400["made"]
    with tarfile.open(root / "downloads" / "kinetics400.tar.gz") as tf:
        assert sorted(tf.getnames()) == sorted(f"kinetics400/{n}.{e}" for n in ("train", "validate", "test")
                                               for e in ("csv", "json"))
    assert _csv(root, "train")[0] == ["label", "youtube_id", "time_start", "time_end", "split", "is_cc"]  # K400 1st
    assert _csv(root, "val")[0] == ["label", "youtube_id", "time_start", "time_end", "split"]
    assert _csv(root, "test")[0][0] == "label"  # DeepMind's K400 test CSV has labels
    assert _csv(k600["root"], "test")[0] == ["youtube_id", "time_start", "time_end", "split"]  # K600's has none
    labels = {row[0] for row in _csv(root, "train")[1:]}
    assert {"massaging person's head", "passing American football (in game)", "dying hair"} <= labels
    with tarfile.open(root / "downloads" / "cvdf" / "train" / "part_0.tar.gz") as tf:
        assert all("/" not in name and name.endswith(".mp4") for name in tf.getnames())  # CVDF: flat
    assert (root / "downloads" / "cvdf" / "train" / "k400_train_path.txt").read_text().startswith(
        "https://s3.amazonaws.com/kinetics/400/train/part_0.tar.gz\n")
    sizes, rates = set(), set()
    for video in (root / "videos_train").glob("*/*.mp4"):
        if made["corrupt"] in str(video):
            continue
        with av.open(str(video)) as container:
            streams = {s.type: s.codec_context.name for s in container.streams}
            stream = container.streams.video[0]
            sizes.add((stream.codec_context.width, stream.codec_context.height))
            rates.add(round(float(stream.average_rate), 2))
        assert streams == {"video": "h264", "audio": "aac"}
    assert sizes == {(640, 360), (480, 360), (360, 640)} and rates == {25.0, 29.97}


def test_replica_is_deterministic_from_its_seed(tmp_path, k700):
    again = K700.make_replica(tmp_path / "a", seed=0)
    for made, reference in zip(again["files"], k700["made"]["files"]):
        assert made.read_bytes() == reference.read_bytes(), made.name


def test_prepare_all_arranges_cvdf_and_finds_the_missing_and_the_corrupt_video(k400):
    root, made = k400["root"], k400["made"]
    assert k400["code"] == 1, k400["printed"]  # the corrupt video: training should not start
    assert "videos taken from CVDF's replacements 1" in k400["printed"]
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    problems = {tuple(line.split("\t")[:3]) for line in report if line.startswith(("error\t", "warning\t"))}
    corrupt = root / "videos_train" / (made["corrupt"] + ".mp4")
    assert ("error", "unreadable", str(corrupt)) in problems
    assert ("warning", "missing", str(root / "videos_train" / (made["missing"] + ".mp4"))) in problems
    assert [p for p in problems if p[0] == "error"] == [("error", "unreadable", str(corrupt))]
    with av.open(str(root / "videos_train" / (made["replaced"] + ".mp4"))) as container:  # CVDF's good copy
        assert container.streams.video[0].frames > 0
    train = lines(root / "kinetics400_train_list_videos.txt")
    assert len(train) == 39 and not any(made["missing"] in line for line in train)  # 40 rows, one missing
    assert lines(root / "label_map_k400.txt") == list(K400.REPLICA_CLASSES)
    assert any(line.startswith("massaging_person's_head/") and line.endswith(" 2") for line in train)
    assert any(line.startswith("passing_American_football_(in_game)/") and line.endswith(" 3") for line in train)
    record = load_annotations(root / "kinetics400_train_list_videos.txt", root / "videos_train", "video")[0]
    assert Path(record.path).is_file()
    assert "| train videos | 246,534 | 240,436 | 40 | 38 | 39 |" in k400["printed"]  # CSV, MMAction2, good, listed
    frames = lines(root / "kinetics400_train_list_rawframes.txt")  # no frames for the corrupt video
    assert len(frames) == 38 and not any(made["corrupt"] in line for line in frames)
    folder, count, _ = frames[0].split()
    assert int(count) == len(os.listdir(root / "rawframes_train" / folder))


def _mma_lists(tmp_path, root, dataset, kind, check=True):
    """build_file_list.py as kinetics/generate_{videos,rawframes}_filelist.sh run it (without --shuffle)."""
    work = tool_tree(tmp_path / f"mma_{dataset}_{kind}", ["build_file_list.py", "parse_file_list.py",
                                                          "anno_txt2json.py"])
    (work / "data").mkdir(exist_ok=True)
    os.symlink(root, work / "data" / dataset)
    (work / "out" / dataset).mkdir(parents=True)
    results = {}
    for subset in ("train", "val"):
        result = run_tool(work, work, ["tools/data/build_file_list.py", dataset, f"data/{dataset}/{kind}_{subset}/",
                                       "--level", "2", "--format", kind, "--num-split", "1", "--subset", subset,
                                       "--out-root-path", "out/"], check=check)
        results[subset] = result
    return {p.name: lines(p) for p in (work / "out" / dataset).iterdir()}, results


def test_lists_equal_mmaction2_build_file_list(tmp_path, k400):
    root = k400["root"]
    for kind in ("videos", "rawframes"):
        theirs, results = _mma_lists(tmp_path, root, "kinetics400", kind)
        assert sorted(theirs) == [f"kinetics400_{s}_list_{kind}.txt" for s in ("train", "val")]
        for name, their_lines in theirs.items():
            assert lines(root / name) == their_lines, name
        # Where MMAction2 is wrong: the missing video is left out there too, but without a word.
        assert k400["made"]["missing"].split("/")[1] not in results["train"].stdout + results["train"].stderr


def test_label_less_test_csvs_stop_mmaction2_not_tsnbook(tmp_path, k600):
    _, results = _mma_lists(tmp_path, k600["root"], "kinetics600", "videos", check=False)
    assert results["train"].returncode != 0  # even the train list: it always parses the test CSV
    assert "could not convert string to float: 'test'" in results["train"].stderr
    report = K600.build_lists(k600["root"], workers=1)
    assert report.counts["test (not listed)"]["annotated"] == 5 and report.counts["train videos"]["written"] == 14


def test_renamed_classes_change_labels_between_versions(k400, k600, k700):
    maps = {v: lines(s["root"] / f"label_map_k{v}.txt") for v, s in ((400, k400), (600, k600), (700, k700))}
    assert maps[400][1] == "dying hair" and maps[600][1] == maps[700][1] == "dyeing hair"
    assert kinetics.RENAMED_IN_600["dying hair"] == "dyeing hair"
    # K600 spells "american" in lower case: sorted() puts it after "American", and K700 spells it "American" again
    assert maps[600][3:] == ["passing American football (in game)", "passing american football (not in game)"]
    assert maps[700][4] == "passing American football (not in game)"
    assert kinetics.RENAMED_IN_600["passing American football (not in game)"] == maps[600][4]
    k600_line = lines(k600["root"] / "kinetics600_val_list_videos.txt")[-1]
    assert k600_line.startswith("passing_american_football_(not_in_game)/") and k600_line.endswith(" 4")


def test_crawled_class_folders_with_spaces_and_a_flat_cvdf_tree_are_arranged(tmp_path, k700):
    root = tmp_path / "k700"
    shutil.copytree(k700["root"] / "annotations", root / "annotations")
    for subset in ("train", "val"):
        for video in (k700["root"] / f"videos_{subset}").glob("*/*.mp4"):
            label = video.parent.name.replace("_", " ") if subset == "train" else ""
            target = root / f"videos_{subset}" / label / video.name  # train: MMAction2's crawl; val: flat (CVDF)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(video, target)
    report = K700.verify(root, workers=1)
    spaces = [p for p in report.errors if p.kind == "stray" and "spaces" in p.reason]
    assert len(spaces) == 4 and "dyeing hair" in {Path(p.path).name for p in spaces}  # abseiling has none
    assert any(p.kind == "stray" and p.severity == "warning" and "flat CVDF" in p.reason for p in report.problems)
    report = K700.extract(root, workers=1)
    assert report.actions["class folders renamed (spaces -> _)"] == 4 and report.actions["videos arranged"] == 5
    K700.build_lists(root, workers=1)
    for subset in ("train", "val"):
        assert lines(root / K700.list_name(subset, "videos")) == \
            lines(k700["root"] / K700.list_name(subset, "videos"))


@pytest.fixture(scope="module")
def framed(tmp_path_factory, k400):
    """A K400 copy holding two train and one val video with the 320p RGB + flow and 256p frames the other rows
    read (a few videos, as the flow costs seconds per video on a CPU)."""
    root = tmp_path_factory.mktemp("k400_frames")
    shutil.copytree(k400["root"] / "annotations", root / "annotations")
    keep = {"train": k400["made"]["videos"]["train"][:2], "val": k400["made"]["videos"]["val"][:1]}
    for subset, keys in keep.items():
        for key in keys:
            (root / f"videos_{subset}" / key).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(k400["root"] / f"videos_{subset}" / (key + ".mp4"), root / f"videos_{subset}" / (key + ".mp4"))
    K400.extract(root, workers=1, frames="both", resolution="short320")
    K400.extract(root, workers=1, frames="rgb", resolution="short256")
    return root, K400.build_lists(root, workers=1)


def test_flow_lists_have_the_names_the_flow_configs_read(framed):
    root, report = framed
    for subset in ("train", "val"):
        assert lines(root / f"kinetics400_flow_{subset}_list_320p.txt") == lines(root / f"kinetics_flow_{subset}_list.txt")
    folder, flows, label = lines(root / "kinetics400_flow_val_list_320p.txt")[0].split()
    rgb = next(l for l in lines(root / "kinetics400_val_list_rawframes_320p.txt") if l.startswith(folder))
    assert int(flows) == int(rgb.split()[1]) - 1  # N frames, N - 1 flow pairs
    assert (root / "rawframes_val_320p" / folder / "x_00001.jpg").is_file()
    assert not any(p.severity == "error" for p in report.problems if p.kind not in ("missing", "count"))


KINETICS_ROWS = [name for name, cfg in all_configs().items() if not name.endswith("_tiny") and
                 (cfg.get("zoo") or {}).get("dataset", "").startswith("Kinetics") and "checkpoint" in cfg["zoo"]
                 ]


@pytest.mark.parametrize("name", KINETICS_ROWS)
def test_every_zoo_config_reads_what_prepare_writes(name, k400, k600, k700, framed):
    cfg = get_config(name)
    version = cfg["num_classes"]
    module = kinetics.VERSIONS[version]
    uses_partial = cfg["source"] == "flow" or cfg["data_prefix"].endswith(("_320p", "_256p"))
    root = framed[0] if uses_partial else {400: k400, 600: k600, 700: k700}[version]["root"]
    assert Path(cfg["data_root"]).name == module.NAME
    kind = {"video": "videos", "rawframes": "rawframes", "flow": "flow"}[cfg["source"]]
    suffix = cfg["data_prefix"][len("rawframes_train"):] if kind != "videos" else ""
    assert cfg["data_prefix"] == ("videos_train" if kind == "videos" else f"rawframes_train{suffix}")
    assert cfg["data_prefix_val"] == cfg["data_prefix"].replace("train", "val")
    names = [module.list_name(s, kind, suffix) for s in ("train", "val")]
    if kind == "flow":
        names = [[module.list_name(s, "flow", suffix)] + module.flow_aliases(s, suffix) for s in ("train", "val")]
        assert cfg["ann_file_train"] in names[0] and cfg["ann_file_val"] in names[1]
        assert cfg["filename_tmpl"] == kinetics.FLOW_TMPL and cfg["start_index"] == 1
    else:
        assert [cfg["ann_file_train"], cfg["ann_file_val"]] == names
    assert cfg["ann_file_test"] == cfg["ann_file_val"]
    if kind == "rawframes":
        assert cfg["filename_tmpl"].format(3) == kinetics.FRAME_TMPL.format(3) and cfg["start_index"] == 1
    for split in ("train", "val", "test"):
        dataset = build_dataset(cfg, split, data_root=root)
        item = dataset[0]
        assert "error" not in item, item
        channels = 2 * cfg["clip_len"] if kind == "flow" else 3
        assert item["imgs"].shape[-3] == channels and item["imgs"].shape[-1] in (224, 256)


@pytest.fixture()
def annotated(tmp_path, k400):
    root = tmp_path / "kinetics400"
    shutil.copytree(k400["root"] / "annotations", root / "annotations")
    os.symlink(k400["root"] / "videos_train", root / "videos_train")
    os.symlink(k400["root"] / "videos_val", root / "videos_val")
    return root


def _edit(path, transform):
    text = path.read_text().splitlines()
    path.write_text("".join(line + "\n" for line in transform(text)))


@pytest.mark.parametrize("subset, transform, message", [
    ("val", lambda l: l + ["juggling fire,aaaaaaaaaaa,1,11,val"],
     r"kinetics_val\.csv:32: class 'juggling fire' is not in kinetics_train\.csv"),
    ("train", lambda l: l + [l[1]], r"kinetics_train\.csv:42: .* is listed twice \(first at line 2\)"),
    ("train", lambda l: l[:-1] + [l[-1][:20]], r"kinetics_train\.csv:41: \d fields where the header has 6 .*cut short"),
    ("val", lambda l: l + ["zumba,bbbbbbbbbbb,ten,20,val"],
     r"kinetics_val\.csv:32: time_start/time_end must be numbers"),
    ("val", lambda l: ["youtube_id,time_start,time_end,split"] + [r.split(",", 1)[1] for r in l[1:]],
     r"kinetics_val\.csv:1: the val CSV has no label column"),
    ("train", lambda l: ["label;youtube_id;time_start;time_end"] + l[1:], r"kinetics_train\.csv:1: header .* lacks"),
    ("val", lambda l: [r.replace("\n", "") + "\r" for r in l], None),  # CRLF lines are fine
])
def test_bad_csvs_are_one_line_errors_with_file_and_line(annotated, subset, transform, message):
    _edit(annotated / "annotations" / kinetics.CSV_NAMES[subset], transform)
    if message is None:
        assert K400.build_lists(annotated, workers=1).counts["val videos"]["written"] == 30
        return
    with pytest.raises(AnnotationError, match=message) as error:
        K400.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("kinetics400_*.txt"))  # nothing half-written


def test_missing_csv_wrong_root_and_a_cut_tarball_stop_with_what_to_do(tmp_path, annotated, k400):
    (annotated / "annotations" / "kinetics_test.csv").unlink()
    with pytest.raises(AnnotationError, match=r"kinetics_test\.csv: annotation file missing; run prepare.py "
                                              r"kinetics400 extract"):
        K400.build_lists(annotated, workers=1)
    code, printed = prepare_cli(["kinetics400", "verify", "--root", str(k400["root"] / "videos_train")])
    assert code == 2 and f"pass --root {k400['root']} instead" in printed
    code, printed = prepare_cli(["kinetics400", "lists", "--root", str(k400["root"] / "annotations")])
    assert code == 2 and "looks like the annotations folder" in printed
    root = tmp_path / "cut"
    shutil.copytree(k400["root"] / "downloads", root / "downloads", ignore=shutil.ignore_patterns("extracted", "*.extracted"))
    tarball = root / "downloads" / K400.FILES[0].name
    tarball.write_bytes(tarball.read_bytes()[:len(tarball.read_bytes()) // 2])
    code, printed = prepare_cli(["kinetics400", "extract", "--root", str(root), "--workers", "1"])
    assert code == 2 and "kinetics400.tar.gz: the archive is damaged or cut short" in printed
    assert not (root / "annotations").exists() and not (root / "videos_train").exists()
    code, printed = prepare_cli(["kinetics400", "extract", "--root", str(root), "--frames", "rgb", "--resolution",
                              "original"])
    assert code == 2 and "--resolution original: Kinetics' frame rows read 340x256" in printed


def test_download_from_a_local_server_resumes(tmp_path, k400):
    downloads = k400["root"] / "downloads"
    with RangeServer(downloads, cut_after=1000, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 1,000 (of [0-9,]+ )?bytes; run the same command "
                                               "again to resume$"):
            K400.download(tmp_path / "k", mirror=server.url, progress=False)
        report = K400.download(tmp_path / "k", mirror=server.url, progress=False)
        assert report.ok and report.actions["downloaded"] == 1 + 2 + 3 + 1  # CSVs, 2 path lists, 3 parts, fixes
        assert ("kinetics400.tar.gz", "bytes=1000-") in server.requests
        assert ("cvdf/train/part_1.tar.gz", None) in server.requests  # the URL in CVDF's list, on the mirror
    for path in downloads.rglob("*.gz"):
        if "extracted" not in str(path):
            assert (tmp_path / "k" / "downloads" / path.relative_to(downloads)).read_bytes() == path.read_bytes()
