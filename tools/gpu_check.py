#!/usr/bin/env python
"""The GPU check (issue 12): every CUDA code path of tsnbook, and the GPU figures, as one JSON report.

    tools/gpu_check.sh [--out FILE] [--budget SECONDS]   # the wrapper finds the GPU and the Python, then runs this
    python tools/gpu_check.py --rehearse --out FILE      # the same phases on the CPU at toy sizes (tests it here)

Phases, each recorded with its status and seconds; the report is rewritten after every phase, so whatever ran
is kept even if a later phase is cut short:

1. ``environment``: GPU, memory, driver, torch / CUDA / cuDNN / NCCL versions, CPU cores, how Python was set up;
2. ``tests``: ``pytest -m cuda tests`` in the ``cuda`` test profile (tsnbook.testenv.CUDA_ENV), one entry per
   test from pytest's JUnit XML (the DDP test records which backend it used); on a GPU machine a skipped cuda
   test is a failure (the environment hid something);
3. ``bench_model``: `tsnbook.bench_model` for tsn_r50_1x1x3_100e_kinetics400_rgb under 25x10, 25x3 and
   dense-8x1 (the zoo's "8x10 frames"): videos/s and peak memory, fp32 vs bf16 autocast, NCHW vs channels_last,
   at batch 1 (the zoo's "inference time") and at the best batch of 1, 2, 4, 8, 16;
4. ``bench_train``: a training step at the zoo's 32 videos per GPU (16 if that does not fit), clips/s;
5. ``bench_data``: benchmark clips written (`tsnbook.bench.write_bench_clips`), then bench-data for the test
   and training pipelines on one core (``taskset -c 0`` when available) and through 1, 2 and 4 DataLoader
   workers: what one decoding core delivers, and whether the loader scales;
6. ``derived`` figures (how many decoding cores one GPU needs) and the issue's ``targets`` (R50 25x10 with AMP
   >= 40 videos/s; AMP training >= 2x fp32 clips/s), reported, not enforced: a slower GPU is not a bug.

Exit status 0 when every phase passed (every cuda test passed, every benchmark ran), else 1.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = "tsn_r50_1x1x3_100e_kinetics400_rgb"
PROTOCOLS = ("25x10", "25x3", "dense-8x1")
REHEARSAL_PROTOCOLS = ("val", "2x3", "dense-1x1")  # the same code paths, a few views each
BATCHES = (1, 2, 4, 8, 16)
DATA_PIPELINES = ("video_test_25x10", "video_test_25x3", "video_train_1x1x3")
TARGETS = dict(r50_25x10_amp_videos_per_s=40.0, amp_training_speedup=2.0)


class Budget:
    """The seconds left of the check's budget; phases ask before each step and stop when it is spent."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()


class OutOfTime(RuntimeError):
    pass


# ----------------------------------------------------------------------------------------------- phases
def environment(device):
    import torch

    import tsnbook
    facts = dict(tsnbook=tsnbook.__version__, python=platform.python_version(), torch=torch.__version__,
                 torch_cuda=torch.version.cuda, cpu_cores=os.cpu_count(),
                 setup=os.environ.get("TSNBOOK_GPU_CHECK_SETUP", "(run directly)"),
                 setup_seconds=float(os.environ.get("TSNBOOK_GPU_CHECK_SETUP_SECONDS", 0)))
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2 ** 30, 1),
                     capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version(),
                     bf16_supported=torch.cuda.is_bf16_supported())
        try:
            facts["nccl"] = ".".join(str(v) for v in torch.cuda.nccl.version())
        except Exception as err:  # a build without NCCL
            facts["nccl"] = f"unavailable ({err})"
        if shutil.which("nvidia-smi"):
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True)
            facts["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout else None
    else:
        facts["gpu"] = None
    return facts


def junit_results(path):
    """One dict per test case of a JUnit XML file: name, outcome (passed / failed / error / skipped), seconds,
    message, and the properties a test recorded (``record_property``)."""
    results = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                outcome = "failed" if kind == "failure" else kind
                message = (found.get("message") or found.text or "").strip().splitlines()[0][:300] if (
                    found.get("message") or found.text) else ""
                break
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        results.append(dict(name=f"{case.get('classname')}::{case.get('name')}", outcome=outcome,
                            seconds=round(float(case.get("time") or 0), 2), message=message, **properties))
    return results


def tests(rehearse, budget, work):
    """``pytest -m cuda tests``: every cuda test must pass (rehearsal: they must be collected, and skip)."""
    xml = work / "cuda_tests.xml"
    where = ["tests/test_cuda.py", "tests/test_runs.py"] if rehearse else ["tests"]  # rehearsal: the quick part
    command = [sys.executable, "-m", "pytest", *where, "-m", "cuda", "-o", "addopts=", "-p", "no:cacheprovider",
               "-q", "-rfEs", f"--junitxml={xml}"]
    env = dict(os.environ, TSNBOOK_TEST_PROFILE="default" if rehearse else "cuda", PYTHONUNBUFFERED="1")
    timeout = max(30, min(budget.left() - 60, 330))  # leave time for the figures
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(status="failed", reason=f"pytest ran past {timeout:.0f} s", tests=junit_results(xml)
                    if xml.exists() else [])
    results = junit_results(xml) if xml.exists() else []
    tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    if not results:
        return dict(status="failed", reason="pytest collected no cuda test", returncode=done.returncode,
                    output=tail)
    if rehearse:
        ok = all(r["outcome"] == "skipped" for r in results)
        return dict(status="passed" if ok else "failed", tests=results, output=tail,
                    reason="" if ok else "on the CPU every cuda test must skip")
    bad = [r for r in results if r["outcome"] != "passed"]
    return dict(status="passed" if not bad and done.returncode == 0 else "failed", tests=results, output=tail,
                reason="; ".join(f"{r['name']}: {r['outcome']} {r['message']}" for r in bad))


def _bench(budget, **kwargs):
    from tsnbook.bench_model import run
    if budget.left() < 20:
        raise OutOfTime("the budget ran out")
    return run(**kwargs)


def bench_model(device, rehearse, budget):
    """Inference videos/s per protocol: batch 1 and the best batch, every variant; peak memory on CUDA."""
    import torch
    overrides = dict(backbone="mobilenet_v3_small") if rehearse else {}
    batches = (1, 2) if rehearse else BATCHES
    figures = {}
    for protocol in REHEARSAL_PROTOCOLS if rehearse else PROTOCOLS:
        by_batch = {}
        for batch in batches:
            iters, warmup = (1, 0) if rehearse else (max(5, 20 // batch), 5 if batch == 1 else 3)
            try:
                report = _bench(budget, config=CONFIG, protocol=protocol, batch=batch, iters=iters, warmup=warmup,
                                device=str(device), amp=True, channels_last=True, overrides=overrides)
            except torch.cuda.OutOfMemoryError:
                by_batch[batch] = "out of memory"
                break
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            by_batch[batch] = report["results"]
            if batch > 1 and _best_rate(report["results"]) < 1.03 * _best_rate(by_batch[batch // 2]):
                break  # the GPU is full: larger batches only cost memory
        timed = {b: r for b, r in by_batch.items() if isinstance(r, dict)}
        best = {variant: max(((b, r[variant]) for b, r in timed.items()), key=lambda item: item[1]["per_s"])
                for variant in timed[1]}
        figures[protocol] = dict(views=timed[1]["fp32"]["views"], batch_1=timed[1],
                                 best={v: dict(batch=b, **f) for v, (b, f) in best.items()},
                                 batches={str(b): r for b, r in by_batch.items()})
    return dict(status="passed", config=CONFIG, unit="videos/s", protocols=figures)


def _best_rate(results):
    return max(f["per_s"] for f in results.values()) if isinstance(results, dict) else 0.0


def bench_train(device, rehearse, budget):
    """Training-step clips/s at the zoo's batch of 32 videos per GPU (16, 8 if memory is short)."""
    import torch
    overrides = dict(backbone="mobilenet_v3_small") if rehearse else {}
    for batch in ((2,) if rehearse else (32, 16, 8)):
        try:
            report = _bench(budget, config=CONFIG, batch=batch, iters=1 if rehearse else 10,
                            warmup=0 if rehearse else 3, device=str(device), amp=True, channels_last=True,
                            train=True, overrides=overrides)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            continue
        return dict(status="passed", config=CONFIG, unit="clips/s", batch=batch, results=report["results"])
    return dict(status="failed", reason="a training step did not fit in memory even at batch 8")


def _bench_data(arguments, budget, pin):
    """One ``python -m tsnbook bench-data`` run in its own process (pinned to core 0 when ``pin``): its JSON."""
    if budget.left() < 15:
        raise OutOfTime("the budget ran out")
    command = [sys.executable, "-m", "tsnbook", "bench-data", *arguments]
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=max(10, budget.left() - 10))
    if done.returncode != 0:
        raise RuntimeError(f"bench-data {' '.join(arguments)} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_data(rehearse, budget, work):
    """Per core (pinned) for the test and training pipelines, then 1 / 2 / 4 DataLoader workers (spawned)."""
    from tsnbook.bench import write_bench_clips
    clips = work / "bench_clips"
    num, shape = (2, dict(frames=30)) if rehearse else (8, {})
    started = time.perf_counter()
    write_bench_clips(clips, num=num, **shape)
    root, repeat = ["--root", str(clips)], ["--repeat", "1" if rehearse else "3"]
    figures = dict(clips=num, write_seconds=round(time.perf_counter() - started, 1), one_core={}, workers={})
    pinned = bool(shutil.which("taskset"))
    for name in () if rehearse else DATA_PIPELINES:  # rehearsal: the two kinds of run, once each
        figures["one_core"][name] = _bench_data(["--pipeline", name, *root, *repeat], budget, pin=True)
    figures["one_core"]["video_train_1x1x3 (gpu_augment)"] = _bench_data(
        ["--pipeline", "video_train_1x1x3", "--gpu-augment", *root, *repeat], budget, pin=True)
    counts = (1,) if rehearse else tuple(n for n in (1, 2, 4) if n < (os.cpu_count() or 1))
    for workers in counts:
        figures["workers"][str(workers)] = _bench_data(
            ["--pipeline", "video_test_25x3", "--workers", str(workers), *root, *repeat], budget, pin=False)
    figures["pinned_to_one_core"] = pinned
    return dict(status="passed", unit="videos/s", **figures)


def derived(report):
    """Decoding cores per GPU and the issue's targets, from what the phases measured (None where one is missing)."""
    model, train, data = (report.get(k, {}) for k in ("bench_model", "bench_train", "bench_data"))

    def best(variants, prefix):
        rates = [f["per_s"] for name, f in (variants or {}).items() if name.startswith(prefix)]
        return max(rates) if rates else None

    def per_core(name):
        found = (data.get("one_core") or {}).get(name)
        if not found:
            return None
        return found.get("videos_per_cpu_s") if not data.get("pinned_to_one_core") else found["videos_per_s"]

    out, targets = {}, {}
    test_gpu = best((model.get("protocols", {}).get("25x10") or {}).get("best", {}), "amp")
    core_test = per_core("video_test_25x10")
    if test_gpu and core_test:
        out["decoding_cores_per_gpu_25x10"] = round(test_gpu / core_test, 1)
    amp_train, fp32_train = best(train.get("results"), "amp"), (train.get("results") or {}).get("fp32", {}).get(
        "per_s")
    core_train = per_core("video_train_1x1x3 (gpu_augment)")
    if amp_train and core_train:
        out["decoding_cores_per_gpu_training"] = round(amp_train / core_train, 1)
    workers = {int(k): v["videos_per_s"] for k, v in (data.get("workers") or {}).items()}
    if 1 in workers and 2 in workers:
        out["loader_scaling_2_workers"] = round(workers[2] / workers[1], 2)
    if test_gpu is not None:
        targets["r50_25x10_amp_videos_per_s"] = dict(measured=test_gpu, target=TARGETS["r50_25x10_amp_videos_per_s"],
                                                     met=test_gpu >= TARGETS["r50_25x10_amp_videos_per_s"])
    if amp_train and fp32_train:
        speedup = round(amp_train / fp32_train, 2)
        targets["amp_training_speedup"] = dict(measured=speedup, target=TARGETS["amp_training_speedup"],
                                               met=speedup >= TARGETS["amp_training_speedup"])
    return out, targets


# --------------------------------------------------------------------------------------------------- main
def _write(report, path):
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=1, default=str))
    os.replace(partial, path)


def _summary(report):
    lines = [f"gpu-check on {report['environment'].get('gpu') or 'the CPU (rehearsal)'}:"]
    for name, phase in report["phases"].items():
        lines.append(f"  {name:<12} {phase['status']:<7} {phase['seconds']:6.1f} s  {phase.get('reason', '')}")
    for protocol, figures in report.get("bench_model", {}).get("protocols", {}).items():
        parts = [f"{v} {f['per_s']:.1f} (batch {f['batch']}"
                 + (f", {f['peak_memory_mb']:.0f} MiB)" if "peak_memory_mb" in f else ")")
                 for v, f in figures["best"].items()]
        lines.append(f"  R50 {protocol:<9} videos/s, best batch: " + "; ".join(parts))
    for variant, figures in report.get("bench_train", {}).get("results", {}).items():
        lines.append(f"  R50 training {variant:<18} {figures['per_s']:.1f} clips/s")
    for name, figures in report.get("bench_data", {}).get("one_core", {}).items():
        lines.append(f"  bench-data {name:<34} {figures['videos_per_s']:.2f} videos/s on one core")
    for key, value in report.get("derived", {}).items():
        lines.append(f"  {key}: {value}")
    for key, target in report.get("targets", {}).items():
        lines.append(f"  target {key}: {target['measured']} (>= {target['target']}: "
                     f"{'met' if target['met'] else 'NOT met'})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "work_dirs" / "gpu_check" / "report.json")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all phases (default 480)")
    parser.add_argument("--rehearse", action="store_true",
                        help="run every phase on the CPU at toy sizes (what the tests run without a GPU)")
    args = parser.parse_args(argv)
    import torch
    if not args.rehearse and not torch.cuda.is_available():
        print("gpu-check: torch sees no CUDA GPU: nothing to check, nothing was run")
        return 0
    device = torch.device("cpu") if args.rehearse else torch.device("cuda", 0)
    budget = Budget(args.budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = args.out.parent / (args.out.stem + "_files")
    work.mkdir(exist_ok=True)
    report = dict(started=time.strftime("%Y-%m-%d %H:%M:%S"), rehearsal=args.rehearse, budget_s=args.budget,
                  environment=environment(device), phases={})
    phases = [("tests", lambda: tests(args.rehearse, budget, work)),
              ("bench_model", lambda: bench_model(device, args.rehearse, budget)),
              ("bench_train", lambda: bench_train(device, args.rehearse, budget)),
              ("bench_data", lambda: bench_data(args.rehearse, budget, work))]
    for name, phase in phases:
        started = time.perf_counter()
        print(f"gpu-check: {name} ...", flush=True)
        try:
            result = phase()
        except Exception as err:  # a phase that breaks is a failed check, and the next phases still run
            result = dict(status="failed", reason=f"{type(err).__name__}: {str(err)[:500]}")
        seconds = round(time.perf_counter() - started, 1)
        report["phases"][name] = dict(status=result.pop("status"), seconds=seconds, reason=result.pop("reason", ""))
        report[name] = result
        report["derived"], report["targets"] = derived(report)
        report["passed"] = all(p["status"] == "passed" for p in report["phases"].values())
        _write(report, args.out)
    print(_summary(report))
    print(f"gpu-check: {'PASSED' if report['passed'] else 'FAILED'} - report: {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
