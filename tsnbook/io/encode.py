"""Writing videos: uint8 RGB frames to H.264 / MPEG-4 / VP9 with PyAV, the same bytes on every x86-64 CPU."""
import contextlib
import os
from fractions import Fraction

import av
import numpy as np

from .videos import _short


CODECS = {".mp4": ("libx264", "yuv420p", None), ".mkv": ("libx264", "yuv420p", None),
          ".avi": ("mpeg4", "yuv420p", "XVID"), ".webm": ("libvpx-vp9", "yuv420p", None)}


def x264_refuses(codec, pix_fmt, height, width):
    """Whether libx264 refuses frames of this size: its 4:2:0 (yuv420p) needs an even width and height. MPEG-4 and
    VP9 take odd sizes in 4:2:0 (and MPEG-4 refuses 4:4:4), so the answer for them is always no."""
    return codec == "libx264" and pix_fmt == "yuv420p" and bool(height % 2 or width % 2)


def write_video(path, frames, fps=30, codec=None, pix_fmt=None, audio=None, times=None, **options):
    """Encode uint8 RGB frames (a [T, H, W, 3] array or any iterable of [H, W, 3] arrays) with PyAV.

    ``audio``: ``(samples, sample_rate)``, float32 samples in [-1, 1] of shape [channels, n] (1 or 2
    channels), encoded as an AAC track (.mp4 / .mkv), because the real videos of Kinetics, ActivityNet or HVU
    carry one and a dataset's replica should too.

    ``times``: each frame's display time in seconds (increasing; at least one per frame), for a variable-rate
    video (a phone's) whose copy must show each frame when the source did; kept to the millisecond in .mp4, .mkv
    and .webm. AVI holds one rate (``fps``), so it refuses ``times``.

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
    stamps = _millisecond_stamps(path, extension, times)
    container, stream = av.open(path, "w", options={"fflags": "+bitexact"}), None
    try:
        for index, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"{path}: frames must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
            if stream is None:
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt, stream.options, stream.thread_count = pix_fmt, options, 1
                if tag and codec == default_codec:
                    stream.codec_tag = tag
                if stamps is not None:
                    stream.codec_context.time_base = stream.time_base = MILLISECOND
                if audio is not None:
                    sound = _add_audio_stream(container, path, *audio)
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if stamps is not None:
                if index >= len(stamps):
                    raise ValueError(f"{path}: more frames than the {len(stamps)} times given (one time a frame)")
                picture.pts, picture.time_base = int(stamps[index]), MILLISECOND
            try:
                container.mux(stream.encode(picture))
            except av.FFmpegError as error:
                odd = x264_refuses(codec, pix_fmt, stream.height, stream.width)
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


MILLISECOND = Fraction(1, 1000)


def _millisecond_stamps(path, extension, times):
    """``times`` (seconds) as whole milliseconds from the first; None for none. Refused where they cannot be kept."""
    if times is None:
        return None
    if extension == ".avi":
        raise ValueError(f"{path}: AVI holds one rate for every frame, not each frame's time; write .mp4, .mkv or "
                         f".webm, or leave times out (fps)")
    seconds = np.asarray(times, dtype=np.float64).reshape(-1)
    stamps = np.round((seconds - seconds[:1]) * 1000).astype(np.int64)  # none: refused at the first frame
    if np.any(np.diff(stamps) <= 0):
        raise ValueError(f"{path}: frame times must increase by at least a millisecond, frame to frame")
    return stamps


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
