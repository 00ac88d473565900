"""tools/gpu_check.sh and tools/gpu_check.py on a machine without a GPU: one line and exit 0, nothing run; and
every phase of the check rehearsed on the CPU at toy sizes, so that the code a GPU machine will run has run."""
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"


def _driver():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_script(env, tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), "--out", str(tmp_path / "report.json")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    return done, done.stdout.splitlines()


def test_hidden_gpus_mean_one_line_exit_0_and_nothing_run(tmp_path):
    done, lines = _run_script(dict(os.environ, CUDA_VISIBLE_DEVICES=""), tmp_path)  # what the test profile sets
    assert done.returncode == 0 and done.stderr == ""
    assert lines == ["gpu-check: no CUDA GPU visible (CUDA_VISIBLE_DEVICES='' hides them all): nothing to check, "
                     "nothing was run"]
    assert list(tmp_path.iterdir()) == []  # no report, no environment, nothing written


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None or bool(glob.glob("/dev/nvidia[0-9]*")),
                    reason="this machine has an NVIDIA GPU")
def test_a_machine_without_a_gpu_gets_one_line_and_exit_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    done, lines = _run_script(env, tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert lines == ["gpu-check: no CUDA GPU on this machine (no nvidia-smi listing one, no /dev/nvidia*): nothing "
                     "to check, nothing was run"]
    assert list(tmp_path.iterdir()) == []


def test_the_driver_without_cuda_says_so_and_runs_nothing(tmp_path, capsys):
    assert _driver().main(["--out", str(tmp_path / "report.json")]) == 0  # the test profile hides the GPU
    assert capsys.readouterr().out == "gpu-check: torch sees no CUDA GPU: nothing to check, nothing was run\n"
    assert list(tmp_path.iterdir()) == []


def test_the_rehearsal_runs_every_phase_on_the_cpu(tmp_path):
    """`--rehearse`: the cuda tests collected and skipped, bench-model / a training step / bench-data (per core and
    through a DataLoader worker) at toy sizes, the report written. What a GPU machine runs, minus the GPU."""
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--rehearse", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"gpu-check: PASSED - report: {out}"
    report = json.loads(out.read_text())
    assert report["rehearsal"] and report["passed"] and report["environment"]["gpu"] is None
    assert list(report["phases"]) == ["tests", "bench_model", "bench_train", "bench_data"]
    names = {t["name"].split("::")[-1] for t in report["tests"]["tests"]}
    assert {"test_training_on_a_bare_cuda_device", "test_two_processes_on_one_gpu_train_as_one[cuda]",
            "test_sync_bn_makes_two_half_batches_one_batch[cuda]",
            "test_amp_training_steps_are_finite_and_close_to_fp32[cuda-fp16]",
            "test_predict_video_on_cuda_equals_the_cpu[cuda]"} <= names
    assert all(t["outcome"] == "skipped" for t in report["tests"]["tests"])  # the CPU variants: not selected
    protocols = report["bench_model"]["protocols"]
    assert list(protocols) == ["val", "2x3", "dense-1x1"]
    assert [protocols[p]["views"] for p in protocols] == [3, 6, 10]
    assert all(protocols[p]["best"]["fp32"]["per_s"] > 0 for p in protocols)
    assert report["bench_train"]["results"]["fp32"]["per_s"] > 0
    data = report["bench_data"]
    assert data["one_core"]["video_train_1x1x3 (gpu_augment)"]["gpu_augment"] is True
    assert data["workers"]["1"]["workers"] == 1 and data["workers"]["1"]["videos_per_s"] > 0


def test_derived_figures_and_targets():
    report = dict(
        bench_model=dict(protocols={"25x10": dict(best=dict(fp32=dict(per_s=20.0), amp=dict(per_s=50.0),
                                                            amp_channels_last=dict(per_s=60.0)))}),
        bench_train=dict(results=dict(fp32=dict(per_s=100.0), amp_channels_last=dict(per_s=180.0))),
        bench_data=dict(pinned_to_one_core=True, one_core={"video_test_25x10": dict(videos_per_s=7.5),
                                                           "video_train_1x1x3 (gpu_augment)": dict(videos_per_s=20.0)},
                        workers={"1": dict(videos_per_s=7.0), "2": dict(videos_per_s=13.3)}))
    figures, targets = _driver().derived(report)
    assert figures == dict(decoding_cores_per_gpu_25x10=8.0, decoding_cores_per_gpu_training=9.0,
                           loader_scaling_2_workers=1.9)
    assert targets == dict(r50_25x10_amp_videos_per_s=dict(measured=60.0, target=40.0, met=True),
                           amp_training_speedup=dict(measured=1.8, target=2.0, met=False))
    assert _driver().derived({}) == ({}, {})
