"""bench-data's own clips (``--write-clips``, so a clone needs no other clip generator) and its DataLoader mode
(``--workers N``): the layout it reads, reuse, the same tensors through worker processes, and the arguments."""
import json
import random

import av
import numpy as np
import pytest
import torch

from tsnbook import bench
from tsnbook.io import open_video

SMALL = dict(width=64, height=48, frames=20, fps=30)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_clips")
    bench.write_bench_clips(root, num=2, rawframes=True, **SMALL)
    return root


def test_write_bench_clips_writes_the_layout_bench_data_reads(clips):
    assert (clips / "videos.txt").read_text() == "clip_000.mp4 0\nclip_001.mp4 1\n"
    assert (clips / "rawframes.txt").read_text() == "clip_000 20 0\nclip_001 20 1\n"
    with open_video(clips / "videos" / "clip_001.mp4") as video:
        frames = video.get(np.arange(video.num_frames))
    assert frames.shape == (20, 48, 64, 3) and video.fps == 30
    with av.open(str(clips / "videos" / "clip_001.mp4")) as container:  # the README's figures: x264 at CRF 21
        assert b"crf=21.0 " in bytes(next(container.demux(video=0)))  # x264's settings, in its first packet
    assert len(list((clips / "rawframes" / "clip_001").glob("img_*.jpg"))) == 20
    assert not list(clips.rglob("*partial*"))  # written under temporary names, renamed when complete
    before = (clips / "videos" / "clip_000.mp4").stat().st_mtime_ns
    bench.write_bench_clips(clips, num=2, rawframes=True, **SMALL)  # kept, not rewritten
    assert (clips / "videos" / "clip_000.mp4").stat().st_mtime_ns == before
    for name in ("video_test_25x3", "frames_train_1x1x3"):
        records = bench._records(name, clips, None)
        assert len(records) == 2 and tuple(bench.tsnbook_runner(name)(records[0]).shape)[0] in (75, 3)


def test_clips_written_with_other_settings_are_written_again(tmp_path):
    """Clips an older version left (CRF 23, no clips.json) or of another size are not kept under this one's name:
    bench-data would time another decode than the README's."""
    bench.write_bench_clips(tmp_path, num=2, rawframes=True, **SMALL)
    (tmp_path / "clips.json").unlink()  # as an older version left them
    (tmp_path / "videos" / "clip_interview.mp4").write_bytes(b"a user's file")  # not a name this writes
    bench.write_bench_clips(tmp_path, num=1, **SMALL)
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["clip_000.mp4", "clip_interview.mp4"]
    assert not (tmp_path / "rawframes").exists() or not list((tmp_path / "rawframes").iterdir())
    assert not (tmp_path / "rawframes.txt").exists()  # it listed frame folders that are gone
    bench.write_bench_clips(tmp_path, num=2, rawframes=True, **dict(SMALL, frames=10))
    assert (tmp_path / "rawframes.txt").read_text() == "clip_000 10 0\nclip_001 10 1\n"
    with open_video(tmp_path / "videos" / "clip_000.mp4") as video:
        assert video.num_frames == 10


def test_clips_differ_from_each_other_and_are_seeded(clips, tmp_path):
    bench.write_bench_clips(tmp_path, num=1, **SMALL)
    assert (tmp_path / "videos" / "clip_000.mp4").read_bytes() == (clips / "videos" / "clip_000.mp4").read_bytes()
    assert (clips / "videos" / "clip_000.mp4").read_bytes() != (clips / "videos" / "clip_001.mp4").read_bytes()


def test_dataloader_workers_return_the_in_process_tensors_and_a_rate(clips, capsys):
    name = "video_test_25x3"
    records = bench._records(name, clips, None)
    loader = torch.utils.data.DataLoader(bench.PipelineDataset(name, records), batch_size=None, num_workers=1,
                                         multiprocessing_context="spawn")
    in_process = bench.tsnbook_runner(name)
    for record, tensor in zip(records, loader):
        assert torch.equal(tensor, in_process(record))
    assert bench.main(["--pipeline", name, "--root", str(clips), "--repeat", "1", "--workers", "1"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["workers"] == 1 and report["videos_per_s"] > 0 and "videos_per_cpu_s" not in report


def test_write_clips_and_worker_arguments(tmp_path, capsys):
    assert bench.main(["--root", str(tmp_path), "--write-clips", "--num", "1"]) == 0
    assert capsys.readouterr().out == f"1 benchmark clips in {tmp_path} (videos.txt)\n"
    with pytest.raises(SystemExit, match="--write-clips needs --root DIR"):
        bench.main(["--write-clips"])
    with pytest.raises(SystemExit, match="--workers N \\(N >= 1\\) times tsnbook's pipeline alone"):
        bench.main(["--pipeline", "video_test_25x3", "--root", str(tmp_path), "--workers", "2", "--mmaction2"])
    with pytest.raises(SystemExit, match="--workers >= 0 \\(0: in this process\\), got 3 and -1"):
        bench.main(["--pipeline", "video_test_25x3", "--root", str(tmp_path), "--repeat", "3",
                    "--workers", "-1"])
    with pytest.raises(ValueError, match="at least one worker"):
        bench.loader_rate("video_test_25x3", [], 0)
    with pytest.raises(SystemExit, match="does not exist; write the benchmark clips with python -m tsnbook "
                                         "bench-data --root .* --write-clips --rawframes"):
        bench.main(["--pipeline", "frames_test_25x10", "--root", str(tmp_path)])


def test_every_implementation_of_a_pass_gets_the_same_random_draws():
    """A ratio compares like with like only if both sides decode the same frames: a training pipeline samples
    them at random, so each call starts from the same seeds of numpy's and Python's global generators for every
    implementation (different passes and clips draw differently)."""
    seen = {"tsnbook": [], "mmaction2": []}
    runners = {impl: (lambda record, impl=impl: seen[impl].append((record, np.random.randint(1 << 30),
                                                                   random.random())))
               for impl in seen}
    np.random.seed(3)
    random.seed(3)
    bench.time_runners(runners, ["clip_a", "clip_b"], repeat=3)
    assert (np.random.randint(1 << 30), random.random()) == (np.random.RandomState(3).randint(1 << 30),
                                                             random.Random(3).random())  # the caller's draws kept
    assert seen["tsnbook"] == seen["mmaction2"] and len(seen["tsnbook"]) == 1 + 3 * 2  # the warm-up call too
    assert len({draw for _, draw, _ in seen["tsnbook"][1:]}) == 6


@pytest.mark.parametrize("name", ["video_train_1x1x3", "frames_train_1x1x3"])
def test_training_runners_draw_from_the_global_generators_as_mmaction2(clips, name):
    """MMAction2's SampleFrames, MultiScaleCrop and Flip draw from numpy's and Python's global generators: after
    the same seeds, tsnbook's runners (decode-only and the whole pipeline) must do the same work."""
    from tsnbook.io import RawFrames
    from tsnbook.sampling import zoo_sampling

    record = bench._records(name, clips, None)[0]
    reader = open_video(record.path) if name.startswith("video") else \
        RawFrames(record.path, record.num_frames, "img_{:05d}.jpg", start_index=1)
    np.random.seed(7)
    with reader as frames:  # MMAction2's SampleFrames draws these, bit for bit (tests/test_sampling.py)
        wanted = torch.from_numpy(frames.get(zoo_sampling("1x1x3", test_mode=False)(frames.num_frames, rng=None)))
    np.random.seed(7)
    assert torch.equal(bench.tsnbook_runner(name, decode_only=True)(record), wanted)
    whole = bench.tsnbook_runner(name)
    outputs = []
    for _ in range(2):
        np.random.seed(7)
        random.seed(7)
        outputs.append(whole(record))
    assert torch.equal(*outputs)  # crops and flips drawn from the seeded global generators too
