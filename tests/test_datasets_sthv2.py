"""Something-Something V2 on its replica: VP9 WebM in a 20-part tarball, JSON with string ids and bracketed
templates, prepare.py's steps, MMAction2 0.24.1's lists as the oracle, the zoo configs reading what the command
writes, the left/right label map against MMAction2 1.x's, and bad input failing with file and item."""
import json
import os
import re
import shutil
import tarfile
from pathlib import Path

import av
import numpy as np
import pytest
from mma_tools import build_file_list, tools_folder
from oracle import ORACLE, missing

from conftest import file_lines, prepare_cli
from tsnbook.configs import get_config
from tsnbook.course.notebook import zoo_rows
from tsnbook.data import build_dataset
from tsnbook.datasets import something, sthv2
from tsnbook.datasets.files import AnnotationError
from tsnbook.transforms import Flip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("sthv2")
    made = sthv2.make_replica(root, seed=0)
    code, printed = prepare_cli(["sthv2", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


def test_replica_has_the_real_layout_and_quirks(prepared):
    root = prepared["root"]
    parts = sorted((root / "downloads").glob("20bn-something-something-v2-??"))
    assert len(parts) == 20 and parts[-1].name.endswith("-19")
    joined = root / "joined.tgz"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(joined) as tf:
        assert "20bn-something-something-v2/78687.webm" in tf.getnames()
    joined.unlink()
    labels = json.loads((root / "annotations" / sthv2.ANNOTATIONS["labels"]).read_text())
    assert list(labels) == sorted(labels) and set(map(type, labels.values())) == {str}
    first = json.loads((root / "annotations" / sthv2.ANNOTATIONS["train"]).read_text())[0]
    assert first == {"id": "78687", "label": "pushing a pen from left to right",
                     "template": "Pushing [something] from left to right", "placeholders": ["a pen"]}
    assert json.loads((root / "annotations" / sthv2.ANNOTATIONS["test"]).read_text())[0] == {"id": "220847"}
    widths = set()
    for video in sorted((root / "videos").iterdir()):
        if video.stem == sthv2.REPLICA_CORRUPT:
            continue
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            assert (container.format.name, stream.codec_context.name) == ("matroska,webm", "vp9")
            assert stream.codec_context.height == 240 and float(stream.average_rate) == 12.0
            assert 2.0 <= container.duration / 1e6 <= 4.0
            widths.add(stream.codec_context.width)
    assert widths == {320, 427} and len(os.listdir(root / "videos")) == 73  # 74 listed, one missing


def test_replica_is_deterministic_from_its_seed(tmp_path, prepared):
    first = sthv2.make_replica(tmp_path / "a", seed=0)
    for made, reference in zip(first["files"], prepared["made"]["files"]):
        assert made.read_bytes() == reference.read_bytes(), made.name
    other = sthv2.make_replica(tmp_path / "b", seed=1)
    tarball = [b"".join(p.read_bytes() for p in made["files"][:20]) for made in (first, other)]
    assert tarball[0] != tarball[1]


def test_prepare_all_writes_the_lists_and_finds_the_missing_and_the_cut_video(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]
    report = file_lines(root / "prepare_verify_report.txt")
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    assert errors == {("missing", str(root / "videos" / f"{made['missing']}.webm")),
                      ("truncated", str(root / "videos" / f"{made['corrupt']}.webm"))}
    videos = file_lines(root / "sthv2_train_list_videos.txt")
    assert videos[:3] == ["78687.webm 2", "104.webm 3", "42.webm 2"] and len(videos) == 39  # 40, one missing
    frames = file_lines(root / "sthv2_train_list_rawframes.txt")
    assert [line.split()[0] for line in frames[:3]] == ["78687", "104", videos[3].split(".")[0]] and len(frames) == 38
    folder, count, label = frames[0].split()
    assert int(count) == len(os.listdir(root / "rawframes" / folder)) and label == "2"
    assert sorted(os.listdir(root / "rawframes" / folder))[0] == "img_00001.jpg"
    assert "| test (no labels) | 27,157 | 2 | 2 |  |" in prepared["printed"]


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["sthv2", "extract", "--root", str(prepared["root"]), "--workers", "1"])
    assert code == 1  # the cut video still cannot be extracted
    assert "annotations skipped (present) 1" in printed and "videos skipped (present) 1" in printed
    assert "frames skipped (done) 72" in printed and "frames extracted" not in printed


def test_lists_equal_mmaction2_build_file_list(tmp_path, prepared):
    root = prepared["root"]
    work = tools_folder(tmp_path / "mma")
    (work / "data" / "sthv2").mkdir()
    for folder in ("annotations", "videos", "rawframes"):
        os.symlink(root / folder, work / "data" / "sthv2" / folder)
    for kind in ("videos", "rawframes"):
        for subset in ("train", "val"):
            theirs, printed, _ = build_file_list(work, "sthv2", f"data/sthv2/{kind}/", "--num-split", "1", "--level",
                                                 "1", "--subset", subset, "--format", kind)
            name = sthv2.list_name(subset, kind)
            assert list(theirs) == [name] and file_lines(root / name) == theirs[name], name
            assert prepared["made"]["missing"] not in printed


@pytest.mark.parametrize("name", [name for name, _ in zoo_rows("Something-Something V2")])
def test_the_zoo_configs_read_what_prepare_writes(prepared, name):
    root, cfg = prepared["root"], get_config(name)
    assert Path(cfg["data_root"]).name == sthv2.NAME and cfg["data_prefix"] == "rawframes"
    assert (cfg["ann_file_train"], cfg["ann_file_val"], cfg["ann_file_test"]) == (
        sthv2.list_name("train", "rawframes"), sthv2.list_name("val", "rawframes"), sthv2.list_name("val", "rawframes"))
    assert cfg["filename_tmpl"].format(7) == sthv2.FRAME_TMPL.format(7) and cfg["start_index"] == sthv2.START_INDEX
    shapes = {}
    for split in ("train", "val", "test"):
        item = build_dataset(cfg, split, data_root=root)[0]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
    k = cfg["num_segments"]
    assert shapes == {"train": (k, 3, 224, 224), "val": (k, 3, 224, 224), "test": (3 * k, 3, 256, 256)}


def test_the_left_right_label_map_is_mmaction2s_on_the_real_ids(prepared):
    assert sthv2.flip_label_map(prepared["root"]) == {2: 3, 3: 2}  # not up and down
    config = ORACLE / "site" / "mmaction" / ".mim" / "configs" / "recognition" / "tsn" / \
        "tsn_imagenet-pretrained-r50_8xb32-1x1x8-50e_sthv2-rgb.py"
    if not config.is_file():
        missing("MMAction2 1.2.0 oracle")
    theirs = eval(re.search(r"sthv2_flip_label_map = (\{.*\})", config.read_text()).group(1))
    # The six left/right classes at their places in the real, alphabetical labels file; the others unnamed.
    classes = [f"class {i}" for i in range(sthv2.NUM_CLASSES)]
    for label, name in {86: "Pulling something from left to right", 87: "Pulling something from right to left",
                        93: "Pushing something from left to right", 94: "Pushing something from right to left",
                        166: "Turning the camera left while filming something",
                        167: "Turning the camera right while filming something"}.items():
        classes[label] = name
    assert something.flip_label_map(classes) == theirs


def test_a_flipped_clip_gets_the_mirrored_label(prepared):
    cfg = get_config("tsn_r50_1x1x8_50e_sthv2_rgb")
    dataset = build_dataset(cfg, "val", data_root=prepared["root"])
    results = dataset.load(0, np.random.default_rng(0))  # 30001: pushing from left to right (label 2)
    flip = Flip(flip_ratio=1.0, flip_label_map=sthv2.flip_label_map(prepared["root"]))
    flipped = flip(dict(results, imgs=results["imgs"].transpose(0, 2, 3, 1)), rng=np.random.default_rng(0))
    assert (results["label"], flipped["label"]) == (2, 3)


@pytest.fixture()
def annotated(tmp_path, prepared):
    root = tmp_path / "sthv2"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    return root


def _edit(path, transform):
    path.write_text(json.dumps(transform(json.loads(path.read_text()))))


@pytest.mark.parametrize("file, transform, message", [
    ("train", lambda e: e + [dict(e[0], id="5", template="Juggling [something]")],
     r"v2-train\.json\[40\] \(id 5\): template 'Juggling \[something\]' is not in something-something-v2-labels\.json"),
    ("val", lambda e: e + [e[0]],
     r"v2-validation\.json\[32\] \(id 30001\): id 30001 is listed twice \(first as item 0\)"),
    ("val", lambda e: e + [{"label": "x"}],
     r"v2-validation\.json\[32\]: expected an object with 'id' and 'template'"),
    ("labels", lambda d: dict(d, **{"Spinning something": "2"}),
     r"v2-labels\.json: key 'Spinning something': id 2 is also"),
    ("labels", lambda d: dict(d, **{"Spinning something": "7"}), r"v2-labels\.json: ids must run 0\.\.4, 4 is missing"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_item(annotated, file, transform, message):
    _edit(annotated / "annotations" / sthv2.ANNOTATIONS[file], transform)
    with pytest.raises(AnnotationError, match=message) as error:
        sthv2.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("sthv2_*.txt"))


def test_a_json_cut_short_names_its_line(annotated):
    path = annotated / "annotations" / sthv2.ANNOTATIONS["train"]
    path.write_text(path.read_text()[:150])
    with pytest.raises(AnnotationError, match=r"v2-train\.json:1:151: not valid JSON \(.* a file cut short\?\)"):
        sthv2.build_lists(annotated, workers=1)


def test_registration_and_a_missing_part(tmp_path, prepared):
    code, printed = prepare_cli(["sthv2", "download", "--root", str(tmp_path / "empty")])
    assert code == 2 and "Something-Something V2 needs registration" in printed and "(20 parts)" in printed
    root = tmp_path / "parts"
    made = sthv2.make_replica(root)
    made["files"][7].unlink()
    code, printed = prepare_cli(["sthv2", "extract", "--root", str(root), "--frames", "none"])
    assert code == 2 and "20bn-something-something-v2-07: part missing (19 of 20 parts here)" in printed
    assert not (root / "videos").exists()
    code, printed = prepare_cli(["sthv2", "lists", "--root", str(prepared["root"] / "videos")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed


def test_a_replica_class_is_its_partner_played_backwards():
    # The point of the V2 replica: within a pair, only the order of the frames (or the flow) tells the classes
    # apart. From the same random draws, one direction's frames reversed are exactly the other direction's.
    for forward, backward in [("Pushing something from left to right", "Pushing something from right to left"),
                              ("Moving something down", "Moving something up")]:
        a = something.render_reversible(np.random.default_rng(5), forward, 13, 60, 80)
        b = something.render_reversible(np.random.default_rng(5), backward, 13, 60, 80)
        assert np.array_equal(a[::-1], b) and not np.array_equal(a, b)
    # ... while a single frame shows the pair: the object is smeared along its axis
    def extent(frame):  # width and height of the object (drawn in one of the palette's colours)
        colour = max(something.OBJECT_COLOURS, key=lambda c: (frame == c).all(-1).sum())
        ys, xs = np.nonzero((frame == colour).all(-1))
        return np.ptp(xs) + 1, np.ptp(ys) + 1

    width, height = extent(something.render_reversible(np.random.default_rng(5), "Pushing something from left to right",
                                                       5, 60, 80)[2])
    assert width > 1.4 * height
    width, height = extent(something.render_reversible(np.random.default_rng(5), "Moving something up", 5, 60, 80)[2])
    assert height > 1.4 * width
    assert set(sthv2.REPLICA_CLASSES) == set(something.REVERSIBLE)
