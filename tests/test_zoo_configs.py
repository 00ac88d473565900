"""The model-zoo configs: one per row of the TSN zoo's tables, their hyper-parameters, and their tiny CPU twins.

The row names are vendored in tests/data/zoo_rows.txt; when the spec folder (../shared/specs next to the
repository) is present, the vendored list is also checked against the names parsed from the zoo README.
"""
import re
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from conftest import SMALL
sys.path.insert(0, str(Path(__file__).parent))
from oracle import mma024_config  # noqa: E402
from tsnbook.configs import all_configs, get_config, two_stream_recipes
from tsnbook.data import build_dataset
from tsnbook.course.demo import prepare_zoo_replicas

ROWS_FILE = Path(__file__).parent / "data" / "zoo_rows.txt"
# ../shared/specs next to the checkout (a worktree one level deeper finds it one folder further up)
SEED = next((folder / "shared" / "specs" / "tsn_model_zoo.md" for folder in Path(__file__).resolve().parents[2:4]
             if (folder / "shared" / "specs" / "tsn_model_zoo.md").is_file()), Path("/nonexistent"))


def vendored_rows():
    rows = {"config": [], "two_stream": []}
    for line in ROWS_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            kind, name = line.split()
            rows[kind].append(name)
    return rows


def parse_seed(text):
    """Row names of the zoo README's tables: linked names ([name](...)) and the two-stream rows, in order."""
    rows = {"config": [], "two_stream": []}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        first = line.split("|")[1].strip()
        for kind, pattern in (("config", r"\[(tsn_\w+)\]\("), ("two_stream", r"(tsn_\w+_twostream)\b")):
            match = re.match(pattern, first)
            if match and match.group(1) not in rows[kind]:
                rows[kind].append(match.group(1))
    return rows


ROWS = vendored_rows()
ZOO = [name for name in ROWS["config"]]


# ------------------------------------------------------------------------------------------- (a) every row
def test_vendored_row_list_is_complete():
    assert len(ZOO) == 44 and len(set(ZOO)) == 44
    assert len(ROWS["two_stream"]) == 2


@pytest.mark.skipif(not SEED.is_file(), reason="the spec folder ../shared/specs is not present (CI)")
def test_vendored_rows_equal_the_seed():
    assert parse_seed(SEED.read_text()) == ROWS


def test_every_row_has_a_config_and_a_tiny_twin():
    configs = all_configs()
    missing = [name for name in ZOO if name not in configs]
    missing_tiny = [name for name in ZOO if f"{name}_tiny" not in configs]
    assert not missing and not missing_tiny, (missing, missing_tiny)
    zoo_like = {n for n in configs if not n.endswith("_tiny") and "synthactions" not in n}
    assert zoo_like == set(ZOO), "configs that are not rows of the zoo tables: " + str(zoo_like - set(ZOO))


def test_two_stream_rows_fuse_existing_rgb_and_flow_configs():
    recipes = two_stream_recipes()
    assert sorted(recipes) == sorted(ROWS["two_stream"])
    for recipe in recipes.values():
        assert get_config(recipe["rgb"])["modality"] == "rgb"
        assert get_config(recipe["flow"])["modality"] == "flow"
        assert recipe["coefficients"] == (1, 1)
        assert "num_classes" not in recipe


@pytest.mark.skipif(not SEED.is_file(), reason="the spec folder ../shared/specs is not present (CI)")
def test_checkpoint_urls_are_the_seeds():
    seed = SEED.read_text()
    for name in ZOO:
        facts = get_config(name)["zoo"]
        urls = [facts["checkpoint"]] + [row["checkpoint"] for row in facts.get("omnisource", {}).values()]
        urls += [row["checkpoint"] for row in facts.get("other_rows", {}).values()]
        for url in urls:
            assert f"({url})" in seed, f"{name}: {url} is not in the zoo README"


@pytest.mark.skipif(not SEED.is_file(), reason="the spec folder ../shared/specs is not present (CI)")
def test_published_accuracies_are_the_seeds():
    lines = SEED.read_text().splitlines()
    for name in ZOO:
        line = next(line for line in lines if line.startswith("|") and f"[{name}](" in line.split("|")[1])
        numbers = set()
        for cell in line.split("|"):
            try:
                numbers.add(float(cell))
            except ValueError:
                pass
        facts = get_config(name)["zoo"]
        for key in ("top1", "top5", "mAP"):
            if facts.get(key) is not None:
                assert facts[key] in numbers, f"{name}: {key} {facts[key]} is not in its README row"


# ----------------------------------------------------------------------------------- (b) facts of some rows
def _steps(cfg, split):
    return [step["type"] for step in cfg[f"{split}_pipeline"]]


def _test_views(cfg):
    crop = next(s for s in cfg["test_pipeline"] if s["type"] in ("CenterCrop", "ThreeCrop", "TenCrop"))
    return cfg["test_clips"], crop["type"], crop["crop_size"]


# name: (lr, videos per GPU, lr_base_batch, lr_steps, epochs, segments, clip_len, test (clips, crop, size))
FACTS = {
    "tsn_r50_1x1x3_75e_ucf101_rgb": (0.00128, 32, 256, [], 75, 3, 1, (25, "ThreeCrop", 256)),
    "tsn_r50_1x1x3_100e_kinetics400_rgb": (0.01, 32, 256, [40, 80], 100, 3, 1, (25, "TenCrop", 224)),
    "tsn_r50_dense_1x1x5_50e_kinetics400_rgb": (0.03, 16, 128, [40, 80], 100, 5, 1, (8, "CenterCrop", 224)),
    "tsn_r50_320p_1x1x8_110e_kinetics400_flow": (0.001875, 12, 96, [70, 100], 110, 8, 5, (25, "TenCrop", 224)),
    "tsn_r50_1x1x16_50e_sthv1_rgb": (0.01, 4, 32, [20, 40], 50, 16, 1, (8, "CenterCrop", 224)),
    "tsn_r50_1x1x8_50e_hmdb51_mit_rgb": (0.025, 1, 8, [20, 40], 50, 8, 1, (8, "CenterCrop", 256)),
    "tsn_r101_1x1x5_50e_mmit_rgb": (0.01, 16, 128, [20, 40], 50, 5, 1, (5, "CenterCrop", 256)),
    "tsn_r50_320p_1x1x8_150e_activitynet_clip_flow": (0.001, 8, 64, [60, 120], 150, 8, 5, (25, "TenCrop", 224)),
    "tsn_swin_transformer_video_320p_1x1x3_100e_kinetics400_rgb": (0.0075, 24, 192, [40, 80], 100, 3, 1,
                                                                   (25, "TenCrop", 224)),
    "tsn_r50_video_1x1x8_100e_kinetics700_rgb": (0.00375, 12, 96, [40, 80], 100, 8, 1, (25, "ThreeCrop", 256)),
}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_hyper_parameters_match_mmaction2(name):
    lr, batch, base, steps, epochs, segments, clip_len, views = FACTS[name]
    cfg = get_config(name)
    assert (cfg["lr"], cfg["batch_size"], cfg["lr_base_batch"], cfg["lr_steps"], cfg["epochs"]) == \
        (lr, batch, base, steps, epochs)
    assert (cfg["num_segments"], cfg["clip_len"], _test_views(cfg)) == (segments, clip_len, views)


def test_row_specific_facts():
    ucf = get_config("tsn_r50_1x1x3_75e_ucf101_rgb")
    assert (ucf["weight_decay"], ucf["init_std"], ucf["num_classes"], ucf["gpus"]) == (5e-4, 0.001, 101, 8)
    assert ucf["zoo"]["top1"] == 83.03 and ucf["zoo"]["checkpoint"].endswith("-d85ab600.pth")
    assert _steps(ucf, "train") == ["Resize", "RandomResizedCrop", "Resize", "Flip", "FormatShape"]

    dense = get_config("tsn_r50_dense_1x1x5_50e_kinetics400_rgb")
    assert (dense["sampler"], dense["dense_test_positions"], dense["grad_clip"], dense["dropout"]) == \
        ("dense", 10, 20.0, 0.5)
    assert dense["train_pipeline"][1]["num_fixed_crops"] == 13 and dense["gpus"] == 24
    assert dense["zoo"]["checkpoint"].endswith("tsn_r50_dense_1x1x5_100e_kinetics400_rgb_20200627-a063165f.pth")

    k400 = get_config("tsn_r50_1x1x3_100e_kinetics400_rgb")
    assert k400["zoo"]["test_protocols"] == {"25x10": (70.60, 89.26), "25x3": (70.52, 89.39)}
    assert len(k400["zoo"]["omnisource"]) == 4
    assert (k400["data_prefix"], k400["data_prefix_val"]) == ("rawframes_train", "rawframes_val")

    flow = get_config("tsn_r50_320p_1x1x3_110e_kinetics400_flow")
    assert (flow["source"], flow["modality"], flow["filename_tmpl"], flow["start_index"]) == \
        ("flow", "flow", "{}_{:05d}.jpg", 1)
    assert flow["test_pipeline"][-1] == dict(type="FormatShape", input_format="NCHW_Flow")

    sthv1 = get_config("tsn_r50_1x1x8_50e_sthv1_rgb")
    assert sthv1["sync_bn"] and sthv1["norm_eval"] and "Flip" not in _steps(sthv1, "train")
    assert (sthv1["filename_tmpl"], sthv1["num_classes"], sthv1["weight_decay"]) == ("{:05}.jpg", 174, 5e-4)
    assert "Flip" in _steps(get_config("tsn_r50_1x1x16_50e_sthv1_rgb"), "train")

    mit = get_config("tsn_r50_1x1x6_100e_mit_rgb")
    crop = mit["train_pipeline"][1]
    assert (crop["scales"], crop["max_wh_scale_gap"], mit["num_classes"]) == ((1, 0.8), 0, 339)

    mmit = get_config("tsn_r101_1x1x5_50e_mmit_rgb")
    assert (mmit["multi_label"], mmit["loss_weight"], mmit["fc_lr5"], mmit["backbone"], mmit["num_classes"]) == \
        (True, 160.0, True, "resnet101", 313)
    assert mmit["eval_metrics"] == ["mmit_mean_average_precision"] and mmit["zoo"]["mAP"] == 61.09

    clip_rgb = get_config("tsn_r50_320p_1x1x8_50e_activitynet_clip_rgb")
    assert (clip_rgb["with_offset"], clip_rgb["filename_tmpl"], clip_rgb["start_index"], clip_rgb["dropout"]) == \
        (True, "image_{:05d}.jpg", 0, 0.8)
    assert clip_rgb["load_from"].endswith("ef80e3d7.pth") and clip_rgb["pretrained"] == "torchvision:IMAGENET1K_V1"
    assert not get_config("tsn_r50_320p_1x1x8_50e_activitynet_video_rgb")["with_offset"]

    intervals = ("tsn_r50_1x1x3_75e_ucf101_rgb", "tsn_r50_1x1x8_50e_hmdb51_imagenet_rgb",
                 "tsn_r50_320p_1x1x8_100e_kinetics400_rgb", "tsn_r18_1x1x8_100e_hvu_scene_rgb")
    assert [get_config(n)["eval_interval"] for n in intervals] == [5, 1, 2, 2]

    hvu = {c: get_config(f"tsn_r18_1x1x8_100e_hvu_{c}_rgb") for c in
           ("action", "scene", "object", "event", "concept", "attribute")}
    assert {c: cfg["num_classes"] for c, cfg in hvu.items()} == dict(
        action=739, scene=248, object=1678, event=69, concept=291, attribute=117)
    assert all(cfg["loss_weight"] == 333.0 and cfg["multi_label"] and cfg["backbone"] == "resnet18"
               for cfg in hvu.values())
    assert hvu["action"]["gpus"] == 16 and hvu["scene"]["gpus"] == 8


def test_every_config_has_the_agreed_keys_and_a_loadable_pipeline():
    from tsnbook.transforms import build_pipeline
    for name in ZOO:
        cfg = get_config(name)
        for key in ("sampler", "backbone", "pretrained", "load_from", "gpus", "lr_base_batch", "eval_interval",
                    "eval_metrics", "average_clips", "zoo", "data_root", "ann_file_train", "val_clips",
                    "test_clips"):
            assert key in cfg, f"{name} lacks {key}"
        assert cfg["average_clips"] is None and cfg["lr_base_batch"] == 8 * cfg["batch_size"]
        assert cfg["data_root"].startswith("data/"), name
        for split in ("train", "val", "test"):
            build_pipeline(cfg[f"{split}_pipeline"])
            assert cfg[f"{split}_pipeline"][-1]["input_format"] == ("NCHW_Flow" if cfg["modality"] == "flow"
                                                                    else "NCHW"), name


# The README's names of two rows differ from their files (tsnbook.configs.kinetics400 says why).
FILE_OF_ROW = {"tsn_r50_dense_1x1x5_50e_kinetics400_rgb": "tsn_r50_dense_1x1x5_100e_kinetics400_rgb",
               "tsn_r50_1x1x8_100e_kinetics400_rgb": "tsn_r50_320p_1x1x8_100e_kinetics400_rgb"}
_LOADING = {"SampleFrames", "DenseSampleFrames", "RawFrameDecode", "DecordInit", "DecordDecode", "Normalize",
            "Collect", "ToTensor"}
_DEFAULTS = {"Flip": dict(flip_label_map=None), "MultiScaleCrop": dict(num_fixed_crops=5),
             "FormatShape": dict(input_format="NCHW")}  # 0.x's mit file leaves FormatShape's format out


def _augmentations(steps):
    """The transform dicts after decoding (crops, flips, format), lists as tuples and 0.x defaults filled in."""
    return [dict(_DEFAULTS.get(s["type"], {}), **{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()})
            for s in steps if s["type"] not in _LOADING]


@pytest.mark.parametrize("name", ZOO)
def test_every_row_is_its_mmaction2_0x_config_file(name):
    theirs, ours = mma024_config(FILE_OF_ROW.get(name, name)), get_config(name)
    optimizer, head, backbone = theirs.optimizer, theirs.model.cls_head, theirs.model.backbone
    assert (ours["lr"], ours["momentum"], ours["weight_decay"], ours["fc_lr5"]) == (
        optimizer.lr, optimizer.momentum, optimizer.weight_decay, optimizer.get("paramwise_cfg", {}).get("fc_lr5", False))
    assert (ours["lr_schedule"], ours["lr_steps"], ours["epochs"], ours["warmup_epochs"]) == (
        theirs.lr_config.policy, list(theirs.lr_config.step), theirs.total_epochs, 0)
    assert "warmup" not in theirs.lr_config and ours["grad_clip"] == theirs.optimizer_config.grad_clip.max_norm
    assert (ours["dropout"], ours["init_std"], ours["average_clips"]) == (
        head.dropout_ratio, head.init_std, theirs.model.test_cfg.average_clips)
    assert ours["multi_label"] == bool(head.get("multi_class")) and ours["num_classes"] == head.num_classes
    assert ours["loss_weight"] == head.get("loss_cls", {}).get("loss_weight", 1.0)
    assert (ours["norm_eval"], ours["sync_bn"], ours["partial_bn"], ours["frozen_stages"]) == (
        backbone.get("norm_eval", False), backbone.get("norm_cfg", {}).get("type") == "SyncBN",
        backbone.get("partial_bn", False), backbone.get("frozen_stages", -1))
    for split in ("train", "val", "test"):
        dataset = theirs.data[split]
        pipeline = dataset.get("pipeline") or dataset.dataset.pipeline
        sampler = next(s for s in pipeline if s["type"].endswith("SampleFrames"))
        clips = ours["num_segments"] if split == "train" else ours[f"{split}_clips"]
        assert (sampler["type"] == "DenseSampleFrames") == (ours["sampler"] == "dense"), split
        assert (sampler["num_clips"], sampler.get("clip_len", 1), sampler.get("frame_interval", 1),
                sampler.get("twice_sample", False)) == (clips, ours["clip_len"], ours["frame_interval"],
                                                        ours.get("twice_sample", False)), split
        assert _augmentations(ours[f"{split}_pipeline"]) == _augmentations(pipeline), split


# ------------------------------------------------------------------------------------ (c) backbone names
def test_backbone_names_exist():
    torchvision_names = set(torchvision.models.list_models(torchvision.models))
    for name in ZOO:
        backbone = get_config(name)["backbone"]
        if backbone.startswith("timm/"):
            timm = pytest.importorskip("timm")
            assert timm.list_models(backbone[len("timm/"):]), f"{name}: no timm model {backbone}"
        else:
            assert backbone in torchvision_names, f"{name}: no torchvision model {backbone}"


# ------------------------------------------------------------------------------------------ (d) tiny twins
DEMO_FILES = ("manifest.json", "flow.json", "synthactions_train_split_1_videos.txt",
              "synthactions_val_split_1_videos.txt", "synthactions_train_split_1_flow.txt",
              "synthactions_val_split_1_flow.txt")


@pytest.fixture(scope="module")
def zoo_data(small_synth):
    before = {name: (small_synth / name).read_bytes() for name in DEMO_FILES}
    prepare_zoo_replicas(small_synth, workers=1, progress=False, **SMALL)
    assert {name: (small_synth / name).read_bytes() for name in DEMO_FILES} == before, \
        "the zoo replicas must not change what the demo reads"
    return small_synth


def test_replicas_are_reused_and_leave_the_demo_data_alone(zoo_data):
    stamp = (zoo_data / "zoo_replicas.json").stat().st_mtime_ns
    prepare_zoo_replicas(zoo_data, workers=1, progress=False, **SMALL)
    assert (zoo_data / "zoo_replicas.json").stat().st_mtime_ns == stamp  # nothing rewritten
    lines = (zoo_data / "synthactions_val_split_1_multilabel_videos.txt").read_text().split("\n")
    videos = (zoo_data / "synthactions_val_split_1_videos.txt").read_text().split("\n")
    assert [line.split()[:2] for line in lines if line] == [line.split() for line in videos if line]
    assert {line.split()[2] for line in lines if line} == {"8", "9"}
    clips = (zoo_data / "synthactions_val_split_1_rawframes_clips.txt").read_text().split()
    assert clips[1:3] == ["0", "12"] and clips[5:7] == ["12", "12"]  # two halves of each 24-frame video


def test_tiny_twins_keep_the_structure():
    for name in ZOO:
        full, tiny = get_config(name), get_config(f"{name}_tiny")
        for key in ("source", "modality", "sampler", "num_segments", "clip_len", "multi_label", "with_offset",
                    "filename_tmpl", "start_index", "val_clips", "test_clips", "loss_weight", "eval_metrics"):
            assert tiny.get(key) == full.get(key), (name, key)
        assert _steps(tiny, "train") == _steps(full, "train") and _steps(tiny, "test") == _steps(full, "test")
        assert (tiny["backbone"], tiny["pretrained"], tiny["load_from"], tiny["epochs"]) == ("resnet18", None, None, 2)


def _views(cfg):
    crops = {"CenterCrop": 1, "ThreeCrop": 3, "TenCrop": 10}[_test_views(cfg)[1]]
    positions = cfg.get("dense_test_positions", 10) if cfg.get("sampler") == "dense" else 1
    return cfg["test_clips"] * positions * crops


@pytest.mark.parametrize("name", ZOO)
def test_tiny_twin_datasets_give_one_item(name, zoo_data):
    cfg = get_config(f"{name}_tiny")
    channels = 2 * cfg["clip_len"] if cfg["modality"] == "flow" else 3
    train_set, test_set = build_dataset(cfg, "train", zoo_data), build_dataset(cfg, "test", zoo_data)
    item = train_set[0]
    assert "error" not in item, item.get("error")
    assert tuple(item["imgs"].shape) == (cfg["num_segments"], channels, 40, 40)
    if cfg["multi_label"]:
        assert item["label"].shape == (cfg["num_classes"],) and item["label"].sum() == 2
    else:
        assert 0 <= int(item["label"]) < cfg["num_classes"]
    item = test_set[0]
    size = _test_views(cfg)[2]
    assert tuple(item["imgs"].shape) == (_views(cfg), channels, size, size)


# ------------------------------------------------------------------------------- (e) one of each structure
STRUCTURES = {
    "video rgb": "tsn_r50_video_1x1x8_100e_kinetics400_rgb",
    "rawframes rgb": "tsn_r50_1x1x3_75e_ucf101_rgb",
    "flow": "tsn_r50_320p_1x1x3_110e_kinetics400_flow",
    "dense": "tsn_r50_dense_1x1x5_50e_kinetics400_rgb",
    "multi-label": "tsn_r101_1x1x5_50e_mmit_rgb",
    "with_offset": "tsn_r50_320p_1x1x8_150e_activitynet_clip_flow",
}


@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_tiny_twin_trains(structure, zoo_data, tmp_path):
    from tsnbook.engine import train
    from tsnbook.logs import read_log
    # one epoch of 2 iterations, 2 segments per video: the structure is what is tested, not the learning
    cfg = get_config(f"{STRUCTURES[structure]}_tiny", dict(epochs=1, lr_steps=[], batch_size=8, num_segments=2,
                                                           val_clips=1))
    torch.manual_seed(0)
    train(cfg, tmp_path, resume=False, device="cpu", progress=False, data_root=zoo_data)
    records = read_log(tmp_path / "log.jsonl")
    losses = [r["loss"] for r in records if r.get("mode") == "train"]
    assert len(losses) >= 2 and all(loss == loss and loss < 1e3 for loss in losses)
    assert any(r.get("mode") == "val" for r in records)
