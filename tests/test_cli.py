"""The command line's train / test / fuse: arguments, output files and the errors bad input gets."""
import pickle

import numpy as np
import pytest
import torch

from conftest import small_config
from tsnbook import cli
from tsnbook.configs import get_config
from tsnbook.checkpoints import save_checkpoint
from tsnbook.factory import build_model
from tsnbook.scores import read_scores, save_scores

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"


def _fails(argv, capsys=None):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    return str(exit_info.value.code)


def test_config_errors_name_the_nearest_keys_and_optional_keys_are_accepted():
    assert "no key 'lr_stepz' (did you mean lr_steps?)" in _fails(["train", RGB, "--cfg-options", "lr_stepz=[1]"])
    assert "unknown config" in _fails(["train", "tsn_r18_synthactions_rgbb"])
    assert "must look like key=value" in _fails(["test", RGB, "x.pth", "--cfg-options", "lr"])
    cfg = get_config(RGB, ["lr_base_batch=256", "eval_metrics=['top_k_accuracy']", "lr=0.02"])
    assert (cfg["lr_base_batch"], cfg["eval_metrics"], cfg["lr"]) == (256, ["top_k_accuracy"], 0.02)
    assert "contradict" in _fails(["train", RGB, "--validate", "--no-validate"])


def test_every_unknown_name_is_answered_with_the_same_did_you_mean(tmp_path):
    # one helper (tsnbook.spelling) for configs, config keys, config-file keys, transforms, their arguments and
    # explain's class names: the same words, the nearest name as it is spelled, in any case
    from tsnbook.cli.using import target_class
    from tsnbook.transforms import build_pipeline

    def message(call, *args):
        with pytest.raises((KeyError, ValueError)) as info:
            call(*args)
        return str(info.value)

    (tmp_path / "c.py").write_text(f"base = {RGB!r}\nLR_stepz = [1]\n")
    assert "unknown config 'tsn_r18_1x1x3_12e_synthactions_rgbb' (did you mean " \
           "tsn_r18_1x1x3_12e_synthactions_rgb?): `python -m tsnbook configs` lists all" in message(
               get_config, "tsn_r18_1x1x3_12e_synthactions_rgbb")
    assert "has no key 'LR_STEPS' (did you mean lr_steps?)" in message(get_config, RGB, ["LR_STEPS=[1]"])
    assert "c.py:2: unknown config key 'LR_stepz' (did you mean lr_steps?)" in message(get_config, tmp_path / "c.py")
    assert "'centercrop': unknown transform type (did you mean CenterCrop?)" in message(
        build_pipeline, [dict(type="centercrop", crop_size=8)])
    assert "CenterCrop: unknown argument crop_sise (did you mean crop_size?)" in message(
        build_pipeline, [dict(type="CenterCrop", crop_sise=8)])
    assert "--target redbal: no class of that name (did you mean RedBall?)" in message(
        target_class, "redbal", None, ["RedBall", "BlueBall"], 2)
    assert "(did you mean" not in message(get_config, RGB, ["zzzzzz=1"])  # nothing near: no guess


def test_test_command_writes_mmaction2_scores_and_rejects_bad_options(tmp_path, small_synth, capsys):
    cfg = small_config("rgb", small_synth)
    checkpoint = tmp_path / "init.pth"
    torch.manual_seed(0)
    save_checkpoint(checkpoint, dict(model=build_model(cfg).state_dict(), epoch=0))
    options = ["--cfg-options", f"data_root='{small_synth}'", "test_clips=1", "--no-progress", "--device", "cpu"]
    message = _fails(["test", RGB, str(checkpoint), "--eval", "top1_acc", *options])
    assert "unknown --eval metric(s) top1_acc: choose from top_k_accuracy, mean_class_accuracy" in message
    assert ".pkl, .json, .npz" in _fails(["test", RGB, str(checkpoint), "--out", str(tmp_path / "s.txt"), *options])

    out = tmp_path / "scores.pkl"
    assert _fails(["test", RGB, str(checkpoint), "--out", str(out), "--average-clips", "prob",
                   "--eval", "top_k_accuracy", *options]) == "0"
    printed = capsys.readouterr().out
    assert "top1:" in printed and "mean_class_accuracy" not in printed
    with open(out, "rb") as f:
        rows = pickle.load(f)
    assert isinstance(rows, list) and len(rows) == 8 and all(isinstance(r, np.ndarray) for r in rows)
    assert np.allclose([r.sum() for r in rows], 1, atol=1e-5)  # "prob": softmax per video


def test_test_writes_its_scores_before_the_reports_that_could_fail(tmp_path, small_synth, monkeypatch):
    """The per-class and confusion reports came before the score file: any failure in them (a side file in the
    way, matplotlib missing a font, a bug) lost the scores of a test that may have taken hours."""
    import tsnbook.cli.reports

    def failing_report(*args, **kwargs):
        raise RuntimeError("a report failed")
    monkeypatch.setattr(tsnbook.cli.reports, "per_class_report", failing_report)
    cfg = small_config("rgb", small_synth)
    checkpoint = tmp_path / "init.pth"
    save_checkpoint(checkpoint, dict(model=build_model(cfg).state_dict(), epoch=0))
    out = tmp_path / "scores.npz"
    assert "a report failed" in _fails(["test", RGB, str(checkpoint), "--out", str(out), "--cfg-options",
                                        f"data_root='{small_synth}'", "test_clips=1", "--no-progress"])
    scores, labels = read_scores(out)
    assert scores.shape == (8, cfg["num_classes"]) and len(labels) == 8
    from tsnbook.scores import score_scale
    assert score_scale(out) == "logits"  # the config's average_clips (None: the 0.x zoo's raw scores), kept


def test_fuse_reads_json_and_mmaction2_pickles(tmp_path, capsys):
    labels = [0, 1, 2, 1]
    rgb = np.array([[5, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=np.float32)  # 3 of 4 right
    flow = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 3, 0]], dtype=np.float32)  # 3 of 4 right
    with open(tmp_path / "rgb.pkl", "wb") as f:
        pickle.dump(list(rgb), f)
    (tmp_path / "flow.json").write_text(str(flow.tolist()))
    (tmp_path / "list.txt").write_text("".join(f"video{i}.mp4 {label}\n" for i, label in enumerate(labels)))
    files = [str(tmp_path / "rgb.pkl"), str(tmp_path / "flow.json")]
    assert _fails(["fuse", *files, "--datalist", str(tmp_path / "list.txt")]) == "0"
    assert "top1: 100.00" in capsys.readouterr().out  # each stream fixes the other's mistake
    assert read_scores(tmp_path / "rgb.pkl")[0].shape == (4, 3)
    assert "--datalist" in _fails(["fuse", *files])

    class Evil:
        def __reduce__(self):
            return (print, ("never",))
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([Evil()]))
    message = _fails(["fuse", str(tmp_path / "evil.pkl"), "--datalist", str(tmp_path / "list.txt")])
    assert "refusing to load builtins.print" in message and "a list of arrays or of sample dicts" in message



def test_fuse_leaves_out_a_video_one_stream_skipped_and_says_so(tmp_path, capsys):
    # The RGB test could not decode video 5 (a NaN row). It used to be fused as a miss for top-1, a hit for top-5
    # and class 0 for the mean class accuracy; now it is left out of every number, as `test` leaves it out.
    labels = np.array([0, 1, 2, 3, 4, 5])
    rgb, flow = np.eye(8, dtype=np.float32)[[0, 1, 2, 3, 7, 5]], np.eye(8, dtype=np.float32)[[0, 1, 2, 6, 4, 5]]
    rgb[4, 4], flow[3, 3] = 0.5, 0.5  # each stream's mistake is a close second: the other one fixes it
    rgb[5] = np.nan
    save_scores(tmp_path / "rgb.npz", rgb, labels, [f"v{i}" for i in labels])
    save_scores(tmp_path / "flow.npz", flow, labels, [f"v{i}" for i in labels])
    assert _fails(["fuse", str(tmp_path / "rgb.npz"), str(tmp_path / "flow.npz")]) == "0"
    printed = capsys.readouterr().out
    assert f"{tmp_path / 'rgb.npz'}: 1 of 6 videos without scores (skipped by its test): left out" in printed
    assert "fused over the 5 videos every stream scored; each stream alone on them: top1 80.00, 80.00" in printed
    assert "top1: 100.00" in printed and "top5: 100.00" in printed and "mean class accuracy: 100.00" in printed
    rgb[:] = np.nan
    save_scores(tmp_path / "rgb.npz", rgb, labels, [f"v{i}" for i in labels])
    message = _fails(["fuse", str(tmp_path / "rgb.npz"), str(tmp_path / "flow.npz")])
    assert "no video has scores in every file" in message


def test_generated_data_is_made_by_one_process_only(tmp_path, monkeypatch):
    """A _tiny twin on a fresh clone prepares SynthActions itself, but never from several torchrun processes."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    root = tmp_path / "synthactions"
    message = _fails(["train", f"{RGB}", "--cfg-options", f"data_root='{root}'"])
    assert "no generated data yet" in message and "python -m tsnbook data synthactions" in message
    cli._prepare_generated_data(dict(data_root=str(tmp_path / "kinetics400")), progress=False)  # real data: untouched
    assert not (tmp_path / "kinetics400").exists()


def test_trainings_last_line_says_what_was_kept_not_a_raw_dict():
    """``train`` ended with ``done: {'work_dir': ..., 'best': {'top1': -1.0}, ...}``: a Python dict, and without
    --validate a best top1 of -1 that no epoch had."""
    from tsnbook.cli.training import done_line
    validated = dict(work_dir="runs/a", epochs=40, best={"top1": 100.0, "epoch": 20}, world_size=1)
    assert done_line(validated) == "done: 40 epochs in runs/a; best top1 100.00 at epoch 20 (best.pth)"
    unvalidated = dict(work_dir="runs/b", epochs=3, best={"top1": -1.0}, world_size=2)
    assert done_line(unvalidated) == ("done: 3 epochs in runs/b on 2 processes; not validated (--validate keeps the "
                                      "best epoch as best.pth)")
    assert done_line(dict(unvalidated, epochs=1, world_size=1)).startswith("done: 1 epoch in runs/b;")  # not "1 epochs"
    assert done_line(dict(validated, best={"mean_average_precision": 41.25, "epoch": 7})).endswith(
        "best mean_average_precision 41.25 at epoch 7 (best.pth)")
