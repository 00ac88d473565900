"""Check what a list file points at: every video decodable and whole, every frame folder complete and named
as the config reads it. Each check returns a verdict instead of raising; `video_verdicts` and `frame_verdicts` run
many in processes, on one machine or one shard's share (`shards.Work`).

Videos (`check_video`): `tsnbook.io.probe_video` counts the frames a decoder will give, from the container's
index where it can. What it does not say on its own, and is checked here:
- a file cut short (an interrupted download or extraction): probe_video counts the frames that are still
  there - 11 of 50 for an AVI cut at 60 % - without an error. The header's frame count (``stream.frames``,
  written when the file was finished) is compared with it: fewer frames than promised is "truncated". The
  header counts every sample, also those an MP4's edit list hides (``ffmpeg -ss T -c copy`` keeps the frames
  from the keyframe before T and hides them; decoders drop them, decord does not: `tsnbook.io.open_video` then
  reads the file with PyAV), so the hidden samples (the index's "discard" entries) count as there. WebM
  (Matroska) headers hold no frame count but a duration, also written when the file was finished: streams that
  end earlier (less a tolerance of 5 %, at least 2 frames' time) are "truncated" too - a VP9 WebM cut at 97 %
  still decodes 36 of its 40 frames without an error. Time, not frames x rate: a variable frame rate (phones,
  screen recorders) has no rate that counts its frames;
- damage inside a file whose index is intact: the index looks perfect, so only decoding finds it (an AVI with
  5 kB of garbage in the middle probes as 50 frames and decodes as 40). ``deep=True`` decodes every frame
  (`tsnbook.io.count_frames`, ~70 ms per UCF101 clip) and compares.
Frame folders (`check_frames`): the files the template names, from the start index, must be all there; when
none is, the folder's names say which template and index base they do follow ("template", "index base"). The
last frame must be a whole JPEG (`jpeg_complete`: one read per folder): an interrupted extraction or copy cuts
the file it was writing, which OpenCV would still decode - grey below the cut - without an error.
"""
import os
import re

from ..io import DecodeError, count_frames, probe_video


def check_video(job):
    """``job`` = path or (path, deep) -> dict(path, frames, fps, kind, reason); kind None when the video is fine."""
    path, deep = (job, False) if isinstance(job, (str, os.PathLike)) else job
    path = str(path)
    verdict = dict(path=path, frames=0, fps=0.0, kind=None, reason="", severity="error")
    if not os.path.isfile(path):
        return dict(verdict, kind="missing", reason="file not found")
    if os.path.getsize(path) == 0:
        return dict(verdict, kind="unreadable", reason="empty file (0 bytes): extract or download it again")
    try:
        import av
        with av.open(path) as container:
            stream = container.streams.video[0] if container.streams.video else None
            promised = stream.frames if stream is not None else 0
            index = getattr(stream, "index_entries", ()) if stream is not None else ()
            indexed, hidden = len(index), sum(1 for entry in index if entry.is_discard)
            container_name = container.format.name
            duration = container.duration / 1e6 if container.duration else 0.0  # seconds, from the header
            reached = _streams_end(container) if stream is not None and not promised and duration else None
        frames, fps = probe_video(path)
        verdict.update(frames=frames, fps=fps)
        if frames == 0:
            return dict(verdict, kind="zero frames", reason="no decodable video frame")
        if promised and frames + hidden < promised:
            edited = f" ({hidden} hidden by its edit list)" if hidden else ""
            return dict(verdict, kind="truncated",
                        reason=f"the header promises {promised} frames{edited}, {frames} are there: the file was "
                               "cut short; extract or download it again")
        if reached is not None and reached < duration - max(2.0 / (fps or 25), 0.05 * duration):
            return dict(verdict, kind="truncated",
                        reason=f"the header's duration is {duration:.2f} s, its streams end at {reached:.2f} s: the "
                               "file was cut short; extract or download it again")
        if promised and container_name == "avi" and indexed < promised:
            return dict(verdict, kind="truncated", severity="warning",
                        reason=f"its index (written last) is missing: the file lost its end; all {frames} frames "
                               "decode but seeking is slow; extract or download it again")
        if deep:
            decoded = count_frames(path)
            if decoded != frames:
                return dict(verdict, kind="unreadable",
                            reason=f"{decoded} of {frames} frames decode: damaged inside; replace the file")
    except DecodeError as error:
        return dict(verdict, kind="unreadable", reason=error.reason)
    except Exception as error:  # av.FFmpegError, OSError...
        text = getattr(error, "strerror", None) or str(error)  # FFmpeg's message, without the path again
        hint = " (an MP4 cut short loses its index, the moov atom written last)" if path.endswith(".mp4") else ""
        return dict(verdict, kind="unreadable", reason=f"{type(error).__name__}: {text}{hint}; a damaged or "
                                                       "incomplete file: download or extract it again")
    return verdict


def _streams_end(container):
    """Seconds from time 0 to the end of the file's last packet, of any stream: where a cut file stops.
    (Time, not frames: a variable frame rate makes a count from duration x fps wrong by half. Every stream, since
    the header's duration is the longest one's: a screen recording's audio goes on after its last frame.)"""
    end = None
    for packet in container.demux():
        if packet.pts is not None and packet.time_base is not None:
            stop = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = stop if end is None else max(end, stop)
    return end  # from time 0, as FFmpeg's Matroska duration counts (a stream from 3 s to 5 s: 5.00 s)


_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")


def describe_names(names):
    """The numbered-file patterns in a folder: ``[(template, first_index, count), ...]``, most files first,
    e.g. ``[("image_{:05d}.jpg", 0, 120)]`` - what a folder holds when the config's template finds nothing."""
    groups = {}
    for name in names:
        match = _NUMBERED.match(name)
        if match:
            prefix, digits, ext = match.groups()
            key = f"{prefix}{{:0{len(digits)}d}}{ext}"
            first, count = groups.get(key, (None, 0))
            number = int(digits)
            groups[key] = (number if first is None else min(first, number), count + 1)
    return sorted(((k, first, n) for k, (first, n) in groups.items()), key=lambda g: -g[2])


def _names(tmpl, number):
    return [tmpl.format(axis, number) for axis in "xy"] if tmpl.count("{") == 2 else [tmpl.format(number)]


def jpeg_complete(path):
    """Does the JPEG file end with its end-of-image marker (FF D9)? A file cut short does not. (Inside the
    compressed data a 0xFF byte is always followed by 0x00, so the marker cannot appear there by chance.)"""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64))
        return f.read().rstrip(b"\x00").endswith(b"\xff\xd9")


def check_frames(job):
    """``job`` = (folder, expected_count or None, filename_tmpl, start_index[, video_frames]) -> dict(path,
    frames, kind, reason). Flow templates (two fields, e.g. ``flow_{}_{:05d}.jpg``) need x and y files.
    ``video_frames``: the source video's frame count, when known; a folder with another count is stale or was
    cut short (a warning: other extractors may legitimately differ by a frame)."""
    folder, expected, tmpl, start = job[:4]
    video_frames = job[4] if len(job) > 4 else None
    folder = str(folder)
    verdict = dict(path=folder, frames=0, kind=None, reason="", severity="error")
    if not os.path.isdir(folder):
        return dict(verdict, kind="missing", reason="frame folder not found: extract the frames (prepare.py "
                                                    "DATASET extract)")
    names = set(os.listdir(folder))
    wanted = _names(tmpl, start)[0]
    same = [g for g in describe_names(names) if _NUMBERED.match(wanted) and g[0] == describe_names([wanted])[0][0]]
    if same and same[0][1] != start:
        return dict(verdict, kind="index base",
                    reason=f"frames are numbered from {same[0][1]}, the config reads from {start} (start_index)")
    count = 0
    while all(n in names for n in _names(tmpl, start + count)):
        count += 1
    verdict["frames"] = count
    if count == 0:
        found = describe_names(names)
        if not found:
            return dict(verdict, kind="zero frames", reason="no frame files in the folder")
        pattern, first, n = found[0]
        return dict(verdict, kind="template",
                    reason=f"{n} files named like {pattern!r} from {first}; the config reads {tmpl!r} from {start}")
    if same and same[0][2] > count:
        return dict(verdict, kind="frame count",
                    reason=f"frame {_names(tmpl, start + count)[0]} is missing and {same[0][2] - count} later "
                           "file(s) follow it: a gap (MMAction2 counts the files and then reads the missing "
                           "one); extract the frames again")
    last = [os.path.join(folder, n) for n in _names(tmpl, start + count - 1)]
    cut = next((path for path in last if path.lower().endswith((".jpg", ".jpeg")) and not jpeg_complete(path)), None)
    if cut:
        return dict(verdict, kind="truncated",
                    reason=f"its last frame {os.path.basename(cut)} is cut short (no JPEG end marker): an "
                           "interrupted extraction or copy; extract the frames again")
    if expected is not None and count != int(expected):
        return dict(verdict, kind="frame count",
                    reason=f"the list says {expected} frames, the folder has {count} ({tmpl!r} from {start})")
    if video_frames is not None and count != (video_frames - 1 if tmpl.count("{") == 2 else video_frames):
        return dict(verdict, kind="frame count", severity="warning",
                    reason=f"{count} frame files for a video of {video_frames} frames: extracted from another "
                           "copy, or interrupted by another tool; extract again to be sure")
    return verdict


def _unchecked(job):
    """The verdict of a video or folder another shard checks: nothing found here."""
    return dict(path=str(job[0]), frames=0, fps=0.0, kind=None, reason="", severity="error")


def video_verdicts(work, paths, deep=False, desc="videos"):
    """``{path: check_video verdict}`` of ``paths``, run by ``work`` (`shards.Work`: here, or one shard's share)."""
    verdicts = work.run(check_video, [(str(p), deep) for p in paths], _video_name, _unchecked, desc)
    return {v["path"]: v for v in verdicts}


def frame_verdicts(work, jobs_, desc="frame folders"):
    """`check_frames` verdicts of ``jobs_`` (in order), run by ``work``."""
    return work.run(check_frames, jobs_, lambda job: os.path.basename(str(job[0])), _unchecked, desc)


def _video_name(job):
    return os.path.splitext(os.path.basename(job[0]))[0]


def verify_videos(report, paths, work, deep=False, where=None, desc="videos"):
    """Check videos and add a problem per bad one to ``report``; returns ``{path: verdict}``.
    ``where`` maps a path to the list line that names it, for the messages."""
    return _record(report, list(video_verdicts(work, paths, deep, desc).values()), where, desc)


def verify_frame_folders(report, entries, filename_tmpl, start_index, work, where=None, desc="frame folders"):
    """``entries`` = [(folder, expected_count or None[, video_frames]), ...]; as `verify_videos`."""
    jobs_ = [(str(e[0]), e[1], filename_tmpl, start_index) + tuple(e[2:]) for e in entries]
    return _record(report, frame_verdicts(work, jobs_, desc), where, desc)


def _record(report, verdicts, where, desc):
    for verdict in verdicts:
        if verdict["kind"]:
            line = f" (listed at {where[verdict['path']]})" if where and verdict["path"] in where else ""
            report.problem(verdict["kind"], verdict["path"], verdict["reason"] + line, verdict["severity"])
    report.did(f"{desc} checked", len(verdicts))
    return {v["path"]: v for v in verdicts}
