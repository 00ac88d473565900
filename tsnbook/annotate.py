"""The video with its prediction drawn on it: top-k names and scores on every frame, same frames, same rate.

    write_annotated("clip.mp4", "clip_labelled.mp4", lambda index: ["1. RedBall 0.93", "2. BlueBall 0.04"])

The text is drawn with OpenCV's ``putText`` on a dark box in the top-left corner, scaled to the frame (readable
from 120-px SynthActions clips to 1080p), in RGB throughout (the colour asked for is the colour written). The
video is read once, in order (`tsnbook.streams.FrameStream`), and written frame for frame at the source's exact
rate (`tsnbook.io.write_video`: H.264 for .mp4 / .mkv, MPEG-4 for .avi, VP9 for .webm), so it has the same number of
frames and the same duration. A variable-rate video (a phone's) keeps each frame's own time (`shown_times`), except
in an AVI, which holds one rate: there it is written at its average rate. Odd frame sizes, which H.264's 4:2:0
cannot hold, are written 4:4:4 rather than cropped (MPEG-4 and VP9 take them in 4:2:0, and MPEG-4 takes nothing
else). Where MMAction2's demo drew only the top-1 name at a fixed 30 fps (0.x) or nothing at all (1.x; MMAction2's
``demo/demo.py``), this draws what ``predict`` prints.
"""
from pathlib import Path

import cv2
import numpy as np

from .io import CODECS, write_video, x264_refuses
from .streams import FrameStream, rate_varies

FONT = cv2.FONT_HERSHEY_SIMPLEX


def score_lines(top, scores_are="prob"):
    """``["1. RedBall 93.1%", ...]`` of ``[(index, name, score)]`` (`tsnbook.predict.top_k`); raw scores are
    printed as numbers, probabilities as percentages."""
    return [f"{rank}. {name} " + (f"{100 * score:.1f}%" if scores_are == "prob" else f"{score:.2f}")
            for rank, (_, name, score) in enumerate(top, 1)]


def draw_lines(frame, lines, colour=(255, 255, 255), box=(0, 0, 0)):
    """A copy of ``frame`` (uint8 RGB) with ``lines`` of text in its top-left corner, on a dark box."""
    frame = np.ascontiguousarray(frame).copy()
    if not lines:
        return frame
    scale = max(0.3, min(frame.shape[:2]) / 480)
    thickness = max(1, round(scale * 1.5))
    sizes = [cv2.getTextSize(line, FONT, scale, thickness)[0] for line in lines]
    pad, step = max(2, round(4 * scale)), max(h for _, h in sizes) + max(3, round(8 * scale))
    width = max(w for w, _ in sizes) + 2 * pad
    cv2.rectangle(frame, (0, 0), (min(width, frame.shape[1] - 1), min(step * len(lines) + pad, frame.shape[0] - 1)),
                  box, thickness=-1)
    for number, line in enumerate(lines, 1):
        cv2.putText(frame, line, (pad, step * number), FONT, scale, colour, thickness, cv2.LINE_AA)
    return frame


def write_annotated(video, out_path, lines_of, colour=(255, 255, 255)):
    """Write ``video`` to ``out_path`` with ``lines_of(frame_index)`` drawn on each frame; the frame count."""
    with FrameStream(video) as stream:
        count = 0

        def frames():
            nonlocal count
            for index, frame in enumerate(stream):
                count = index + 1
                yield draw_lines(frame, lines_of(index), colour)

        write_annotated_frames(out_path, frames(), stream, stream.frame_times())
    return count


def shown_times(out_path, stream, times):
    """``times`` (the source's frame times, `FrameStream.frame_times`) where they are not one rate - some frame is
    over half a frame from index / fps - and ``out_path`` can hold them (not an AVI); else None: one rate will do."""
    if times is None or Path(out_path).suffix.lower() == ".avi":
        return None
    return times if rate_varies(times, stream.fps) else None


def write_annotated_frames(out_path, frames, stream, times=None):
    """Encode already drawn ``frames`` at ``stream``'s exact rate, or at the source's own frame times where they
    vary (``times``: `shown_times`); `pixel_format`: 4:4:4 where H.264 needs it."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{stream.path} gave no frames to write")

    def all_frames():
        yield first
        yield from frames

    write_video(out_path, all_frames(), fps=stream.frame_rate, pix_fmt=pixel_format(out_path, first.shape),
                times=shown_times(out_path, stream, times))


def pixel_format(out_path, shape):
    """The pixel format for frames of ``shape`` [H, W, 3] in ``out_path``: None (the codec's 4:2:0) unless the
    container's codec refuses them (`io.x264_refuses`: H.264 and a side odd): then 4:4:4, which x264 takes at any
    size; never for another codec: MPEG-4 refuses 4:4:4 (forcing it for every codec broke an odd .avi)."""
    codec, pix_fmt, _ = CODECS.get(Path(out_path).suffix.lower(), (None, None, None))
    return "yuv444p" if x264_refuses(codec, pix_fmt, *shape[:2]) else None
