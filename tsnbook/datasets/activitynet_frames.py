"""ActivityNet's frame folders: the zoo's four configs read three namings from the same folders - ``img_{:05d}.jpg``
from 1 (video RGB, RawframeDataset's default), ``image_{:05d}.jpg`` from 0 (clip RGB: a naming no MMAction2 tool
writes, open-mmlab/mmaction2#1669) and ``flow_{x,y}_{:05d}.jpg`` from 0 (both flow rows). `extract_frames` (the
``extract`` hook of `tsnbook.datasets.activitynet`) writes ``img_`` from 1, links each ``img_{i}`` as
``image_{i-1}`` (hard links: no extra disk) and writes the flow from 0, so that every row reads what the command
wrote; `frame_counts` counts a folder by every naming present in ``rawframes/`` (N RGB frames give N - 1 flow
frames), where MMAction2 counts every file in it (``len(os.listdir)``: about 3x the frames with RGB and flow).
"""
import os
import shutil
from pathlib import Path

from . import frames as _frames, listing

#: (template, first index, which zoo rows read it)
RGB_NAMING = ("img_{:05d}.jpg", 1, "video RGB")
CLIP_RGB_NAMING = ("image_{:05d}.jpg", 0, "clip RGB")
FLOW_NAMING = ("flow_{}_{:05d}.jpg", 0, "video and clip flow")
NAMINGS = (RGB_NAMING, CLIP_RGB_NAMING, FLOW_NAMING)


def namings_present(root):
    """The `NAMINGS` found in ``rawframes/`` (by the first file of each, in any folder)."""
    folder = Path(root) / "rawframes"
    if not folder.is_dir():
        return []
    present = []
    for tmpl, start, rows in NAMINGS:
        first = tmpl.format("x", start) if tmpl.count("{") == 2 else tmpl.format(start)
        if any((entry / first).exists() for entry in folder.iterdir() if entry.is_dir()):
            present.append((tmpl, start, rows))
    return present


def frame_counts(root, keys, work, report, videos=None):
    """{key: (rgb frames, usable frames)} for the frame folders of ``keys`` that hold every naming present;
    a folder lacking one (or with a wrong index base) is a problem in ``report`` and left out (a missing one only
    when its video is on disk, where ``videos`` says which are)."""
    root, present = Path(root), namings_present(root)
    if not present:
        return {}
    quiet = set() if videos is None else set(keys) - set(videos)
    counts = {key: {} for key in keys}
    for tmpl, start, rows in present:
        found = listing.frame_counts(report, work, {key: root / "rawframes" / key for key in keys}, tmpl, start,
                                     f" (the {rows} rows read {tmpl!r} from {start}); left out of the lists", quiet,
                                     f"frames {tmpl}")
        for key, frames in found.items():
            counts[key][tmpl] = frames
    result = {}
    for key, found in counts.items():
        if len(found) == len(present):
            rgb = found.get(RGB_NAMING[0], found.get(CLIP_RGB_NAMING[0]))
            usable = min(found.values())
            result[key] = (rgb if rgb is not None else usable + 1, usable)
    return result


def extract_frames(report, pairs, frames, options, work):
    """``frames`` ("rgb", "flow", "both") of ``pairs`` [(video, frame folder)]: RGB as ``img_`` from the start index
    (1) plus ``image_`` links from 0 (the clip-RGB row), flow as ``flow_{x,y}_`` from 0. Skipped when done."""
    tmpl, start, resolution, algorithm = (options[k] for k in ("frame_tmpl", "start_index", "resolution",
                                                                "flow_algorithm"))
    if frames in ("rgb", "both"):
        settings = _frames.frame_settings("rgb", tmpl, options["flow_tmpl"], start, resolution, algorithm)
        outcome = _frames.extract_frames(report, pairs, settings, work)
        done = [out for video, out in pairs if outcome.get(str(video)) != "failed"]
        linked = work.run(_link_zero_based, [(str(f), tmpl, start) for f in done],
                          lambda job: os.path.basename(job[0]), desc="image_ links")
        report.did("image_ links made", sum(linked))
    if frames in ("flow", "both"):
        settings = _frames.frame_settings("flow", tmpl, options["flow_tmpl"], FLOW_NAMING[1], resolution, algorithm)
        _frames.extract_frames(report, pairs, settings, work)


def _link_zero_based(job):
    """Give each ``img_{i}`` (from ``start``) a second name ``image_{i - start}``: the clip-RGB row's naming.
    Hard links (no disk); a copy where the file system has none. Returns the number of names made."""
    folder, tmpl, start = job
    made, number = 0, start
    while os.path.exists(os.path.join(folder, tmpl.format(number))):
        source = os.path.join(folder, tmpl.format(number))
        target = os.path.join(folder, CLIP_RGB_NAMING[0].format(number - start + CLIP_RGB_NAMING[1]))
        if not os.path.exists(target):
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
            made += 1
        number += 1
    return made
