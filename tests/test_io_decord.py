"""decord's silent misreads: the codec / container pairs whose frames decord's `get_batch` misplaces without an
error (measured by tools/decord_matrix.py) must reach PyAV through `open_video`; the pairs it reads right, the
H.264 MP4 first, must stay on decord. Clips are 60 frames of 160x120, every frame different."""
import warnings

import av
import numpy as np
import pytest

from tsnbook import io as tio
from tsnbook.io import DecoderChoiceWarning, open_video, write_video

pytestmark = pytest.mark.skipif(not tio.decord_available(), reason="decord is not installed")
NUM, H, W = 60, 120, 160
#: ascending sets spread over the clip, random ones, and every frame: on main each misread case fails several
INDEX_SETS = [[7, 14, 21, 40], [0, 1, 29, 58, 59], list(range(0, NUM, 3)), [3, 17, 33, 52], [11, 12, 44, 45, 46],
              list(range(NUM))]


def moving_frame(index):
    """A grey level and two boxes moving at different speeds: no two frames of the clip are alike."""
    frame = np.full((H, W, 3), index * 4 % 256, np.uint8)
    frame[10:30, index * 2 % 140:index * 2 % 140 + 20] = 255
    frame[60:80, index * 5 % 150:index * 5 % 150 + 10] = (255, 0, 0)
    return frame


def encode(path, codec, options):
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # UnknownCodecError: this FFmpeg build has no such encoder
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    write_video(path, (moving_frame(i) for i in range(NUM)), fps=25, codec=codec, **options)


def case_id(codec, ext, options):
    return "".join([codec, *(f"-{key}{value}" for key, value in options.items() if key in ("bf", "g")), ext])


def assert_same_frames_as_pyav(path, backend, expected_backend):
    """The frames first (what main got wrong), then the backend and the fallback warnings (none on decord)."""
    reference = open_video(path, "pyav").get(range(NUM))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        video = open_video(path, backend)
    with video:
        for indices in INDEX_SETS:
            # a grey step of 4 and moving boxes tell frames apart; 2 levels absorb another IDCT (MPEG-4 Part 2's
            # is not bit-exact, and decord's FFmpeg and PyAV's may pick other SIMD code on another CPU)
            got, wanted = video.get(indices).astype(np.int16), reference[indices].astype(np.int16)
            np.testing.assert_allclose(got, wanted, atol=2, rtol=0, err_msg=str(indices))
    assert video.backend == expected_backend
    fallbacks = [str(w.message) for w in caught if issubclass(w.category, DecoderChoiceWarning)]
    assert len(fallbacks) == (expected_backend == "pyav") and all("decord misplaces frames" in m for m in fallbacks)


MISREAD = [("mpeg4", ".avi", {"bf": 2}), ("mpeg4", ".mp4", {"bf": 2}), ("mpeg2video", ".mkv", {"bf": 2}),
           ("mpeg1video", ".mpg", {}), ("mpeg2video", ".mpg", {"bf": 0}), ("mpeg2video", ".ts", {"bf": 2}),
           ("mpeg4", ".mpg", {}), ("libx264", ".ts", {"g": 12}), ("libx264", ".avi", {"bf": 0, "g": 12}),
           ("msmpeg4", ".wmv", {}), ("libx265", ".mp4", {"g": 12, "x265-params": "log-level=0"})]


@pytest.mark.parametrize("codec, ext, options", MISREAD, ids=[case_id(*case) for case in MISREAD])
def test_files_decord_misreads_are_decoded_by_pyav(tmp_path, monkeypatch, codec, ext, options):
    monkeypatch.delenv("TSNBOOK_DECODER", raising=False)
    path = tmp_path / f"clip{ext}"
    encode(path, codec, options)
    for backend in (None, "decord"):  # None: decord, as it is installed
        assert_same_frames_as_pyav(path, backend, "pyav")


TRUSTED = [("libx264", ".mp4", {"g": 12}), ("mpeg4", ".avi", {}), ("libvpx-vp9", ".webm", {})]


@pytest.mark.parametrize("codec, ext, options", TRUSTED, ids=[case_id(*case) for case in TRUSTED])
def test_files_decord_reads_right_stay_on_decord(tmp_path, monkeypatch, codec, ext, options):
    """H.264 with B-frames in MP4 (the common file), MPEG-4 without B-frames in AVI, VP9 WebM."""
    monkeypatch.delenv("TSNBOOK_DECODER", raising=False)
    path = tmp_path / f"clip{ext}"
    encode(path, codec, options)
    with av.open(str(path)) as container:
        assert ext != ".mp4" or container.streams.video[0].codec_context.has_b_frames
    assert_same_frames_as_pyav(path, None, "decord")


def test_the_misread_warning_is_shown_once_a_kind_of_file_not_once_a_file(tmp_path, monkeypatch):
    """A dataset of XviD AVIs with B-frames opens each video every epoch: one line, not one per file."""
    monkeypatch.delenv("TSNBOOK_DECODER", raising=False)
    paths = [tmp_path / f"clip{i}.avi" for i in range(3)]
    for path in paths:
        encode(path, "mpeg4", {"bf": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own filter for UserWarnings
        warnings.filterwarnings("default", category=DecoderChoiceWarning)
        warnings.filterwarnings("error", category=tio.DecoderFallbackWarning)  # a CI's filter: a rule passes it
        videos = [open_video(path) for path in paths * 2]
    assert all(video.backend == "pyav" for video in videos)
    assert len([w for w in caught if issubclass(w.category, DecoderChoiceWarning)]) == 1


def test_codecs_and_containers_never_measured_are_refused_and_the_measured_ones_trusted():
    mp4 = "mov,mp4,m4a,3gp,3g2,mj2"
    assert "not measured on av1" in tio.decord_misplaces_frames(mp4, "av1", False)
    assert "not measured on prores" in tio.decord_misplaces_frames(mp4, "prores", False)
    assert "'mpeg'" in tio.decord_misplaces_frames("mpeg", "h264", False)
    assert tio.decord_misplaces_frames(mp4, "h264", True) is None
    assert tio.decord_misplaces_frames("avi", "mpeg4", False) is None


def test_a_10_bit_video_decodes_on_every_reader_with_decords_colours_within_a_level(tmp_path):
    """10-bit H.264 (High 10, what newer cameras record): the same frames from decord, PyAV and `SelectiveVideo`.
    For 8-bit video they are bit-identical; for 10-bit, decord's FFmpeg converts to 8-bit RGB with other rounding
    than PyAV's (a few levels at sharp colour edges; 0.14 to 0.18 of a level on average over these frames on this
    machine), so decord is compared by frame means. `SelectiveVideo` decodes through PyAV, so it equals PyAV exactly."""
    from tsnbook.io.selective import SelectiveVideo
    path = tmp_path / "ten_bit.mp4"
    write_video(path, (moving_frame(i) for i in range(NUM)), fps=25, pix_fmt="yuv420p10le", g=12)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
    reference = open_video(path, "pyav").get(range(NUM)).astype(np.int16)
    with SelectiveVideo(path) as video:
        for indices in INDEX_SETS:
            np.testing.assert_array_equal(video.get(indices), reference[indices], err_msg=str(indices))
    with open_video(path, "decord") as video:
        assert video.backend == "decord"
        for indices in INDEX_SETS:
            error = np.abs(video.get(indices).astype(np.int16) - reference[indices]).mean(axis=(1, 2, 3))
            assert error.max() < 1, (indices, error)  # within a level (neighbouring frames differ by 4 and more)
