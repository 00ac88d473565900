"""Class scores along a long video or a live stream: a window slides over it, and each window is tested as a clip.

    extract = tsnbook.predict.view_extractor(model, cfg)          # the config's own test views, in every window
    result = run_timeline(model, "long.mp4", window=2.0, stride=1.0, extract=extract, names=classes)
    result["windows"][3]      # dict(start, end (s), start_frame, end_frame, scores=[...], top_k=[...])

A window of ``window`` seconds starts every ``stride`` seconds (frames: ``round(seconds * fps)``); windows lie wholly
inside the video (the last one ends at most one stride before the end). **Each window is tested exactly as a video
of its frames would be**: the test protocol samples its segments across the window (25 centres for 25x3, ...), so
window k's scores equal ``predict_video(model, video, cfg=cfg, frames=(start, end))`` - the test of that frame range
(`tests/test_timeline.py`). MMAction2's long-video and webcam demos instead feed the last ``clip_len x num_clips``
*consecutive* frames as the segments (``demo/long_video_demo.py``, ``demo/webcam_demo.py``), which is why their labels
disagree with its test script; here the window is in seconds and converted with the real frame rate.

**Each frame is decoded once**, in order (`tsnbook.streams.FrameStream`), and only the frames some window samples
are kept, in memory until the last window that needs them is scored: no temporary files, no seeking, so the same
code reads a file, a URL or a camera (``source=0``). On a live source windows are scored as their frames arrive
(Ctrl-C stops it; what was scored is kept). ``out_video``: the frames written back with the newest window's top-k
(causal: a frame shows the last window that ended at or before it, as a live display would).
"""
import csv
import json
import warnings
from pathlib import Path

import numpy as np

from .annotate import draw_lines, score_lines, write_annotated_frames
from .predict import top_k, top_k_cells, view_scorer
from .streams import FrameStream
from .views import FrameRange


def window_frames(fps, window, stride):
    """``(window, stride)`` in frames at ``fps`` (each at least 1)."""
    if window <= 0 or stride <= 0:
        raise ValueError(f"--window and --stride must be positive seconds, got {window:g} and {stride:g}")
    return max(1, round(window * fps)), max(1, round(stride * fps))


def _warn_short_window(extract, length, window):
    """A window with fewer frames than the model samples from it gives several segments the same frame: the
    scores are still defined (MMAction2's sampler repeats frames of short videos too), but say so."""
    offsets = extract.indices(length)
    if len(set(offsets.tolist())) < len(offsets):
        warnings.warn(f"the window ({window:g} s = {length} frames) is shorter than the {len(offsets)} frames the "
                      f"model samples from it, so some are taken twice: a longer --window gives each segment its own",
                      stacklevel=3)


def frames_and_windows(frames, extract, length, stride, total=None):
    """Yield ``(index, frame, [(start, stop, views), ...])`` for every frame: the windows completed by this frame.

    Only frames that some window samples are held (``extract.indices(length)`` shifted by each window's start),
    and dropped once no later window needs them. ``total``: the frame count, when known (windows end by it).
    """
    offsets = extract.indices(length)
    needed, first, last = set(offsets.tolist()), int(offsets.min()), int(offsets.max())
    held, k = {}, 0
    for index, frame in enumerate(frames):
        if any(index >= o and (index - o) % stride == 0 for o in needed):
            held[index] = frame
        done = []
        while k * stride + last <= index and (total is None or k * stride + length <= total):
            start = k * stride
            done.append((start, start + length, extract(FrameRange(held, start, start + length))))
            k += 1
            for old in [i for i in held if i < k * stride + first]:
                del held[old]
        yield index, frame, done


def _window_entry(start, stop, fps, scores, names, k):
    return dict(start=round(start / fps, 4), end=round(stop / fps, 4), start_frame=start, end_frame=stop,
                scores=[float(s) for s in scores],
                top_k=[dict(rank=r, **{"class": i}, name=n, score=s) for r, (i, n, s) in enumerate(top_k(scores, k,
                                                                                                         names), 1)])


def run_timeline(model, source, window, stride, extract, average_clips="prob", names=None, k=5, out_video=None,
                 on_window=None, views_per_chunk=25):
    """Score every window of ``source`` (a file, a URL, a camera index); see the module docstring. Returns
    ``dict(source, fps, num_frames, window, stride, window_frames, stride_frames, average_clips, classes,
    windows=[...])``. ``on_window(entry)`` is called as each window is scored (a live display, a log)."""
    windows, score = [], view_scorer(model, extract, average_clips, views_per_chunk)
    with FrameStream(source) as stream:
        length, step = window_frames(stream.fps, window, stride)
        if stream.num_frames is not None and length > stream.num_frames:
            raise ValueError(f"the window ({window:g} s = {length} frames) is longer than {stream.path} "
                             f"({stream.num_frames / stream.fps:.2f} s = {stream.num_frames} frames): use --window "
                             f"{stream.num_frames / stream.fps:.2f} or less")
        _warn_short_window(extract, length, window)
        decoded = 0

        def annotated():
            nonlocal decoded
            lines = [f"waiting for the first window ({window:g} s)"]
            try:
                for index, frame, done in frames_and_windows(stream, extract, length, step, stream.num_frames):
                    decoded = index + 1
                    for start, stop, views in done:
                        scores = score(views)
                        windows.append(_window_entry(start, stop, stream.fps, scores, names, k))
                        lines = score_lines([(t["class"], t["name"], t["score"]) for t in windows[-1]["top_k"]],
                                            average_clips) + [f"{start / stream.fps:.1f}-{stop / stream.fps:.1f} s"]
                        if on_window:
                            on_window(windows[-1])
                    yield frame, lines
            except KeyboardInterrupt:  # a live source is stopped by hand: keep what was scored
                return

        if out_video:
            write_annotated_frames(out_video, (draw_lines(f, lines) for f, lines in annotated()), stream)
        else:
            for _ in annotated():
                pass
        if not windows:
            raise ValueError(f"{stream.path} ended after {decoded} frames ({decoded / stream.fps:.2f} s), before "
                             f"the first window of {window:g} s ({length} frames) was complete: use a shorter --window")
        return dict(source=stream.path, fps=stream.fps, num_frames=decoded, window=window, stride=stride,
                    window_frames=length, stride_frames=step, average_clips=average_clips, classes=names,
                    windows=windows)


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
