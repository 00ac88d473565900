"""Timeline windows in true seconds: a variable-frame-rate file, strides that are no whole number of frames, a
stream that ends mid-window, the annotated frames' causality and a URL that never answers.

A window ``[k * stride, k * stride + window)`` holds the frames whose own timestamps (PyAV: pts x time_base) lie in
it, so its times are the video's, whatever the rate does; the window is still tested as a clip of those frames
(`predict_video(..., frames=(start_frame, end_frame))`).
"""
import json
import socket
import threading
import warnings

import av
import numpy as np
import pytest

from conftest import cli_exit, frames_and_windows, random_checkpoint, small_config
from tsnbook.course.synth import CLASSES
from tsnbook.factory import load_model
from tsnbook.io import DecodeError, write_video
from tsnbook.predict import predict_video, view_extractor
from tsnbook.streams import FrameStream
from tsnbook.timeline import run_timeline

FAST, SLOW = 40, 40  # frames at 50 fps (20 ms apart), then at 10 fps (100 ms apart): 0.8 s + 4 s


def _frames(count, height=48, width=64):
    """Frames whose colour changes with their index (so that a window's frames show in its scores)."""
    ramp = np.linspace(0, 255, count).astype(np.uint8)
    noise = np.random.default_rng(0).integers(0, 40, (count, height, width, 3), dtype=np.uint8)
    return noise + ramp[:, None, None, None] // 2 * np.array([1, 0, 1], np.uint8)


def _write_vfr(path, frames, gaps_ms):
    """An H.264 MP4 whose frame k is shown ``gaps_ms[k - 1]`` ms after frame k - 1 (a phone's variable rate)."""
    write_video(path, frames, times=np.cumsum([0] + list(gaps_ms)) / 1000)
    return path


@pytest.fixture(scope="module")
def model_and_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("times")
    frames = _frames(FAST + SLOW)
    vfr = _write_vfr(folder / "vfr.mp4", frames, [20] * (FAST - 1) + [100] * SLOW)
    write_video(folder / "cfr.mp4", frames, fps=25)
    checkpoint = random_checkpoint(folder / "rgb.pth", small_config("rgb", folder, test_clips=3), CLASSES)
    model, info = load_model(checkpoint)
    return folder, vfr, folder / "cfr.mp4", checkpoint, model, info["cfg"]


def _shown_times(path):
    with av.open(str(path)) as container:
        return np.array([float(frame.time) for frame in container.decode(video=0)])


def test_a_variable_frame_rate_videos_windows_hold_the_frames_of_their_seconds(model_and_videos):
    _, vfr, _, _, model, cfg = model_and_videos
    times = _shown_times(vfr) - _shown_times(vfr)[0]
    result = run_timeline(model, vfr, window=1.0, stride=1.0, extract=view_extractor(model, cfg))
    windows = result["windows"]
    assert [(w["start"], w["end"]) for w in windows] == [(0, 1), (1, 2), (2, 3), (3, 4)]  # 4.8 s: no 5th
    for window in windows:
        inside = np.flatnonzero((times >= window["start"] - 1e-6) & (times < window["end"] - 1e-6))
        assert (window["start_frame"], window["end_frame"]) == (inside[0], inside[-1] + 1), window
        expected = predict_video(model, vfr, cfg=cfg, frames=(window["start_frame"], window["end_frame"]))
        assert np.abs(np.array(window["scores"]) - expected).max() < 1e-6
    assert windows[0]["end_frame"] == FAST + 2  # 0..0.78 s at 50 fps, then 0.88 and 0.98 s; 1.08 s is the next's
    assert result["num_frames"] == FAST + SLOW


def test_windows_start_every_stride_seconds_without_drifting(model_and_videos):
    # 0.5 s at 25 fps is 12.5 frames: rounding the stride to 12 frames once put window k at 0.48 k s (an hour of
    # video: 144 s early); each window starts at the first frame of its own second instead
    _, _, cfr, _, model, cfg = model_and_videos
    result = run_timeline(model, cfr, window=1.0, stride=0.5, extract=view_extractor(model, cfg))
    starts = [(w["start"], w["start_frame"], w["end_frame"] - w["start_frame"]) for w in result["windows"]]
    assert starts == [(0.5 * k, int(np.ceil(12.5 * k)), 25) for k in range(5)]  # 80 frames = 3.2 s: 0.0 .. 2.0


def _stream_url(video, folder):
    """``video``'s packets as an MPEG-TS stream behind a ``file://`` URL: a source with no frame count, as live."""
    with av.open(str(video)) as source, av.open(str(folder / "stream.ts"), "w") as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return (folder / "stream.ts").as_uri()


def test_a_stream_that_ends_mid_window_does_not_report_that_window_and_says_so(model_and_videos, tmp_path, capsys):
    # a URL (here file://) of an MPEG-TS stream has no frame count: 80 frames = 3.2 s; the third 1.4-s window
    # (2-3.4 s, frames 50..84) has all its sampled frames (55, 66, 79) but is cut off by the end of the stream
    folder, _, cfr, checkpoint, model, cfg = model_and_videos
    url = _stream_url(cfr, tmp_path)
    result = run_timeline(model, url, window=1.4, stride=1.0, extract=view_extractor(model, cfg))
    assert result["num_frames"] == 80 and [w["end_frame"] for w in result["windows"]] == [35, 60]
    assert result["unscored"] == dict(start_frame=60, end_frame=80, start=2.4, end=3.2)
    assert cli_exit(["predict", checkpoint, "--source", url, "--window", "1.4", "--stride", "1", "--device",
                     "cpu"]) == 0
    assert "the last 0.80 s (20 frames) end no whole window: not scored" in capsys.readouterr().out


def test_an_annotated_frame_shows_only_windows_that_have_ended(model_and_videos):
    # window 0..24 samples frames 4, 12 and 20: it is scored at frame 24, its last, not at 20 (a live display shows
    # it once it is over)
    _, _, _, _, model, cfg = model_and_videos
    extract = view_extractor(model, cfg)
    frames = (np.zeros((48, 64, 3), np.uint8) for _ in range(80))
    scored = [(index, stop) for index, _, done in frames_and_windows(frames, extract, 25, 25) for _, stop, _ in done]
    assert scored == [(24, 25), (49, 50), (74, 75)]  # and no window 75..99 from an 80-frame stream


class _SilentServer:
    """A TCP server that accepts connections and never answers (a camera's URL behind a dead proxy)."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.accepted, self.url = [], f"http://127.0.0.1:{self.socket.getsockname()[1]}/live.mp4"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                self.accepted.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self):
        for connection in self.accepted:
            connection.close()
        self.socket.close()


def test_a_url_that_never_answers_is_an_error_not_a_hang(monkeypatch):
    from tsnbook import streams
    monkeypatch.setattr(streams, "URL_TIMEOUT", 1.0)
    server = _SilentServer()
    try:
        with pytest.raises(DecodeError, match=r"no answer within 1 s"):
            streams.FrameStream(server.url)
    finally:
        server.close()


def test_a_stream_that_breaks_keeps_the_windows_scored_before_and_says_why(model_and_videos, tmp_path, capsys,
                                                                          monkeypatch):
    # an hour of a camera's URL, then the connection drops: the windows scored so far are the result, not lost
    _, _, cfr, checkpoint, model, cfg = model_and_videos
    from tsnbook import streams
    frames_of = streams.FrameStream.__iter__

    def breaking(stream):
        for index, frame in enumerate(frames_of(stream)):
            if index == 60:
                raise DecodeError(stream.path, "PyAV failed after 60 frames (connection reset)")
            yield frame

    monkeypatch.setattr(streams.FrameStream, "__iter__", breaking)
    result = run_timeline(model, cfr, window=1.0, stride=1.0, extract=view_extractor(model, cfg))
    assert [w["end_frame"] for w in result["windows"]] == [25, 50] and result["num_frames"] == 60
    assert "connection reset" in result["stopped"]
    code = cli_exit(["predict", checkpoint, cfr, "--timeline", "--window", "1", "--stride", "1", "--out",
                     tmp_path / "t.csv", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 1 and "stopped after 60 frames: " in out and "connection reset" in out
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 3  # the header and both windows


def test_ctrl_c_on_a_file_says_the_timeline_is_cut_short_and_on_a_camera_is_its_end(model_and_videos, tmp_path,
                                                                                    capsys, monkeypatch):
    # Ctrl-C after 60 of 80 frames once gave "2 windows over 60 frames", exit 0 and a JSON file that read as the
    # whole video's timeline
    _, _, cfr, checkpoint, model, cfg = model_and_videos
    from tsnbook import streams
    frames_of = streams.FrameStream.__iter__

    def interrupted(stream):
        for index, frame in enumerate(frames_of(stream)):
            if index == 60:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(streams.FrameStream, "__iter__", interrupted)
    code = cli_exit(["predict", checkpoint, cfr, "--timeline", "--window", "1", "--stride", "1", "--out",
                     tmp_path / "t.json", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 1 and "stopped after 60 frames: interrupted (Ctrl-C) at frame 60 of 80" in out, out
    assert json.loads((tmp_path / "t.json").read_text())["stopped"] == "interrupted (Ctrl-C) at frame 60 of 80"
    # a live source (no frame count): Ctrl-C is how it ends
    live = run_timeline(model, _stream_url(cfr, tmp_path), window=1.0, stride=1.0, extract=view_extractor(model, cfg))
    assert live["stopped"] is None and len(live["windows"]) == 2


def test_a_stride_shorter_than_a_frame_scores_each_frame_span_once():
    # 0.01 s at 25 fps: four windows in a row held the same 25 frames (scored four times, as four "different" rows)
    from tsnbook.timeline import window_spans
    spans = list(window_spans(1.0, 0.01, 25, duration=3.2))
    firsts = [first for _, _, first, _ in spans]
    assert firsts == list(range(56)) and {stop - first for *_, first, stop in spans} == {25}


@pytest.fixture()
def ctrl_c_as_in_a_terminal():
    """SIGINT raising KeyboardInterrupt, as in a terminal, whatever the test runner inherited (a background job of
    a script ignores it, and the timeline then leaves it ignored)."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_a_frame_is_drawn_or_encoded_keeps_the_annotated_video_and_the_windows(model_and_videos,
                                                                                           tmp_path, monkeypatch,
                                                                                           ctrl_c_as_in_a_terminal):
    # Ctrl-C lands wherever the program is: in the encoder (or the drawing) it once escaped the timeline, and
    # write_video removed the half-written annotated video - an hour of a camera's recording and its windows lost
    import os
    import signal
    from tsnbook import timeline
    _, _, cfr, _, model, cfg = model_and_videos
    draw, drawn = timeline.draw_lines, []

    def drawing(frame, lines):
        drawn.append(1)
        if len(drawn) == 60:
            os.kill(os.getpid(), signal.SIGINT)  # as the user's Ctrl-C, delivered while this frame is drawn
        return draw(frame, lines)

    monkeypatch.setattr(timeline, "draw_lines", drawing)
    try:
        result = run_timeline(model, _stream_url(cfr, tmp_path), window=1.0, stride=1.0,
                              extract=view_extractor(model, cfg), out_video=tmp_path / "live.mp4")
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the timeline: the annotated video and the windows are lost")
    assert len(result["windows"]) == 2 and result["stopped"] is None  # a live source: Ctrl-C is its end
    from tsnbook.io import probe_video
    assert probe_video(tmp_path / "live.mp4")[0] == 60
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_a_ctrl_c_the_process_ignores_stays_ignored():
    # a timeline started in the background of a shell script (`cmd &`) ignores SIGINT: the Ctrl-C meant for the
    # foreground job once became the flag that stops the timeline (a file's run cut short, exit 1)
    import os
    import signal
    from tsnbook.timeline import _ctrl_c_as_a_flag
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _ctrl_c_as_a_flag() as pressed:
            os.kill(os.getpid(), signal.SIGINT)
        assert pressed == [] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_frame_times_of_a_file_pyav_cannot_demux_fall_back_to_the_rate(tmp_path, monkeypatch):
    # frame_times reads the file a second time; a PyAV error there escaped raw, before the first frame was decoded
    from tsnbook.streams import FrameStream
    video = tmp_path / "v.mp4"
    write_video(video, np.zeros((5, 32, 32, 3), np.uint8), fps=25)
    with FrameStream(video) as stream:
        def broken(*args, **kwargs):
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")
        monkeypatch.setattr(av, "open", broken)
        assert stream.frame_times() is None


def test_a_variable_rate_videos_annotated_copy_keeps_its_frames_times(model_and_videos, tmp_path, capsys):
    """The annotated copy of a phone's variable-rate video shows each frame when the source does (it was written at
    the average rate: a frame of the slow part appeared up to seconds early); a constant-rate one keeps its rate."""
    folder, vfr, cfr, checkpoint, _, _ = model_and_videos
    for source, out in ((vfr, tmp_path / "vfr_timeline.mp4"), (cfr, tmp_path / "cfr_timeline.mkv")):
        cli_exit(["predict", str(checkpoint), str(source), "--timeline", "--window", "1", "--stride", "1",
                  "--out-video", str(out)])
        np.testing.assert_allclose(_shown_times(out) - _shown_times(out)[0],
                                   _shown_times(source) - _shown_times(source)[0], atol=0.0015)
    with av.open(str(tmp_path / "cfr_timeline.mkv")) as container:
        assert container.streams.video[0].average_rate == 25
    cli_exit(["predict", str(checkpoint), str(vfr), "--out-video", str(tmp_path / "vfr_clip.webm")])
    np.testing.assert_allclose(_shown_times(tmp_path / "vfr_clip.webm"), _shown_times(vfr) - _shown_times(vfr)[0],
                               atol=0.0015)
    cli_exit(["predict", str(checkpoint), str(vfr), "--out-video", str(tmp_path / "vfr_clip.avi")])
    assert len(_shown_times(tmp_path / "vfr_clip.avi")) == FAST + SLOW  # AVI holds one rate: the average one


def test_a_variable_rate_video_whose_packets_do_not_count_its_frames_says_it_is_timed_at_its_average_rate(
        model_and_videos):
    """Where the packets give more or fewer times than frames, each frame is timed at index / fps. For a constant
    rate that is exact, so nothing is said; for a variable one the windows drift, and that was silent."""
    from tsnbook.streams import FrameStream
    _, vfr, cfr, _, _, _ = model_and_videos
    with FrameStream(cfr) as stream, warnings.catch_warnings():
        warnings.simplefilter("error")
        stream.num_frames -= 1
        assert stream.frame_times() is None
    with FrameStream(vfr) as stream:
        stream.num_frames -= 1
        with pytest.warns(UserWarning, match=r"vfr.mp4: its packets give 80 times for 79 frames, and they are not "
                                             r"evenly spaced: each frame is timed at the average rate"):
            assert stream.frame_times() is None


def test_frame_times_read_the_time_base_while_the_file_is_open(model_and_videos, monkeypatch):
    # PyAV may free a stream's fields once its container is closed: a time base read after the `with` came back
    # None once in a full run (a TypeError in notebook 20's timeline). Here the stream forgets it on close.
    import tsnbook.streams
    _, vfr, _, _, _, _ = model_and_videos
    real_open, real_stream = av.open, tsnbook.streams._video_stream

    class Closing:
        def __init__(self, container):
            self.container, self.closed = container, False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.closed = True
            return self.container.__exit__(*exc)

        def demux(self, stream):
            return self.container.demux(stream.stream)

    class Forgetting:
        def __init__(self, opened, path):
            self.opened, self.stream = opened, real_stream(opened.container, path)

        @property
        def time_base(self):
            return None if self.opened.closed else self.stream.time_base

    with FrameStream(vfr) as stream:
        monkeypatch.setattr(tsnbook.streams.av, "open", lambda *args, **kwargs: Closing(real_open(*args, **kwargs)))
        monkeypatch.setattr(tsnbook.streams, "_video_stream", Forgetting)
        times = stream.frame_times()
    assert times is not None and len(times) == FAST + SLOW


def test_one_rule_tells_a_varying_rate_from_a_rounded_time_base():
    """`rate_varies`, which both the packets' warning and the annotated copy's times use: a millisecond time base
    rounds 29.97 fps by up to a tick, which is one rate; 25 fps then 12.5 fps is not, in ticks or in seconds."""
    from tsnbook.streams import rate_varies
    ticks = np.round(np.arange(90) * 1001 / 30)
    assert not rate_varies(ticks) and not rate_varies(ticks / 1000, 30000 / 1001)
    two_rates = np.r_[np.arange(40) * 40, 1600 + np.arange(40) * 80]
    assert rate_varies(two_rates) and rate_varies(two_rates / 1000, 25)
    assert not rate_varies([0.0])
    dropped = np.delete(np.arange(300) * 0.04, 150)  # one frame lost mid-way: its own average, not 25 fps
    assert not rate_varies(dropped) and rate_varies(dropped, 25)
