"""Frames in order, each decoded once: a video file, a URL, or a camera, read from start to end.

    with FrameStream("long.mp4") as stream:      # or FrameStream(0): the first camera; or "rtsp://..." / "http://..."
        print(stream.fps, stream.num_frames)     # num_frames: None for a live source (unknown until it ends)
        for frame in stream:                     # uint8 [H, W, 3] RGB, in display order
            ...

Files and URLs are decoded by PyAV, one thread, numbered as frames come out of the decoder and turned upright as
the file's display matrix asks (`tsnbook.io.upright`) - exactly the frames and the numbering of `tsnbook.io`
(`SelectiveVideo`, decord), so a window of a stream equals the same frame range read with random access
(`tests/test_timeline.py`). A camera (an integer source) is read with OpenCV's
``VideoCapture``, whose BGR frames are turned into RGB; its rate is the one the driver reports (30 when it
reports none). Nothing is written to disk.

A local file also gives each frame's own time (`frame_times`: its pts x time_base, read from the packets without
decoding), so that a timeline's seconds are the video's even where its rate varies (phones record at a variable
rate); a live source is timed at its nominal rate. A URL that gives no data for ``URL_TIMEOUT`` seconds, while
opening or later, ends the stream with an error instead of waiting for ever.
"""
import os
import warnings
from fractions import Fraction

import av
import cv2
import numpy as np

from .io.videos import DecodeError, _short, _video_stream, frame_to_rgb, probe_video

DEFAULT_CAMERA_FPS = 30
URL_TIMEOUT = 20.0  # seconds without data before a URL is given up (FFmpeg would wait for ever)


def is_camera(source):
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


def rate_varies(times, fps=None):
    """Whether frame ``times`` (seconds, or pts ticks with ``fps`` None) stray from one rate: some frame is over
    half a frame from where a steady rate puts it (``fps``; None: the times' own average). Half a frame, not
    exact equality: a time base rounds each time by up to a tick, and a frame at 25 fps is 40 ms. The steady
    rate matters: with one frame dropped mid-way in 300, every time is within half a frame of the times' own
    average (the packets' warning stays quiet), not of the nominal fps (the annotated copy keeps the times)."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 2:
        return False
    step = 1 / fps if fps else (times[-1] - times[0]) / (len(times) - 1)
    return bool(np.abs(times - times[0] - step * np.arange(len(times))).max() > step / 2)


class FrameStream:
    """Iterate a source's frames once (see the module docstring); `fps`, `num_frames` (None when unknown),
    `size` (width, height) once the first frame is read, `path` (the source as given)."""

    def __init__(self, source):
        self.path, self.size = str(source), None
        self._capture = self._container = None
        if is_camera(source):
            logging = cv2.utils.logging  # errors only: a missing camera is one line here, not OpenCV's warnings
            level = logging.setLogLevel(logging.LOG_LEVEL_ERROR)
            try:
                self._capture = cv2.VideoCapture(int(source))
            finally:
                logging.setLogLevel(level)
            if not self._capture.isOpened():
                raise RuntimeError(f"camera {source} cannot be opened (no such device, or it is busy)")
            self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or DEFAULT_CAMERA_FPS)
            self.num_frames = None
            return
        local = os.path.exists(self.path)
        if not local and "://" not in self.path:
            raise FileNotFoundError(f"video {self.path} does not exist")
        if local:
            self.num_frames, self.fps = probe_video(self.path)
            if self.num_frames == 0:
                raise DecodeError(self.path, "it contains no decodable video frames")
        self._local, timeout = local, None if local else URL_TIMEOUT
        try:
            self._container = av.open(self.path, timeout=timeout)
        except av.ExitError as error:  # only a URL has a timeout that interrupts PyAV
            raise DecodeError(self.path, f"no answer within {URL_TIMEOUT:g} s (PyAV: {_short(error)})") from error
        except av.FFmpegError as error:
            raise DecodeError(self.path, f"PyAV cannot open it ({_short(error)})") from error
        stream = _video_stream(self._container, self.path)
        self.rate = stream.average_rate or stream.guessed_rate
        if not local:
            self.num_frames, self.fps = (stream.frames or None), float(self.rate or DEFAULT_CAMERA_FPS)

    @property
    def frame_rate(self):
        """The rate as an exact fraction (for writing a video at the source's rate)."""
        rate = getattr(self, "rate", None)
        return Fraction(rate) if rate else Fraction(self.fps).limit_denominator(1001)

    def frame_times(self):
        """Each frame's display time in seconds from the first frame's (float64 [num_frames]), from the packets' pts
        (a second pass over the file that decodes nothing); None for a live source, or where the packets do not
        give one time per frame (no pts, or a count that differs from `num_frames`): then time is index / fps,
        exact for a constant rate, and said in a warning where the packets show that the rate varies."""
        if self._container is None or not self._local:
            return None
        try:
            with av.open(self.path) as container:
                stream = _video_stream(container, self.path)
                pts = [p.pts for p in container.demux(stream) if p.size and not p.is_discard]
                time_base = stream.time_base  # read while open: a closed container's stream may give None
        except av.FFmpegError:  # damage the decode below names in its own words, at the frame it reaches
            return None
        if None in pts or time_base is None:
            return None
        pts = np.sort(np.array(pts, dtype=np.int64))
        if len(pts) != self.num_frames:
            if rate_varies(pts):
                warnings.warn(f"{self.path}: its packets give {len(pts)} times for {self.num_frames} frames, and they "
                              f"are not evenly spaced: each frame is timed at the average rate ({self.fps:g} fps), "
                              "so windows of its faster or slower parts hold other frames than their seconds")
            return None
        return (pts - pts[0]) * float(time_base)

    def __iter__(self):
        if self._capture is not None:
            while True:
                ok, frame = self._capture.read()
                if not ok:
                    return
                self.size = frame.shape[1], frame.shape[0]
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        decoded = 0
        try:
            for frame in self._container.decode(self._container.streams.video[0]):
                decoded += 1
                image = frame_to_rgb(frame)
                self.size = image.shape[1], image.shape[0]
                yield image
        except av.FFmpegError as error:
            raise DecodeError(self.path, f"PyAV failed after {decoded} frames ({_short(error)})") from error

    def close(self):
        if self._capture is not None:
            self._capture.release()
        if self._container is not None:
            self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
