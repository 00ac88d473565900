"""tsnbook.pipelines (the zoo's test protocols, views by tsnbook.predict.test_views) and tsnbook.bench
(bench-data), against MMAction2 1.2.0 where present.

The clips are textured and moving, H.264 with B-frames (x264 defaults), so the selective decoder really skips
non-reference frames; one has a keyframe every 8 frames, so it also restarts at keyframes.
"""
import json
import pathlib
import sys

import av
import cv2
import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from oracle import mma1x_pipeline  # noqa: E402

from tsnbook import bench, io, pipelines  # noqa: E402
from tsnbook.predict import test_views  # noqa: E402
from tsnbook.io import FlowFrames, RawFrames, decord_available, open_video, write_video  # noqa: E402

NUM = 60


def textured_frames(width, height, num=NUM, seed=0):
    """A blurred noise canvas panning diagonally, plus a moving disc: real work for the codec."""
    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.integers(0, 256, (2 * height, 2 * width, 3), dtype=np.uint8), (0, 0), 1.5)
    frames = []
    for t in range(num):
        frame = canvas[t * 2 % height:t * 2 % height + height, t * 3 % width:t * 3 % width + width].copy()
        cv2.circle(frame, (t * 5 % width, height // 2), height // 6, (255, 40, 40), -1)
        frames.append(frame)
    return np.stack(frames)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preset_clips")
    write_video(folder / "wide.mp4", textured_frames(340, 256))
    write_video(folder / "hd.mp4", textured_frames(320, 180, seed=1), g=8)  # odd aspect, many keyframes
    return folder


def sequential_decode(path):
    """Every frame, in order, with PyAV alone: the reference independent of tsnbook."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


# ------------------------------------------------------------------------------------------------ the oracle
ORACLE_CROPS = {"25x10": dict(type="TenCrop", crop_size=224), "25x3": dict(type="ThreeCrop", crop_size=256),
                "val": dict(type="CenterCrop", crop_size=224), "dense-8x1": dict(type="CenterCrop", crop_size=224)}


def mmaction2_views(path, protocol, num_clips):
    sampler = (dict(type="DenseSampleFrames", clip_len=1, frame_interval=1, num_clips=8, test_mode=True)
               if protocol == "dense-8x1" else
               dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_clips, test_mode=True))
    pipeline = mma1x_pipeline([dict(type="DecordInit"), sampler, dict(type="DecordDecode"),
                               dict(type="Resize", scale=(-1, 256)), ORACLE_CROPS[protocol],
                               dict(type="FormatShape", input_format="NCHW")])
    return pipeline(dict(filename=str(path), start_index=0, modality="RGB"))["imgs"]


@pytest.mark.parametrize("protocol, num_segments, num_clips",
                         [("25x10", None, 25), ("25x3", None, 25), ("val", None, 3), ("val", 8, 8), ("dense-8x1", None, 8)])
@pytest.mark.parametrize("clip", ["wide.mp4", "hd.mp4"])
def test_views_bit_identical_to_mmaction2(clips, clip, protocol, num_segments, num_clips):
    if not decord_available():
        pytest.skip("MMAction2's DecordInit needs decord")
    theirs = mmaction2_views(clips / clip, protocol, num_clips)
    ours = test_views(clips / clip, protocol, num_segments=num_segments)
    assert ours.dtype == np.uint8 and ours.flags["C_CONTIGUOUS"]
    assert ours.shape == theirs.shape == (pipelines.num_views(protocol, num_segments),) + ours.shape[1:]
    assert np.array_equal(ours, theirs)


# ------------------------------------------------------------------------------------------------ without it
def test_ten_crop_views_are_crop_major_then_clip(clips):
    frames = sequential_decode(clips / "wide.mp4")  # 340x256: Resize(-1, 256) changes nothing
    indices = pipelines.protocol_sampler("25x10")(NUM)  # the 25 segment centres, 2.4 frames apart
    assert len(indices) == 25 and set(np.diff(indices)) == {2, 3}
    views = test_views(clips / "wide.mp4", "25x10")
    assert views.shape == (250, 3, 224, 224)
    ws, hs = (340 - 224) // 4, (256 - 224) // 4
    for view, (x, y) in enumerate([(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]):
        crops = frames[indices, y:y + 224, x:x + 224].transpose(0, 3, 1, 2)
        assert np.array_equal(views[2 * view * 25:(2 * view + 1) * 25], crops), f"crop {view}"
        assert np.array_equal(views[(2 * view + 1) * 25:(2 * view + 2) * 25], crops[..., ::-1]), f"mirror {view}"


def test_shapes_of_every_protocol_on_an_odd_aspect(clips):
    # 320x180 -> 455x256: ThreeCrop slides along the width; the others crop 224 squares.
    for protocol, num_segments, shape in [("25x10", None, (250, 3, 224, 224)), ("25x3", None, (75, 3, 256, 256)),
                                          ("val", None, (3, 3, 224, 224)), ("val", 8, (8, 3, 224, 224)),
                                          ("dense-8x1", None, (80, 3, 224, 224))]:
        views = test_views(clips / "hd.mp4", protocol, num_segments=num_segments)
        assert views.shape == shape and pipelines.num_views(protocol, num_segments) == shape[0], protocol
    left, right, middle = np.split(test_views(clips / "hd.mp4", "25x3"), 3)
    # left, right, middle start at x = 0, 198, 99 of 455: the overlaps must agree
    assert np.array_equal(left[..., 99:], middle[..., :157]) and np.array_equal(middle[..., 99:], right[..., :157])


def test_val_protocol_is_the_segment_centres(clips):
    frames = sequential_decode(clips / "wide.mp4")
    views = test_views(clips / "wide.mp4", "val")
    assert np.array_equal(views, frames[[10, 30, 50], 16:240, 58:282].transpose(0, 3, 1, 2))


@pytest.mark.parametrize("clip", ["wide.mp4", "hd.mp4"])
def test_selective_decoder_matches_full_decoding(clips, clip):
    reference = sequential_decode(clips / clip)
    patterns = {"all": range(NUM), "first": [0], "last": [NUM - 1], "unsorted": [41, 3, 59, 17, 8],
                "repeats": [5, 5, 0, 30, 30, 59], "after a keyframe jump": [1, 33, 34, 57]}
    with io.open_selective(clips / clip) as video:
        assert isinstance(video, io.SelectiveVideo) and video.num_frames == NUM
        assert len(video._starts) == (1 if clip == "wide.mp4" else NUM // 8 + 1)  # where decoding may restart
        for name, indices in patterns.items():
            assert np.array_equal(video.get(indices), reference[list(indices)]), name
        with pytest.raises(IndexError, match=clip):
            video.get([NUM])


def test_other_backends_and_readers_give_the_same_views(clips, tmp_path):
    selective = test_views(clips / "wide.mp4", "25x3")
    assert np.array_equal(test_views(clips / "wide.mp4", "25x3", backend="pyav"), selective)
    with open_video(clips / "wide.mp4", "pyav") as video:  # an open reader is used as it is, and left open
        assert np.array_equal(test_views(video, "25x3"), selective)
        assert video.get([0]).shape == (1, 256, 340, 3)
    write_video(tmp_path / "clip.avi", sequential_decode(clips / "wide.mp4")[:20])  # MPEG-4: open_video's path
    with io.open_selective(tmp_path / "clip.avi") as video:
        assert not isinstance(video, io.SelectiveVideo)
    assert test_views(tmp_path / "clip.avi", "val").shape == (3, 3, 224, 224)


def test_flow_reader_gives_ten_channel_views(tmp_path):
    rng = np.random.default_rng(0)
    for number in range(1, 31):
        for axis in "xy":
            cv2.imwrite(str(tmp_path / f"flow_{axis}_{number:05d}.jpg"), rng.integers(0, 256, (256, 340), np.uint8))
    flow = FlowFrames(tmp_path, 30)
    views = test_views(flow, "25x10")
    assert views.shape == (250, 10, 224, 224)  # 25 clips of 5 stacked (x, y) pairs, 10 crops
    first = flow.get(pipelines.protocol_sampler("25x10", clip_len=5)(30)[:5])  # clip 0: 5 frames [5, H, W, 2]
    assert np.array_equal(views[0], first[:, :224, :224].transpose(0, 3, 1, 2).reshape(10, 224, 224))


def test_errors_name_what_is_wrong(clips, tmp_path):
    with pytest.raises(ValueError, match="unknown test protocol '25x5'.*25x10, 25x3, val, dense-8x1"):
        test_views(clips / "wide.mp4", "25x5")
    missing = tmp_path / "nowhere" / "clip.mp4"
    for backend in (None, "pyav"):
        with pytest.raises(FileNotFoundError, match=str(missing)):
            test_views(missing, "25x10", backend=backend)
    with pytest.raises(ValueError, match="crop must be 'msc' or 'rrc'"):
        pipelines.train_pipeline("depth")


def test_train_pipeline_is_the_zoo_recipe():
    steps = pipelines.train_pipeline(flow=True)
    assert [s["type"] for s in steps] == ["Resize", "MultiScaleCrop", "Resize", "Flip", "FormatShape"]
    assert steps[1]["scales"] == (1, 0.875, 0.75, 0.66) and steps[-1]["input_format"] == "NCHW_Flow"
    steps[0]["scale"] = (-1, 128)  # a fresh copy every time
    assert pipelines.train_pipeline()[0]["scale"] == (-1, 256)


# ------------------------------------------------------------------------------------------------ bench-data
@pytest.fixture(scope="module")
def bench_root(clips, tmp_path_factory):
    """bench-data's layout (what ``--write-clips --rawframes`` writes), with two short clips."""
    root = tmp_path_factory.mktemp("bench")
    (root / "videos").mkdir()
    for i, name in enumerate(["wide", "hd"]):
        (root / "videos" / f"clip_{i:03d}.mp4").write_bytes((clips / f"{name}.mp4").read_bytes())
        folder = root / "rawframes" / f"clip_{i:03d}"
        folder.mkdir(parents=True)
        for number, frame in enumerate(sequential_decode(clips / f"{name}.mp4"), start=1):
            cv2.imwrite(str(folder / f"img_{number:05d}.jpg"), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    (root / "videos.txt").write_text("clip_000.mp4 0\nclip_001.mp4 1\n")
    (root / "rawframes.txt").write_text(f"clip_000 {NUM} 0\nclip_001 {NUM} 1\n")
    return root


def test_bench_runners_make_model_inputs(bench_root):
    shapes = {"video_train_1x1x3": (3, 3, 224, 224), "video_train_1x1x8": (8, 3, 224, 224),
              "video_test_25x10": (250, 3, 224, 224), "video_test_25x3": (75, 3, 256, 256),
              "frames_train_1x1x3": (3, 3, 224, 224), "frames_test_25x10": (250, 3, 224, 224)}
    assert set(shapes) == set(bench.PIPELINES)
    for name, shape in shapes.items():
        run = bench.tsnbook_runner(name)
        for record in bench._records(name, bench_root, None):
            tensor = run(record)
            assert tuple(tensor.shape) == shape and str(tensor.dtype) == "torch.uint8", name


def test_bench_prints_json_last_and_rejects_bad_arguments(bench_root, tmp_path, capsys):
    assert bench.main(["--pipeline", "frames_test_25x10", "--root", str(bench_root), "--repeat", "1"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["pipeline"] == "frames_test_25x10" and report["videos_per_s"] > 0
    with pytest.raises(SystemExit, match="unknown pipeline 'video_train_9x9'.*video_train_1x1x3, video_train_1x1x8"):
        bench.main(["--pipeline", "video_train_9x9", "--root", str(bench_root)])
    with pytest.raises(SystemExit, match="does not exist"):
        bench.main(["--pipeline", "video_test_25x3", "--root", str(tmp_path)])
    (tmp_path / "list.txt").write_text("clip_000.mp4 0\nclip_009.mp4 1\n")
    with pytest.raises(SystemExit, match="missing, e.g. .*clip_009.mp4"):
        bench.main(["--pipeline", "video_test_25x3", "--root", str(bench_root), "--list", str(tmp_path / "list.txt")])


@pytest.mark.parametrize("name", ["video_test_25x3", "frames_test_25x10", "frames_train_1x1x3", "video_train_1x1x8"])
def test_bench_pipelines_equal_mmaction2s(bench_root, name):
    """Both sides of bench-data's ratio do the same work: the same pixels, training pipelines too once the global
    generators are seeded alike (as `bench.time_runners` does before every call)."""
    mma1x_pipeline([])  # skips without the oracle
    if name.startswith("video") and not decord_available():
        pytest.skip("MMAction2's DecordInit needs decord")
    ours, theirs = bench.tsnbook_runner(name), bench.mmaction2_runner(name)
    for seed, record in enumerate(bench._records(name, bench_root, None)):
        outputs = []
        for run in (ours, theirs):
            bench._seed_global_generators(seed)
            outputs.append(run(record).numpy())
        assert np.array_equal(*outputs), record.path


def test_decode_only_returns_the_sampled_frames_and_reports_a_ceiling(bench_root, capsys):
    record = bench._records("video_test_25x3", bench_root, None)[0]
    frames = bench.tsnbook_runner("video_test_25x3", decode_only=True)(record).numpy()
    indices = pipelines.protocol_sampler("25x3")(NUM)
    assert np.array_equal(frames, sequential_decode(record.path)[indices])
    # The exact pipeline is the decoded frames cropped: its left crop is the frames' first 256 columns.
    views = bench.tsnbook_runner("video_test_25x3")(record).numpy()
    assert np.array_equal(views[:25], frames[:, :, :256].transpose(0, 3, 1, 2))
    train = bench.tsnbook_runner("frames_train_1x1x3", decode_only=True)
    assert tuple(train(bench._records("frames_train_1x1x3", bench_root, None)[0]).shape) == (3, 256, 340, 3)
    assert bench.main(["--pipeline", "frames_train_1x1x3", "--root", str(bench_root), "--repeat", "1",
                       "--decode-only"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["impl"] == "tsnbook" and report["decode_videos_per_s"] > 0 and "ceiling_ratio" not in report
