"""bench-model: runs on the CPU with a small backbone and a couple of iterations; the JSON line is checked."""
import json
import pathlib
import subprocess
import sys

import pytest

from tsnbook.bench_model import run
from tsnbook.pipelines import num_views

CONFIG = "tsn_r18_1x1x3_12e_synthactions_rgb"
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cli_prints_sane_json_last():
    done = subprocess.run([sys.executable, "-m", "tsnbook", "bench-model", CONFIG, "--protocol", "val", "--iters",
                           "2", "--warmup", "1", "--device", "cpu", "--amp", "--cfg-options",
                           "backbone=mobilenet_v3_small"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert "CUDA-only" in done.stdout  # --amp on the CPU says it is ignored
    assert (report["mode"], report["unit"], report["device"], report["iters"]) == ("inference", "videos/s", "cpu", 2)
    assert report["backbone"] == "mobilenet_v3_small" and list(report["results"]) == ["fp32"]
    fp32 = report["results"]["fp32"]
    assert fp32["input_shape"] == [1, num_views("val"), 3, 40, 40]  # the config's val crops, as `test` shows it
    assert fp32["per_s"] > 0 and fp32["ms_per_iter"] >= fp32["ms_per_iter_min"] > 0
    assert fp32["per_s"] == pytest.approx(1000 / fp32["ms_per_iter"], rel=1e-2)  # one video per iteration
    assert "peak_memory_mb" not in fp32  # a CUDA-only figure


def test_train_mode_counts_clips_and_snippets():
    report = run(CONFIG, batch=2, iters=1, warmup=1, device="cpu", train=True,
                 overrides=dict(backbone="mobilenet_v3_small", num_classes=5))
    figures = report["results"]["fp32"]
    assert report["unit"] == "clips/s" and figures["input_shape"] == [2, 3, 3, 40, 40]  # its training crops
    assert figures["per_s"] == pytest.approx(2000 / figures["ms_per_iter"], rel=1e-2)
    assert figures["snippets_per_s"] == pytest.approx(3 * figures["per_s"], rel=1e-3)
    with pytest.raises(ValueError, match="--batch and --iters must be >= 1"):
        run(CONFIG, batch=0, device="cpu")


def test_macs_per_view_are_the_quoted_figures_and_cost_nothing_on_meta():
    """ResNet-50 at 224 is the 4.1 GMACs every paper quotes; a 10-channel flow stem adds its share; 256-px views
    cost (256/224)^2 as much; counting on the meta device computes nothing."""
    import torch

    from tsnbook.bench_model import macs_per_view
    from tsnbook.configs import get_config
    from tsnbook.factory import build_model

    with torch.device("meta"):
        rgb = build_model(dict(get_config("tsn_r50_1x1x3_100e_kinetics400_rgb"), pretrained=None))
        flow = build_model(dict(get_config("tsn_r50_320p_1x1x3_110e_kinetics400_flow"), pretrained=None))
        small = build_model(dict(get_config(CONFIG), pretrained=None))
    assert round(macs_per_view(rgb) / 1e9, 2) == 4.09 and round(macs_per_view(small) / 1e9, 2) == 1.81
    stem = 64 * 7 * 7 * 112 * 112  # conv1's MACs per input channel
    assert macs_per_view(flow) - macs_per_view(rgb) == 7 * stem
    assert abs(macs_per_view(rgb, 256) / macs_per_view(rgb) - (256 / 224) ** 2) < 0.01
    assert rgb.training  # the count leaves the mode as it found it


def test_default_protocol_and_sizes_are_the_configs_own():
    """bench-model times the workload the config runs: by default its own test protocol (the zoo's column times
    each row under its own), a named protocol at the model's sizes (as `test --protocol` applies it), and
    training on its training crops, not the zoo's 224 whatever the config."""
    small = dict(backbone="mobilenet_v3_small")
    report = run(CONFIG, iters=1, warmup=0, device="cpu", overrides=small)
    assert report["protocol"] == "10x3@48" and report["results"]["fp32"]["input_shape"] == [1, 30, 3, 48, 48]
    report = run(CONFIG, "25x3", iters=1, warmup=0, device="cpu", overrides=small)
    assert report["results"]["fp32"]["input_shape"] == [1, 75, 3, 48, 48]
    report = run(CONFIG, "2x1@64", iters=1, warmup=0, device="cpu", overrides=small)  # an explicit size is kept
    assert report["results"]["fp32"]["input_shape"] == [1, 2, 3, 64, 64]
    zoo = run("tsn_r50_320p_1x1x3_100e_kinetics400_rgb", iters=1, warmup=0, device="cpu",
              overrides=small)
    assert zoo["protocol"] == "25x3" and zoo["results"]["fp32"]["input_shape"] == [1, 75, 3, 256, 256]


def test_figures_give_the_zoo_comparable_mean_and_the_steadier_median():
    """One iteration slowed down by another job moves the mean (MMAction2's figure), not the median."""
    import torch

    from tsnbook.bench_model import _figures
    figures = _figures([0.1, 0.1, 1.0], 2, torch.device("cpu"))
    assert figures == dict(per_s=5.0, ms_per_iter=400.0, ms_per_iter_median=100.0, ms_per_iter_min=100.0)
