"""H.264 decoded selectively: only the frames asked for and the reference frames they need."""
import bisect
import heapq
import os
import warnings

import av
import numpy as np

from .. import h264
from .videos import (DecodeError, DecoderFallbackWarning, Video, _decode_in_order, count_frames, open_video,
                     upright)


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
                self._rotation = _display_rotation(stream, self._packets)
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
                frames = self._keep(decoded, wanted, frames, len(indices), self._rotation)
            frames = self._keep(_in_order(context.decode(None), shown), wanted, frames, len(indices), self._rotation)
        except av.FFmpegError as error:
            raise DecodeError(self.path, f"PyAV failed ({error})") from error
        if wanted:
            raise _Inconsistent(f"{len(wanted)} wanted frames never came out of the selective decoder")
        return frames

    @staticmethod
    def _keep(decoded, wanted, frames, count, rotation):
        """Convert the wanted frames among `decoded` to RGB, turned upright, into their rows of `frames` (made on
        first use)."""
        for frame in decoded:
            if frame.pts in wanted:
                if frame.is_corrupt:
                    raise _Inconsistent(f"the frame at pts {frame.pts} came out corrupt")
                image = upright(frame.to_ndarray(format="rgb24"), rotation)
                frames = np.empty((count,) + image.shape, np.uint8) if frames is None else frames
                frames[wanted.pop(frame.pts)] = image
        return frames

    def close(self):
        self._closed, self._packets = True, []


def _display_rotation(stream, packets):
    """The quarter turns the file's display matrix asks for (`upright`). FFmpeg hands the matrix only to frames
    its stream's decoder makes, not to the bare decoder `_decode_selectively` uses: so one frame (the first
    packet, an IDR where the plan is selective) is decoded here to read it, ~1 ms."""
    if not packets:
        return 0
    context = stream.codec_context
    context.skip_frame = "DEFAULT"  # (av.open's skip_frame "all" was for probing)
    try:
        frames = context.decode(packets[0]) + context.decode(None)
    except av.FFmpegError:
        return 0  # an undecodable first packet: the plan or the decode says so, with its own message
    return frames[0].rotation if frames else 0


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
