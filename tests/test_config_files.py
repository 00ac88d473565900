"""Config files and your own videos: a file of plain assignments on a zoo row trains, tests and predicts; what it
may not inherit from its base; required keys; ``test CHECKPOINT`` on the stored config; per-class accuracy, the
confusion matrix and named score files."""
import csv
import os

import cv2
import pytest
import torch

from tsnbook import cli
from tsnbook.checkpoints import save_checkpoint
from tsnbook.configs import REQUIRED_KEYS, all_configs, get_config, plain
from tsnbook.configs.files import format_config, write_config
from tsnbook.engine import train
from tsnbook.factory import build_model
from tsnbook.mmaction2 import export_mmaction2_checkpoint
from tsnbook.scores import load_scores

SYNTH = "tsn_r18_1x1x3_12e_synthactions_rgb"
HMDB_K400 = "tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb"  # the zoo's small-data recipe: Kinetics-400 weights fine-tuned
CLASSES = ("RedBall", "GreenBall", "BlueBall")  # 3 of SynthActions' classes play "my videos"
QUIET = ["--no-progress", "--device", "cpu"]
# The row's recipe at CPU size (the file the folder dataset's lists step writes keeps the row's sizes and weights).
CPU = dict(backbone="resnet18", pretrained=None, load_from=None, num_segments=2, val_clips=1, test_clips=2,
           batch_size=4, lr_steps=[], num_workers=0, checkpoint_interval=0,
           train_pipeline=[dict(type="Resize", scale=(-1, 48)), dict(type="RandomResizedCrop"),
                           dict(type="Resize", scale=(40, 40), keep_ratio=False), dict(type="Flip", flip_ratio=0.5),
                           dict(type="FormatShape", input_format="NCHW")],
           val_pipeline=[dict(type="Resize", scale=(-1, 48)), dict(type="CenterCrop", crop_size=40),
                         dict(type="FormatShape", input_format="NCHW")])
CPU["test_pipeline"] = CPU["val_pipeline"]


def _main(argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(a) for a in argv])
    return str(exit_info.value.code)


@pytest.fixture(scope="module")
def myvideos(small_synth, tmp_path_factory):
    """``myvideos/<class>/*.mp4`` (3 classes, 2 training and 1 test clip each), its two lists and class names."""
    root = tmp_path_factory.mktemp("myvideos")
    lists = {"train": [], "val": []}
    for label, name in enumerate(CLASSES):
        (root / name.lower()).mkdir()
        for video in sorted((small_synth / "videos" / name).glob("*.mp4")):
            (root / name.lower() / video.name).symlink_to(video)
            lists["val" if "_g01_" in video.name else "train"].append(f"{name.lower()}/{video.name} {label}")
    for split, lines in lists.items():
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("red ball\ngreen ball\nblue ball\n")
    return root


def user_keys(root):
    """What the lists step of a folder dataset writes on top of its base row: data keys, classes, name, schedule."""
    return dict(name="myvideos_tsn", data_root=str(root), source="video", data_prefix="", ann_file_train="train.txt",
                ann_file_val="val.txt", ann_file_test="val.txt", num_classes=3, label_map="classes.txt", epochs=1)


def test_a_config_file_on_your_own_videos_trains_tests_and_predicts(myvideos, tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path / "mine.py", dict(user_keys(myvideos), **CPU), base=HMDB_K400,
                          header=["my videos on the zoo's HMDB51 recipe"])
    work = tmp_path / "run"
    assert _main(["train", config, "--work-dir", work, *QUIET]) == "0"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    capsys.readouterr()

    # test CHECKPOINT: the stored config, no overrides; nothing written but what --out asks for
    out = tmp_path / "scores.npz"
    assert _main(["test", work / "latest.pth", "--eval", "confusion_matrix", "--out", out, *QUIET]) == "0"
    printed = capsys.readouterr().out
    assert os.listdir(cwd) == []
    assert "testing myvideos_tsn" in printed and "(its own config) on " in printed  # and which list it scores
    assert f" on {myvideos / 'val.txt'}\n" in printed
    assert "top1: " in printed and "top5" not in printed  # 3 classes: every video is in its top 5
    assert "per-class accuracy:" in printed and "2 blue ball" in printed
    assert "confusion matrix (rows: true class, columns: predicted class)" in printed
    scores, labels, names = load_scores(out)
    assert names == [line.split()[0] for line in (myvideos / "val.txt").read_text().splitlines()]
    with open(tmp_path / "scores_confusion_matrix.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][1:] == ["red ball", "green ball", "blue ball"] and [r[0] for r in rows[1:]] == rows[0][1:]
    assert sum(int(c) for r in rows[1:] for c in r[1:]) == 3
    with open(tmp_path / "scores_per_class.csv") as f:
        per_class = list(csv.DictReader(f))
    assert [(r["name"], r["videos"]) for r in per_class] == [("red ball", "1"), ("green ball", "1"), ("blue ball", "1")]
    assert [int(r["correct"]) for r in per_class] == (scores.argmax(1) == labels).astype(int).tolist()  # 1 a class
    assert [int(c) for c in rows[1 + labels[0]][1:]] == [int(scores[0].argmax() == j) for j in range(3)]
    assert cv2.imread(str(tmp_path / "scores_confusion_matrix.png")).shape[2] == 3

    # the run's config.json is a config too; predict rebuilds from the checkpoint and names the classes
    assert _main(["test", work / "config.json", work / "latest.pth", *QUIET]) == "0"
    assert "testing myvideos_tsn with" in capsys.readouterr().out
    video = sorted((myvideos / "redball").glob("*.mp4"))[0]
    assert _main(["predict", work / "latest.pth", video, *QUIET]) == "0"
    predicted = capsys.readouterr().out
    assert all(f"{name}  " in predicted for name in ("red ball", "green ball", "blue ball"))
    assert os.listdir(cwd) == []


def test_the_lists_step_template_resolves_to_the_row_on_other_data(myvideos, tmp_path, capsys):
    config = write_config(tmp_path / "mine.py", user_keys(myvideos), base=HMDB_K400)
    cfg = get_config(config)
    row = get_config(HMDB_K400)
    assert {k: cfg[k] for k in user_keys(myvideos)} == user_keys(myvideos)
    assert (cfg["backbone"], cfg["load_from"], cfg["num_segments"]) == (row["backbone"], row["load_from"], 8)
    assert "zoo" not in cfg and "filename_tmpl" not in cfg  # the row's published facts and frame names: not mine
    note = capsys.readouterr().err
    assert "lr_steps [20, 40]" in note  # 1 epoch: steps never come
    assert "at other data" not in note  # only the zoo's facts were dropped: documentation, no note
    assert "filename_tmpl" not in note  # a frame template means nothing to videos: no word about dropping it
    frames = write_config(tmp_path / "frames.py", dict(user_keys(myvideos), source="rawframes"), base=HMDB_K400)
    assert "filename_tmpl" not in get_config(frames) and "filename_tmpl" in capsys.readouterr().err


def test_the_base_flip_label_map_is_never_carried_to_other_classes(myvideos, tmp_path, capsys):
    # a file on the SynthActions config: its pipelines are sized for generated clips and flip MoveLeft/MoveRight
    (tmp_path / "mine.py").write_text(f"base = {SYNTH!r}\n" + "".join(
        f"{k} = {v!r}\n" for k, v in user_keys(myvideos).items()))
    with pytest.raises(ValueError, match="must set train_pipeline, val_pipeline, test_pipeline") as error:
        get_config(tmp_path / "mine.py")
    assert "sized for SynthActions" in str(error.value)
    # a file on another file that maps its own mirrored classes: the map is dropped for other data, with a note
    flip = dict(CPU, train_pipeline=[dict(s, flip_label_map={0: 1, 1: 0}) if s["type"] == "Flip" else s
                                     for s in CPU["train_pipeline"]])
    write_config(tmp_path / "left_right.py", dict(user_keys(myvideos), num_classes=2, **{
        k: v for k, v in flip.items() if k != "num_classes"}), base=HMDB_K400)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.py").write_text(
        'base = "../left_right.py"\n' + "".join(f"{k} = {v!r}\n" for k, v in user_keys(myvideos).items()))
    capsys.readouterr()
    cfg = get_config(tmp_path / "sub" / "mine.py")
    assert [s.get("flip_label_map") for s in cfg["train_pipeline"] if s["type"] == "Flip"] == [None]
    assert "Flip's flip_label_map {0: 1, 1: 0}" in capsys.readouterr().err
    # the zoo name and --cfg-options: another num_classes drops the base's class-specific settings too
    cfg = get_config(SYNTH, [f"data_root='{myvideos}'", "num_classes=3"])
    assert [s.get("flip_label_map") for s in cfg["train_pipeline"] if s["type"] == "Flip"] == [None]
    assert "label_map" not in cfg and "flip_label_map {4: 5, 5: 4}" in capsys.readouterr().err
    assert get_config(SYNTH, [f"data_root='{myvideos}'"])["train_pipeline"][3]["flip_label_map"] == {4: 5, 5: 4}


def test_a_config_built_by_hand_gets_one_error_listing_every_missing_key(tmp_path):
    with pytest.raises(ValueError) as error:
        train(dict(modality="rgb", backbone="resnet18", num_classes=3), tmp_path / "run", progress=False)
    message = str(error.value)
    missing = [key for key in REQUIRED_KEYS if key not in ("modality", "backbone", "num_classes")]
    assert f"lacks {len(missing)} key(s) every config needs: {', '.join(missing)}" in message.splitlines()[0]
    assert all(f"  {key}: {REQUIRED_KEYS[key]}" in message for key in missing)
    assert not (tmp_path / "run").exists()
    (tmp_path / "whole.py").write_text("modality = 'rgb'\nlr = 0.01\n")  # a file without base is the whole config
    with pytest.raises(ValueError, match=rf"config file .*whole.py lacks {len(REQUIRED_KEYS) - 3} key\(s\)"):
        get_config(tmp_path / "whole.py")
    with pytest.raises(ValueError, match=rf"lacks {len(REQUIRED_KEYS) - 4} key\(s\)"):  # the command line may add one
        get_config(tmp_path / "whole.py", ["epochs=3"])


def test_config_files_are_read_never_run(tmp_path):
    def fails(text, error=ValueError):
        (tmp_path / "c.py").write_text(text)
        with pytest.raises(error) as info:
            get_config(tmp_path / "c.py")
        return str(info.value)

    assert "c.py:2: unknown config key 'lr_stepz' (did you mean lr_steps?)" in fails(
        f"base = {SYNTH!r}\nlr_stepz = [1]\n", KeyError)
    assert "c.py:1: only NAME = VALUE lines" in fails("import os\n")
    assert "c.py:2: lr = os.getenv('LR') is not a plain value" in fails(f"base = {SYNTH!r}\nlr = os.getenv('LR')\n")
    assert "c.py:1: base: unknown config 'tsn_nope'" in fails("base = 'tsn_nope'\n", KeyError)
    assert "base files form a cycle" in fails("base = 'c.py'\n")
    assert "unknown config 'mine'" in str(pytest.raises(KeyError, get_config, "mine").value)
    with pytest.raises(FileNotFoundError, match="config file nope.py does not exist"):
        get_config("nope.py")
    # dict(...) as MMAction2 writes it, helpers (_name) and names assigned above; name = the file's name
    (tmp_path / "ok.py").write_text(f'"""A docstring."""\nbase = {SYNTH!r}\n_size = 48\nval_pipeline = '
                                    '[dict(type="Resize", scale=(-1, _size)), dict(type="CenterCrop", crop_size=40), '
                                    'dict(type="FormatShape", input_format="NCHW")]\ntest_pipeline = val_pipeline\n'
                                    'lr = 1e-2\nfrozen_stages = -1\n')
    cfg = get_config(tmp_path / "ok.py")
    assert cfg["test_pipeline"] == cfg["val_pipeline"] and cfg["val_pipeline"][0] == dict(type="Resize",
                                                                                           scale=(-1, 48))
    assert (cfg["name"], cfg["lr"], cfg["frozen_stages"], "_size" in cfg) == ("ok", 0.01, -1, False)
    assert cfg["train_pipeline"][3]["flip_label_map"] == {4: 5, 5: 4}  # the same data: everything is kept


def test_a_config_file_saved_with_a_bom_reads_and_another_encoding_is_named_with_its_line(tmp_path):
    # Notepad's "UTF-8 with BOM" was refused as "not Python syntax (U+FEFF)", a Latin-1 file ended in a bare codec
    # error that named neither the file nor the line.
    (tmp_path / "bom.py").write_bytes(f"\ufeffbase = {SYNTH!r}\nname = 'vid\u00e9os'\n".encode("utf-8"))
    assert get_config(tmp_path / "bom.py")["name"] == "vid\u00e9os"
    (tmp_path / "latin.py").write_bytes(f"base = {SYNTH!r}\nname = 'vid\u00e9os'\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.py:2: not UTF-8 text \(byte 0xe9\)"):
        get_config(tmp_path / "latin.py")


def test_config_dump_writes_every_config_back_as_itself(tmp_path, capsys):
    for name, value in all_configs().items():  # every zoo row and twin survives the round trip
        (tmp_path / "c.py").write_text(format_config(dict(value, name=name)))
        assert get_config(tmp_path / "c.py") == get_config(name), name
    assert _main(["config", "dump", SYNTH, "--cfg-options", "lr=0.5"]) == "0"
    (tmp_path / "mine.py").write_text(capsys.readouterr().out)
    assert get_config(tmp_path / "mine.py") == get_config(SYNTH, dict(lr=0.5, name="mine"))
    assert _main(["config", "show", tmp_path / "mine.py"]) == "0"
    assert "name = 'mine'" in capsys.readouterr().out


def test_test_checkpoint_uses_its_own_config_and_refuses_a_config_it_cannot_fit(myvideos, tmp_path, monkeypatch):
    cfg = get_config(write_config(tmp_path / "mine.py", dict(user_keys(myvideos), **CPU), base=HMDB_K400))
    torch.manual_seed(0)
    model = build_model(cfg)
    save_checkpoint(tmp_path / "mine.pth", dict(model=model.state_dict(), epoch=0, cfg=plain(cfg)))
    export_mmaction2_checkpoint(model, tmp_path / "mmaction2.pth")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    # a zoo name given by mistake: SynthActions' 8 classes cannot hold these weights, said before any data is made
    message = _main(["test", SYNTH, tmp_path / "mine.pth", *QUIET])
    assert "trained by myvideos_tsn (3 classes, rgb, resnet18)" in message and f"python -m tsnbook test {tmp_path}" in message
    assert "stores no tsnbook config" in _main(["test", tmp_path / "mmaction2.pth", *QUIET])
    assert os.listdir(tmp_path / "run") == []
    assert "has no key 'lr_stepz'" in _main(["test", tmp_path / "mine.pth", "--cfg-options", "lr_stepz=1", *QUIET])


# ------------------------------------------------------------------------- review: values checked before a run
def _fails(tmp_path, text, error=ValueError, overrides=()):
    (tmp_path / "c.py").write_text(text)
    with pytest.raises(error) as info:
        get_config(tmp_path / "c.py", overrides)
    return str(info.value)


def test_config_values_of_the_wrong_type_are_named_with_their_line_or_option(tmp_path):
    assert "c.py:2: epochs = '1': expected an int" in _fails(tmp_path, f"base = {SYNTH!r}\nepochs = '1'\n")
    assert "c.py:3: lr_steps = 4: expected a list of ints" in _fails(tmp_path, f"base = {SYNTH!r}\nlr = 0.1\n"
                                                                                f"lr_steps = 4\n")
    assert "c.py:2: norm_eval = 1: expected True or False" in _fails(tmp_path, f"base = {SYNTH!r}\nnorm_eval = 1\n")
    with pytest.raises(ValueError, match=r"--cfg-options epochs=abc: expected an int.*got 'abc'"):
        get_config(SYNTH, ["epochs=abc"])
    with pytest.raises(ValueError, match=r"--cfg-options lr_steps=3: expected a list of ints"):
        get_config(SYNTH, ["lr_steps=3"])
    cfg = get_config(SYNTH, ["epochs=2", "lr=1", "lr_steps=[1]", "seed=None"])  # an int is a number; None a seed
    assert (cfg["epochs"], cfg["lr"], cfg["lr_steps"], cfg["seed"]) == (2, 1, [1], None)


def test_counts_below_one_and_negative_rates_are_refused_with_their_line_or_option(tmp_path):
    # epochs = 0 once wrote an empty run, which then blocked its work dir ("already holds a run")
    assert "c.py:2: epochs = 0: expected 1 or more, got 0" in _fails(tmp_path, f"base = {SYNTH!r}\nepochs = 0\n")
    assert "c.py:2: lr = -0.1: expected 0 or more" in _fails(tmp_path, f"base = {SYNTH!r}\nlr = -0.1\n")
    for option, message in (("batch_size=0", "expected 1 or more, got 0"), ("num_segments=-3", "expected 1 or more"),
                            ("dropout=1.0", "expected a probability"), ("weight_decay=-1e-4", "expected 0 or more"),
                            ("flow_bound=0", "expected more than 0"), ("momentum=5", "expected a momentum")):
        with pytest.raises(ValueError, match=f"--cfg-options {option}: {message}"):
            get_config(SYNTH, [option])
    assert get_config(SYNTH, ["frozen_stages=-1", "checkpoint_interval=0", "dropout=0"])["dropout"] == 0


def test_a_key_given_twice_on_the_command_line_is_refused():
    with pytest.raises(ValueError, match=r"--cfg-options epochs=3: epochs is given twice \(also --cfg-options "
                                         r"epochs=2\); keep one"):
        get_config(SYNTH, ["epochs=2", "lr=0.1", "epochs=3"])


def test_every_pipeline_is_built_when_the_config_is_read(tmp_path):
    head = f"base = {SYNTH!r}\nepochs = 1\ntest_pipeline = [dict(type='Resize', scale=(-1, 48)), "
    message = _fails(tmp_path, head + "dict(type='CentreCrop', crop_size=40), dict(type='FormatShape')]\n")
    assert "c.py: test_pipeline[1] 'CentreCrop': unknown transform type (did you mean CenterCrop?)" in message
    message = _fails(tmp_path, head + "dict(type='CenterCrop', crop_sise=40), dict(type='FormatShape')]\n")
    assert "c.py: test_pipeline[1] CenterCrop: unknown argument crop_sise (did you mean crop_size?)" in message
    assert len(message.splitlines()) == 1
    with pytest.raises(ValueError, match=r"val_pipeline\[0\] each pipeline step must be a dict"):
        get_config(SYNTH, ["val_pipeline=['Resize']"])


def _moved(root, **keys):
    keys = dict(data_root=str(root), source="video", data_prefix="", ann_file_train="train.txt",
                ann_file_val="val.txt", ann_file_test="val.txt", **keys)
    return f"base = {SYNTH!r}\n" + "".join(f"{key} = {value!r}\n" for key, value in keys.items()) + \
        "".join(f"{key} = {CPU[key]!r}\n" for key in ("train_pipeline", "val_pipeline", "test_pipeline")) + \
        "dense_sample_range = 16\n"


def test_new_data_without_num_classes_is_refused_naming_the_label_maps_count(myvideos, tmp_path):
    message = _fails(tmp_path, _moved(myvideos))
    assert "c.py: data_root moves to new data but num_classes is not set (the base row has 8); set num_classes = " \
           "<lines of your classes.txt>" in message, message
    message = _fails(tmp_path, _moved(myvideos, label_map="classes.txt"))
    assert "num_classes is not set (the base row has 8); set num_classes = 3 (the lines of " in message, message
    assert get_config(tmp_path / "c.py", ["num_classes=3"])["num_classes"] == 3  # the command line may set it
    (tmp_path / "c.py").write_text(_moved(myvideos, num_classes=3))
    assert get_config(tmp_path / "c.py")["num_classes"] == 3


def test_cfg_options_that_shorten_training_warn_about_steps_that_never_come(capsys):
    get_config(SYNTH, ["epochs=2"])
    assert "sets epochs=2 but keeps lr_steps [8, 11]" in capsys.readouterr().err
    get_config(SYNTH, ["epochs=2", "lr_steps=[1]"])
    assert "lr_steps" not in capsys.readouterr().err


def test_fuse_prints_no_top5_for_five_classes_or_fewer(tmp_path, capsys):
    import numpy as np
    from tsnbook.scores import save_scores
    for name in ("rgb", "flow"):
        save_scores(tmp_path / f"{name}.npz", np.eye(3)[[0, 1, 2, 0]], [0, 1, 2, 1], list("abcd"))
    assert _main(["fuse", tmp_path / "rgb.npz", tmp_path / "flow.npz", "--coefficients", "1", "1"]) == "0"
    printed = capsys.readouterr().out
    assert "top1: 75.00" in printed and "top5" not in printed


def test_dotted_cfg_options_reach_inside_pipelines_and_lists_and_name_what_is_wrong(tmp_path):
    base = get_config(SYNTH)
    step = next(i for i, t in enumerate(base["test_pipeline"]) if "crop_size" in t)
    cfg = get_config(SYNTH, [f"test_pipeline.{step}.crop_size=96", "lr_steps.0=3",
                             f"test_pipeline.{step}.type=ThreeCrop"])
    assert cfg["test_pipeline"][step] == {**base["test_pipeline"][step], "crop_size": 96, "type": "ThreeCrop"}
    assert cfg["lr_steps"][0] == 3 and cfg["lr_steps"][1:] == base["lr_steps"][1:]
    assert get_config(SYNTH)["test_pipeline"] == base["test_pipeline"]  # the zoo's dicts are not changed in place
    with pytest.raises(KeyError, match=rf"test_pipeline is a list of {len(base['test_pipeline'])}: '9' is not"):
        get_config(SYNTH, ["test_pipeline.9.crop_size=96"])
    with pytest.raises(ValueError, match=rf"test_pipeline\[{step}\] .*crop_sise.*did you mean crop_size"):
        get_config(SYNTH, [f"test_pipeline.{step}.crop_sise=96"])  # a new argument: the pipeline check names it
    with pytest.raises(KeyError, match=r"has no key 'test_pipelin' \(did you mean test_pipeline\?\)"):
        get_config(SYNTH, ["test_pipelin.0.type=Flip"])
    with pytest.raises(KeyError, match=r"lr is 0\.\d+, not a list or dict"):
        get_config(SYNTH, ["lr.0=1"])
    path = tmp_path / "mine.py"
    path.write_text(f"base = {SYNTH!r}\n")
    assert get_config(str(path), ["lr_steps.0=2"])["lr_steps"][0] == 2  # a config file takes them too


def test_dotted_cfg_options_come_after_another_num_classes_and_find_int_keys():
    tiny = "tsn_r50_320p_1x1x8_50e_activitynet_video_rgb_tiny"
    flip = next(i for i, t in enumerate(get_config(tiny)["train_pipeline"]) if t["type"] == "Flip")
    assert get_config(tiny)["train_pipeline"][flip].get("flip_label_map")  # the base's classes 4 and 5 swap
    cfg = get_config(tiny, ["num_classes=10", "train_pipeline.0.keep_ratio=True"])
    assert not cfg["train_pipeline"][flip].get("flip_label_map")  # dropped as without the dotted key
    assert cfg["train_pipeline"][0]["keep_ratio"] is True
    mapped = get_config(tiny, [f"train_pipeline.{flip}.flip_label_map.4=6"])["train_pipeline"][flip]["flip_label_map"]
    assert mapped[4] == 6 and "4" not in mapped
    for option, says in (("lr_steps.--1=3", "'--1' is not one of its indices"), ("lr_steps.-1=10", None)):
        if says is None:  # the last of [8, 11]; 3 would now be refused, out of order
            assert get_config(SYNTH, [option])["lr_steps"][-1] == 10
        else:
            with pytest.raises(KeyError, match=f"--cfg-options {option}: lr_steps is a list of .*{says}"):
                get_config(SYNTH, [option])



def test_lr_steps_out_of_order_are_refused_and_steps_past_the_last_epoch_noted(tmp_path, capsys):
    """``lr_steps = [4, 2, 20]`` with 8 epochs trained silently: tsnbook (as MMAction2 1.x's MultiStepLR) counted
    the steps passed (decay at 2 and 4), MMAction2 0.x (mmcv's StepLrUpdaterHook) the first step not yet reached
    (decay at 4 only, twice), and the step at 20 never came."""
    assert "c.py:2: lr_steps = [4, 2]: expected increasing epochs" in _fails(tmp_path, f"base = {SYNTH!r}\n"
                                                                                   f"lr_steps = [4, 2]\n")
    with pytest.raises(ValueError, match=r"--cfg-options lr_steps=\[4,4\]: expected increasing epochs"):
        get_config(SYNTH, ["lr_steps=[4,4]"])
    get_config(SYNTH, ["epochs=8", "lr_steps=[4,20]"])
    assert "lr_steps [4, 20] reach past epochs=8: the step at epoch 20 never comes" in capsys.readouterr().err
    get_config(SYNTH, ["epochs=8", "lr_steps=[10,20]"])  # every step that never comes is named, not the last alone
    assert "lr_steps [10, 20] reach past epochs=8: the steps at epochs 10, 20 never come" in capsys.readouterr().err
    (tmp_path / "d.py").write_text(f"base = {SYNTH!r}\nlr_steps = [4, 12]\n")  # the base's 12 epochs
    get_config(tmp_path / "d.py")
    assert "the step at epoch 12 never comes" in capsys.readouterr().err


def test_the_config_prepare_writes_loads_without_a_note_each_time(tmp_path, capsys):
    """Every use of the folder dataset's own config.py printed that it "dropped the zoo row's facts (zoo)": the
    row's published accuracy, documentation that no run reads, dropped as it should be - not worth a note."""
    from tsnbook.datasets import folder_config
    text, _ = folder_config.contents(tmp_path, folder_config.CPU_BASE, ["a", "b"],
                                     dict(train="train.txt", val="val.txt"), 20)
    (tmp_path / "config.py").write_text(text)
    (tmp_path / "classes.txt").write_text("a\nb\n")
    capsys.readouterr()
    cfg = get_config(tmp_path / "config.py")
    assert "zoo" not in cfg and capsys.readouterr().err == ""
