"""HVU on its replica: six tag categories, per-category JSON lists, items without a category, deciseconds in the
names, MMAction2 0.24.1's parse_tag_list / generate_file_list / generate_sub_file_list as the oracle, the six zoo
configs on what the command writes, bad input."""
import json
import os
import shutil
import zipfile
from pathlib import Path

import av
import pytest
from mma_tools import run_tool, tool_tree
from range_server import RangeServer

from conftest import prepare_cli
from tsnbook.configs import get_config
from tsnbook.course.notebook import zoo_rows
from tsnbook.data import build_dataset, load_annotations
from tsnbook.datasets import hvu
from tsnbook.datasets.files import AnnotationError, DatasetError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("hvu")
    made = hvu.make_replica(root, seed=0)
    code, printed = prepare_cli(["hvu", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def _json(path):
    return json.loads(Path(path).read_text())


def test_replica_has_the_real_files_tags_and_names(tmp_path, prepared):
    root, made = prepared["root"], prepared["made"]
    with zipfile.ZipFile(root / "downloads" / "HVU_Train_V1.0.zip") as zf:
        assert zf.namelist() == ["HVU_Train_V1.0.csv"]
        rows = zf.read("HVU_Train_V1.0.csv").decode().splitlines()
    assert rows[0] == "Tags,youtube_id,time_start,time_end" and "|" in rows[1]
    assert rows[3].endswith(",-0u1Vb-oC3k,12.5,22.5")
    assert (root / "videos_train" / "-0u1Vb-oC3k_000125_000225.mp4").is_file()  # deciseconds
    tags = (root / "downloads" / "HVU_Tags_Categories_V1.0.csv").read_text().splitlines()
    assert tags[0] == "Tag,Category" and tags[1:] != sorted(tags[1:])
    assert {line.split(",")[1] for line in tags[1:]} == set(hvu.CATEGORIES)
    assert _json(root / "annotations" / hvu.TAGS_JSON) == {c: sorted(t) for c, t in hvu.REPLICA_TAGS.items()}
    with av.open(str(root / "videos_val" / (made["videos"]["val"][0] + ".mp4"))) as container:
        assert {s.type: s.codec_context.name for s in container.streams} == {"video": "h264", "audio": "aac"}
        assert container.streams.video[0].frames == 250  # 10 s at 25 fps
    again = hvu.make_replica(tmp_path / "again", seed=0)
    for made_file, reference in zip(again["files"], made["files"]):
        assert made_file.read_bytes() == reference.read_bytes(), made_file.name


def test_prepare_all_writes_per_category_lists_and_finds_the_missing_and_the_corrupt_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    problems = {tuple(line.split("\t")[:3]) for line in report if line.startswith(("error\t", "warning\t"))}
    assert [p for p in problems if p[0] == "error"] == [("error", "unreadable",
                                                         str(root / "videos_train" / (made["corrupt"] + ".mp4")))]
    assert ("warning", "missing", str(root / "videos_train" / (made["missing"] + ".mp4"))) in problems
    everything = _json(root / "hvu_train_video.json")
    assert len(everything) == 6 and all(isinstance(item["label"], dict) for item in everything)
    assert everything[0] == {"filename": "OLpWTpTC4P8_000570_000670.mp4",
                             "label": {"scene": [1], "object": [0], "action": [0], "concept": [1, 2], "event": [0],
                                       "attribute": [1]}}
    event = _json(root / "hvu_event_train.json")
    assert made["no_event"] + ".mp4" not in {item["filename"] for item in event} and len(event) == 5
    assert "1 clip(s) have no event tag: left out of hvu_event_train.json" in prepared["printed"]
    records = load_annotations(root / "hvu_action_train.json", root / "videos_train", "video", multi_label=True)
    assert [r.label for r in records][:2] == [[0], [2]] and Path(records[0].path).is_file()


def test_lists_equal_mmaction2s_tools_where_they_are_right(tmp_path, prepared):
    root = prepared["root"]
    work = tool_tree(tmp_path / "mma", ["hvu/parse_tag_list.py", "hvu/generate_file_list.py",
                                        "hvu/generate_sub_file_list.py"])
    data = work / "data" / "hvu"
    data.mkdir(parents=True)
    for name in ("annotations", "videos_train", "videos_val"):
        os.symlink(root / name, data / name)
    cwd = work / "tools" / "data" / "hvu"
    run_tool(work, cwd, ["parse_tag_list.py"])
    assert _json(cwd / "hvu_tags.json") == _json(root / "annotations" / hvu.TAGS_JSON)
    for subset in hvu.SUBSETS:
        run_tool(work, cwd, ["generate_file_list.py", "--input_csv", f"../../../data/hvu/annotations/hvu_{subset}.csv",
                             "--src_dir", f"../../../data/hvu/videos_{subset}", "--output",
                             f"../../../data/hvu/hvu_{subset}_video.json", "--mode", "videos"])
        assert _json(data / f"hvu_{subset}_video.json") == _json(root / hvu.list_name(subset))
        for category in hvu.CATEGORIES:
            run_tool(work, cwd, ["generate_sub_file_list.py", f"../../../data/hvu/hvu_{subset}_video.json", category])
            theirs = _json(data / f"hvu_{category}_{subset}_video.json")  # the tool's name for it
            ours = _json(root / hvu.list_name(subset, category))  # the configs' name
            assert [item for item in theirs if isinstance(item["label"], list)] == ours, (subset, category)
            # Where MMAction2 is wrong: it dumps its input, so clips without the category keep the tag dict
            without = [item["filename"] for item in theirs if isinstance(item["label"], dict)]
            assert len(theirs) == len(ours) + len(without)
            if subset == "train" and category == "event":
                assert without == [prepared["made"]["no_event"] + ".mp4"]


def test_frames_list_equals_mmaction2s_frames_mode(tmp_path, prepared):
    root = tmp_path / "hvu"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    for subset in hvu.SUBSETS:
        (root / f"videos_{subset}").mkdir()
        for stem in prepared["made"]["videos"][subset][:1]:
            os.symlink(prepared["root"] / f"videos_{subset}" / (stem + ".mp4"), root / f"videos_{subset}" / (stem + ".mp4"))
    assert hvu.extract(root, workers=1, frames="rgb").ok
    hvu.build_lists(root, workers=1)
    work = tool_tree(tmp_path / "mma", ["hvu/generate_file_list.py"])
    cwd = work / "tools" / "data" / "hvu"
    shutil.copy(root / "annotations" / hvu.TAGS_JSON, cwd)
    for subset in hvu.SUBSETS:
        output = tmp_path / f"frames_{subset}.json"
        run_tool(work, cwd, ["generate_file_list.py", "--input_csv", root / "annotations" / f"hvu_{subset}.csv",
                             "--src_dir", root / f"rawframes_{subset}", "--output", output, "--mode", "frames"])
        theirs = [dict(item, frame_dir=Path(item["frame_dir"]).name) for item in _json(output)]
        assert theirs == _json(root / hvu.list_name(subset, kind="rawframes")) and theirs[0]["total_frames"] == 250


@pytest.mark.parametrize("name", [name for name, _ in zoo_rows("HVU")])
def test_every_zoo_config_reads_what_prepare_writes(name, prepared):
    cfg = get_config(name)
    category = cfg["zoo"]["tag_category"]
    assert Path(cfg["data_root"]).name == hvu.NAME and (cfg["data_prefix"], cfg["data_prefix_val"]) == \
        ("videos_train", "videos_val")
    assert (cfg["ann_file_train"], cfg["ann_file_val"], cfg["ann_file_test"]) == \
        (hvu.list_name("train", category), hvu.list_name("val", category), hvu.list_name("val", category))
    assert cfg["num_classes"] == hvu.NUM_TAGS[category] and cfg["multi_label"]
    for split in ("train", "val", "test"):
        item = build_dataset(cfg, split, data_root=prepared["root"])[0]
        assert "error" not in item, item
        assert item["label"].shape == (hvu.NUM_TAGS[category],) and item["label"].sum() >= 1


@pytest.fixture()
def annotated(tmp_path, prepared):
    root = tmp_path / "hvu"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    for subset in hvu.SUBSETS:
        os.symlink(prepared["root"] / f"videos_{subset}", root / f"videos_{subset}")
    return root


def _edit(path, transform):
    path.write_text("".join(line + "\n" for line in transform(path.read_text().splitlines())))


@pytest.mark.parametrize("file, transform, message", [
    ("hvu_train.csv", lambda l: l + ["stadium|juggling_fire,aaaaaaaaaaa,1,11"],
     r"hvu_train\.csv:9: tag 'juggling_fire' is not in hvu_categories\.csv"),
    ("hvu_train.csv", lambda l: l + [l[2]], r"hvu_train\.csv:9: .* is listed twice \(first at line 3\)"),
    ("hvu_val.csv", lambda l: l[:-1] + [l[-1].rsplit(",", 2)[0]], r"hvu_val\.csv:3: expected 'tag\|tag\|\.\.\.,"
                                                                  r"youtube_id.*cut short"),
    ("hvu_val.csv", lambda l: l + ["stage,bbbbbbbbbbb,ten,20"], r"hvu_val\.csv:4: time_start/time_end must be numbers"),
    ("hvu_val.csv", lambda l: ["Tags;youtube_id"] + l[1:], r"hvu_val\.csv:1: expected the header"),
    ("hvu_categories.csv", lambda l: l + ["stage,venue"], r"hvu_categories\.csv:19: expected 'tag,category' with a "
                                                          r"category of"),
    ("hvu_categories.csv", lambda l: l + [l[1]], r"hvu_categories\.csv:19: tag .* listed twice \(first at line 2\)"),
    ("hvu_train.csv", lambda l: [line + "\r" for line in l], None),  # CRLF lines are fine
])
def test_bad_annotations_are_one_line_errors_with_file_and_line(annotated, file, transform, message):
    _edit(annotated / "annotations" / file, transform)
    if message is None:
        assert hvu.build_lists(annotated, workers=1).counts["train action"]["written"] == 6
        return
    with pytest.raises(AnnotationError, match=message) as error:
        hvu.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value) and not list(annotated.glob("hvu_*.json"))


def test_wrong_root_a_cut_zip_and_missing_videos_say_what_to_do(tmp_path, prepared):
    code, printed = prepare_cli(["hvu", "lists", "--root", str(prepared["root"] / "annotations")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed
    root = tmp_path / "cut"
    shutil.copytree(prepared["root"] / "downloads", root / "downloads")
    os.symlink(prepared["root"] / "videos_train", root / "videos_train")
    archive = root / "downloads" / "HVU_Val_V1.0.zip"
    archive.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    code, printed = prepare_cli(["hvu", "extract", "--root", str(root)])
    assert code == 2 and "HVU_Val_V1.0.zip: " in printed and "download it again" in printed
    assert not (root / "annotations").exists()
    with RangeServer(prepared["root"] / "downloads", cut_after=100, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 100"):
            hvu.download(tmp_path / "h", mirror=server.url, progress=False)
        with pytest.raises(DatasetError, match=r"videos_train: no videos\. HVU's videos are on YouTube .*request form "
                                               r"https://forms\.gle/8qpoDaarjd7WNn7E7"):
            hvu.download(tmp_path / "h", mirror=server.url, progress=False)
    for remote in hvu.FILES:
        assert (tmp_path / "h" / "downloads" / remote.name).read_bytes() == \
            (prepared["root"] / "downloads" / remote.name).read_bytes()
