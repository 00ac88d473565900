"""Config values checked when a config is read: named choices, paths, flow resolutions, pipelines and metrics.

A value the engine reads late (validation reads ``average_clips``, ``eval_metrics`` and ``test_amp`` only after the
first epoch) must be refused before anything trains, naming the file's line, the option or the key.
"""
import pytest
import torch

from tsnbook.configs import all_configs, get_config
from tsnbook.engine import train

SYNTH = "tsn_r18_1x1x3_12e_synthactions_rgb"


def _fails(tmp_path, text):
    (tmp_path / "c.py").write_text(text)
    with pytest.raises(ValueError) as info:
        get_config(tmp_path / "c.py")
    return str(info.value)
def test_a_misspelt_choice_is_named_with_its_line_before_anything_trains(tmp_path):
    # average_clips, eval_metrics and test_amp were first read by validation: a whole epoch trained, then it failed
    # before the epoch's checkpoint was written; the others failed later with no file, line or key
    for key, wrong, right in (("average_clips", "probs", "prob"), ("modality", "flwo", "flow"),
                              ("source", "vidoe", "video"), ("sampler", "dens", "dense"),
                              ("lr_schedule", "cosin", "cosine"), ("consensus", "mean", None),
                              ("amp", "bf32", None), ("test_amp", "fp8", None), ("gpu_augment", "yes", None),
                              ("multi_label_prob", "sigmod", "sigmoid"), ("flow_init", "avg", None),
                              ("flow_algorithm", "tvl", "tvl1"), ("decoder", "ffmpeg", None)):
        message = _fails(tmp_path, f"base = {SYNTH!r}\n{key} = {wrong!r}\n")
        assert message.startswith(f"{tmp_path / 'c.py'}:2: {key} = {wrong!r}: expected one of "), message
        assert right is None or f"did you mean {right!r}" in message or f"did you mean {right}" in message, message
        assert len(message.splitlines()) == 1
    assert "c.py:2: eval_metrics = ['top1']: expected a list of top_k_accuracy" in \
        _fails(tmp_path, f"base = {SYNTH!r}\neval_metrics = ['top1']\n")
    assert "c.py:2: data_root = 5: expected a path" in _fails(tmp_path, f"base = {SYNTH!r}\ndata_root = 5\n")
    with pytest.raises(ValueError, match=r"--cfg-options average_clips=probs: expected one of None, 'score', 'prob'"):
        get_config(SYNTH, ["average_clips=probs"])
    with pytest.raises(ValueError, match=r"override modality='flwo': expected one of 'rgb', 'flow', 'rgbdiff'"):
        get_config(SYNTH, {"modality": "flwo"})
    with pytest.raises(ValueError, match=r"the config: flow_resolution = 'big': resolution 'big': use one of"):
        train(dict(get_config(SYNTH), flow_resolution="big"), tmp_path / "run")  # a dict built by hand
    assert not (tmp_path / "run").exists()
    cfg = get_config(SYNTH, dict(average_clips=None, gpu_augment=False, decoder=None, flow_resolution="short256",
                                 eval_metrics=["mean_class_accuracy"]))
    assert (cfg["average_clips"], cfg["gpu_augment"], cfg["flow_resolution"]) == (None, False, "short256")


def test_the_choices_a_config_is_checked_against_are_those_the_library_accepts():
    from tsnbook import consensus, data, flow, io, metrics, models
    from tsnbook.configs.checks import CHOICES
    assert CHOICES["modality"] == tuple(models.NORMALISATION) and CHOICES["source"] == tuple(data.SOURCES)
    assert CHOICES["consensus"] == consensus.CONSENSUS and CHOICES["multi_label_prob"] == models.MULTI_LABEL_PROBS
    assert CHOICES["flow_algorithm"] == flow.ALGORITHMS and CHOICES["decoder"] == (None, *io.BACKENDS)
    assert CHOICES["eval_metrics"] == metrics.METRICS
    for value in CHOICES["average_clips"]:
        models.average_clips(torch.zeros(1, 3), value)
    from tsnbook.loops import autocast_precision
    from tsnbook.schedules import lr_at
    for value in CHOICES["amp"]:
        autocast_precision(value, "cpu")
    for value in CHOICES["lr_schedule"]:
        lr_at(dict(get_config(SYNTH), lr_schedule=value), 0, 0.0)
    for key in CHOICES:  # every config of the package passes its own check
        for name, cfg in all_configs().items():
            if key in cfg:
                get_config(name, {key: cfg[key]})


def test_a_pipeline_that_normalises_or_does_not_end_in_formatshape_is_refused_at_read(tmp_path):
    # tsnbook's TSN normalises its uint8 input itself: MMAction2's Normalize step normalised twice, silently
    head = f"base = {SYNTH!r}\ntest_pipeline = [dict(type='Resize', scale=(-1, 48)), dict(type='CenterCrop', " \
           f"crop_size=40), "
    message = _fails(tmp_path, head + "dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, "
                                      "57.375]), dict(type='FormatShape', input_format='NCHW')]\n")
    assert "c.py: test_pipeline[2] Normalize: tsnbook's TSN normalises its uint8 input itself" in message
    # without FormatShape the views stayed [V, H, W, C] and the test failed after training with a hint about flow
    message = _fails(tmp_path, head + "]\n")
    assert "c.py: test_pipeline must end with FormatShape" in message
    assert "c.py: val_pipeline must end with FormatShape" in _fails(tmp_path, f"base = {SYNTH!r}\nval_pipeline = []\n")


def test_eval_metrics_of_the_other_kind_of_labels_are_refused_at_read(tmp_path):
    message = _fails(tmp_path, f"base = {SYNTH!r}\neval_metrics = ['mean_average_precision']\n")
    assert "eval_metrics ['mean_average_precision'] need a multi-label dataset (multi_label = True)" in message


def test_flow_resolutions_are_checked_whole_and_amp_false_says_none(tmp_path):
    # output_size(1, 1, value) was the check: [340] raised IndexError, and 0, -3, 'short0', '0x0', True, 2.5 and a
    # triple were accepted, to fail (or make 0-pixel flow) only when flow was extracted
    for wrong in ("[340]", "0", "-3", "'short0'", "'0x0'", "True", "2.5", "(340, 256, 1)"):
        message = _fails(tmp_path, f"base = {SYNTH!r}\nflow_resolution = {wrong}\n")
        assert message.startswith(f"{tmp_path / 'c.py'}:2: flow_resolution = "), (wrong, message)
        assert len(message.splitlines()) == 1
    for right in (None, 256, (340, 256), [340, 256], "short320", "340x256", "original"):
        assert get_config(SYNTH, dict(flow_resolution=right))["flow_resolution"] == right
    message = _fails(tmp_path, f"base = {SYNTH!r}\namp = False\n")
    assert "expected one of 'auto', 'bf16', 'fp16', None, got False (None turns it off)" in message, message


def test_ready_made_steps_pass_and_formatshape_must_fit_the_modality():
    from tsnbook.configs import check_config
    from tsnbook.transforms import FormatShape, Normalize
    cfg = get_config(SYNTH)
    # a callable step was an AttributeError ('function' object has no attribute 'get')
    check_config(dict(cfg, test_pipeline=[lambda results, rng=None: results, *cfg["test_pipeline"]]))
    check_config(dict(cfg, test_pipeline=[*cfg["test_pipeline"][:-1], FormatShape("NCHW")]))
    with pytest.raises(ValueError, match=r"test_pipeline\[0\] Normalize: tsnbook's TSN normalises"):
        check_config(dict(cfg, test_pipeline=[Normalize([0, 0, 0], [1, 1, 1]), *cfg["test_pipeline"]]))
    flow = get_config("tsn_r18_1x1x3_12e_synthactions_flow")
    last = len(flow["val_pipeline"]) - 1
    with pytest.raises(ValueError, match=rf"val_pipeline\[{last}\] FormatShape input_format 'NCHW': a flow model "
                                         r"reads 'NCHW_Flow'"):
        check_config(dict(flow, val_pipeline=[*flow["val_pipeline"][:-1], dict(type="FormatShape")]))
