"""Video files: probing (frame counts checked, never trusted), decord and PyAV readers, `open_video`."""
import itertools
import os
import re
import warnings

import av
import cv2
import numpy as np


BACKENDS = ("decord", "pyav")
#: what counts as a video file by its name, in any case: the folders ``predict`` expands and the folder dataset
#: ``prepare.py`` reads take the same files (a file given by its path is decoded whatever its ending). The
#: containers FFmpeg (PyAV, decord) demuxes that cameras, phones, screen recorders and old archives write: MPEG-4
#: (.m4v, .3gp), MPEG-1/2 program and transport streams (.mpg, .mpeg, .ts), Flash, Windows Media, Ogg.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp",
                    ".ogv")
#: still images: a file or folder of them is named as such (a TSN needs frames over time, a video)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
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


class DecoderChoiceWarning(UserWarning):
    """A kind of file decord would misread (`decord_misplaces_frames`) goes to PyAV: a rule, not a failure of the
    file, so a CI that makes `DecoderFallbackWarning` an error does not stop on a UCF101 XviD AVI."""


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


def upright(image, rotation):
    """``image`` turned as the file's display matrix asks (``rotation``: PyAV's `VideoFrame.rotation`, degrees
    counter-clockwise). Phones store the frames as the sensor saw them and a matrix that turns them upright;
    players, decord (so MMAction2's DecordInit) and every tsnbook reader show them turned. Quarter turns only
    (a matrix's mirroring is not applied: decord does not apply it either)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def frame_to_rgb(frame):
    """A PyAV frame as uint8 RGB [H, W, 3], upright (`upright`)."""
    return upright(frame.to_ndarray(format="rgb24"), frame.rotation)


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
       header promises, all inside the file, count the entries: ~0.2 ms, nothing read but the first packets.
    2. Otherwise (WebM indexes keyframes only; a file cut short) read and count the packets: ~5 ms per 10-s
       clip. If the header promised another number the file is suspect: decode and count (`count_frames`).
    3. Except at an open GOP: a clip cut from a longer video at an I-frame (``ffmpeg -ss T -c copy``) may start
       with B-frames shown before that I-frame and referring to the GOP cut away; decoders drop them, and how
       many is the decoder's business (H.264 drops them all, HEVC keeps its decodable RADL pictures). Such a
       start (`_leading_pictures`; the packets after the first one, shown before it) is decoded and counted.
    A packet that fails to decode raises later, so nothing silently asks past the end. Not caught: a packet
    that decodes to nothing without any error; index builders that distrust their files can use `count_frames`.
    """
    num_frames, fps, _ = _probe(path)
    return num_frames, fps


def _probe(path):
    """`probe_video`'s (num_frames, fps) and the stream's (container format, codec, has_b_frames), all from one
    `av.open`: `DecordVideo` decides from the last three whether decord may read the file, at no extra cost."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            kind = container.format.name, stream.codec_context.name, bool(stream.codec_context.has_b_frames)
            promised, index = stream.frames, getattr(stream, "index_entries", ())  # () on older PyAV
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            size = os.path.getsize(path)
            indexed = promised and len(index) == promised and max(e.pos + e.size for e in index) <= size
            counted = sum(1 for e in index if e.size and not e.is_discard) if indexed else None
            demuxed = ((p.pts, p.is_discard) for p in container.demux(stream) if p.size)
            packets = list(itertools.islice(demuxed, 16) if indexed else demuxed)  # the index counts; these: the start
    except av.FFmpegError as error:
        raise DecodeError(path, f"PyAV cannot read it ({_short(error)})") from error
    if _leading_pictures(packets):
        return count_frames(path), fps, kind
    if indexed:
        return counted, fps, kind
    shown = sum(1 for _, hidden in packets if not hidden)
    return (shown if promised in (0, shown) else count_frames(path)), fps, kind


def _leading_pictures(packets):
    """Whether the stream starts at an open GOP: a packet right after the first one (in decoding order;
    ``packets``: their ``(pts, hidden by the edit list)``) is shown before it. A stream that starts at an IDR
    (closed GOP) shows its first packet first, and the frames decoded next come after it. The first packet may be
    hidden (an MP4 cut between keyframes starts at the I-frame before the cut); leading pictures that the edit
    list hides are dropped anyway, and count for nothing."""
    first = packets[0][0] if packets else None
    for pts, hidden in packets[1:]:
        if first is None or pts is None or pts > first:
            return False
        if pts < first and not hidden:
            return True
    return False


def _probe_nonempty(path):
    num_frames, fps, kind = _probe(path)
    if num_frames == 0:
        raise DecodeError(path, "it contains no decodable video frames")
    return num_frames, fps, kind


#: demuxers whose files decord numbered right, for some codecs (`decord_misplaces_frames`); PyAV's names
DECORD_CONTAINERS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "flv")
#: codecs decord numbered right in those containers (without B-frames where `decord_misplaces_frames` says so)
DECORD_CODECS = ("h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video", "vp8", "vp9", "mjpeg", "ffv1", "msmpeg4v2",
                 "msmpeg4", "wmv2", "flv1")


def decord_misplaces_frames(container_format, codec, has_b_frames):
    """Why decord's random access (`get_batch`) returns wrong frames for such a stream, or None where it does not.

    When decord seeks in some files it lands on another frame than the one asked for, and returns it without any
    error (dmlc/decord #365: B-frames; #195 and #252: AVI files); MMAction2's `DecordDecode` takes those frames.
    Which files, measured against PyAV's in-order decode on 60-frame clips, exact equality, 24 index sets per
    file (`tools/decord_matrix.py`, decord 0.6.0; the same FFmpeg decoders, so right files agree bit for bit):
    - MPEG program and transport streams (.mpg, .ts) carry no index: wrong for every codec but MPEG-4 Part 2
      and H.264 without B-frames in .ts. ASF (.wmv): WMV2 right, MS-MPEG-4 wrong. Refused, as is every
      container not measured (`DECORD_CONTAINERS` lists the rest).
    - B-frames (`has_b_frames`, which MPEG-1/2 streams report even when they have none): wrong for MPEG-4
      Part 2, MPEG-1/2 and HEVC in every container; H.264 is right in MP4, MOV, MKV and FLV.
    - AVI stores no presentation times: H.264 in AVI is wrong even without B-frames.
    - Long clips (``--frames 1000``: several of each encoder's keyframe intervals, where a seek must find a
      keyframe far from the start; dmlc/decord #91): the same verdicts for the pairs measured (H.264 in MP4, MKV
      and MOV, MPEG-4 Part 2 without B-frames, VP8 and VP9 in WebM and MKV right), and decord never returned from
      a 1000-frame MPEG-1 AVI with B-frames, which the rule refuses.
    A rule by family, not by file, and conservative per axis: a container or a codec not measured
    (`DECORD_CONTAINERS`, `DECORD_CODECS`; AV1, ProRes, H.263 ...) is refused too, though not every pair of
    measured ones was measured (HEVC does not go into AVI with this FFmpeg); so are some files decord reads right
    (MPEG-2 without B-frames in MP4), which PyAV then decodes in order, slower but exact.
    """
    if container_format not in DECORD_CONTAINERS:
        return f"decord misplaces frames in {container_format!r} files (tsnbook.io.decord_misplaces_frames)"
    if codec not in DECORD_CODECS:
        return f"decord was not measured on {codec} (tsnbook.io.DECORD_CODECS)"
    if container_format == "avi" and codec == "h264":
        return "decord misplaces frames of H.264 in AVI (dmlc/decord #195, #252)"
    if has_b_frames and codec != "h264":
        return f"decord misplaces frames of {codec} with B-frames (dmlc/decord #365)"
    return None


class Video:
    """The interface of every frame source: `.path`, `.num_frames`, `.fps`, `.get(indices)`, `.close()`, `with`.

    `get` takes 0-based indices in any order, repeats allowed (TSN's test-time sampling repeats indices in
    short videos). Each distinct frame is decoded once, in increasing order, then the result is expanded back
    to the order asked for (indices already unique and increasing come back as decoded, without that copy).
    Subclasses implement `_decode_sorted(unique_sorted_indices)`, returning a fresh array each call.
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
        if np.all(indices[1:] > indices[:-1]):  # training's samples: no reordering copy of every frame
            return self._decode_sorted(indices)
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

    def __init__(self, path, probed=None):
        super().__init__(path)
        self.num_frames, self.fps, _ = probed or _probe_nonempty(path)  # `probed`: a probe already made

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
                    frames.append(frame_to_rgb(frame))
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

    ``probed``: `open_video`'s probe of the file, reused (None: probed here). Opening fails, and `open_video`
    uses PyAV for the file (it checks the first case itself, before opening), where decord's frame numbers cannot
    be trusted:
    - a container, codec and B-frames that decord misreads without an error (`decord_misplaces_frames`: MPEG
      program/transport streams, B-frames outside H.264, H.264 in AVI), judged from the probe's own `av.open`;
    - decord's length differs from `probe_video`'s count (an edit list, or a wrong `nb_frames` as in decord #373).
    A failing `get_batch` switches this file to PyAV for good."""

    backend = "decord"

    def __init__(self, path, probed=None):
        super().__init__(path)
        self._reader, self._fallback = None, None
        probed = probed or _probe_nonempty(path)  # a DecodeError here means PyAV cannot read it either
        self.num_frames, kind = probed[0], probed[2]
        distrust = decord_misplaces_frames(*kind)
        if distrust:
            raise RuntimeError(distrust)
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


def _pyav_instead(path, decord_error, stacklevel=3, probed=None):
    warnings.warn(f"decord failed on {path} ({_short(decord_error)}); decoding it with PyAV instead",
                  DecoderFallbackWarning, stacklevel=stacklevel)
    try:
        return PyAVVideo(path, probed)
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
    TSNBOOK_DECODER, else takes decord when it is installed, else PyAV. decord failures fall back to PyAV with a
    DecoderFallbackWarning. The files decord would silently misnumber (`decord_misplaces_frames`) go to PyAV with a
    `DecoderChoiceWarning` that names the kind of file, not the file: Python's default filter shows it once a
    process and kind (DataLoader workers are processes: once each, again each epoch without persistent_workers)."""
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
    probed = _probe_nonempty(path)  # once: decord's reader, or PyAV's instead, takes it
    distrust = decord_misplaces_frames(*probed[2])
    if distrust:  # one warning a kind of file (the text names no file), not 13,320 in a log
        warnings.warn(f"{distrust}: such files are decoded with PyAV instead (in order: slower, exact)",
                      DecoderChoiceWarning, stacklevel=2)
        return PyAVVideo(path, probed)
    try:
        return DecordVideo(path, probed)
    except Exception as error:
        return _pyav_instead(path, error, probed=probed)
