"""tools/bench_*.py: benchmarks that print figures (never timed here); what they refuse before any work."""
import importlib.util
import pathlib

import pytest

from tsnbook.io import open_video

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
    (tmp_path / "clip_000.mp4").unlink()
    with pytest.raises(SystemExit, match=r"has no .mp4 files: write them .* --write-clips"):  # not "= 1 video"
        bench_workers.main(["test", str(tmp_path), "--repeat", "3"])


def test_bench_datasets_verify_speed_up_comes_from_alternating_rounds(tmp_path, monkeypatch, capsys):
    """The "2 processes / 1 process" speed-up must not rest on one run of each, one after the other (the machine
    changes between them): 1 and 2 processes alternate over several rounds and the medians are compared."""
    bench_datasets = _tool("bench_datasets")
    calls = []

    class FakeK700:
        @staticmethod
        def build_lists(root, workers):
            pass

        @staticmethod
        def verify(root, workers):
            calls.append(workers)
            return type("Report", (), dict(actions={"train checked": 6, "val checked": 2}))

    class FakeReplica:
        render_clip = tone = staticmethod(lambda *args, **kwargs: None)

    monkeypatch.setattr(bench_datasets, "K700", FakeK700)
    monkeypatch.setattr(bench_datasets, "replica", FakeReplica)
    monkeypatch.setattr(bench_datasets, "write_video", lambda path, *args, **kwargs: path.write_bytes(b""))
    bench_datasets.bench_verify(tmp_path, 6, rounds=3)
    assert calls == [1, 1, 2, 2, 1, 1, 2]  # a warm-up, then 1-2, 2-1, 1-2
    out = capsys.readouterr().out
    assert "8 videos" in out and "median of 3 alternating rounds" in out
    bench_datasets.bench_load_annotations(tmp_path, 20)
    out = capsys.readouterr().out
    assert "load_annotations, 20 lines" in out and " MB" not in out and " MiB" in out  # computed in 2 ** 20 bytes


def test_bench_reencode_times_both_sets_on_the_same_clips_and_reuses_them(tmp_path, capsys):
    bench_reencode = _tool("bench_reencode")
    bench_reencode.main([str(tmp_path), "--num", "1", "--frames", "20", "--repeat", "1"])
    out = capsys.readouterr().out.splitlines()
    copy = tmp_path / "keyint_16" / "clip_000.mp4"
    assert out[0].startswith("1 clips, ") and "keyframe every 16 frames" in out[0] and copy.stat().st_size > 0
    assert [line.split()[0] for line in out[1:]] == list(bench_reencode.PIPELINES)
    assert all("by the wall clock" in line and "per CPU-second" in line for line in out[1:])
    before = copy.stat().st_mtime_ns
    bench_reencode.main([str(tmp_path), "--num", "1", "--frames", "20", "--repeat", "1"])
    assert copy.stat().st_mtime_ns == before  # reused, not re-encoded again
    source = tmp_path / "videos" / "clip_000.mp4"
    source.unlink()  # the source clips written again (other frames): a copy of the old ones is stale
    bench_reencode.main([str(tmp_path), "--num", "1", "--frames", "30", "--repeat", "1"])
    with open_video(copy) as video:
        assert video.num_frames == 30
    with pytest.raises(SystemExit):
        bench_reencode.main([str(tmp_path), "--keyframe-interval", "0"])
