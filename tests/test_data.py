import numpy as np
import pytest
import torch

from conftest import small_config
from tsnbook.data import TSNDataset, build_dataset, collate_skipping_errors, load_annotations


def test_list_formats(tmp_path):
    (tmp_path / "videos.txt").write_text("a/x.mp4 3\nb/y.mp4 0\n\n")
    (tmp_path / "frames.txt").write_text("a/x 120 3\n")
    (tmp_path / "offset.txt").write_text("v_abc 40 85 17\n")
    (tmp_path / "multi.txt").write_text("a/x.mp4 1 4 7\n")
    videos = load_annotations(tmp_path / "videos.txt", "root")
    assert [(r.path, r.label) for r in videos] == [("root/a/x.mp4", 3), ("root/b/y.mp4", 0)]
    frames = load_annotations(tmp_path / "frames.txt", source="rawframes")
    assert (frames[0].num_frames, frames[0].label, frames[0].offset) == (120, 3, 0)
    clip = load_annotations(tmp_path / "offset.txt", source="flow", with_offset=True)
    assert (clip[0].offset, clip[0].num_frames, clip[0].label) == (40, 85, 17)
    assert load_annotations(tmp_path / "multi.txt", multi_label=True)[0].label == [1, 4, 7]


@pytest.mark.parametrize("content, options, where", [
    ("a/x.mp4\n", {}, ":1: expected 'path label'"),
    ("a/x.mp4 1\nb/y.mp4 one\n", {}, ":2: expected 'path label'"),
    ("a/x.mp4 1 2\n", {}, ":1:"),
    ("a/x 12\n", dict(source="rawframes"), ":1: expected 'dir total_frames label'"),
    ("a/x.mp4 -1\n", {}, ":1:"),
])
def test_malformed_lines_are_reported_with_file_and_line(tmp_path, content, options, where):
    path = tmp_path / "list.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"list.txt{where}"):
        load_annotations(path, **options)


def test_missing_list_file_says_what_to_check(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt does not exist"):
        load_annotations(tmp_path / "nope.txt")


def test_items_depend_only_on_seed_epoch_and_index(small_synth):
    dataset = build_dataset(small_config("rgb", small_synth), "train")
    a, b = dataset[3], dataset[3]
    assert torch.equal(a["imgs"], b["imgs"]) and a["imgs"].dtype == torch.uint8
    assert a["imgs"].shape == (3, 3, 40, 40)
    dataset.set_epoch(1)
    assert not torch.equal(a["imgs"], dataset[3]["imgs"])


def test_flow_items_stack_five_xy_pairs_into_ten_channels(small_synth):
    cfg = small_config("flow", small_synth)
    train = build_dataset(cfg, "train")
    assert train[0]["imgs"].shape == (3, 10, 40, 40)
    test = build_dataset(cfg, "test")  # 2 clips x ThreeCrop(48)
    assert test[0]["imgs"].shape == (6, 10, 48, 48)


def test_undecodable_items_become_error_records_that_collate_drops(small_synth, tmp_path):
    cfg = small_config("rgb", small_synth)
    dataset = build_dataset(cfg, "train")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    dataset.records[1].path = str(broken)
    batch = collate_skipping_errors([dataset[0], dataset[1], dataset[2]])
    assert batch["imgs"].shape[0] == 2 and len(batch["errors"]) == 1 and "broken.mp4" in batch["errors"][0]


def test_multi_label_items_are_multi_hot(small_synth):
    cfg = small_config("rgb", small_synth)
    records = build_dataset(cfg, "train").records[:1]
    records[0].label = [1, 3]
    dataset = TSNDataset(records, cfg["val_pipeline"], num_classes=5, multi_label=True)
    assert dataset[0]["label"].tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="need num_classes"):
        TSNDataset(records, cfg["val_pipeline"], multi_label=True)


def test_json_lists_as_mmaction2_0x_hvu(tmp_path, capsys):
    import json
    videos = [{"filename": "a.mp4", "label": [3, 7]}, {"filename": "b.mp4", "label": [1]},
              {"filename": "c.mp4", "label": {"action": [2], "scene": [0]}}]  # no tag of this category (quirk)
    (tmp_path / "hvu_action_train.json").write_text(json.dumps(videos))
    records = load_annotations(tmp_path / "hvu_action_train.json", "videos", "video", multi_label=True)
    assert [(r.path, r.label) for r in records] == [("videos/a.mp4", [3, 7]), ("videos/b.mp4", [1])]
    assert "skipped 1 item(s)" in capsys.readouterr().out
    frames = [{"frame_dir": "a", "total_frames": 30, "label": 4}]
    (tmp_path / "frames.json").write_text(json.dumps(frames))
    record, = load_annotations(tmp_path / "frames.json", "rawframes", "rawframes")
    assert (record.path, record.num_frames, record.label) == ("rawframes/a", 30, 4)
    (tmp_path / "bad.json").write_text(json.dumps([{"filename": "a.mp4", "label": [-1]}]))
    with pytest.raises(ValueError, match=r"bad.json\[0\]: label must be"):
        load_annotations(tmp_path / "bad.json", "", "video", multi_label=True)
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_annotations(tmp_path / "broken.json")


def _tiny_video(path, width=52, height=38, frames=12):
    """A real, decodable H.264 file smaller than a 40-px crop's 3-px snap window allows (38 < 40)."""
    from tsnbook.io import write_video
    rng = np.random.default_rng(0)
    write_video(path, rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8), fps=25)
    return path


#: A training pipeline that crops straight from the decoded frame (no Resize first), as the zoo's video rows do;
#: one scale, so that a 38-px frame always fails: its full-height crop snaps to the 40-px input size (MultiScaleCrop's
#: 3-px rule), which does not fit. (With the zoo's four scales only some draws pick that crop.)
CROP_FIRST = [dict(type="MultiScaleCrop", input_size=40, scales=(1,)),
              dict(type="Resize", scale=(40, 40), keep_ratio=False), dict(type="FormatShape", input_format="NCHW")]


def _flow_folder(small_synth, tmp_path, name):
    """A private copy of one flow folder of the small SynthActions, and its frame count."""
    import shutil
    line = (small_synth / "synthactions_train_split_1_flow.txt").read_text().splitlines()[0].split()
    shutil.copytree(small_synth / "rawframes" / line[0], tmp_path / name)
    return tmp_path / name, int(line[1])


def test_data_failures_become_records_naming_the_file_and_the_reason(small_synth, tmp_path):
    """Per-item data failures (tsnbook.data.ITEM_FAILURES): skipped without a traceback, the file named."""
    tiny = _tiny_video(tmp_path / "tiny.mp4")
    videos = TSNDataset(load_annotations(_list(tmp_path / "v.txt", [f"{tiny} 0"])), CROP_FIRST, num_segments=3)
    item = videos[0]
    assert set(item) == {"error", "index"}  # a known data failure: no traceback
    assert "tiny.mp4" in item["error"] and "MultiScaleCrop" in item["error"] and "does not fit" in item["error"]

    cfg = small_config("flow", small_synth)
    folder, frames = _flow_folder(small_synth, tmp_path, "flow_a")
    corrupt, _ = _flow_folder(small_synth, tmp_path, "flow_b")
    listing = _list(tmp_path / "f.txt", [f"{folder} {3 * frames} 0",  # the list claims more frames than exist
                                         f"{folder} 0 0",  # ... or none at all
                                         f"{corrupt} {frames} 0", f"{folder} {frames} 0"])
    flow = TSNDataset(load_annotations(listing, source="flow"), cfg["val_pipeline"], source="flow", clip_len=5,
                      test_mode=True)
    first = flow.sample(frames)[0] + 1  # the first JPEG the test reads (start_index 1)
    (corrupt / f"flow_x_{first:05d}.jpg").write_bytes(b"\xff\xd8 not a JPEG after all")
    too_many, none, broken, good = (flow[i] for i in range(4))
    assert "flow_a" in too_many["error"] and "frame file missing" in too_many["error"]
    assert "flow_a" in none["error"] and "num_frames=0" in none["error"]
    assert f"flow_b/flow_x_{first:05d}.jpg" in broken["error"] and "OpenCV cannot decode" in broken["error"]
    assert "traceback" not in too_many and "traceback" not in none and "traceback" not in broken
    assert good["imgs"].shape == (3, 10, 40, 40)
    batch = collate_skipping_errors([too_many, good, broken])
    assert batch["imgs"].shape[0] == 1 and len(batch["errors"]) == len(batch["failures"]) == 2


def test_an_unexpected_failure_is_skipped_with_its_traceback(small_synth):
    """Not a known data failure (here a bug in a custom pipeline step): the record carries the traceback."""
    def buggy_step(results, rng):
        return results["imgs"].shape.nonexistent

    dataset = build_dataset(small_config("rgb", small_synth), "train")
    dataset.pipeline = buggy_step
    item = dataset[2]
    assert "unexpected AttributeError" in item["error"] and dataset.records[2].path in item["error"]
    assert "Traceback" in item["traceback"] and "buggy_step" in item["traceback"]
    with pytest.raises(AttributeError):  # load() raises everything: for debugging one item
        dataset.load(2, np.random.default_rng(0))


def test_an_item_key_may_carry_its_epoch(small_synth):
    """``dataset[(epoch, index)]`` is ``dataset[index]`` after ``set_epoch(epoch)``: persistent DataLoader workers
    hold a dataset copy that never sees set_epoch, so the engine's sampler sends the epoch with the index."""
    dataset = build_dataset(small_config("rgb", small_synth), "train")
    dataset.set_epoch(3)
    expected = dataset[5]
    dataset.set_epoch(0)
    assert torch.equal(dataset[(3, 5)]["imgs"], expected["imgs"])
    assert not torch.equal(dataset[5]["imgs"], expected["imgs"])


def _list(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_label_outside_the_classes_is_an_error_naming_its_line(small_synth, tmp_path):
    """Training died later with a bare "Target 8 is out of bounds", and a test list silently lost accuracy
    (issue 17, item 12): the dataset checks every label against num_classes when it is built."""
    lines = (small_synth / "synthactions_train_split_1_videos.txt").read_text().splitlines()[:4]
    videos = [f"{small_synth / 'videos' / line.split()[0]}" for line in lines]
    (tmp_path / "single.txt").write_text(f"{videos[0]} 0\n{videos[1]} 7\n\n{videos[2]} 8\n")
    (tmp_path / "multi.txt").write_text(f"{videos[0]} 0 3\n{videos[1]} 2 9 1\n")
    cfg = small_config("rgb", small_synth, ann_file_train=str(tmp_path / "single.txt"),
                       ann_file_test=str(tmp_path / "single.txt"))
    for split in ("train", "test"):
        with pytest.raises(ValueError, match=r"single.txt:4: label 8 is not a class of this config: labels run "
                                             r"0\.\.7 \(num_classes=8\)"):
            build_dataset(cfg, split)
    multi = dict(cfg, multi_label=True, ann_file_train=str(tmp_path / "multi.txt"))
    with pytest.raises(ValueError, match=r"multi.txt:2: label 9 is not a class"):
        build_dataset(multi, "train")
    assert len(build_dataset(dict(cfg, num_classes=9), "train")) == 3  # 0..8 are all classes of a 9-class model


def test_a_split_that_is_not_one_or_has_no_list_is_named(tmp_path):
    cfg = small_config("rgb", tmp_path)
    with pytest.raises(ValueError, match=r"split must be 'train', 'val' or 'test', got 'tset'"):
        build_dataset(cfg, "tset")  # was KeyError: 'ann_file_tset'
    with pytest.raises(ValueError, match=r"tsn_r18_1x1x3_12e_synthactions_rgb has no val list \(ann_file_val is "
                                         r"None\)"):
        build_dataset(dict(cfg, ann_file_val=None), "val")  # was a TypeError: PosixPath / NoneType


def test_list_files_are_read_as_utf8_with_a_bom_dropped_and_lines_as_open_splits_them(tmp_path):
    """Training and test lists were read in the locale's encoding with their BOM kept: a list saved by a Windows
    editor gave the path '\\ufeffa.mp4', a Latin-1 list Python's bare codec error (no file, no line). Line ends are
    open()'s: \\n, \\r\\n and \\r, and a bad byte is named on the line an editor shows."""
    from tsnbook.texts import read_text_lines
    listing = tmp_path / "train.txt"
    listing.write_bytes("\ufeffa.mp4 0\r\nb.mp4 1\rd.mp4 2\n".encode())
    assert [(r.path, r.label) for r in load_annotations(listing, "", "video")] == [
        ("a.mp4", 0), ("b.mp4", 1), ("d.mp4", 2)]
    (tmp_path / "names.txt").write_text("a\u2028b\x0cc\nd\n", encoding="utf-8")  # one name, as open() reads it
    assert read_text_lines(tmp_path / "names.txt") == ["a\u2028b\x0cc", "d"]
    listing.write_bytes("\ufeff[{\"filename\": \"a.mp4\", \"label\": [1]}]".encode())
    listing = listing.rename(tmp_path / "train.json")
    assert [r.path for r in load_annotations(listing, "", "video", multi_label=True)] == ["a.mp4"]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("a.mp4 0\rb.mp4 1\rcaf\xe9.mp4 2\n".encode("latin-1"))  # old Mac line ends, line 3 is bad
    with pytest.raises(ValueError, match=r"list file .*latin\.txt:3: not UTF-8 text \(byte 0xe9\)"):
        load_annotations(latin, "", "video")
    assert read_text_lines(listing) == [listing.read_text(encoding="utf-8-sig")]
