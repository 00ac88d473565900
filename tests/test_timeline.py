"""Long videos, streams and annotated videos (issue 20 items 2 and 3), and predict's one-line bad-input messages.

The equality that makes a timeline trustworthy: window k of `run_timeline` - read in order, each frame decoded
once, only the sampled frames held - gives exactly the scores of ``predict_video(..., frames=(start, end))``, the
test of that frame range read with random access.
"""
import json

import av
import cv2
import numpy as np
import pytest

from conftest import cli_exit, consensus_checkpoint, frames_and_windows, random_checkpoint, small_config
from tsnbook.course.synth import CLASSES
from tsnbook.factory import load_model
from tsnbook.io import open_video, probe_video, write_video
from tsnbook.mmaction2 import export_mmaction2_checkpoint
from tsnbook.predict import predict_video, view_extractor
from tsnbook.streams import FrameStream
from tsnbook.timeline import run_timeline
from tsnbook.views import FrameRange


@pytest.fixture(scope="module")
def setup(tmp_path_factory, small_synth):
    """A stitched 96-frame video (4 SynthActions clips of 4 classes, 25 fps) and a random 48-px RGB checkpoint."""
    folder = tmp_path_factory.mktemp("timeline")
    clips = [sorted((small_synth / "videos" / name).glob("*.mp4"))[0] for name in ("RedBall", "BlueBall",
                                                                                    "MoveLeft", "GreenBall")]
    frames = []
    for clip in clips:
        with open_video(clip) as reader:
            frames.extend(reader.get(range(reader.num_frames)))
    write_video(folder / "long.mp4", np.stack(frames), fps=25)
    cfg = small_config("rgb", small_synth, test_clips=3)
    return folder, folder / "long.mp4", random_checkpoint(folder / "rgb.pth", cfg, CLASSES)


def test_each_window_equals_predict_video_on_its_frame_range(setup):
    folder, video, checkpoint = setup
    model, info = load_model(checkpoint)
    extract = view_extractor(model, info["cfg"])
    result = run_timeline(model, video, window=1.0, stride=0.6, extract=extract, names=CLASSES, k=3)
    assert (result["window_frames"], result["stride_frames"], result["num_frames"]) == (25, 15, 96)
    starts = [w["start_frame"] for w in result["windows"]]
    assert starts == [0, 15, 30, 45, 60] and result["windows"][-1]["end_frame"] == 85  # 75 + 25 > 96: no 6th
    for window in result["windows"]:
        expected = predict_video(model, video, cfg=info["cfg"], frames=(window["start_frame"], window["end_frame"]))
        assert np.abs(np.array(window["scores"]) - expected).max() < 1e-6
        assert window["top_k"][0]["name"] == CLASSES[int(np.argmax(expected))]
    whole = run_timeline(model, video, window=96 / 25, stride=1, extract=extract)  # one window = the whole video
    assert np.abs(np.array(whole["windows"][0]["scores"]) - predict_video(model, video, cfg=info["cfg"])).max() < 1e-6


def test_a_window_shorter_than_the_sampled_frames_warns_and_a_long_one_does_not(setup, recwarn):
    folder, video, checkpoint = setup
    model, info = load_model(checkpoint)
    extract = view_extractor(model, info["cfg"])
    with pytest.warns(UserWarning, match="shorter than the 3 frames the model samples"):
        run_timeline(model, video, window=0.08, stride=1.0, extract=extract)  # 2 frames for 3 segments
    recwarn.clear()
    run_timeline(model, video, window=1.0, stride=1.0, extract=extract)
    assert not [w for w in recwarn if "shorter than" in str(w.message)]


def test_a_weighted_tsns_windows_weigh_each_crops_clips_as_predict_video_does(setup, small_synth):
    """3 clips x ThreeCrop: a weighted consensus weighs clip j of every crop by segment j; all 9 views as one
    crop's clips would weigh the crops instead."""
    folder, video, _ = setup
    checkpoint = consensus_checkpoint(folder / "weighted.pth", small_config("rgb", small_synth, test_clips=3),
                                      "weighted", CLASSES)
    model, info = load_model(checkpoint)
    extract = view_extractor(model, info["cfg"])
    assert (extract.crops, extract.num_segments) == (3, 3)
    result = run_timeline(model, video, window=1.0, stride=0.6, extract=extract, average_clips="score")
    for window in result["windows"]:
        expected = predict_video(model, video, cfg=info["cfg"], frames=(window["start_frame"], window["end_frame"]),
                                 average_clips="score")
        assert np.abs(np.array(window["scores"]) - expected).max() < 1e-5


def test_frames_are_read_once_and_only_sampled_ones_are_held(setup):
    _, video, checkpoint = setup
    model, info = load_model(checkpoint)
    extract = view_extractor(model, info["cfg"])
    read, held_max = [], 0
    with FrameStream(video) as stream:
        def counted():
            for frame in stream:
                read.append(1)
                yield frame
        windows = 0
        generator = frames_and_windows(counted(), extract, 25, 15, stream.num_frames)
        for index, frame, done in generator:
            windows += len(done)
            held_max = max(held_max, len(generator.gi_frame.f_locals["held"]))
    assert len(read) == 96 and windows == 5
    assert held_max <= 2 * len(set(extract.indices(25).tolist()))  # at most two overlapping windows' frames


def test_cli_timeline_and_stream_write_windows_plot_and_annotated_video(setup, tmp_path, capsys):
    folder, video, checkpoint = setup
    assert cli_exit(["predict", checkpoint, video, "--timeline", "--window", "1", "--stride", "0.6", "--out",
                  tmp_path / "t.json", "--plot", tmp_path / "t.png", "--out-video", tmp_path / "t.mp4",
                  "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "t.json").read_text())
    assert len(result["windows"]) == 5 and "5 windows over 96 frames" in out
    assert cv2.imread(str(tmp_path / "t.png")) is not None
    assert probe_video(tmp_path / "t.mp4") == (96, 25.0)  # every frame, at the source's rate
    # the same file read as a stream (--source): the same windows, printed as they are scored
    assert cli_exit(["predict", checkpoint, "--source", video, "--window", "1", "--stride", "0.6", "--out",
                  tmp_path / "s.csv", "--device", "cpu"]) == 0
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[1].split(",")[4] == result["windows"][0]["top_k"][0]["name"]
    assert lines[0].startswith("start,end,start_frame,end_frame,top1,top1_score,top1_class,top2,")  # predict's columns
    assert lines[1].split(",")[6] == str(result["windows"][0]["top_k"][0]["class"])
    # an upper-case suffix is the same format (the option's check ignores case; the writer once wrote CSV here)
    assert cli_exit(["predict", checkpoint, video, "--timeline", "--window", "1", "--stride", "0.6", "--out",
                     tmp_path / "T.JSON", "--device", "cpu"]) == 0
    assert json.loads((tmp_path / "T.JSON").read_text())["windows"] == result["windows"]


def test_annotated_video_keeps_frames_and_rate_and_draws_the_top_k(setup, tmp_path, small_synth, capsys):
    folder, _, checkpoint = setup
    clip = sorted((small_synth / "videos" / "RedBall").glob("*.mp4"))[0]
    assert cli_exit(["predict", checkpoint, clip, "--out-video", tmp_path / "a.mp4", "--topk", "3",
                  "--device", "cpu"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert probe_video(tmp_path / "a.mp4") == probe_video(clip)
    with open_video(clip) as source, open_video(tmp_path / "a.mp4") as drawn:
        before, after = source.get([5]).astype(int)[0], drawn.get([5]).astype(int)[0]
    changed = np.abs(before - after).max(axis=-1) > 40
    assert changed[:30, :60].mean() > 0.2 and changed[80:, 100:].mean() < 0.01  # text top-left, the rest intact
    # the two-stream pair draws the fused top-k
    flow_cfg = small_config("flow", small_synth, test_clips=2)
    flow = random_checkpoint(folder / "flow.pth", flow_cfg, CLASSES)
    assert cli_exit(["predict", "--rgb", checkpoint, "--flow", flow, clip, "--out-video", tmp_path / "b.mp4",
                  "--device", "cpu"]) == 0
    assert probe_video(tmp_path / "b.mp4") == probe_video(clip)


def test_an_odd_sized_video_is_annotated_in_every_container_predict_writes(setup, tmp_path):
    # 97x61: H.264's 4:2:0 cannot hold it (written 4:4:4), MPEG-4 refuses 4:4:4 (kept 4:2:0), VP9 takes either
    _, _, checkpoint = setup
    odd = tmp_path / "odd.avi"
    write_video(odd, np.random.default_rng(0).integers(0, 256, (30, 61, 97, 3), dtype=np.uint8), fps=25)
    for ending in (".mp4", ".mkv", ".avi", ".webm"):
        out = tmp_path / f"labelled{ending}"
        assert cli_exit(["predict", checkpoint, odd, "--out-video", out, "--device", "cpu"]) == 0, ending
        with open_video(out) as drawn:
            assert (drawn.num_frames, *drawn.get([0]).shape[1:3]) == (30, 61, 97), ending
    assert cli_exit(["predict", checkpoint, odd, "--timeline", "--window", "1", "--stride", "0.2", "--out-video",
                     tmp_path / "timeline.avi", "--device", "cpu"]) == 0
    assert probe_video(tmp_path / "timeline.avi") == (30, 25.0)


# -------------------------------------------------------------------------------------------- bad input
def test_bad_input_gets_one_line_each(setup, tmp_path, small_synth):
    folder, video, checkpoint = setup
    (tmp_path / "notes.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    cv2.imwrite(str(tmp_path / "frame.png"), np.zeros((48, 64, 3), np.uint8))
    with av.open(str(tmp_path / "no_frames.avi"), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    from tsnbook.models import TSN
    flow_model = TSN("resnet18", 8, 3, modality="flow", clip_len=5)
    export_mmaction2_checkpoint(flow_model, tmp_path / "mma_flow.pth")
    cases = [
        (["predict", checkpoint, tmp_path / "notes.mp4"], "cannot decode"),
        (["predict", checkpoint, tmp_path / "frame.png"], "is an image, not a video"),
        (["predict", checkpoint, tmp_path / "no_frames.avi"], "no decodable video frames"),
        (["predict", checkpoint, video, "--timeline", "--window", "10", "--stride", "1"], "is longer than"),
        (["predict", checkpoint, video, "--out", tmp_path / "missing" / "r.csv"], "does not exist (create it"),
        (["predict", checkpoint, video, "--out-video", tmp_path / "missing" / "r.mp4"], "does not exist (create"),
        (["predict", tmp_path / "mma_flow.pth", video], "pass --flow-algorithm"),
    ]
    for argv, message in cases:
        text = str(cli_exit(argv + ["--device", "cpu"]))
        assert text.startswith("error: ") and message in text and "\n" not in text, (argv, text)


def test_timeline_arguments_are_checked_before_the_model_loads(setup, tmp_path, capsys):
    _, video, _ = setup
    absent = tmp_path / "absent.pth"  # never reached
    for flag, argv in (("--timeline", [video, "--timeline"]), ("--source", ["--source", video])):
        text = str(cli_exit(["predict", absent, *argv, "--stride", "1"]))
        assert text == f"error: {flag} needs --window SECONDS and --stride SECONDS", text  # names the flag given
    text = str(cli_exit(["predict", absent, video, "--source", video, "--window", "1", "--stride", "1"]))
    assert text == f"error: --source {video} is the only input: give the checkpoint and no video", text
    for option, value in [("--window", "0"), ("--stride", "-1"), ("--window", "nan"), ("--stride", "inf")]:
        argv = ["predict", absent, "--source", video, "--window", "1", "--stride", "1", option, value]
        assert cli_exit(argv) == 2
        assert f"argument {option}: must be a positive number of seconds, got {value}" in capsys.readouterr().err


def test_a_frame_range_takes_whole_frame_numbers_only(setup):
    """``frames=(0.5, 10)`` looked like seconds and was cut to frames 0..9 without a word; a range of frame numbers
    that are not whole is refused, naming what to do, and whole numbers of any integer type still work."""
    folder, video, checkpoint = setup
    model, info = load_model(checkpoint)
    with pytest.raises(ValueError, match=r"whole frame numbers.*0\.5.*fps"):
        predict_video(model, video, cfg=info["cfg"], frames=(0.5, 10))
    with pytest.raises(ValueError, match=r"whole frame numbers"):
        predict_video(model, video, cfg=info["cfg"], frames=(0, 10.5))
    exact = predict_video(model, video, cfg=info["cfg"], frames=(8, 40))
    np.testing.assert_array_equal(predict_video(model, video, cfg=info["cfg"], frames=(np.int64(8), 40.0)), exact)


@pytest.mark.parametrize("stop", [float("inf"), float("nan")])
def test_a_frame_range_to_no_end_is_refused_as_no_whole_frame_number(stop):
    # "to the end" as inf was an OverflowError (a traceback from the CLI), NaN's "cannot convert float NaN to integer"
    with pytest.raises(ValueError, match=r"whole frame numbers, got 0\.\.(inf|nan)"):
        FrameRange({0: np.zeros((2, 2, 3), np.uint8)}, 0, stop)
