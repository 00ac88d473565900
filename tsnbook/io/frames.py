"""Frame folders: RGB JPEGs and TSN's flow_x / flow_y pairs, read with OpenCV as MMAction2's RawFrameDecode."""
import os

import cv2
import numpy as np

from .videos import _IMREAD_COLOR_RGB, DecodeError, Video


class RawFrames(Video):
    """A folder of JPEG frames in MMAction2's rawframe layout: index i (0-based) is file number
    i + start_index + offset. OpenCV decodes them, because another libjpeg can move pixels by ±1 and
    bit-exactness with MMAction2 needs the same decoder."""

    fork_safe = True

    def __init__(self, frame_dir, num_frames, filename_tmpl="img_{:05d}.jpg", start_index=1, offset=0):
        super().__init__(os.fspath(frame_dir))
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"frame folder not found: {self.path}")
        self.num_frames, self.filename_tmpl = int(num_frames), filename_tmpl
        self.start_index, self.offset = int(start_index), int(offset)

    def _read(self, filename, flags):
        path = os.path.join(self.path, filename)
        try:  # (no os.path.isfile first: one system call less per frame; a folder is an OSError too)
            with open(path, "rb", buffering=0) as file:  # a plain read: np.fromfile costs twice as much here
                data = np.frombuffer(file.readall(), dtype=np.uint8)
        except OSError:
            raise DecodeError(path, f"frame file missing or unreadable (filename_tmpl={self.filename_tmpl!r}, "
                                    f"start_index={self.start_index}, offset={self.offset}): "
                                    f"{self._what_is_there()}") from None
        image = cv2.imdecode(data, flags) if data.size else None
        if image is None:
            raise DecodeError(path, "OpenCV cannot decode this image file")
        return image

    def _name(self, number):
        return self.filename_tmpl.format(number)

    def _whole(self, number, names):
        """Whether frame ``number``'s files are all in ``names`` (a flow frame is an x and a y file)."""
        return self._name(number) in names

    def _what_is_there(self):
        """Why a frame is missing, from what the folder holds (read only once a frame is missing): the list's frame
        count beyond the folder's, frames that start at 0, or files of another naming."""
        try:
            names = set(os.listdir(self.path))
        except OSError:
            return "the folder cannot be listed"
        first = self.start_index - 1 if self._name(self.start_index - 1) in names else self.start_index
        if self._name(first) in names:
            count = next(n for n in range(len(names) + 1) if not self._whole(first + n, names))
            if count == 0:  # a flow frame's x file without its y file
                return (f"{self.filename_tmpl.format('y', first)} is missing beside {self._name(first)}: the flow's "
                        f"y files were not extracted, or were removed")
            hints = [f"its frames start at {first}: start_index={first}"] if first != self.start_index else []
            if count < self.offset + self.num_frames:  # an untrimmed list's clip starts offset frames in
                says = f"{self.num_frames}" + (f" from offset {self.offset}" if self.offset else "")
                hints.append(f"the folder holds {count} frames from {self._name(first)}, the list says {says}: a "
                             f"frame count in the list larger than the folder's (an extraction cut short, or another "
                             f"list)")
            return "; ".join(hints) or "the file is there now (written or restored meanwhile?)"
        images = sorted(n for n in names if n.lower().endswith((".jpg", ".jpeg", ".png")))
        if not images:
            return "the folder holds no image files"
        return (f"its files are named like {images[0]}, not {self._name(self.start_index)}: another filename_tmpl "
                f"(wrong template?)")

    def _load(self, number):
        filename = self._name(number)
        if _IMREAD_COLOR_RGB is not None:  # OpenCV >= 4.10 writes RGB itself: the same bytes, one pass less
            return self._read(filename, _IMREAD_COLOR_RGB)
        return cv2.cvtColor(self._read(filename, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def _decode_sorted(self, indices):
        return np.stack([self._load(i + self.start_index + self.offset) for i in indices.tolist()])


class FlowFrames(RawFrames):
    """Optical flow as grayscale JPEG pairs `filename_tmpl.format("x", n)` / `.format("y", n)`. `get` returns
    uint8 [T, H, W, 2], channel 0 = x, 1 = y, as MMAction2 1.x stacks them (0.x interleaves x and y images)."""

    def __init__(self, frame_dir, num_frames, filename_tmpl="flow_{}_{:05d}.jpg", start_index=1, offset=0):
        super().__init__(frame_dir, num_frames, filename_tmpl, start_index, offset)

    def _name(self, number):
        return self.filename_tmpl.format("x", number)

    def _whole(self, number, names):
        return all(self.filename_tmpl.format(axis, number) in names for axis in ("x", "y"))

    def _load(self, number):
        return np.stack([self._read(self.filename_tmpl.format(axis, number), cv2.IMREAD_GRAYSCALE)
                         for axis in ("x", "y")], axis=-1)


# extension -> (codec, pixel format, codec tag); yuv420p is what every decoder and player accepts
