"""ActivityNet v1.3 on its replica: untrimmed videos, video- and clip-level lists, the frame-count quirk, MMAction2
0.24.1's generate_rawframes_filelist.py as the oracle, the four zoo configs on what the command writes, bad input."""
import json
import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from mma_tools import lines, run_tool, tool_tree
from range_server import RangeServer

from conftest import prepare_cli
from tsnbook.configs import get_config
from tsnbook.course.notebook import zoo_rows
from tsnbook.data import build_dataset
from tsnbook.datasets import activitynet as anet, replica
from tsnbook.datasets.files import AnnotationError, DatasetError
from tsnbook.io import write_video


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py activitynet all` (RGB frames, short side 256): what a user has."""
    root = tmp_path_factory.mktemp("ActivityNet")
    made = anet.make_replica(root, seed=0)
    code, printed = prepare_cli(["activitynet", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def _database(root):
    return json.loads((Path(root) / anet.JSON_NAME).read_text())["database"]


def test_replica_is_untrimmed_with_segments_and_the_real_quirks(prepared):
    root, made = prepared["root"], prepared["made"]
    data = json.loads((root / "downloads" / anet.JSON_NAME).read_text())
    assert data["version"] == "VERSION 1.3" and {"nodeId", "nodeName", "parentId", "parentName"} <= set(data["taxonomy"][0])
    database = data["database"]
    assert {e["subset"] for e in database.values()} == {"training", "validation", "testing"}
    assert [e["annotations"] for e in database.values() if e["subset"] == "testing"] == [[]]
    two = [e for e in database.values() if len({a["label"] for a in e["annotations"]}) > 1]
    assert len(two) == 1 and two[0]["annotations"][0]["label"] == "Shot put"
    assert "Plataform diving" in {a["label"] for e in database.values() for a in e["annotations"]}
    assert anet.CLASSES.index("Plataform diving") == 178 and len(anet.CLASSES) == 200
    seen = set()
    for video in (root / "videos").glob("v_*.mp4"):
        if made["corrupt"] in video.name:
            continue
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            assert {s.type: s.codec_context.name for s in container.streams} == {"video": "h264", "audio": "aac"}
            seen.add((stream.codec_context.width, stream.codec_context.height, round(float(stream.average_rate))))
            assert 20 <= stream.frames / float(stream.average_rate) <= 24  # untrimmed: whole videos
    assert seen == {(1280, 720, 30), (640, 360, 25)}


def test_prepare_all_writes_both_list_kinds_and_finds_the_missing_and_the_corrupt_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    problems = {tuple(line.split("\t")[:3]) for line in report if line.startswith(("error\t", "warning\t"))}
    assert [p for p in problems if p[0] == "error"] == [("error", "unreadable",
                                                         str(root / "videos" / (made["corrupt"] + ".mp4")))]
    assert ("warning", "missing", str(root / "videos" / (made["missing"] + ".mp4"))) in problems
    assert lines(root / "action_name.csv") == ["action", *anet.CLASSES]
    video = lines(root / "anet_train_video.txt")
    assert video == ["v_Tr4ckDiscus 600 114", "v_tw0ClassEsA 600 146"]  # the two-class video: its first label
    clips = lines(root / "anet_train_clip.txt")
    # fps = 600 frames / 24.03 s; the last segment ends at the JSON's duration, past the last frame: clamped
    assert clips == ["v_Tr4ckDiscus 74 262 114", "v_tw0ClassEsA 24 186 146", "v_tw0ClassEsA 299 301 114"]
    assert lines(root / "anet_val_video.txt") == ["v_p00lDiving1 550 178"]
    assert "video list keeps the first segment's label" in prepared["printed"]
    folder = root / "rawframes" / "v_p00lDiving1"
    assert os.path.samefile(folder / "img_00001.jpg", folder / "image_00000.jpg")  # a hard link: no extra disk
    assert not (folder / "image_00550.jpg").exists() and (folder / "img_00550.jpg").exists()


def _mma_lists(tmp_path, root, rgb_only):
    """generate_rawframes_filelist.py as its README runs it (from tools/data/activitynet/, which holds
    action_name.csv), on a data/ActivityNet/ whose rawframes are ``root``'s (only the img_ files if rgb_only)."""
    work = tool_tree(tmp_path / f"mma_{rgb_only}", ["activitynet/generate_rawframes_filelist.py"])
    data = work / "data" / "ActivityNet"
    data.mkdir(parents=True)
    shutil.copy(root / anet.JSON_NAME, data)
    if rgb_only:
        for folder in (root / "rawframes").iterdir():
            (data / "rawframes" / folder.name).mkdir(parents=True)
            for frame in folder.glob("img_*.jpg"):
                os.link(frame, data / "rawframes" / folder.name / frame.name)
    else:
        os.symlink(root / "rawframes", data / "rawframes")
    shutil.copy(root / "action_name.csv", work / "tools" / "data" / "activitynet" / "action_name.csv")
    run_tool(work, work / "tools" / "data" / "activitynet", ["generate_rawframes_filelist.py"])
    return {name: lines(data / name) for name in (f"anet_{s}_{k}.txt" for s in ("train", "val") for k in
                                                   ("video", "clip"))}


def test_lists_equal_mmaction2_on_rgb_only_folders_and_the_frame_count_quirk(tmp_path, prepared):
    root = prepared["root"]
    theirs = _mma_lists(tmp_path, root, rgb_only=True)
    for name, their_lines in theirs.items():
        assert lines(root / name) == their_lines, name
    # The same folders as extract leaves them (img_ + the image_ names of the clip-RGB row): MMAction2 counts every
    # file, so twice the frames, and fps and every clip offset follow; tsnbook's lines do not change.
    counted = _mma_lists(tmp_path, root, rgb_only=False)
    assert counted["anet_val_video.txt"] == ["v_p00lDiving1 1100 178"]
    assert counted["anet_train_clip.txt"][0] == "v_Tr4ckDiscus 149 523 114"


def _short_root(tmp_path):
    """A small ActivityNet-layout root (two 3-s videos, one train one val, matching JSON) for the flow rows:
    TV-L1-like flow of the replica's 20-s videos takes a minute on a CPU."""
    root = tmp_path / "ActivityNet"
    (root / "videos").mkdir(parents=True)
    rng = np.random.default_rng(3)
    database = {}
    for youtube_id, subset, label in (("sh0rtTrain1", "training", "Shot put"), ("sh0rtValid1", "validation",
                                                                                "Discus throw")):
        frames = replica.render_clip(rng, 75, 256, 340, (200, 80, 40), (3, 1))
        write_video(root / "videos" / f"v_{youtube_id}.mp4", frames, fps=25)
        database[youtube_id] = dict(subset=subset, duration=3.0, resolution="340x256", url="",
                                    annotations=[dict(segment=[0.4, 2.2], label=label)])
    (root / "downloads").mkdir()
    (root / "downloads" / anet.JSON_NAME).write_text(json.dumps(dict(version="VERSION 1.3", taxonomy=[],
                                                                     database=database)))
    return root


@pytest.fixture(scope="module")
def flowed(tmp_path_factory):
    root = _short_root(tmp_path_factory.mktemp("anet_flow"))
    extracted = anet.extract(root, workers=1, frames="both")
    return root, extracted, anet.build_lists(root, workers=1)


def test_with_flow_in_the_folders_counts_are_what_every_row_can_read(tmp_path, flowed):
    root, extracted, report = flowed
    assert extracted.ok and report.ok, report.summary()
    folder = root / "rawframes" / "v_sh0rtValid1"
    assert (folder / "flow_x_00000.jpg").is_file() and not (folder / "flow_x_00074.jpg").exists()
    assert lines(root / "anet_val_video.txt") == ["v_sh0rtValid1 74 114"]  # 75 frames, 74 flow pairs
    assert lines(root / "anet_val_clip.txt") == ["v_sh0rtValid1 10 46 114"]  # fps from the 75 RGB frames
    counted = _mma_lists(tmp_path, root, rgb_only=False)
    assert counted["anet_val_video.txt"] == ["v_sh0rtValid1 298 114"]  # 75 img_ + 75 image_ + 2 x 74 flow


@pytest.mark.parametrize("name", [name for name, _ in zoo_rows("ActivityNet")])
def test_every_zoo_config_reads_what_prepare_writes(name, prepared, flowed):
    cfg = get_config(name)
    root = flowed[0] if cfg["source"] == "flow" else prepared["root"]
    assert Path(cfg["data_root"]).name == "ActivityNet" and cfg["data_prefix"] == "rawframes"
    kind = "clip" if cfg.get("with_offset") else "video"
    assert (cfg["ann_file_train"], cfg["ann_file_val"]) == (anet.list_name("train", kind), anet.list_name("val", kind))
    naming = anet.FLOW_NAMING if cfg["source"] == "flow" else anet.CLIP_RGB_NAMING if kind == "clip" else anet.RGB_NAMING
    assert (cfg["filename_tmpl"].format(*(["x"] if cfg["source"] == "flow" else []), 4),
            cfg["start_index"]) == (naming[0].format(*(["x"] if cfg["source"] == "flow" else []), 4), naming[1])
    for split in ("train", "val", "test"):
        item = build_dataset(cfg, split, data_root=root)[0]
        assert "error" not in item, item
        assert item["imgs"].shape[-3] == (10 if cfg["source"] == "flow" else 3)


@pytest.fixture()
def annotated(tmp_path, prepared):
    root = tmp_path / "ActivityNet"
    root.mkdir()
    shutil.copy(prepared["root"] / anet.JSON_NAME, root)
    os.symlink(prepared["root"] / "videos", root / "videos")
    os.symlink(prepared["root"] / "rawframes", root / "rawframes")
    return root


def _edit_json(root, change):
    path = root / anet.JSON_NAME
    data = json.loads(path.read_text())
    change(data["database"])
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change, message", [
    (lambda d: d["p00lDiving1"]["annotations"][0].update(label="Platform diving"),
     r"database\['p00lDiving1'\]\.annotations\[0\]: class 'Platform diving' is not in action_name\.csv "
     r"\(action_name\.csv spells it 'Plataform diving'\)"),
    (lambda d: d["Tr4ckDiscus"]["annotations"][0].update(segment=[11.2]),
     r"database\['Tr4ckDiscus'\]\.annotations\[0\]: segment \[11\.2\] is not \[start, end\]"),
    (lambda d: d["Tr4ckDiscus"].update(duration=0), r"database\['Tr4ckDiscus'\]: duration 0 is not a positive"),
    (lambda d: d["Tr4ckDiscus"].update(subset="train"), r"database\['Tr4ckDiscus'\]: expected an object with subset"),
])
def test_bad_annotations_are_one_line_errors_naming_the_entry(annotated, change, message):
    _edit_json(annotated, change)
    with pytest.raises(AnnotationError, match=message) as error:
        anet.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value) and not list(annotated.glob("anet_*.txt"))


def test_cut_or_duplicated_json_and_a_video_without_annotations(annotated):
    path = annotated / anet.JSON_NAME
    text = path.read_text()
    path.write_text(text[:len(text) // 2])
    with pytest.raises(AnnotationError, match=r"activity_net\.v1-3\.min\.json:1:\d+: not valid JSON \(.*: a file "
                                              r"cut short\?\)"):
        anet.build_lists(annotated, workers=1)
    path.write_text(text.replace('{"Tr4ckDiscus"', '{"Tr4ckDiscus": {}, "Tr4ckDiscus"', 1))
    with pytest.raises(AnnotationError, match=r"'Tr4ckDiscus' appears twice in one object \(duplicate id\)"):
        anet.build_lists(annotated, workers=1)
    path.write_text(text)
    _edit_json(annotated, lambda d: d["Tr4ckDiscus"].update(annotations=[]))
    report = anet.build_lists(annotated, workers=1)
    assert [(p.kind, p.severity) for p in report.problems if "Tr4ckDiscus" in p.path] == [("label", "warning")]
    assert lines(annotated / "anet_train_video.txt") == ["v_tw0ClassEsA 600 146"]


def test_wrong_root_level_and_missing_videos_say_what_to_do(tmp_path, prepared):
    code, printed = prepare_cli(["activitynet", "verify", "--root", str(prepared["root"] / "rawframes")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed
    with RangeServer(prepared["root"] / "downloads", cut_after=500, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 500"):
            anet.download(tmp_path / "a", mirror=server.url, progress=False)
        with pytest.raises(DatasetError, match=r"videos: no videos\. ActivityNet's videos are on YouTube .*request "
                                               r"form at http://activity-net\.org/download\.html .*ROOT/videos/v_<youtube "
                                               r"id>\.mp4"):
            anet.download(tmp_path / "a", mirror=server.url, progress=False)
    assert (tmp_path / "a" / "downloads" / anet.JSON_NAME).read_bytes() == \
        (prepared["root"] / "downloads" / anet.JSON_NAME).read_bytes()
    os.symlink(prepared["root"] / "videos", tmp_path / "a" / "videos")
    assert anet.download(tmp_path / "a", progress=False).ok  # the JSON is kept, the videos found
