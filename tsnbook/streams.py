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
"""
import os
from fractions import Fraction

import av
import cv2

from .io.videos import DecodeError, _short, _video_stream, frame_to_rgb, probe_video

DEFAULT_CAMERA_FPS = 30


def is_camera(source):
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


class FrameStream:
    """Iterate a source's frames once (see the module docstring); `fps`, `num_frames` (None when unknown),
    `size` (width, height) once the first frame is read, `path` (the source as given)."""

    def __init__(self, source):
        self.path, self.size = str(source), None
        self._capture = self._container = None
        if is_camera(source):
            self._capture = cv2.VideoCapture(int(source))
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
        try:
            self._container = av.open(self.path)
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
