"""Building blocks of the dataset replicas: archives written byte for byte alike from a seed, and clips.

A replica is a dataset's real download in miniature (each dataset module's docstring names the real files it
imitates): the same archive formats and member names, annotation files with the real quirks, videos in the real
container and codec. Everything here is deterministic (fixed timestamps and member order; `tsnbook.io.write_video`
encodes the same bytes on every CPU), so a seed gives the same replica everywhere.

Zip and tar.gz (`write_zip`, `write_tar_gz`) come from the standard library, with fixed member times and modes.
RAR: no Python package writes RAR (compression is RARLAB's), so `write_rar` writes the RAR 1.5-4.x format
(the one UCF101.rar and HMDB51's archives use) with *stored* members, from RARLAB's published format notes
(technote.txt): a marker block, an archive header, one file header per member (CRC-16 = low half of CRC-32)
and an end block. Any RAR reader extracts it; only the compression method differs from the real files.
"""
import calendar
import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from .files import atomic_write

REPLICA_TIME = (2012, 9, 23, 12, 0, 0)  # every member's timestamp (UCF101's release month)
X264_PRESET = "veryfast"  # H.264 replicas: twice as fast to encode as the default, still High profile with B-frames


def _dos_time(year, month, day, hour, minute, second):
    return (year - 1980) << 25 | month << 21 | day << 16 | hour << 11 | minute << 5 | second // 2


def _rar_block(head_type, flags, body):
    head = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head


def rar_bytes(members, folders=()):
    """A RAR 4.x archive of stored ``members`` [(name, bytes)] and directory entries ``folders`` (names with
    '/'; written with '\\' from a Windows host, as the real archives are)."""
    out = [b"Rar!\x1a\x07\x00", _rar_block(0x73, 0x0000, struct.pack("<HI", 0, 0))]
    when = _dos_time(*REPLICA_TIME)
    for name in folders:
        encoded = name.replace("/", "\\").encode("ascii")
        body = struct.pack("<IIBIIBBHI", 0, 0, 2, 0, when, 20, 0x30, len(encoded), 0x10) + encoded
        out.append(_rar_block(0x74, 0x8000 | 0x00E0, body))
    for name, data in members:
        encoded = name.replace("/", "\\").encode("ascii")
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 2, zlib.crc32(data), when, 20, 0x30, len(encoded),
                           0x20) + encoded
        out += [_rar_block(0x74, 0x8000, body), data]
    out.append(_rar_block(0x7B, 0x4000, b""))
    return b"".join(out)


def write_rar(path, members, folders=()):
    return atomic_write(path, rar_bytes(members, folders))


def zip_bytes(members):
    """A deflated zip of ``members`` [(name, bytes)] with fixed timestamps (so fixed bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=REPLICA_TIME)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def write_zip(path, members):
    return atomic_write(path, zip_bytes(members))


def text_file(lines, end="\n"):
    """``lines`` as a text file's bytes, each ended by ``end`` (UCF101's files: ``"\\r\\n"``, Windows line ends)."""
    return "".join(line + end for line in lines).encode()


#: Class colours (RGB) of the replicas whose classes differ by colour: far apart, told apart at a glance.
PALETTE = ((230, 60, 60), (60, 200, 60), (60, 90, 230), (230, 200, 40), (200, 60, 220))
YOUTUBE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # of YouTube ids, - and _ last


def background(rng, height, width, sigma=3, tint=None):
    """A random texture (noise blurred by ``sigma`` px), blended half-way towards the colour ``tint`` when given.

    A tinted background is a scene of its own: a class with its own scene and object colour is recognisable from
    any frame and from most crops of it, as many classes of UCF101 or Kinetics are from their setting (a pool, a
    snowy slope): a class a CPU-sized twin learns in a few epochs, so that its test accuracy says something."""
    image = cv2.GaussianBlur(rng.integers(40, 200, (height, width, 3), dtype=np.uint8), (0, 0), sigma)
    if tint is None:
        return image
    return ((image.astype(np.uint16) + np.array(tint, np.uint16)) // 2).astype(np.uint8)


def iter_clip(rng, num_frames, height, width, colour, speed, tint=None):
    """A `background` (tinted by ``tint``) and a disc of ``colour`` moving by ``speed`` (dx, dy) pixels per frame,
    one frame at a time: cheap frames with real motion (so optical flow has something to find), drawn as they are
    encoded (a 40-s 720p ActivityNet video is 2.5 GB as one array)."""
    image = background(rng, height, width, tint=tint)
    x, y = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    for t in range(num_frames):
        frame = image.copy()
        centre = (int(x + speed[0] * t) % width, int(y + speed[1] * t) % height)
        cv2.circle(frame, centre, max(4, min(height, width) // 8), tuple(int(c) for c in colour), -1)
        yield frame


def render_clip(rng, num_frames, height, width, colour, speed, tint=None):
    """The frames of `iter_clip` as one uint8 RGB array ``[T, H, W, 3]``."""
    return np.stack(list(iter_clip(rng, num_frames, height, width, colour, speed, tint)))


def washed(frames, colour):
    """``frames``, disc included, washed half-way towards ``colour``: the whole picture takes the class's colour."""
    return frames // 2 + np.asarray(colour, np.uint8) // 2


def tone(rng, seconds, sample_rate=22050):
    """A quiet mono tone of ``seconds`` (a random pitch): the sound track of a replica's mp4."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (0.1 * np.sin(2 * np.pi * rng.uniform(200, 800) * t)).astype(np.float32)[None], sample_rate


def youtube_clip(path, rng, seconds, fps, height, width, colour, speed, tint=None, preset="ultrafast"):
    """The bytes of an MP4 of `iter_clip` with a `tone` for sound (H.264 + AAC, as videos downloaded from
    YouTube are), encoded through the temporary file ``path``."""
    frames = iter_clip(rng, int(seconds * fps), height, width, colour, speed, tint)
    return encode_clip(path, frames, fps=fps, audio=tone(rng, seconds), preset=preset)


def write_tar_gz(path, members, folders=()):
    return atomic_write(path, tgz_bytes(members, folders))


def encode_clip(path, frames, fps, **options):
    """Encode ``frames`` with `tsnbook.io.write_video` (codec by extension; ``options`` such as ``audio=`` or
    ``preset=`` go to it) and return the file's bytes."""
    from ..io import write_video
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, frames, fps=fps, **options)
    data = path.read_bytes()
    path.unlink()
    return data


def cut_short(data, fraction=0.6):
    """The first ``fraction`` of ``data``, as an interrupted download leaves it (half of an MP4: its index at the
    end lost): each replica has such a clip, so that `verify` has something to find."""
    return data[:int(len(data) * fraction)]


class Clips:
    """A replica's clips as they are made, for one archive: ``keys`` (every clip, as the annotations list them),
    ``members`` [(name, bytes)] and ``roles`` {"missing": key, "corrupt": key}. The clip marked ``missing`` (by its
    key, or by what `add` is given as ``mark``) is listed but not written, the one marked ``corrupt`` `cut_short`;
    ``scratch``: the temporary file the clips are encoded through."""

    def __init__(self, scratch, missing, corrupt):
        self.scratch, self.marks = Path(scratch), {"missing": missing, "corrupt": corrupt}
        self.keys, self.members, self.roles = [], [], {}

    def add(self, key, member, frames, fps, mark=None, **options):
        """List clip ``key``; store ``frames`` (`encode_clip` with ``fps`` and ``options``) as member ``member``.
        ``frames``: an array, not a generator, whose drawing from the seeded generator would be skipped for the
        missing clip, changing every later clip."""
        mark = key if mark is None else mark
        role = next((role for role, marked in self.marks.items() if marked == mark), None)
        self.keys.append(key)
        if role:
            self.roles[role] = key
        if role != "missing":
            data = encode_clip(self.scratch, frames, fps=fps, **options)
            self.members.append((member, cut_short(data) if role == "corrupt" else data))


def tgz_bytes(members, folders=(), gzip_level=6):
    """A gzipped tar of ``members`` [(name, bytes)] after directory entries ``folders``, with fixed timestamps,
    owners and modes (and no file name or time in the gzip header), so fixed bytes."""
    mtime = calendar.timegm(REPLICA_TIME)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name in folders:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tf.addfile(info)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), compresslevel=gzip_level, mtime=0)


def write_parts(folder, prefix, data, num_parts):
    """``data`` cut into ``num_parts`` files ``<prefix>00``, ``<prefix>01``, ... (as ``split -b`` does):
    Something-Something's multi-part downloads, joined again with ``cat <prefix>?? | tar zx``."""
    size = -(-len(data) // num_parts)
    return [atomic_write(Path(folder) / f"{prefix}{i:02d}", data[i * size:(i + 1) * size]) for i in range(num_parts)]


def jpeg_bytes(image, quality=90):
    """An RGB uint8 image as JPEG bytes (OpenCV's libjpeg-turbo, integer DCT: its SIMD code gives the bytes of
    its plain C code, checked in tests/test_datasets_sthv1.py with ``JSIMD_FORCENONE=1``)."""
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return encoded.tobytes()
