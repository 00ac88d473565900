"""Class scores along a long video or a live stream: a window slides over it, and each window is tested as a clip.

    extract = tsnbook.predict.view_extractor(model, cfg)          # the config's own test views, in every window
    result = run_timeline(model, "long.mp4", window=2.0, stride=1.0, extract=extract, names=classes)
    result["windows"][3]      # dict(start, end (s), start_frame, end_frame, scores=[...], top_k=[...])

Window k is ``[k * stride, k * stride + window)`` seconds and holds the frames *shown* in it: a file's frames are
timed by their own timestamps (`FrameStream.frame_times`), so a variable-rate phone video's windows are its true
seconds and do not drift, and a stride that is no whole number of frames (0.5 s at 25 fps) is not rounded once and
multiplied (window k starts at the first frame at or after k x 0.5 s); a live source is timed at its nominal rate.
Windows lie wholly inside the video; the frames after the last one are reported as ``unscored``. **Each window is
tested exactly as a video of its frames would be**: the test protocol samples its segments across the window (25
centres for 25x3, ...), so window k's scores equal ``predict_video(model, video, cfg=cfg, frames=(start_frame,
end_frame))`` - the test of that frame range (`tests/test_timeline.py`).
MMAction2's long-video and webcam demos instead feed the last ``clip_len x num_clips`` *consecutive* frames as the
segments (``demo/long_video_demo.py``, ``demo/webcam_demo.py``), which is why their labels disagree with its test
script; here the window is in seconds, timed by the frames themselves.

**Each frame is decoded once**, in order (`tsnbook.streams.FrameStream`), and only the frames some window samples
are kept, in memory until the last window that needs them is scored: no temporary files, no seeking, so the same
code reads a file, a URL or a camera (``source=0``). A window is scored when its last frame arrives (so a stream that
ends or breaks mid-window leaves that window out; Ctrl-C, or a source that breaks, stops the run and keeps what
was scored). ``out_video``: the frames written back with the newest window's top-k (causal: a frame shows the last
window that ended at or before it, as a live display would; a variable-rate video's copy keeps its frames'
times, `tsnbook.annotate.shown_times`).
"""
import contextlib
import csv
import itertools
import json
import math
import signal
import threading
import warnings
from pathlib import Path

import numpy as np

from .annotate import draw_lines, score_lines, write_annotated_frames
from .io import DecodeError
from .predict import top_k, top_k_cells, view_scorer
from .streams import FrameStream
from .views import FrameRange


TOLERANCE = 1e-6  # seconds: a frame shown at 0.6 s is in the window that starts at 0.6 s, whatever float 3 * 0.2 is


def window_frames(fps, window, stride):
    """``(window, stride)`` in frames at ``fps`` (each at least 1): the nominal sizes (each window's own frames are
    those of its seconds, `window_spans`)."""
    if window <= 0 or stride <= 0:
        raise ValueError(f"--window and --stride must be positive seconds, got {window:g} and {stride:g}")
    return max(1, round(window * fps)), max(1, round(stride * fps))


def window_spans(window, stride, fps, times=None, duration=None):
    """Yield ``(start, end, start_frame, end_frame)`` of every window: ``[k * stride, k * stride + window)``
    seconds and the frames shown in it (``times``: each frame's time in seconds, `FrameStream.frame_times`; None:
    ``index / fps``). Windows end by ``duration`` (None: a live source, the windows go on until it ends); a window
    that no frame falls in (a gap of a variable-rate video), or that holds the same frames as the one before (a
    stride shorter than a frame), is left out."""
    window_frames(fps, window, stride)  # the check of both
    previous = None
    for k in itertools.count():
        start, end = k * stride, k * stride + window
        if duration is not None and end > duration + TOLERANCE:
            return
        if times is None:
            first, stop = math.ceil((start - TOLERANCE) * fps), math.ceil((end - TOLERANCE) * fps)
        else:
            first, stop = np.searchsorted(times, [start - TOLERANCE, end - TOLERANCE]).tolist()
        if stop > first and (first, stop) != previous:
            previous = first, stop
            yield start, end, first, stop


def _warn_short_window(extract, length, window):
    """A window with fewer frames than the model samples from it gives several segments the same frame: the
    scores are still defined (MMAction2's sampler repeats frames of short videos too), but say so."""
    offsets = extract.indices(length)
    if len(set(offsets.tolist())) < len(offsets):
        warnings.warn(f"the window ({window:g} s = {length} frames) is shorter than the {len(offsets)} frames the "
                      f"model samples from it, so some are taken twice: a longer --window gives each segment its own",
                      stacklevel=3)


def frames_and_spans(frames, extract, spans):
    """Yield ``(index, frame, [(*span, views), ...])`` for every frame: the windows that end with this frame.

    ``spans``: `window_spans`' tuples (or any ending in ``start_frame, end_frame``), in order of their start. A
    window is scored once its last frame has arrived (never before it ends: a live display shows it then; a stream
    that stops before that leaves it out). Only the frames some window samples are held (``extract.indices`` of
    each window's length, from its start), and dropped once no later window needs them.
    """
    spans, pending, held = iter(spans), [], {}
    upcoming = next(spans, None)
    for index, frame in enumerate(frames):
        while upcoming is not None and upcoming[-2] <= index:
            first, stop = upcoming[-2:]
            pending.append((upcoming, set((extract.indices(stop - first) + first).tolist())))
            upcoming = next(spans, None)
        if any(index in needed for _, needed in pending):
            held[index] = frame
        done = [(*span, extract(FrameRange(held, *span[-2:]))) for span, _ in pending if span[-1] <= index + 1]
        if done:
            pending = [(span, needed) for span, needed in pending if span[-1] > index + 1]
            keep = min([span[-2] for span, _ in pending] + [index + 1 if upcoming is None else upcoming[-2]])
            for old in [i for i in held if i < keep]:
                del held[old]
        yield index, frame, done


def _window_entry(start, end, start_frame, end_frame, scores, names, k):
    return dict(start=round(start, 4), end=round(end, 4), start_frame=start_frame, end_frame=end_frame,
                scores=[float(s) for s in scores],
                top_k=[dict(rank=r, **{"class": i}, name=n, score=s) for r, (i, n, s) in enumerate(top_k(scores, k,
                                                                                                         names), 1)])


def _duration(stream, times):
    """A file's length in seconds: its last frame's time plus that frame's duration (the gap before it)."""
    if stream.num_frames is None:
        return None
    if times is None or len(times) < 2:
        return stream.num_frames / stream.fps
    return float(times[-1] + (times[-1] - times[-2]))


@contextlib.contextmanager
def _ctrl_c_as_a_flag():
    """The first Ctrl-C appends to the yielded list instead of raising wherever it lands: raised inside the encoder it
    would lose the annotated video (`write_video` removes a file it could not finish) and every window scored. The
    frame loop checks the list; a second Ctrl-C raises as usual. Nothing changes off the main thread (signals are
    the main thread's), nor where SIGINT is ignored (a background job of a shell script: the Ctrl-C is its
    foreground job's) or handled outside Python (there is no handler to give back)."""
    pressed = []
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
            signal.SIG_IGN, None):
        yield pressed
        return

    def press(*_):
        pressed.append(True)
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, press)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _time_read(stream, times, duration, decoded):
    """The seconds of ``decoded`` frames: the file's duration when all were read, else up to the last one's end."""
    if duration is not None and decoded == stream.num_frames:
        return duration
    return float(times[decoded - 1]) + 1 / stream.fps if times is not None else decoded / stream.fps


def run_timeline(model, source, window, stride, extract, average_clips="prob", names=None, k=5, out_video=None,
                 on_window=None, views_per_chunk=25):
    """Score every window of ``source`` (a file, a URL, a camera index); see the module docstring. Returns
    ``dict(source, fps, num_frames, duration, window, stride, window_frames, stride_frames, average_clips, classes,
    windows=[...], unscored, stopped)``: ``unscored`` the frames after the last window's end (None when there are
    none); ``stopped`` why a file's windows stop before its end (Ctrl-C) or why a source broke off after some
    windows were scored (None when it ended, or when Ctrl-C ended a live source: a source that breaks before its
    first window raises `tsnbook.io.DecodeError`).
    ``on_window(entry)`` is called as each window is scored (a live display, a log)."""
    windows, score = [], view_scorer(model, extract, average_clips, views_per_chunk)
    with FrameStream(source) as stream, _ctrl_c_as_a_flag() as pressed:
        length, step = window_frames(stream.fps, window, stride)
        times = stream.frame_times()
        duration = _duration(stream, times)
        if duration is not None and window > duration + TOLERANCE:
            raise ValueError(f"the window ({window:g} s = {length} frames) is longer than {stream.path} "
                             f"({duration:.2f} s = {stream.num_frames} frames): use --window "
                             f"{math.floor(duration * 100) / 100:.2f} or less")
        _warn_short_window(extract, length, window)
        decoded, stopped = 0, None

        def annotated():
            nonlocal decoded, stopped
            lines = [f"waiting for the first window ({window:g} s)"]
            try:
                for index, frame, done in frames_and_spans(stream, extract,
                                                           window_spans(window, stride, stream.fps, times, duration)):
                    if pressed:
                        raise KeyboardInterrupt
                    decoded = index + 1
                    for start, end, first, stop, views in done:
                        windows.append(_window_entry(start, end, first, stop, score(views), names, k))
                        lines = score_lines([(t["class"], t["name"], t["score"]) for t in windows[-1]["top_k"]],
                                            average_clips) + [f"{start:.1f}-{end:.1f} s"]
                        if on_window:
                            on_window(windows[-1])
                    yield frame, lines
            except KeyboardInterrupt:  # keep what was scored: the end of a live source, a file cut short
                if stream.num_frames is not None:
                    stopped = f"interrupted (Ctrl-C) at frame {decoded} of {stream.num_frames}"
            except DecodeError as error:  # a broken file, a dropped connection: keep what was scored, and say why
                if not windows:
                    raise
                stopped = str(error)

        if out_video:
            write_annotated_frames(out_video, (draw_lines(f, lines) for f, lines in annotated()), stream, times)
        else:
            for _ in annotated():
                pass
        if not windows:
            how, advice = ("was stopped (Ctrl-C)", "") if pressed else ("ended", ": use a shorter --window")
            raise ValueError(f"{stream.path} {how} after {decoded} frames ({decoded / stream.fps:.2f} s), before the "
                             f"first window of {window:g} s ({length} frames) was complete{advice}")
        end = _time_read(stream, times, duration, decoded)
        last = windows[-1]
        unscored = None if last["end_frame"] >= decoded else dict(
            start_frame=last["end_frame"], end_frame=decoded, start=last["end"], end=round(end, 4))
        return dict(source=stream.path, fps=stream.fps, num_frames=decoded, duration=round(end, 4), window=window,
                    stride=stride, window_frames=length, stride_frames=step, average_clips=average_clips,
                    classes=names, windows=windows, unscored=unscored, stopped=stopped)


def timeline_scores(result):
    """``(window centres in seconds [W], scores [W, num_classes])`` of a `run_timeline` result (for figures)."""
    centres = np.array([(w["start"] + w["end"]) / 2 for w in result["windows"]])
    return centres, np.array([w["scores"] for w in result["windows"]])


def write_timeline(path, result, meta=None):
    """A `run_timeline` result to ``.json`` (everything, with ``meta``) or ``.csv`` (one line a window: start, end,
    start_frame, end_frame, top1, top1_score, top1_class, top2, ...: the columns of ``predict``'s CSV)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(dict(meta or {}, **result), indent=1) + "\n")
        return
    span = ("start", "end", "start_frame", "end_frame")
    rows = [dict({key: entry[key] for key in span}, **top_k_cells(entry["top_k"])) for entry in result["windows"]]
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, list(rows[0]) if rows else list(span))
        writer.writeheader()
        writer.writerows(rows)
