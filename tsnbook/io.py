"""Decoding for tsnbook: videos (decord or PyAV) and frame folders (OpenCV) behind one small interface.

Mirrors MMAction2's loading transforms (spec `mmaction2_tsn.md` §3): `DecordInit`/`DecordDecode` ('accurate',
`num_threads=1`), `PyAVInit`/`PyAVDecode` ('accurate': sequential) and `RawFrameDecode` (cv2; RGB and flow).

    with open_video("clip.mp4") as video:       # or RawFrames(...) / FlowFrames(...)
        frames = video.get([0, 10, 10, 5])      # uint8 [T, H, W, 3] RGB, in the order asked for

Where tsnbook is stricter than MMAction2, and why (decord's failure modes: `course_and_testing.md` §3.2):
- `num_frames` is checked (`probe_video`), never taken from decord on trust: asking decord for frames past the
  real end can spin forever in native code (decord issue #373).
- decord runs with a `fault_tol` so strict that one silently duplicated frame is an error. Any decord error
  sends that file to PyAV, once, with a `DecoderFallbackWarning`; CI can make these fatal with
  `warnings.simplefilter("error", DecoderFallbackWarning)`.
- A reader refuses to work in another process than the one that opened it: a decord reader copied by `fork()`
  hangs in the child (reproduced here). Open videos inside the worker, e.g. in `Dataset.__getitem__`.
"""
import bisect
import contextlib
import heapq
import os
import re
import warnings
from fractions import Fraction

import av
import cv2
import numpy as np

from . import h264

BACKENDS = ("decord", "pyav")
DECORD_FAULT_TOL = 1e-6  # a ratio of len(video): more than int(1e-6 * len) = 0 recovered frames raises
_IMREAD_COLOR_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10


class DecodeError(RuntimeError):
    """A file that cannot be decoded; `.path` names it and the message says why."""

    def __init__(self, path, reason):
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot decode {self.path}: {reason}")


class DecoderFallbackWarning(UserWarning):
    """A faster decoder could not be trusted on a file and PyAV decoded it in order instead: decord failed, or
    `SelectiveVideo`'s decoder broke one of the conditions it checks."""


def _short(error):
    """One line per error; decord prefixes every message with '[12:00:00] /src/file.cc:123: ', dropped here."""
    text = re.sub(r"\[[\d:]+\] \S+:\d+: ", "", str(error)).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:200] if text else ''}"


def _video_stream(container, path):
    if not container.streams.video:
        raise DecodeError(path, "the file has no video stream")
    stream = container.streams.video[0]
    stream.codec_context.thread_count = 1  # parallelism comes from DataLoader workers, as with decord
    return stream


def count_frames(path):
    """Decode every frame with PyAV and count them: the ground truth, at the price of a full decode.
    A file that breaks halfway raises DecodeError: it is broken, not short."""
    decoded = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(_video_stream(container, path)):
                decoded += 1
    except av.FFmpegError as error:
        raise DecodeError(path, f"PyAV failed after {decoded} frames ({_short(error)})") from error
    return decoded


def probe_video(path):
    """(num_frames, fps): the frame count tsnbook trusts, checked without decoding where possible.

    A decoder turns each non-empty packet that no edit list marks "discard" into one frame. So:
    1. MP4 and AVI index every packet with its position in the file. If the index has one entry per frame the
       header promises, all inside the file, count the entries: ~0.2 ms, nothing read.
    2. Otherwise (WebM indexes keyframes only; a file cut short) read and count the packets: ~5 ms per 10-s
       clip. If the header promised another number the file is suspect: decode and count (`count_frames`).
    A packet that fails to decode raises later, so nothing silently asks past the end. Not caught: a packet
    that decodes to nothing without any error; index builders that distrust their files can use `count_frames`.
    """
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            promised, index = stream.frames, getattr(stream, "index_entries", ())  # () on older PyAV
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            if promised and len(index) == promised and max(e.pos + e.size for e in index) <= os.path.getsize(path):
                return sum(1 for e in index if e.size and not e.is_discard), fps
            packets = sum(1 for p in container.demux(stream) if p.size and not p.is_discard)
    except av.FFmpegError as error:
        raise DecodeError(path, f"PyAV cannot read it ({_short(error)})") from error
    return (packets if promised in (0, packets) else count_frames(path)), fps


def _probe_nonempty(path):
    num_frames, fps = probe_video(path)
    if num_frames == 0:
        raise DecodeError(path, "it contains no decodable video frames")
    return num_frames, fps


class Video:
    """The interface of every frame source: `.path`, `.num_frames`, `.fps`, `.get(indices)`, `.close()`, `with`.

    `get` takes 0-based indices in any order, repeats allowed (TSN's test-time sampling repeats indices in
    short videos). Each distinct frame is decoded once, in increasing order, then the result is expanded back
    to the order asked for. Subclasses implement `_decode_sorted(unique_sorted_indices)`.
    """

    backend, fps = None, None
    fork_safe = False  # True only for sources that hold no native decoder state

    def __init__(self, path):
        self.path, self.num_frames, self._pid = str(path), 0, os.getpid()

    def get(self, indices):
        if not self.fork_safe and os.getpid() != self._pid:
            raise RuntimeError(
                f"{self.path}: this reader was opened in process {self._pid} and used in process {os.getpid()}. "
                "Readers must not cross a fork (a copied decord reader hangs): open the video inside the worker, "
                "e.g. in Dataset.__getitem__, and close it after use.")
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            raise ValueError(f"{self.path}: no frame indices given")
        if indices.min() < 0 or indices.max() >= self.num_frames:
            raise IndexError(f"{self.path}: frame indices must lie in [0, {self.num_frames}), "
                             f"got {indices.min()}..{indices.max()}")
        unique, positions = np.unique(indices, return_inverse=True)
        return self._decode_sorted(unique)[positions]

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        fps = "" if self.fps is None else f", fps={self.fps:g}"
        return f"{type(self).__name__}({self.path!r}, num_frames={self.num_frames}{fps})"


class PyAVVideo(Video):
    """PyAV, always installed: decodes from the start to the last frame asked for. Slow for late frames, but
    exact, and it cannot hang (the stream just ends). Each `get` reopens the file; no state is kept."""

    backend = "pyav"

    def __init__(self, path):
        super().__init__(path)
        self.num_frames, self.fps = _probe_nonempty(path)

    def _decode_sorted(self, indices):
        return _decode_in_order(self.path, indices)


def _decode_in_order(path, indices):
    """Frames `indices` (unique, increasing) of a decode from the start: the exact path, numbered as frames
    come out of the decoder."""
    wanted, frames, decoded = iter(indices.tolist()), [], 0
    target = next(wanted)
    try:
        with av.open(path) as container:
            for frame in container.decode(_video_stream(container, path)):
                if decoded == target:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    target = next(wanted, None)
                    if target is None:
                        break
                decoded += 1
    except av.FFmpegError as error:
        raise DecodeError(path, f"PyAV failed after {decoded} frames ({_short(error)})") from error
    if target is not None:
        raise DecodeError(path, f"the stream ended after {decoded} frames; frame {target} was asked for")
    return np.stack(frames)


class DecordVideo(Video):
    """decord's random access (`get_batch`, one thread), numbered and counted as PyAV does.

    If decord's length differs from `probe_video`'s count (an edit list, or a wrong `nb_frames` as in decord
    #373), decord's frame numbers cannot be trusted: opening fails and `open_video` uses PyAV for the file.
    A failing `get_batch` switches this file to PyAV for good."""

    backend = "decord"

    def __init__(self, path):
        super().__init__(path)
        self._reader, self._fallback = None, None
        self.num_frames, _ = _probe_nonempty(path)  # a DecodeError here means PyAV cannot read it either
        import decord  # optional: wheels exist for Linux x86_64 and Windows only

        self._reader = decord.VideoReader(self.path, num_threads=1, fault_tol=DECORD_FAULT_TOL)
        if len(self._reader) != self.num_frames:
            raise RuntimeError(f"decord counts {len(self._reader)} frames where {self.num_frames} decode")
        self.fps = float(self._reader.get_avg_fps())

    def _decode_sorted(self, indices):
        if self._reader is None and self._fallback is None:
            raise ValueError(f"{self.path}: the video was closed")
        if self._fallback is None:
            try:
                return self._reader.get_batch(indices.tolist()).asnumpy()
            except Exception as error:  # DECORDError, DECORDLimitReachedError, RuntimeError...
                self._fallback = _pyav_instead(self.path, error, stacklevel=4)
                self.close()
        return self._fallback._decode_sorted(indices)

    def close(self):
        if self._reader is not None and os.getpid() != self._pid:
            _FORKED_READERS.append(self._reader)  # freeing a reader copied by fork() hangs: never free it
        self._reader = None

    __del__ = close


_FORKED_READERS = []


def _pyav_instead(path, decord_error, stacklevel=3):
    warnings.warn(f"decord failed on {path} ({_short(decord_error)}); decoding it with PyAV instead",
                  DecoderFallbackWarning, stacklevel=stacklevel)
    try:
        return PyAVVideo(path)
    except DecodeError as error:
        raise DecodeError(path, f"decord failed ({_short(decord_error)}), then PyAV ({error.reason})") from error


def decord_available():
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def open_video(path, backend=None):
    """Open a video for frame access. `backend` is "decord" or "pyav"; None reads the environment variable
    TSNBOOK_DECODER, else takes decord when it is installed, else PyAV. decord failures fall back to PyAV."""
    backend = backend or os.environ.get("TSNBOOK_DECODER") or ("decord" if decord_available() else "pyav")
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: {path}")
    if backend == "pyav":
        return PyAVVideo(path)
    if not decord_available():
        raise ImportError("backend 'decord' was asked for, but decord is not installed (its wheels exist for "
                          "Linux x86_64 and Windows only); use backend='pyav' or unset TSNBOOK_DECODER")
    try:
        return DecordVideo(path)
    except DecodeError:
        raise
    except Exception as error:
        return _pyav_instead(path, error)


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
            data = np.fromfile(path, dtype=np.uint8)
        except OSError:
            raise DecodeError(path, f"frame file missing or unreadable (filename_tmpl={self.filename_tmpl!r}, "
                                    f"start_index={self.start_index}, offset={self.offset}): wrong template or "
                                    "start index?") from None
        image = cv2.imdecode(data, flags) if data.size else None
        if image is None:
            raise DecodeError(path, "OpenCV cannot decode this image file")
        return image

    def _load(self, number):
        filename = self.filename_tmpl.format(number)
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

    def _load(self, number):
        return np.stack([self._read(self.filename_tmpl.format(axis, number), cv2.IMREAD_GRAYSCALE)
                         for axis in ("x", "y")], axis=-1)


# extension -> (codec, pixel format, codec tag); yuv420p is what every decoder and player accepts
CODECS = {".mp4": ("libx264", "yuv420p", None), ".mkv": ("libx264", "yuv420p", None),
          ".avi": ("mpeg4", "yuv420p", "XVID"), ".webm": ("libvpx-vp9", "yuv420p", None)}


class _Unsuitable(ValueError):
    """Not an H.264 stream (or no packets at all): `open_selective` uses `open_video` instead."""


class _Inconsistent(RuntimeError):
    """The decoder did something the selective plan ruled out; the reader decodes sequentially from then on."""


class SelectiveVideo(Video):
    """H.264 decoded selectively: only the packets up to the last wanted frame, from the last safe restart before
    it, skipping the non-reference pictures nobody asked for. The frames are those of a sequential PyAV decode,
    bit for bit and numbered alike: each shortcut is one the H.264 standard guarantees, and each assumption is
    checked before it is used (`tests/test_selective.py` tries some 30 streams built to break them).

    Why: a test protocol wants 25 frames of 300, yet decord and a plain PyAV loop decode all 300.

    Trusted, and why (read from the packets' bytes by `tsnbook.h264`, not from the container's flags):
    - Restarts happen only at an IDR picture (NAL unit type 5) that splits the stream in time: nothing decoded
      after it is shown before it, nothing decoded before it is shown after it. No picture after an IDR refers
      to one before it (H.264 §3, §8.2.5.1), so a flushed decoder gives the same pixels. Keyframe flags also
      mark open-GOP I-frames and intra-refresh recovery points, and a muxer may set them on anything; restarting
      at x264's intra-refresh recovery points returned wrong pixels, without an error, before this rule.
    - Unwanted non-reference pictures are skipped (`skip_frame="NONREF"`: nal_ref_idc = 0, which §7.4.1 defines
      as used by no other picture), so leaving them out changes no other frame.
    - Frame i is the packet with the i-th smallest pts. A sequential decode numbers frames so when each packet
      is one frame (exactly one picture starts in it, and every SPS has frame_mbs_only_flag = 1: no field pairs
      spread over two packets), the timestamps are distinct, the first packet is such an IDR (a decoder drops
      the pictures before its first recovery point: an open-GOP stream cut at an I-frame gave 78 frames from 79
      packets), the SPS declares the output delay (VUI max_num_reorder_frames at least the reordering the
      timestamps show; without it FFmpeg guesses the delay as it decodes, and a sequential decode lost one frame
      of 90), and an edit list hides only frames before the first one shown (packets marked "discard": decoded
      as references, never numbered).

    Otherwise the reader is sequential, and `sequential_reason` says why (None while selective): `num_frames`
    counts a full decode (`count_frames`) and `get` decodes from the start, as `PyAVVideo` does. While decoding
    selectively, frames must come out in increasing pts and uncorrupted, and every wanted one must come out; if
    not, the call is redone sequentially, the reader stays sequential, and a `DecoderFallbackWarning` says so.
    H.264 only: `open_selective` gives other codecs to `open_video`.

    The reader holds the file's compressed packets (about 1 MB for a 10-s 340x256 clip).
    """

    backend, fork_safe = "pyav-select", True  # holds packets only; a decoder is made per call

    def __init__(self, path):
        super().__init__(path)
        try:
            # skip_frame "all" while av.open probes the streams: H.264 in MP4/MKV needs no decoded frame to be
            # described (its parameters are in the container), and probing one cost 1.3 of ~110 ms per video.
            with av.open(self.path, options={"skip_frame": "all"}) as container:
                if not container.streams.video:
                    raise DecodeError(self.path, "the file has no video stream")
                stream = container.streams.video[0]
                self._codec, self._extradata = stream.codec_context.name, stream.codec_context.extradata
                if self._codec != "h264":
                    raise _Unsuitable(f"{self.path}: {self._codec} is not H.264")
                self.fps = float(stream.average_rate or stream.guessed_rate or 0)
                self._packets = [packet for packet in container.demux(stream) if packet.size]
        except av.FFmpegError as error:
            raise DecodeError(self.path, f"PyAV cannot read it ({error})") from error
        if not self._packets:
            raise _Unsuitable(f"{self.path}: no video packets")
        self._closed, self._pts = False, [packet.pts for packet in self._packets]
        self.sequential_reason = self._plan()
        if self.sequential_reason:
            self._packets, self._pts, self._starts = [], [], []
            self.num_frames = count_frames(self.path)
            if self.num_frames == 0:
                raise DecodeError(self.path, "it contains no decodable video frames")

    def _plan(self):
        """None if the stream meets every condition of the class docstring (and set up the numbering and the
        restart points), else the first condition it fails, in words."""
        pts, count = self._pts, len(self._pts)
        if None in pts or len(set(pts)) < count:
            return "its packets lack distinct timestamps"
        try:
            size = h264.length_size(self._extradata)
            sps = list(h264.extradata_sps(self._extradata))
            packets = []
            for number, packet in enumerate(self._packets):
                try:
                    packets.append(h264.read_packet(packet, size))
                except h264.Unsure as error:
                    raise h264.Unsure(f"packet {number}: {error}") from None
                sps += packets[-1].sps
            parameters = [h264.sequence_parameters(nal) for nal in set(map(bytes, sps))]
        except h264.Unsure as error:
            return f"its H.264 layout is not one tsnbook reads ({error})"
        if not parameters:
            return "it has no sequence parameter set"
        if not all(p.frame_mbs_only for p in parameters):
            return "it may hold field pictures (frame_mbs_only_flag = 0), two packets to a frame"
        odd = next((k for k, p in enumerate(packets) if p.pictures != 1), None)
        if odd is not None:
            return f"packet {odd} starts {packets[odd].pictures} pictures, not one"
        declared = [p.max_num_reorder_frames for p in parameters]
        depth = 0 if None in declared else min(declared)
        if _reordered_beyond(pts, depth):
            return (f"its frames are reordered beyond the {depth} frames its SPS declares (VUI "
                    "max_num_reorder_frames), so the decoder would guess its output delay")
        earlier_max = np.maximum.accumulate(np.array([pts[0] - 1] + pts[:-1]))
        later_min = np.minimum.accumulate(np.array(pts[1:] + [pts[-1] + 1])[::-1])[::-1]
        self._starts = [k for k, p in enumerate(packets) if p.idr and earlier_max[k] < pts[k] < later_min[k]]
        if self._starts[:1] != [0]:
            return "it does not start with an IDR picture that every later frame follows"
        shown = [p for p, packet in zip(pts, self._packets) if not packet.is_discard]
        hidden = [p for p, packet in zip(pts, self._packets) if packet.is_discard]
        if not shown:
            return "its edit list hides every frame"
        if hidden and max(hidden) > min(shown):
            return "its edit list hides frames after the first one shown"
        self.num_frames, self._order = len(shown), sorted(shown)
        return None

    def get(self, indices):
        """As `Video.get`; indices already unique and increasing skip its reordering copy."""
        flat = np.asarray(indices, dtype=np.int64).reshape(-1)
        if flat.size and flat[0] >= 0 and flat[-1] < self.num_frames and np.all(flat[1:] > flat[:-1]):
            return self._decode_sorted(flat)
        return super().get(indices)

    def _decode_sorted(self, indices):
        if self._closed:
            raise ValueError(f"{self.path}: the video was closed")
        if not self.sequential_reason:
            try:
                return self._decode_selectively(indices)
            except _Inconsistent as error:
                self.sequential_reason = str(error)
                self._packets, self._pts = [], []
                warnings.warn(f"{self.path}: {error}; decoding it sequentially instead", DecoderFallbackWarning,
                              stacklevel=4)
        return _decode_in_order(self.path, indices)

    def _decode_selectively(self, indices):
        wanted = {self._order[i]: row for row, i in enumerate(indices.tolist())}  # pts -> output row
        context = av.CodecContext.create(self._codec, "r")
        context.extradata, context.thread_count = self._extradata, 1
        frames, sent, skipping, shown = None, 0, False, [None]  # shown[0]: the last pts out of the decoder
        packets, pts, starts = self._packets, self._pts, self._starts
        try:
            for last in [k for k, p in enumerate(pts) if p in wanted]:  # in decoding order
                if last < sent:
                    continue
                start = starts[bisect.bisect_right(starts, last) - 1]
                decoded = []
                if start > sent:  # jump: drain the decoder, then restart at the IDR
                    decoded += _in_order(context.decode(None), shown)
                    context.flush_buffers()  # (frames after an IDR that splits the stream come later: keep shown)
                    sent = start
                for k in range(sent, last + 1):  # (the hot loop: ~300 packets per video, kept lean)
                    if skipping == (pts[k] in wanted):  # set skip_frame only when it changes
                        skipping = not skipping
                        context.skip_frame = "NONREF" if skipping else "DEFAULT"
                    decoded += _in_order(context.decode(packets[k]), shown)
                sent = last + 1
                frames = self._keep(decoded, wanted, frames, len(indices))
            frames = self._keep(_in_order(context.decode(None), shown), wanted, frames, len(indices))
        except av.FFmpegError as error:
            raise DecodeError(self.path, f"PyAV failed ({error})") from error
        if wanted:
            raise _Inconsistent(f"{len(wanted)} wanted frames never came out of the selective decoder")
        return frames

    @staticmethod
    def _keep(decoded, wanted, frames, count):
        """Convert the wanted frames among `decoded` to RGB into their rows of `frames` (made on first use)."""
        for frame in decoded:
            if frame.pts in wanted:
                if frame.is_corrupt:
                    raise _Inconsistent(f"the frame at pts {frame.pts} came out corrupt")
                image = frame.to_ndarray(format="rgb24")
                frames = np.empty((count,) + image.shape, np.uint8) if frames is None else frames
                frames[wanted.pop(frame.pts)] = image
        return frames

    def close(self):
        self._closed, self._packets = True, []


def _in_order(frames, shown):
    """`frames` as they came out of the decoder, checked to come in increasing pts (`shown[0]` the last pts)."""
    for frame in frames:
        if frame.pts is None or (shown[0] is not None and frame.pts <= shown[0]):
            raise _Inconsistent(f"the decoder put out pts {frame.pts} after {shown[0]}")
        shown[0] = frame.pts
    return frames


def _reordered_beyond(pts, depth):
    """Whether more than `depth` frames are decoded before some frame and shown after it (pts in decoding
    order): the reordering the timestamps show exceeds `depth`. A min-heap keeps the depth + 1 largest."""
    largest = []
    for p in pts:
        if len(largest) > depth and p < largest[0]:
            return True
        if len(largest) <= depth:
            heapq.heappush(largest, p)
        elif p > largest[0]:
            heapq.heapreplace(largest, p)
    return False


def open_selective(path, backend=None):
    """A reader for `path`: SelectiveVideo when backend is None, TSNBOOK_DECODER is unset and the stream is
    H.264 (selective where that is safe, sequential where not), else `open_video(path, backend)` (decord or
    PyAV, as everywhere else in tsnbook)."""
    if backend is None and not os.environ.get("TSNBOOK_DECODER"):
        if not os.path.isfile(os.fspath(path)):
            raise FileNotFoundError(f"video file not found: {os.fspath(path)}")
        try:
            return SelectiveVideo(path)
        except _Unsuitable:
            pass
    return open_video(path, backend)



def write_video(path, frames, fps=30, codec=None, pix_fmt=None, audio=None, **options):
    """Encode uint8 RGB frames (a [T, H, W, 3] array or any iterable of [H, W, 3] arrays) with PyAV.

    ``audio``: ``(samples, sample_rate)``, float32 samples in [-1, 1] of shape [channels, n] (1 or 2
    channels), encoded as an AAC track (.mp4 / .mkv), because the real videos of Kinetics, ActivityNet or HVU
    carry one and a dataset's replica should too.

    The codec follows the extension (CODECS) unless given; `options` go to the encoder as strings, e.g.
    `crf=23, g=16` (keyframe interval), `preset="fast"`. Odd sizes: libx264 refuses an odd width or height in
    yuv420p (ValueError); MPEG-4 and VP9 accept them. A failed write leaves no partial file.

    The bytes are the same on every x86-64 machine for the same frames and options, so a dataset generated
    from a seed is the same dataset everywhere:
    - one encoder thread: x264 and MPEG-4 bitstreams change with the thread count;
    - x264 with ``cpu-independent=1``: its SIMD code paths (SSE, AVX2, AVX-512) otherwise make different
      choices, so the same frames gave 26,925 bytes on one CPU and 26,910 without SIMD; with the option both
      give the same stream (`tests/test_portability.py` encodes with ``asm=0`` to check). Extra x264 params
      (``**{"x264-params": "keyint=8"}``) are appended to it, and so is ``TSNBOOK_X264_PARAMS`` from the environment
      (the portability check sets ``asm=0`` there);
    - bit-exact muxing (Matroska otherwise writes a random id).
    FFmpeg's own encoders and its RGB->YUV conversion gave the same bytes with AVX-512, AVX2 or SSE code
    (measured with ``av_force_cpu_flags``), and libvpx is bit-exact across its SIMD paths by design.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if codec is None and extension not in CODECS:
        raise ValueError(f"{path}: no default codec for {extension!r}; pass codec= or use one of {list(CODECS)}")
    default_codec, default_pix_fmt, tag = CODECS.get(extension, (None, "yuv420p", None))
    codec, pix_fmt = codec or default_codec, pix_fmt or default_pix_fmt
    options = {"flags": "+bitexact", **{key: str(value) for key, value in options.items()}}
    if codec == "libx264":
        extra = [options.get("x264-params"), os.environ.get("TSNBOOK_X264_PARAMS")]
        options["x264-params"] = ":".join(["cpu-independent=1"] + [e for e in extra if e])
    container, stream = av.open(path, "w", options={"fflags": "+bitexact"}), None
    try:
        for frame in frames:
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"{path}: frames must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
            if stream is None:
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt, stream.options, stream.thread_count = pix_fmt, options, 1
                if tag and codec == default_codec:
                    stream.codec_tag = tag
                if audio is not None:
                    sound = _add_audio_stream(container, path, *audio)
            try:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            except av.FFmpegError as error:
                odd = stream.width % 2 or stream.height % 2
                raise ValueError(f"{path}: {codec} cannot encode {stream.width}x{stream.height} {pix_fmt} frames "
                                 f"({_short(error)})" + ("; libx264 needs even width and height for yuv420p: "
                                                         "crop, or pass pix_fmt='yuv444p'" if odd else "")) from error
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        container.mux(stream.encode())
        if audio is not None:
            _encode_audio(container, sound, *audio)
        container.close()
    except BaseException:
        with contextlib.suppress(Exception):
            container.close()
        if os.path.exists(path):
            os.remove(path)
        raise


def _add_audio_stream(container, path, samples, sample_rate):
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[0] not in (1, 2) or not samples.shape[1]:
        raise ValueError(f"{path}: audio samples must be [1 or 2 channels, n > 0], got {samples.shape}")
    sound = container.add_stream("aac", rate=int(sample_rate))
    sound.layout = "mono" if samples.shape[0] == 1 else "stereo"
    sound.options, sound.thread_count = {"flags": "+bitexact"}, 1
    return sound


def _encode_audio(container, sound, samples, sample_rate):
    samples = np.ascontiguousarray(np.clip(samples, -1, 1), dtype=np.float32)
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=sound.layout.name)
    frame.sample_rate, frame.pts = int(sample_rate), 0
    for packet in sound.encode(frame):
        container.mux(packet)
    container.mux(sound.encode(None))
