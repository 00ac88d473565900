"""tools/bench_*.py: benchmarks that print figures (never timed here); what they refuse before any work."""
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_workers_refuses_runs_too_short_for_the_rates_it_prints(tmp_path):
    """The steady rate is (videos - 1) / (last - first video's time), the after-the-first epoch time a mean over
    epochs 2...: one video or one epoch gave a ZeroDivisionError after minutes of work."""
    bench_workers = _tool("bench_workers")
    (tmp_path / "clip_000.mp4").write_bytes(b"")  # never opened: the refusal comes first
    with pytest.raises(SystemExit, match="1 video .* at least 2: pass --repeat 2 or more"):
        bench_workers.main(["test", str(tmp_path), "--repeat", "1"])
    with pytest.raises(SystemExit, match="--epochs 1: .* at least 2"):
        bench_workers.main(["train", "--epochs", "1"])
