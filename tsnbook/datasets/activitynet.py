"""ActivityNet v1.3: 200 activities in ~20k untrimmed YouTube videos, with the segments where they happen
(http://activity-net.org; MMAction2's `tools/data/activitynet/README.md`). The zoo trains TSN two ways on it: on whole
videos ("video" rows: one line per video, the label of its *first* segment) and on the annotated segments ("clip" rows:
one line per segment, its frames read with an offset into the video's folder).

The layout this module reads and writes, MMAction2's (``tools/data/activitynet/``)::

    ROOT/downloads/activity_net.v1-3.min.json                     the official annotations (download: public)
    ROOT/activity_net.v1-3.min.json                               (extract; where MMAction2's tools read it)
    ROOT/videos/v_<youtube id>.mp4                                untrimmed (YouTube or the request form)
    ROOT/rawframes/v_<youtube id>/img_00001.jpg, image_00000.jpg, flow_x_00000.jpg ...     (extract)
    ROOT/action_name.csv, anet_{train,val}_video.txt, anet_{train,val}_clip.txt            (lists)

Labels: the row of ``action_name.csv`` (header ``action``, 200 rows in a fixed, non-alphabetical order, kept here
as `CLASSES`), looked up with the official spellings, misspellings included (``Plataform diving``, ``Polishing
forniture``, ``Playing flauta``, ``Playing guitarra``). Frame files: the zoo's four configs read three namings
from the same folders (``img_`` from 1, ``image_`` from 0, ``flow_{x,y}_`` from 0), all of which ``extract``
writes (`tsnbook.datasets.activitynet_frames`).

Clip lines follow MMAction2's ``generate_rawframes_filelist.py``: ``fps = frames / duration`` (the JSON's
duration), ``start = int(segment_start * fps)``, ``end = min(int(segment_end * fps), frames - 1)``,
``length = end - start + 1``. Where tsnbook differs (the lines are otherwise equal, tested against it):
- *the frame-count quirk*: MMAction2 counts every file in the folder, about 3x the frames with RGB and flow in it
  (its own ``extract_frames.sh --task both``), which also inflates ``fps`` and moves every clip's offset; here
  the count is the frames every naming present has, ``fps`` uses the RGB count (`activitynet_frames`);
- a video without frames, a listed video missing on disk, a training video without annotations and a segment
  that starts after the video's last frame are reported and left out (MMAction2: silently dropped, an
  IndexError, a line with a length <= 0);
- frame folders are matched by their exact name ``v_<id>``, not as a substring of any folder's path;
- an unknown class, a bad segment or a duplicate id is a one-line error naming the file and the id.
"""
import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import activitynet_frames, download as _download, items, listing, lists, replica as _replica
from .activitynet_frames import frame_counts
from .files import AnnotationError, DatasetError, atomic_write
from .items import read_json
from .steps import Dataset
from .verify import verify_videos

NAME = "activitynet"
HOME = "http://activity-net.org/download.html"
JSON_NAME = "activity_net.v1-3.min.json"
FILES = (_download.Remote(JSON_NAME, "http://ec2-52-25-205-214.us-west-2.compute.amazonaws.com/files/" + JSON_NAME,
                          what="the official annotations: subsets, durations, segments (no checksum published)"),)
UNREACHABLE = f"The JSON is linked from {HOME}"
REGISTRATION = (f"ActivityNet's videos are on YouTube (many are gone) or, complete, through the request form at "
                f"{HOME} (7-day Google Drive / Baidu access); put them as ROOT/videos/v_<youtube id>.mp4 (the names "
                "MMAction2's download.py writes) and run the command again")
CLASSES = (  # action_name.csv of MMAction2 (tools/data/activitynet/), header 'action' dropped: label = row index
    'Applying sunscreen', 'Arm wrestling', 'Assembling bicycle', 'BMX', 'Baking cookies', 'Baton twirling',
    'Beach soccer', 'Beer pong', 'Blow-drying hair', 'Blowing leaves', 'Playing ten pins', 'Braiding hair',
    'Building sandcastles', 'Bullfighting', 'Calf roping', 'Camel ride', 'Canoeing', 'Capoeira',
    'Carving jack-o-lanterns', 'Changing car wheel', 'Cleaning sink', 'Clipping cat claws', 'Croquet', 'Curling',
    'Cutting the grass', 'Decorating the Christmas tree', 'Disc dog', 'Doing a powerbomb', 'Doing crunches',
    'Drum corps', 'Elliptical trainer', 'Doing fencing', 'Fixing the roof', 'Fun sliding down', 'Futsal',
    'Gargling mouthwash', 'Grooming dog', 'Hand car wash', 'Hanging wallpaper', 'Having an ice cream',
    'Hitting a pinata', 'Hula hoop', 'Hurling', 'Ice fishing', 'Installing carpet', 'Kite flying', 'Kneeling',
    'Knitting', 'Laying tile', 'Longboarding', 'Making a cake', 'Making a lemonade', 'Making an omelette',
    'Mooping floor', 'Painting fence', 'Painting furniture', 'Peeling potatoes', 'Plastering',
    'Playing beach volleyball', 'Playing blackjack', 'Playing congas', 'Playing drums', 'Playing ice hockey',
    'Playing pool', 'Playing rubik cube', 'Powerbocking', 'Putting in contact lenses', 'Putting on shoes', 'Rafting',
    'Raking leaves', 'Removing ice from car', 'Riding bumper cars', 'River tubing', 'Rock-paper-scissors',
    'Rollerblading', 'Roof shingle removal', 'Rope skipping', 'Running a marathon', 'Scuba diving',
    'Sharpening knives', 'Shuffleboard', 'Skiing', 'Slacklining', 'Snow tubing', 'Snowboarding', 'Spread mulch',
    'Sumo', 'Surfing', 'Swimming', 'Swinging at the playground', 'Table soccer', 'Throwing darts',
    'Trimming branches or hedges', 'Tug of war', 'Using the monkey bar', 'Using the rowing machine', 'Wakeboarding',
    'Waterskiing', 'Waxing skis', 'Welding', 'Drinking coffee', 'Zumba', 'Doing kickboxing', 'Doing karate', 'Tango',
    'Putting on makeup', 'High jump', 'Playing bagpipes', 'Cheerleading', 'Wrapping presents', 'Cricket',
    'Clean and jerk', 'Preparing pasta', 'Bathing dog', 'Discus throw', 'Playing field hockey', 'Grooming horse',
    'Preparing salad', 'Playing harmonica', 'Playing saxophone', 'Chopping wood', 'Washing face',
    'Using the pommel horse', 'Javelin throw', 'Spinning', 'Ping-pong', 'Making a sandwich', 'Brushing hair',
    'Playing guitarra', 'Doing step aerobics', 'Drinking beer', 'Playing polo', 'Snatch', 'Paintball', 'Long jump',
    'Cleaning windows', 'Brushing teeth', 'Playing flauta', 'Tennis serve with ball bouncing', 'Bungee jumping',
    'Triple jump', 'Horseback riding', 'Layup drill in basketball', 'Vacuuming floor', 'Cleaning shoes',
    'Doing nails', 'Shot put', 'Fixing bicycle', 'Washing hands', 'Ironing clothes', 'Using the balance beam',
    'Shoveling snow', 'Tumbling', 'Using parallel bars', 'Getting a tattoo', 'Rock climbing', 'Smoking hookah',
    'Shaving', 'Getting a piercing', 'Springboard diving', 'Playing squash', 'Playing piano', 'Dodgeball',
    'Smoking a cigarette', 'Sailing', 'Getting a haircut', 'Playing lacrosse', 'Cumbia', 'Tai chi', 'Painting',
    'Mowing the lawn', 'Shaving legs', 'Walking the dog', 'Hammer throw', 'Skateboarding', 'Polishing shoes',
    'Ballet', 'Hand washing clothes', 'Plataform diving', 'Playing violin', 'Breakdancing', 'Windsurfing',
    'Hopscotch', 'Doing motocross', 'Mixing drinks', 'Starting a campfire', 'Belly dance', 'Removing curlers',
    'Archery', 'Volleyball', 'Playing water polo', 'Playing racquetball', 'Kayaking', 'Polishing forniture',
    'Playing kickball', 'Using uneven bars', 'Washing dishes', 'Pole vault', 'Playing accordion',
    'Playing badminton',
)
NUM_CLASSES = 200
SUBSETS = {"train": "training", "val": "validation", "test": "testing"}  # MMAction2's name -> the JSON's
PUBLISHED = {"train": 10024, "val": 4926, "test": 5044}  # videos; test labels withheld
PUBLISHED_SEGMENTS = {"train": 15410, "val": 7654}
MMACTION2 = {}  # OpenMMLab never published its ActivityNet lists (open-mmlab/mmaction2#1669)
CONTAINER = "MP4 (youtube-dl -f mp4), H.264 + AAC, untrimmed, resolution and fps as uploaded (the JSON's resolution)"
LEVEL = 1  # ROOT/videos/v_<id>.mp4, ROOT/rawframes/v_<id>/
VIDEO_EXT = ".mp4"
ROOT_ENTRIES = (JSON_NAME, "videos", "rawframes", "downloads")
#: what a folder inside ROOT holds, to refuse it as the root (`steps.Dataset.looks_inside`)
INSIDE = (("videos/", "v_*"), ("rawframes/", "v_*/*"), ("downloads/", JSON_NAME))
MULTI_LABEL = False
#: (template, first index, which zoo rows read it): the three namings `activitynet_frames` writes and counts
NAMINGS = RGB_NAMING, CLIP_RGB_NAMING, FLOW_NAMING = activitynet_frames.NAMINGS
FRAME_TMPL, START_INDEX = RGB_NAMING[:2]
FLOW_TMPL = FLOW_NAMING[0]
DEFAULT_FRAMES = "rgb"  # every zoo row reads frames; flow (two rows) on request: --frames both
DEFAULT_RESOLUTION = "short256"  # MMAction2's extract_frames.sh (--new-short 256)
MISSING_TOLERATED = 0.5  # YouTube has lost part of ActivityNet; more than half missing: a wrong folder


def list_name(subset, kind):
    """``anet_train_video.txt`` / ``anet_val_clip.txt`` (kind "video" or "clip")."""
    return f"anet_{subset}_{kind}.txt"


# ----------------------------------------------------------------------------------------------- annotations
@dataclass(frozen=True)
class Video:
    """One entry of the JSON's database: ``key`` = ``v_<id>`` (the file stem and frame folder)."""
    key: str
    subset: str  # "train", "val", "test"
    duration: float  # seconds, from the JSON (YouTube's figure; the file may differ slightly)
    segments: tuple  # ((start s, end s, label), ...), in the JSON's order
    where: str

    @property
    def label(self):
        """The video-level label: the first segment's (MMAction2's simple_label)."""
        return self.segments[0][2] if self.segments else None


def read_annotations(root, path=None):
    """{"train": [Video], "val": [...], "test": [...]} from the JSON (ROOT's copy, else the download).
    Labels are rows of `CLASSES`; a bad entry is an `AnnotationError` naming the file and the id."""
    root = Path(root)
    path = Path(path) if path else next((p for p in (root / JSON_NAME, root / "downloads" / JSON_NAME)
                                         if p.is_file()), root / JSON_NAME)
    fix = f"run prepare.py {NAME} download and extract (or get {JSON_NAME} from {HOME})"
    data = read_json(path, fix)
    database = data.get("database") if isinstance(data, dict) else None
    if not isinstance(database, dict):
        raise AnnotationError(f"{path}: no 'database' object: not ActivityNet's annotation file; {fix}")
    index = {name: i for i, name in enumerate(CLASSES)}
    subsets = {value: key for key, value in SUBSETS.items()}
    videos = {subset: [] for subset in SUBSETS}
    for youtube_id, entry in database.items():
        where = f"{path}: database[{youtube_id!r}]"
        if not isinstance(entry, dict) or entry.get("subset") not in subsets:
            raise AnnotationError(f"{where}: expected an object with subset training|validation|testing, got "
                                  f"{str(entry)[:80]!r}; {fix}")
        duration = entry.get("duration")
        if not isinstance(duration, (int, float)) or duration <= 0:
            raise AnnotationError(f"{where}: duration {duration!r} is not a positive number; {fix}")
        segments = []
        for number, annotation in enumerate(entry.get("annotations") or []):
            at = f"{where}.annotations[{number}]"
            segment, label = (annotation or {}).get("segment"), (annotation or {}).get("label")
            if (not isinstance(segment, list) or len(segment) != 2
                    or not all(isinstance(t, (int, float)) for t in segment) or segment[0] > segment[1]):
                raise AnnotationError(f"{at}: segment {segment!r} is not [start, end] in seconds; {fix}")
            if label not in index:
                close = difflib.get_close_matches(str(label), CLASSES, n=1)
                hint = f" (action_name.csv spells it {close[0]!r})" if close else ""
                raise AnnotationError(f"{at}: class {label!r} is not in action_name.csv{hint}: the labels are "
                                      "ActivityNet v1.3's official names, misspellings included; use v1.3's file")
            segments.append((float(segment[0]), float(segment[1]), index[label]))
        videos[subsets[entry["subset"]]].append(Video(f"v_{youtube_id}", subsets[entry["subset"]],
                                                      float(duration), tuple(segments), where))
    return videos


def clip_lines(video, rgb_frames, usable_frames):
    """The clip lines of one video, MMAction2's arithmetic: ``fps = rgb_frames / duration``; each segment's
    ``start = int(s * fps)``, ``end = min(int(e * fps), usable_frames - 1)``, ``(offset, length, label)``.
    A segment that starts after the last usable frame gives no line (returned in the second list)."""
    fps = rgb_frames / video.duration
    good, outside = [], []
    for start_s, end_s, label in video.segments:
        start, end = int(start_s * fps), min(int(end_s * fps), usable_frames - 1)
        (good if end >= start else outside).append((start, end - start + 1, label))
    return good, outside


# ------------------------------------------------------------------------------------------------------ disk
def scan_videos(root):
    """``{key: file name}`` of ``videos/v_*`` (hidden names ignored)."""
    return items.scan_videos(Path(root) / "videos", LEVEL)


# ----------------------------------------------------------------------------------------------------- steps
def downloaded(root, remote):
    return (root / JSON_NAME).is_file()


def after_download(root, report):
    """The videos need YouTube or the request form (`REGISTRATION`): a missing ``videos/`` folder is an error
    that says where to get them and where to put them."""
    _require_videos(root)
    report.note(f"{len(scan_videos(root)):,} videos in {root / 'videos'}")


def _require_videos(root):
    if not any((root / "videos").glob("v_*")) if (root / "videos").is_dir() else True:
        raise DatasetError(f"{root / 'videos'}: no videos. {REGISTRATION}")


def extract_archives(root, report):
    """Put the JSON where MMAction2's tools read it (ROOT)."""
    if (root / JSON_NAME).is_file():
        report.did("annotations skipped (present)")
    else:
        source = root / "downloads" / JSON_NAME
        read_annotations(root, source)  # a damaged download stops here, before anything is copied
        atomic_write(root / JSON_NAME, source.read_bytes())
        report.did("annotations extracted")
    _require_videos(root)


def frame_pairs(root, resolution):
    """Every annotated video on disk and its frame folder, for `extract_frames`."""
    videos, on_disk = read_annotations(root), scan_videos(root)
    return [(root / "videos" / on_disk[v.key], root / "rawframes" / v.key)
            for subset in SUBSETS for v in videos[subset] if v.key in on_disk]


extract_frames = activitynet_frames.extract_frames  # RGB from 1 with image_ links from 0, flow from 0


def write_lists(report, root, videos, frame_tmpl, start_index, work):
    """Write ``action_name.csv`` and, for train and val, the video list (first label) and the clip list
    (one line per segment, with offsets) from the JSON and the frame folders."""
    atomic_write(root / "action_name.csv", "action\n" + "".join(name + "\n" for name in CLASSES))
    on_disk = scan_videos(root)
    keys = [v.key for subset in ("train", "val") for v in videos[subset]]
    counts = frame_counts(root, keys, work, report, on_disk)
    if not (root / "rawframes").is_dir():
        report.problem("missing", root / "rawframes", f"no frame folders: lists not written (run prepare.py {NAME} "
                                                      "extract --frames rgb)")
    for subset in ("train", "val"):
        _report_missing(root, videos[subset], on_disk, report)
        unlabelled = [v for v in videos[subset] if not v.segments]
        for video in unlabelled:
            report.problem("label", video.where, "no annotations: left out (MMAction2's list tool stops with an "
                                                 "IndexError on it)", "warning")
        framed = [v for v in videos[subset] if v.key in counts and v.segments]
        video_lines, clip_lines_ = [], []
        for v in framed:
            rgb, usable = counts[v.key]
            video_lines.append(lists.rawframes_line(v.key, usable, v.label))
            good, outside = clip_lines(v, rgb, usable)
            clip_lines_ += [lists.rawframes_line(v.key, length, label, offset=start) for start, length, label in good]
            for start, _, _ in outside:
                report.problem("frame count", v.where, f"a segment starts at frame {start}, after the last of "
                                                       f"{usable} frames: no clip line (the JSON's duration "
                                                       "exceeds the video)", "warning")
        several = sum(1 for v in framed if len({label for _, _, label in v.segments}) > 1)
        if several:
            report.note(f"{subset}: {several} video(s) have segments of several classes; the video list keeps "
                        "the first segment's label (as MMAction2), the clip list has them all")
        if (root / "rawframes").is_dir():
            written = lists.write_list(root / list_name(subset, "video"), video_lines)
            report.count(f"{subset} video", published=PUBLISHED[subset], annotated=len(videos[subset]),
                         on_disk=len(framed), written=written)
            written = lists.write_list(root / list_name(subset, "clip"), clip_lines_)
            report.count(f"{subset} clip", published=PUBLISHED_SEGMENTS[subset],
                         annotated=sum(len(v.segments) for v in videos[subset]),
                         on_disk=sum(len(v.segments) for v in framed), written=written)
    report.count("test (not listed)", published=PUBLISHED["test"], annotated=len(videos["test"]))


def _report_missing(root, videos, on_disk, report):
    listing.lost_videos(report, videos, on_disk, lambda video: root / "videos" / (video.key + VIDEO_EXT),
                        "{where} has no video: left out of the lists (YouTube has lost part of ActivityNet; MMAction2 "
                        "leaves it out silently)", MISSING_TOLERATED, root / "videos",
                        lambda missing, total: f"{missing:,} of {total:,} videos are missing: the wrong folder? "
                                               f"{REGISTRATION}")


def check_copy(report, root, videos, frame_tmpl, start_index, work, deep):
    """Every annotated video (missing: a warning; unreadable, truncated, zero frames: errors), every frame folder
    in every naming present (against its video's frame count), and the four lists against all of that."""
    on_disk = scan_videos(root)
    later = type(report)(NAME, "verify", root)  # the warnings, after the errors
    annotated = [v for subset in SUBSETS for v in videos[subset]]
    paths = [root / "videos" / on_disk[v.key] for v in annotated if v.key in on_disk]
    checked = verify_videos(report, paths, work, deep)
    good = {v.key: checked[str(root / "videos" / on_disk[v.key])] for v in annotated if v.key in on_disk}
    good = {k: v for k, v in good.items() if v["kind"] is None or v["severity"] == "warning"}
    keys = [v.key for subset in ("train", "val") for v in videos[subset] if v.key in good]
    counts = frame_counts(root, keys, work, report)
    for key, (rgb, _) in counts.items():
        if good[key]["frames"] and rgb != good[key]["frames"]:
            report.problem("frame count", root / "rawframes" / key, f"{rgb} RGB frames for a video of "
                           f"{good[key]['frames']}: extracted from another copy, or interrupted; extract again",
                           "warning")
    for subset in ("train", "val"):
        _report_missing(root, videos[subset], on_disk, later)
        expected_video = {v.key: (counts[v.key][1], v.label) for v in videos[subset] if v.key in counts}
        expected_clips = {}
        for v in videos[subset]:
            if v.key in counts:
                for start, length, label in clip_lines(v, *counts[v.key])[0]:
                    expected_clips[(v.key, start)] = (length, label)
        segments = sum(len(v.segments) for v in videos[subset])
        for kind, expected, published, annotated in (("video", expected_video, PUBLISHED, len(videos[subset])),
                                                     ("clip", expected_clips, PUBLISHED_SEGMENTS, segments)):
            report.count(f"{subset} {kind}", published=published[subset], annotated=annotated, on_disk=len(expected),
                         written=_check_list(report, root, subset, kind, expected))
    report.count("test (not listed)", published=PUBLISHED["test"], annotated=len(videos["test"]))
    report.merge(later)


def _check_list(report, root, subset, kind, expected):
    from ..data import load_annotations

    def stale(r):
        key = r.path if kind == "video" else (r.path, r.offset)
        if expected.get(key) == (r.num_frames, r.label):
            return None
        line = (f"{r.path} {r.offset}" if kind == "clip" else r.path) + f" {r.num_frames} {r.label}"
        again = f"a stale list; run prepare.py {NAME} lists again"
        if key not in expected:
            entry = "video" if kind == "video" else "segment"
            return "stray", r.where, f"{line}: not a {entry} of the JSON with frames: {again}"
        frames, label = expected[key]
        given = f"the JSON and the frame folders give {frames} frames, label {label}"
        return "frame count", r.where, f"{line}: {given}: {again}"
    return listing.check_list_file(report, root / list_name(subset, kind), NAME, lambda path: load_annotations(
        path, "", "rawframes", with_offset=kind == "clip"), stale)


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("Discus throw", "Plataform diving", "Shot put")  # verbatim, one misspelled
#: (youtube id, subset, (width, height), fps, seconds on disk, JSON duration, segments, role)
REPLICA_VIDEOS = (
    ("Tr4ckDiscus", "training", (1280, 720), 30, 20.0, 20.02, [(2.5, 11.2, "Discus throw")], None),
    ("tw0ClassEsA", "training", (640, 360), 25, 24.0, 24.03, [(1.0, 8.4, "Shot put"), (12.0, 24.03, "Discus throw")],
     None),
    ("g0neFromYT1", "training", (640, 360), 25, 20.0, 20.0, [(0.5, 6.0, "Shot put")], "missing"),
    ("p00lDiving1", "validation", (640, 360), 25, 22.0, 22.0, [(3.0, 15.5, "Plataform diving")], None),
    ("cutShortVal", "validation", (640, 360), 25, 20.0, 20.0, [(2.0, 9.0, "Plataform diving")], "corrupt"),
    ("t3stNoLabel", "testing", (640, 360), 25, 20.0, 20.0, [], None),
)
_COLOURS = dict(zip(REPLICA_CLASSES, (_replica.PALETTE[0], _replica.PALETTE[2], _replica.PALETTE[1])))


def make_replica(root, seed=0):
    """ActivityNet in miniature: ``downloads/activity_net.v1-3.min.json`` (version, a taxonomy, a database of six
    entries) and ``videos/v_<id>.mp4`` as a registered user has them: untrimmed MP4s (H.264 + AAC) of 20-24 s, one
    1280x720 at 30 fps, the others 640x360 at 25 fps, with one or two segments (one video holds two classes, the
    video list keeps the first), a test video without annotations, JSON durations a little longer than the files
    (as YouTube's are); one listed video is missing and one cut short. Returns dict(files=[paths], videos={subset:
    [keys]}, missing=, corrupt=)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    database, files, made = {}, [], {"train": [], "val": [], "test": []}
    special = {}
    for youtube_id, subset, (width, height), fps, seconds, duration, segments, role in REPLICA_VIDEOS:
        database[youtube_id] = dict(subset=subset, duration=duration, resolution=f"{width}x{height}",
                                    url=f"https://www.youtube.com/watch?v={youtube_id}",
                                    annotations=[dict(segment=[s, e], label=label) for s, e, label in segments])
        key = f"v_{youtube_id}"  # MMAction2's name of the video and its frame folder
        made[{v: k for k, v in SUBSETS.items()}[subset]].append(key)
        if role:
            special[role] = key
        if role == "missing":
            continue
        colour = _COLOURS[segments[0][2]] if segments else (200, 200, 200)
        data = _replica.youtube_clip(root / "videos" / ".replica.mp4", rng, seconds, fps, height, width, colour,
                                     rng.uniform(-3, 3, size=2))
        files.append(atomic_write(root / "videos" / (key + VIDEO_EXT),
                                  _replica.cut_short(data, 0.5) if role == "corrupt" else data))
    taxonomy = [dict(nodeId=0, nodeName="Root", parentId=None, parentName=None),
                dict(nodeId=1, nodeName="Sports, Exercise, and Recreation", parentId=0, parentName="Root"),
                dict(nodeId=2, nodeName="Track and field", parentId=1, parentName="Sports, Exercise, and Recreation"),
                dict(nodeId=3, nodeName="Diving", parentId=1, parentName="Sports, Exercise, and Recreation")]
    for number, name in enumerate(REPLICA_CLASSES, start=4):
        parent = (3, "Diving") if "diving" in name else (2, "Track and field")
        taxonomy.append(dict(nodeId=number, nodeName=name, parentId=parent[0], parentName=parent[1]))
    annotations = dict(version="VERSION 1.3", taxonomy=taxonomy, database=database)
    files.insert(0, atomic_write(root / "downloads" / JSON_NAME, json.dumps(annotations)))
    return dict(files=files, videos=made, classes=list(REPLICA_CLASSES), **special)
