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
