"""Conformance tests for tsnbook.io on generated clips whose frames carry their own index.

Each frame shows its index as 8 large blocks (bit set = red, or white for grey clips; bit clear = black), so
the index survives lossy compression and can be read back from any decoded frame; red also checks that
frames come back as RGB, not BGR. Anything that could hang (broken files, readers crossing a fork) runs in a
child process with a timeout.
"""
import contextlib
import importlib.util
import multiprocessing
import os
import pathlib
import subprocess
import sys
import textwrap

import av
import cv2
import numpy as np
import pytest

from tsnbook import io as tio
from tsnbook.io import (DecodeError, DecoderFallbackWarning, FlowFrames, RawFrames, count_frames, open_video,
                        write_video)

ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = ["pyav"] + (["decord"] if tio.decord_available() else [])
needs_decord = pytest.mark.skipif(not tio.decord_available(), reason="decord is not installed")
pytestmark = pytest.mark.filterwarnings("error::tsnbook.io.DecoderFallbackWarning")  # no silent fallbacks
NUM, H, W = 50, 48, 64
CONTAINERS = [".mp4", ".avi", ".webm"]


def index_frame(index, height=H, width=W, on=(255, 0, 0)):
    """An RGB frame showing the 8 bits of `index` as a 4 x 2 grid of blocks."""
    frame = np.zeros((height, width, 3), np.uint8)
    block_h, block_w = height // 2, width // 4
    for bit in range(8):
        if index >> bit & 1:
            row, col = divmod(bit, 4)
            frame[row * block_h:(row + 1) * block_h, col * block_w:(col + 1) * block_w] = on
    return frame


def read_index(image):
    """Inverse of index_frame, from the first channel (red, or grey), ignoring 3 pixels at block edges."""
    plane = image[..., 0] if image.ndim == 3 else image
    block_h, block_w = plane.shape[0] // 2, plane.shape[1] // 4
    bits = [plane[r * block_h + 3:(r + 1) * block_h - 3, c * block_w + 3:(c + 1) * block_w - 3].mean() > 128
            for r in range(2) for c in range(4)]
    return sum(int(bit) << position for position, bit in enumerate(bits))


def indices_in(frames):
    return [read_index(frame) for frame in frames]


def fallback_expected(backend, match=None):
    """A decord video falls back to PyAV with a warning; a PyAV video has nothing to fall back to."""
    return pytest.warns(DecoderFallbackWarning, match=match) if backend == "decord" else contextlib.nullcontext()


def sequential_pyav(path):
    """A reference decode independent of tsnbook: every frame, in order."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    frames = np.stack([index_frame(i) for i in range(NUM)])
    write_video(folder / "clip.mp4", frames, g=12)  # short GOPs with B-frames: decord must seek
    write_video(folder / "clip.avi", frames)
    write_video(folder / "clip.webm", frames)
    return folder


def index_sets(rng):
    return {"sorted": np.sort(rng.choice(NUM, 8, replace=False)), "unsorted": rng.permutation(NUM)[:12],
            "duplicated": [5, 5, 0, NUM - 1, 5, 17, 17], "first": [0], "last": [NUM - 1], "all": range(NUM)}


@pytest.mark.parametrize("ext", CONTAINERS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_frames_for_every_index_pattern(clips, backend, ext):
    with open_video(clips / f"clip{ext}", backend) as video:
        assert video.backend == backend and video.num_frames == NUM == count_frames(video.path)
        assert video.fps == pytest.approx(30)
        for name, indices in index_sets(np.random.default_rng(len(ext))).items():
            frames = video.get(indices)
            assert frames.dtype == np.uint8 and frames.shape == (len(indices), H, W, 3), name
            assert indices_in(frames) == list(indices), name


@needs_decord
@pytest.mark.parametrize("ext", CONTAINERS)
def test_decord_and_pyav_agree_bit_for_bit(clips, ext):
    reference = sequential_pyav(clips / f"clip{ext}")
    indices = [3, 40, 3, 0, NUM - 1, 25]
    for backend in BACKENDS:
        with open_video(clips / f"clip{ext}", backend) as video:
            np.testing.assert_array_equal(video.get(indices), reference[indices], err_msg=backend)


def test_bad_arguments(clips, monkeypatch):
    with open_video(clips / "clip.mp4", "pyav") as video:
        for indices in ([NUM], [-1], [0, NUM + 3]):
            with pytest.raises(IndexError, match=f"0, {NUM}"):
                video.get(indices)
        with pytest.raises(ValueError, match="no frame indices"):
            video.get([])
    with pytest.raises(ValueError, match="decord.*pyav"):
        open_video(clips / "clip.mp4", "opencv")
    monkeypatch.setenv("TSNBOOK_DECODER", "pyav")
    assert open_video(clips / "clip.mp4").backend == "pyav"
    monkeypatch.setenv("TSNBOOK_DECODER", "nvdec")
    with pytest.raises(ValueError, match="nvdec"):
        open_video(clips / "clip.mp4")
    monkeypatch.delenv("TSNBOOK_DECODER")
    monkeypatch.setattr(tio.videos, "decord_available", lambda: False)  # as on macOS arm64: no decord wheel
    assert open_video(clips / "clip.mp4").backend == "pyav"
    with pytest.raises(ImportError, match="backend='pyav'"):
        open_video(clips / "clip.mp4", "decord")


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_file_is_named(tmp_path, backend):
    with pytest.raises(FileNotFoundError, match="no_such_clip.mp4"):
        open_video(tmp_path / "no_such_clip.mp4", backend)


@needs_decord
def test_fallback_to_pyav_when_decord_get_fails(clips, monkeypatch):
    import decord

    def broken_get_batch(self, indices):
        raise decord.DECORDError("simulated seek failure")

    monkeypatch.setattr(decord.VideoReader, "get_batch", broken_get_batch)
    video = open_video(clips / "clip.avi", "decord")
    with pytest.warns(DecoderFallbackWarning, match="clip.avi.*simulated seek failure") as record:
        assert indices_in(video.get([9, 2, 2])) == [9, 2, 2]
        assert indices_in(video.get([NUM - 1])) == [NUM - 1]  # stays on PyAV: one warning only
    assert len(record) == 1


@needs_decord
def test_fallback_to_pyav_when_decord_cannot_open(clips, monkeypatch):
    import decord

    def broken_reader(*args, **kwargs):
        raise RuntimeError("simulated open failure")

    monkeypatch.setattr(decord, "VideoReader", broken_reader)
    with pytest.warns(DecoderFallbackWarning, match="simulated open failure"):
        video = open_video(clips / "clip.webm", "decord")
    assert video.backend == "pyav" and indices_in(video.get([4, 1])) == [4, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_decode_error_names_the_file_when_every_decoder_fails(clips, backend, monkeypatch):
    def broken(self, indices):
        raise (tio.DecodeError(self.path, "simulated PyAV failure") if isinstance(self, tio.PyAVVideo)
               else RuntimeError("simulated decord failure"))

    monkeypatch.setattr(tio.PyAVVideo, "_decode_sorted", broken)
    if backend == "decord":
        import decord
        monkeypatch.setattr(decord.VideoReader, "get_batch", broken)
    video = open_video(clips / "clip.mp4", backend)
    with pytest.raises(DecodeError, match="simulated PyAV failure") as caught:
        with fallback_expected(backend):
            video.get([1])
    assert caught.value.path == str(clips / "clip.mp4") and "clip.mp4" in str(caught.value)


def _write_broken_files(folder, clips):
    """Garbage, empty, truncated, corrupted and frameless files; returns {name: path}."""
    rng = np.random.default_rng(0)
    files = {"garbage.mp4": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "empty.mp4": b""}
    data = (clips / "clip.mp4").read_bytes()
    files["truncated.mp4"] = data[:len(data) * 6 // 10]  # the index (moov) is at the end: lost
    corrupted = bytearray(data)
    with av.open(str(clips / "clip.mp4")) as container:  # overwrite the last 15 packets, keep the index
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    for position, size in packets[-15:]:
        corrupted[position:position + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    files["corrupted_tail.mp4"] = bytes(corrupted)
    with av.open(str(folder / "no_frames.avi"), "w") as container:  # a valid file with an empty video stream
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        container.start_encoding()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in [*files, "no_frames.avi"]}


def test_broken_files_raise_decode_error_and_never_hang(tmp_path, clips):
    """In a child process with a timeout, because a decord hang holds the GIL and nothing else can stop it."""
    files = _write_broken_files(tmp_path, clips)
    script = textwrap.dedent("""
        import sys, warnings
        sys.path.insert(0, sys.argv[1])  # this checkout's tsnbook; tsnbook.io imports no torch
        from tsnbook import io
        warnings.simplefilter("ignore")
        for path in sys.argv[2:]:
            for backend in io.BACKENDS if io.decord_available() else ["pyav"]:
                try:
                    with io.open_video(path, backend) as video:
                        video.get(range(video.num_frames))
                    print(path, backend, "decoded", flush=True)
                except io.DecodeError as error:
                    print(path, backend, "DecodeError", error.path == path, error, flush=True)
    """)
    arguments = [sys.executable, "-c", script, str(ROOT), *map(str, files.values())]
    done = subprocess.run(arguments, capture_output=True, text=True, timeout=60)
    outcomes = done.stdout.splitlines()
    assert len(outcomes) == len(files) * len(BACKENDS), done.stdout + done.stderr[-2000:]
    for line in outcomes:
        path, backend, outcome, right_path, message = line.split(" ", 4)
        assert (outcome, right_path) == ("DecodeError", "True") and os.path.basename(path) in message, line


@pytest.mark.parametrize("backend", BACKENDS)
def test_edit_list_frames_are_counted_and_numbered_like_pyav(tmp_path, backend):
    """An MP4 whose edit list hides its first 10 frames: decord counts 60, 50 decode. tsnbook must say 50
    (asking for frames 50..59 is the decord #373 hang pattern) and number the frames as PyAV does."""
    path = str(tmp_path / "edit_list.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        packets = [p for i in range(60) for p in stream.encode(av.VideoFrame.from_ndarray(index_frame(i)))]
        packets += stream.encode()
        shift = int(10 / (30 * packets[0].time_base))  # ten frames, in stream time units
        for packet in packets:
            packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
            container.mux(packet)
    with fallback_expected(backend, match="60 frames"):
        video = open_video(path, backend)
    assert video.num_frames == 50 == count_frames(path) == len(sequential_pyav(path))
    assert indices_in(video.get([0, 49, 20])) == [10, 59, 30]


@pytest.mark.parametrize("backend", BACKENDS)
def test_grayscale_and_odd_sized_videos_come_back_rgb(tmp_path, backend):
    white = [index_frame(i, 47, 63, on=(255, 255, 255)) for i in range(20)]
    write_video(tmp_path / "grey_h264.mkv", white, pix_fmt="gray")  # H.264 4:0:0 (odd sizes are fine here)
    write_video(tmp_path / "grey_ffv1.avi", white, codec="ffv1", pix_fmt="gray")  # decoder outputs gray8
    red = [index_frame(i, 47, 63) for i in range(20)]
    write_video(tmp_path / "odd.avi", red)  # MPEG-4 and VP9 accept odd sizes in yuv420p
    write_video(tmp_path / "odd.webm", red)
    for name, shape in [("grey_h264.mkv", (47, 63)), ("grey_ffv1.avi", (47, 63)), ("odd.avi", (47, 63)),
                        ("odd.webm", (47, 63))]:
        with open_video(tmp_path / name, backend) as video:
            frames = video.get([19, 0, 7, 7])
        assert frames.shape == (4, *shape, 3) and indices_in(frames) == [19, 0, 7, 7], name
        if name.startswith("grey"):
            assert np.ptp(frames.astype(int), axis=-1).max() <= 2, name  # R = G = B


@needs_decord
def test_odd_sizes_backends_differ_only_by_chroma_rounding(tmp_path):
    """With odd sizes decord's bundled FFmpeg 4.1 and PyAV's FFmpeg convert the half-size chroma differently
    (colour edges move by a pixel); the images still agree closely."""
    write_video(tmp_path / "odd.avi", [index_frame(i, 47, 63) for i in range(10)])
    pyav, decord = (open_video(tmp_path / "odd.avi", b).get(range(10)).astype(int) for b in ("pyav", "decord"))
    assert np.abs(pyav - decord).mean() < 3


def test_write_video_is_deterministic_and_validates(tmp_path):
    frames = np.stack([index_frame(i) for i in range(12)])
    for ext in CONTAINERS:
        write_video(tmp_path / f"a{ext}", frames, crf=30)
        write_video(tmp_path / f"b{ext}", iter(frames), crf=30)  # any iterable of frames works
        assert (tmp_path / f"a{ext}").read_bytes() == (tmp_path / f"b{ext}").read_bytes(), ext
    with pytest.raises(ValueError, match="even width and height"):
        write_video(tmp_path / "odd.mp4", np.zeros((3, 47, 63, 3), np.uint8))
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
        write_video(tmp_path / "float.mp4", frames.astype(np.float32))
    with pytest.raises(ValueError, match="codec"):
        write_video(tmp_path / "clip.xyz", frames)
    assert not (tmp_path / "odd.mp4").exists() and not (tmp_path / "float.mp4").exists()


def test_write_video_keeps_each_frames_own_time_where_the_container_can(tmp_path):
    """``times=``: a variable-rate video (a phone's) written with its frames' own times, to the millisecond; AVI
    holds one rate, so it is refused there, as are times that do not increase or are fewer than the frames."""
    frames = np.stack([index_frame(i) for i in range(10)])
    times = [0, 0.02, 0.04, 0.06, 0.08, 0.3, 0.5, 0.7, 0.9, 1.1]
    for ext in (".mp4", ".mkv", ".webm"):
        write_video(tmp_path / f"vfr{ext}", frames, fps=9, times=times)
        with av.open(str(tmp_path / f"vfr{ext}")) as container:
            shown = [float(frame.time) for frame in container.decode(video=0)]
        np.testing.assert_allclose(shown, times, atol=0.0015, err_msg=ext)
    with pytest.raises(ValueError, match="AVI.*one rate"):
        write_video(tmp_path / "vfr.avi", frames, times=times)
    with pytest.raises(ValueError, match="increase"):
        write_video(tmp_path / "back.mp4", frames, times=times[:5] + [0.01] + times[6:])
    with pytest.raises(ValueError, match="more frames than the 9 times"):
        write_video(tmp_path / "short.mp4", frames, times=times[:9])
    with pytest.raises(ValueError, match="more frames than the 0 times"):  # not an IndexError
        write_video(tmp_path / "none.mp4", frames, times=[])
    assert not list(tmp_path.glob("*.avi")) and not (tmp_path / "back.mp4").exists()


def test_keyframe_interval_option(tmp_path):
    write_video(tmp_path / "gop.mp4", np.stack([index_frame(i) for i in range(40)]), g=8, sc_threshold=0)
    with av.open(str(tmp_path / "gop.mp4")) as container:
        keyframes = [i for i, frame in enumerate(container.decode(video=0)) if frame.key_frame]
    assert keyframes == [0, 8, 16, 24, 32]


@pytest.fixture(scope="session")
def frame_folders(tmp_path_factory):
    """img_{:05d}.jpg / flow_{x,y}_{:05d}.jpg whose content is the file number (y: number + 100)."""
    folder = tmp_path_factory.mktemp("frames")
    for number in range(0, 31):
        cv2.imwrite(str(folder / f"img_{number:05d}.jpg"), index_frame(number)[..., ::-1])  # imwrite wants BGR
        for axis, value in (("x", number), ("y", number + 100)):
            cv2.imwrite(str(folder / f"flow_{axis}_{number:05d}.jpg"), index_frame(value, on=(255,) * 3)[..., 0])
    return folder


@pytest.mark.parametrize("start_index, offset", [(0, 0), (1, 0), (1, 5)])
def test_raw_frames_numbering_and_exact_pixels(frame_folders, start_index, offset):
    frames = RawFrames(frame_folders, num_frames=25, start_index=start_index, offset=offset)
    indices = [0, 24, 3, 3, 10]
    images = frames.get(indices)
    numbers = [i + start_index + offset for i in indices]
    assert images.shape == (5, H, W, 3) and indices_in(images) == numbers
    for image, number in zip(images, numbers):  # OpenCV's JPEG decoder, BGR -> RGB: bit-exact
        np.testing.assert_array_equal(image, cv2.imread(str(frame_folders / f"img_{number:05d}.jpg"))[..., ::-1])
    with pytest.raises(IndexError):
        frames.get([25])


def test_get_hands_back_increasing_indices_without_a_reordering_copy(frame_folders, monkeypatch):
    """Training samples unique, increasing indices: `get` returns the decoded stack itself (a reordering copy of
    every full-size frame was most of the time rawframe training spent after decoding); other orders are
    decoded once per distinct frame and expanded back, as before."""
    decoded = []
    original = RawFrames._decode_sorted

    def spy(self, indices):
        decoded.append((indices.tolist(), original(self, indices)))
        return decoded[-1][1]
    monkeypatch.setattr(RawFrames, "_decode_sorted", spy)
    frames = RawFrames(frame_folders, num_frames=25)
    images = frames.get(np.array([2, 9, 17]))
    assert decoded[-1][0] == [2, 9, 17] and images is decoded[-1][1] and indices_in(images) == [3, 10, 18]
    images = frames.get([9, 2, 9])
    assert decoded[-1][0] == [2, 9] and images is not decoded[-1][1] and indices_in(images) == [10, 3, 10]
    with pytest.raises(IndexError):
        frames.get([3, 25])


@pytest.mark.parametrize("start_index", [0, 1])
def test_flow_frames_stack_x_and_y(frame_folders, start_index):
    flow = FlowFrames(frame_folders, num_frames=20, start_index=start_index).get([5, 0, 5])
    assert flow.shape == (3, H, W, 2) and flow.dtype == np.uint8
    assert indices_in(flow[..., 0]) == [5 + start_index, start_index, 5 + start_index]
    assert indices_in(flow[..., 1]) == [105 + start_index, 100 + start_index, 105 + start_index]


def _image_folder(folder, names, value=index_frame(1)):
    folder.mkdir(exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), value)
    return folder


def test_a_missing_frame_says_what_the_folder_holds_instead(tmp_path):
    """A list whose frame count is larger than its folder, frames that start at 0, flow named x_/y_ (denseflow's
    other naming): each message names what is wrong, not only the file it missed."""
    ten = _image_folder(tmp_path / "ten", [f"img_{n:05d}.jpg" for n in range(1, 11)])
    with pytest.raises(DecodeError, match=r"img_00016\.jpg.*holds 10 frames.*the list says 16.*frame count"):
        RawFrames(ten, num_frames=16).get([15])
    zero = _image_folder(tmp_path / "zero", [f"img_{n:05d}.jpg" for n in range(0, 5)])
    with pytest.raises(DecodeError, match=r"start at 0.*start_index=0"):
        RawFrames(zero, num_frames=5).get([4])
    flow = _image_folder(tmp_path / "flow", [f"{axis}_{n:05d}.jpg" for n in range(1, 4) for axis in "xy"],
                         index_frame(1)[..., 0])
    with pytest.raises(DecodeError, match=r"named like x_00001\.jpg, not flow_x_00001\.jpg.*filename_tmpl"):
        FlowFrames(flow, 3).get([0])
    # an untrimmed list's offset (with_offset): its frames start offset files in, so 10 files hold no 5 from offset 8
    with pytest.raises(DecodeError, match=r"img_00013\.jpg.*holds 10 frames.*the list says 5 from offset 8"):
        RawFrames(ten, num_frames=5, offset=8).get([4])
    # a flow frame is a pair: flow_y files that stop early leave fewer frames than the flow_x files
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for number in range(1, 6):
        for axis in "xy" if number <= 3 else "x":
            cv2.imwrite(str(pairs / f"flow_{axis}_{number:05d}.jpg"), index_frame(number)[..., 0])
    with pytest.raises(DecodeError, match=r"flow_y_00005\.jpg.*holds 3 frames.*the list says 5"):
        FlowFrames(pairs, 5).get([4])
    only_x = _image_folder(tmp_path / "only_x", [f"flow_x_{n:05d}.jpg" for n in range(1, 4)], index_frame(1)[..., 0])
    with pytest.raises(DecodeError, match=r"flow_y_00001\.jpg is missing beside flow_x_00001\.jpg"):
        FlowFrames(only_x, 3).get([0])


def test_missing_frame_file_message(frame_folders, tmp_path):
    with pytest.raises(DecodeError) as caught:
        RawFrames(frame_folders, num_frames=40).get([2, 35])
    assert caught.value.path == os.path.join(frame_folders, "img_00036.jpg")
    assert "img_00036.jpg" in str(caught.value) and "start_index=1" in str(caught.value)
    with pytest.raises(DecodeError, match=r"image_00001\.jpg.*'image_\{:05d\}\.jpg'.*wrong template"):
        RawFrames(frame_folders, 10, filename_tmpl="image_{:05d}.jpg").get([0])
    with pytest.raises(DecodeError, match=r"flow_x_00031\.jpg"):
        FlowFrames(frame_folders, 40, start_index=0).get([31])
    (tmp_path / "img_00001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DecodeError, match="cannot decode this image"):
        RawFrames(tmp_path, 1).get([0])
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        RawFrames(tmp_path / "no_such_folder", 10)


def test_frames_match_mmaction2_raw_frame_decode(frame_folders, clips):
    """Bit-exact against MMAction2 1.2's RawFrameDecode (and DecordDecode) when the oracle is installed."""
    if str(ROOT / "tests") not in sys.path:  # conftest.py adds it; direct runs may not
        sys.path.insert(0, str(ROOT / "tests"))
    import oracle

    indices = np.array([3, 0, 7, 7, 20])
    rgb = oracle.mma1x_pipeline([dict(type="RawFrameDecode")])(dict(
        frame_dir=str(frame_folders), frame_inds=indices + 1, filename_tmpl="img_{:05d}.jpg", modality="RGB"))
    np.testing.assert_array_equal(np.stack(rgb["imgs"]), RawFrames(frame_folders, 25).get(indices))
    flow = oracle.mma1x_pipeline([dict(type="RawFrameDecode")])(dict(
        frame_dir=str(frame_folders), frame_inds=indices, filename_tmpl="flow_{}_{:05d}.jpg", modality="Flow"))
    np.testing.assert_array_equal(np.stack(flow["imgs"]), FlowFrames(frame_folders, 25, start_index=0).get(indices))
    if tio.decord_available():
        video = oracle.mma1x_pipeline([dict(type="DecordInit"), dict(type="DecordDecode")])(
            dict(filename=str(clips / "clip.mp4"), frame_inds=indices))
        assert video["total_frames"] == NUM
        np.testing.assert_array_equal(np.stack(video["imgs"]), open_video(clips / "clip.mp4", "decord").get(indices))


def _use_reader_in_child(video, connection):
    try:
        video.get([0])
        connection.send(("no error", ""))
    except Exception as error:
        video.close()  # must not free a forked decord reader (that hangs too)
        connection.send((type(error).__name__, str(error)))
    fresh = open_video(video.path, video.backend)  # opening inside the worker is the supported way
    connection.send(("fresh", indices_in(fresh.get([7]))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_reader_refuses_to_cross_a_fork(clips, backend):
    video = open_video(clips / "clip.mp4", backend)
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_use_reader_in_child, args=(video, sender))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
        pytest.fail("the child process hung using a reader opened before fork()")
    kind, message = receiver.recv()
    assert kind == "RuntimeError" and f"opened in process {os.getpid()}" in message and "clip.mp4" in message
    assert receiver.recv() == ("fresh", [7])
    assert indices_in(video.get([3])) == [3]  # still fine in the parent


def test_reencode_script(tmp_path, clips, capsys):
    spec = importlib.util.spec_from_file_location("reencode_videos", ROOT / "data_scripts" / "reencode_videos.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    source = tmp_path / "src"
    (source / "class_a").mkdir(parents=True)
    (source / "class_a" / "clip.avi").write_bytes((clips / "clip.avi").read_bytes())
    (source / "broken.webm").write_bytes(b"\x1a\x45\xdf\xa3 not really a webm")
    status = script.main([str(source), str(tmp_path / "dst"), "--short-side", "32", "--keyframe-interval", "8",
                          "--workers", "1"])
    printed = capsys.readouterr().out
    assert status == 1 and "re-encoded 1 of 2 videos" in printed and "bytes before" in printed, printed
    assert "broken.webm" in printed.split("failed:")[1]
    output = tmp_path / "dst" / "class_a" / "clip.mp4"
    assert not (tmp_path / "dst" / "broken.mp4").exists()
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 42, 32)
        keyframes = [i for i, frame in enumerate(container.decode(stream)) if frame.key_frame]
    assert keyframes == [0, 8, 16, 24, 32, 40, 48]
    with open_video(output, "pyav") as video:
        assert video.num_frames == NUM and indices_in(video.get(range(NUM))) == list(range(NUM))


# ------------------------------------------------------------------- bad input through the default readers
# SelectiveVideo (open_selective) now reads every training and test video, and RawFrames every frame folder:
# each kind of bad input must end in a DecodeError / FileNotFoundError that names the file.

def test_selective_reader_names_missing_and_broken_files(tmp_path, clips):
    with pytest.raises(FileNotFoundError, match="no_such_clip.mp4"):
        tio.open_selective(tmp_path / "no_such_clip.mp4")
    for name, path in _write_broken_files(tmp_path, clips).items():  # garbage, empty, truncated, ... frameless
        with pytest.raises(DecodeError) as caught:
            with tio.open_selective(path) as video:
                video.get(range(video.num_frames))
        assert caught.value.path == str(path) and name in str(caught.value), name
    with pytest.raises(DecodeError, match="no decodable video frames"):
        tio.open_selective(tmp_path / "no_frames.avi")


def test_selective_reader_grayscale_and_odd_sized_come_back_rgb(tmp_path):
    white = [index_frame(i, 47, 63, on=(255, 255, 255)) for i in range(20)]
    write_video(tmp_path / "grey_h264.mkv", white, pix_fmt="gray")  # H.264 4:0:0, odd size
    write_video(tmp_path / "odd_444.mp4", [index_frame(i, 47, 63) for i in range(20)], pix_fmt="yuv444p")
    for name in ("grey_h264.mkv", "odd_444.mp4"):
        with tio.open_selective(tmp_path / name) as video:
            assert isinstance(video, tio.SelectiveVideo), name
            frames = video.get([19, 0, 7, 7])
        assert frames.shape == (4, 47, 63, 3) and indices_in(frames) == [19, 0, 7, 7], name
    assert np.ptp(frames.astype(int), axis=-1).max() > 100  # the red one is colour ...
    with tio.open_selective(tmp_path / "grey_h264.mkv") as video:
        assert np.ptp(video.get([3]).astype(int), axis=-1).max() <= 2  # ... the grey one R = G = B


def test_raw_frames_grayscale_odd_sized_empty_and_misplaced_files(tmp_path):
    grey = np.full((47, 63), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "img_00001.jpg"), grey)  # a grayscale JPEG: MMAction2 reads it as 3 equal channels
    cv2.imwrite(str(tmp_path / "img_00002.jpg"), np.zeros((47, 63, 3), np.uint8))
    frames = RawFrames(tmp_path, 2).get([0, 1, 0])
    assert frames.shape == (3, 47, 63, 3) and frames.dtype == np.uint8
    assert np.ptp(frames[0].astype(int), axis=-1).max() == 0 and abs(int(frames[0].mean()) - 200) <= 2
    (tmp_path / "img_00003.jpg").write_bytes(b"")  # an empty file (a copy that failed)
    with pytest.raises(DecodeError, match=r"img_00003\.jpg: OpenCV cannot decode"):
        RawFrames(tmp_path, 3).get([2])
    (tmp_path / "img_00004.jpg").mkdir()  # a folder where a frame should be
    with pytest.raises(DecodeError, match=r"img_00004\.jpg: frame file missing or unreadable"):
        RawFrames(tmp_path, 4).get([3])


def test_a_refused_encoding_hints_at_x264s_even_sizes_only_when_that_is_the_cause(tmp_path):
    frames = np.zeros((2, 61, 97, 3), np.uint8)
    with pytest.raises(ValueError, match="libx264 needs even width and height for yuv420p"):
        write_video(tmp_path / "odd.mp4", frames)
    with pytest.raises(ValueError, match=r"mpeg4 cannot encode 97x61 yuv444p") as refused:
        write_video(tmp_path / "odd.avi", frames, pix_fmt="yuv444p")  # MPEG-4 has no 4:4:4: not a size problem
    assert "libx264" not in str(refused.value) and not (tmp_path / "odd.avi").exists()


def _write_rotated(path, degrees, frames):
    """An H.264 MP4 whose display matrix turns its frames by ``degrees`` (counter-clockwise), as a phone writes."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(degrees)
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_every_decoder_turns_a_phone_video_upright_as_its_display_matrix_asks(tmp_path, degrees):
    # A phone stores 128x96 sensor frames plus "turn by 90 degrees": decord (and players) show 96x128 frames. Every
    # reader must give the same upright frames, or one dataset mixes sideways and upright clips by decoder. (decord
    # 0.6.0 fails on some turned sizes, 64x48 among them, and PyAV takes over: upright too, `test_...fallback...`.)
    from tsnbook.io import open_selective
    from tsnbook.streams import FrameStream
    path = tmp_path / f"phone{degrees}.mp4"
    _write_rotated(path, degrees, np.stack([index_frame(i, 96, 128) for i in range(12)]))
    with av.open(str(path)) as container:  # the stored frames, as the sensor saw them
        stored = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    upright = np.rot90(stored, degrees // 90, axes=(1, 2))
    readers = [open_video(path, backend) for backend in BACKENDS] + [open_selective(path)]
    for reader in readers:
        with reader:
            frames = reader.get([0, 5, 11])
        assert frames.shape == upright[[0, 5, 11]].shape, reader.backend
        assert np.array_equal(frames, upright[[0, 5, 11]]), reader.backend
    with FrameStream(path) as stream:
        streamed = np.stack(list(stream))
    assert stream.size == (upright.shape[2], upright.shape[1])
    assert np.array_equal(streamed, upright)


def _cut_at_an_open_gop(source, path, muxer_options=None):
    """``source`` remuxed from its second keyframe on, as ``ffmpeg -ss T -c copy`` cuts a clip: with open GOPs the
    B-frames right after that I-frame are shown before it and refer to the GOP cut away."""
    with av.open(str(source)) as src, av.open(str(path), "w", options=muxer_options or {}) as out:
        stream = src.streams.video[0]
        copy, first = out.add_stream_from_template(stream), None
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            if first is None and packet.is_keyframe and packet.pts > 0:
                first = packet.dts
            if first is not None:
                packet.stream, packet.pts, packet.dts = copy, packet.pts - first, packet.dts - first
                out.mux(packet)


def test_a_closed_gop_clip_cut_between_keyframes_is_counted_from_its_index(tmp_path, monkeypatch):
    """``ffmpeg -ss T -c copy`` between two keyframes of a closed-GOP MP4 keeps the frames from the keyframe before
    T and hides them with an edit list. With the hidden packets left out, the first shown packet was a P-frame and
    the B-frames after it looked like an open GOP's: every open of the file decoded it whole to count it."""
    source, path = tmp_path / "closed_gop.mp4", tmp_path / "cut.mp4"
    write_video(source, [index_frame(i) for i in range(90)],
                **{"x264-params": "bframes=3:b-adapt=0:keyint=30:min-keyint=30:scenecut=0"})
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        stream = src.streams.video[0]
        copy, step = out.add_stream_from_template(stream), int(1 / (30 * stream.time_base))
        packets = [packet for packet in src.demux(stream) if packet.dts is not None]
        start = next(packet for packet in packets if packet.is_keyframe and packet.pts == 30 * step)
        for packet in packets[packets.index(start):]:  # cut at frame 40: frames 30-39 hidden by the edit list
            packet.stream, packet.pts, packet.dts = copy, packet.pts - 40 * step, packet.dts - 40 * step
            out.mux(packet)
    decoded = count_frames(path)
    monkeypatch.setattr(tio.videos, "count_frames", lambda p: pytest.fail(f"{p} decoded whole to be counted"))
    assert decoded == 50 and tio.probe_video(path)[0] == decoded


def test_an_open_gop_clip_whose_leading_pictures_the_edit_list_hides_is_counted_from_its_index(tmp_path,
                                                                                                  monkeypatch):
    """An MP4 cut at an open GOP's I-frame with an edit list: the B-frames before it are hidden, and the decoder
    drops them. They were taken for visible leading pictures, and every open decoded the file whole to count it."""
    source, path = tmp_path / "open_gop.mp4", tmp_path / "cut.mp4"
    write_video(source, [index_frame(i) for i in range(60)],
                **{"x264-params": "bframes=3:b-adapt=0:open-gop=1:keyint=20:min-keyint=20:scenecut=0"})
    _cut_at_an_open_gop(source, path)  # the MP4 muxer's default: an edit list
    with av.open(str(path)) as container:
        assert any(p.is_discard for p in container.demux(container.streams.video[0]) if p.size), "no hidden packet"
    decoded = count_frames(path)
    monkeypatch.setattr(tio.videos, "count_frames", lambda p: pytest.fail(f"{p} decoded whole to be counted"))
    assert tio.probe_video(path)[0] == decoded


@pytest.mark.parametrize("name, muxer_options", [("cut.mkv", None), ("cut.mp4", {"use_editlist": "0"})])
def test_a_clip_cut_at_an_open_gop_counts_the_frames_a_decoder_gives(tmp_path, name, muxer_options):
    # The decoder drops the leading B-frames it cannot decode without the GOP before; counting their packets as
    # frames promised one frame too many, and asking for the last one failed on a good video.
    source = tmp_path / "open_gop.mp4"
    write_video(source, [index_frame(i) for i in range(60)],
                **{"x264-params": "bframes=3:b-adapt=0:open-gop=1:keyint=20:min-keyint=20:scenecut=0"})
    _cut_at_an_open_gop(source, tmp_path / name, muxer_options)
    decoded = count_frames(tmp_path / name)
    assert tio.probe_video(tmp_path / name)[0] == decoded
    for backend in BACKENDS:  # (decord counts the packets: PyAV reads the file instead)
        with fallback_expected(backend, "decord counts 43 frames where 40 decode"):
            video = open_video(tmp_path / name, backend)
        with video:
            assert video.num_frames == decoded
            assert indices_in(video.get([decoded - 1])) == indices_in(sequential_pyav(tmp_path / name)[-1:])
