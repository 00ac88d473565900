"""HVU (Holistic Video Understanding): ~10-s YouTube clips with 3,142 tags in six categories - action, attribute,
concept, event, object, scene (https://github.com/holistic-video-understanding/HVU-Dataset; MMAction2's
`tools/data/hvu/README.md`). A multi-label dataset: each clip has any number of tags; the zoo trains one model per
category (six configs, ``hvu_<category>_{train,val}.json``).

The layout this module reads and writes, MMAction2's (``tools/data/hvu/``)::

    ROOT/downloads/HVU_Train_V1.0.zip, HVU_Val_V1.0.zip, HVU_Tags_Categories_V1.0.csv   (download: public)
    ROOT/annotations/hvu_train.csv, hvu_val.csv, hvu_categories.csv, hvu_tags.json      (extract)
    ROOT/videos_{train,val}/<ytid>_<start x 10:06d>_<end x 10:06d>.mp4       (YouTube or the request form)
    ROOT/hvu_{train,val}_video.json                  every category: {"filename", "label": {category: [...]}}
    ROOT/hvu_<category>_{train,val}.json             one category: {"filename", "label": [...]}   (lists)
    ROOT/hvu_{train,val}.json                        frames, when rawframes_{train,val}/ exist

Tags are lower case with ``_`` (Kinetics' parentheses became ``_``: ``passing_american_football_not_in_game_``);
a clip's CSV row joins them with ``|``. A tag's label is its index in its category's sorted tag list
(``hvu_tags.json`` = ``{category: sorted(tags)}``, MMAction2's parse_tag_list.py); a clip's label list keeps
the CSV's tag order. File names are in *deciseconds* (``int(t * 10)``, MMAction2's download.py), where
Kinetics' are in seconds.

Where tsnbook differs from MMAction2 0.24.1's ``generate_file_list.py`` and ``generate_sub_file_list.py`` (the
entries are otherwise equal, tested against them):
- the per-category lists hold only the clips that have a tag of the category: ``generate_sub_file_list.py``
  dumps its input instead of its result (``mmcv.dump(data, ...)``, still so in 1.2.0), so a clip without the
  category keeps the whole ``{category: [...]}`` dict as its label; such clips are counted and reported here;
- the per-category *video* lists get the names the zoo's configs read, ``hvu_<category>_{train,val}.json``: the
  sub-list tool derives ``hvu_<category>_train_video.json`` from the video list (and would give
  ``hvu_<category>_train.json`` to a *frames* list);
- a clip listed but absent is left out and reported (MMAction2: silently); an unknown tag, a malformed row or a
  duplicate clip is a one-line error naming ``file:line`` (MMAction2: a KeyError).
"""
import json
import sys
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, download as _download, items, listing, lists, replica as _replica
from .files import AnnotationError, DatasetError, atomic_write, read_lines
from .items import Item, ListedOnce
from .steps import Dataset
from .verify import verify_videos

NAME = "hvu"
HOME = "https://github.com/holistic-video-understanding/HVU-Dataset"
_RAW = HOME + "/raw/master/"
FILES = (  # public on GitHub, no checksums published
    _download.Remote("HVU_Train_V1.0.zip", _RAW + "HVU_Train_V1.0.zip",
                     what="HVU_Train_V1.0.csv: training clips, tags"),
    _download.Remote("HVU_Val_V1.0.zip", _RAW + "HVU_Val_V1.0.zip", what="HVU_Val_V1.0.csv: validation clips, tags"),
    _download.Remote("HVU_Tags_Categories_V1.0.csv", _RAW + "HVU_Tags_Categories_V1.0.csv",
                     what="every tag's category"),
)
UNREACHABLE = f"The files are in {HOME}"
REGISTRATION = ("HVU's videos are on YouTube (HVU's downloader: https://github.com/holistic-video-understanding/"
                "HVU-Downloader, or MMAction2's tools/data/hvu/download.py) or, complete, through the request form "
                "https://forms.gle/8qpoDaarjd7WNn7E7 linked from " + HOME + "; put them as "
                "ROOT/videos_{train,val}/<ytid>_<start*10:06d>_<end*10:06d>.mp4 and run the command again")
CATEGORIES = ("action", "attribute", "concept", "event", "object", "scene")
NUM_TAGS = dict(action=739, attribute=117, concept=291, event=69, object=1678, scene=248)  # 3,142 (label_map.json)
SUBSETS = ("train", "val")
CSV_NAMES = {"train": "hvu_train.csv", "val": "hvu_val.csv", "categories": "hvu_categories.csv"}
RELEASE_NAMES = {"train": "HVU_Train_V1.0.csv", "val": "HVU_Val_V1.0.csv", "categories": "HVU_Tags_Categories_V1.0.csv"}
TAGS_JSON = "hvu_tags.json"
PUBLISHED = {}  # split sizes not verified here (~577k clips in all, TFDS description)
MMACTION2 = {}
CONTAINER = "MP4, H.264 (trimmed with libx264 by the crawler) + the upload's audio; ~10 s; size and fps as uploaded"
LEVEL = 1  # ROOT/videos_<subset>/<video>
VIDEO_EXT = ".mp4"
ROOT_ENTRIES = ("annotations", "videos_train", "videos_val", "downloads")
VIDEO_FOLDERS = {f"videos_{subset}": f"rawframes_{subset}" for subset in SUBSETS}
MULTI_LABEL = True
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
DEFAULT_FRAMES = "none"  # the zoo's six rows read the videos
DEFAULT_RESOLUTION = "short256"  # MMAction2's extract_frames.sh (--new-short 256)
MISSING_TOLERATED = 0.5


def list_name(subset, category=None, kind="video"):
    """``hvu_train_video.json`` (all categories), ``hvu_action_train.json`` (one category, videos: the configs'
    names), ``hvu_train.json`` (frames, all categories)."""
    if category:
        return f"hvu_{category}_{subset}.json" if kind == "video" else f"hvu_{category}_{subset}_rawframes.json"
    return f"hvu_{subset}_video.json" if kind == "video" else f"hvu_{subset}.json"


def clip_name(youtube_id, start, end):
    """``<ytid>_<int(start * 10):06d>_<int(end * 10):06d>``: deciseconds, as MMAction2's HVU download.py."""
    return f"{youtube_id}_{int(float(start) * 10):06d}_{int(float(end) * 10):06d}"


def looks_inside(folder):
    if any((folder / name).exists() for name in CSV_NAMES.values()):
        return "the annotations folder (ROOT/annotations)"
    if folder.name.startswith(("videos_", "rawframes_")) and any(folder.iterdir()):
        return f"a video or frame folder (ROOT/{folder.name})"
    if folder.name == "downloads" and (folder / FILES[0].name).exists():
        return "the downloads folder (ROOT/downloads)"
    return None


# ----------------------------------------------------------------------------------------------- annotations
def read_tags(root):
    """{category: sorted tags} from ``annotations/hvu_categories.csv`` (header ``Tag,Category``)."""
    path = Path(root) / "annotations" / CSV_NAMES["categories"]
    fix = f"run prepare.py {NAME} extract (or download {FILES[2].name} again)"
    numbered = read_lines(path, fix=fix)
    if numbered[0][1].replace(" ", "").lower() != "tag,category":
        raise AnnotationError(f"{path}:{numbered[0][0]}: expected the header 'Tag,Category', got "
                              f"{numbered[0][1]!r}; {fix}")
    tags, seen = {}, {}
    for number, text in numbered[1:]:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts) or parts[1] not in CATEGORIES:
            raise AnnotationError(f"{path}:{number}: expected 'tag,category' with a category of {CATEGORIES}, "
                                  f"got {text!r}; {fix}")
        if parts[0] in seen:
            raise AnnotationError(f"{path}:{number}: tag {parts[0]!r} listed twice (first at line {seen[parts[0]]})")
        seen[parts[0]] = number
        tags.setdefault(parts[1], []).append(parts[0])
    return {category: sorted(tags[category]) for category in CATEGORIES if category in tags}


def read_csv(root, subset, tags):
    """The clips of ``annotations/hvu_<subset>.csv`` (header ``Tags,youtube_id,time_start,time_end``): `items.Item`s
    keyed by the file stem, labelled ``{category: [indices in the CSV's order]}``."""
    path = Path(root) / "annotations" / CSV_NAMES[subset]
    fix = f"run prepare.py {NAME} extract (or download {FILES[SUBSETS.index(subset)].name} again)"
    numbered = read_lines(path, fix=fix)
    header = numbered[0][1].replace(" ", "").lower()
    if header != "tags,youtube_id,time_start,time_end":
        raise AnnotationError(f"{path}:{numbered[0][0]}: expected the header 'Tags,youtube_id,time_start,time_end', "
                              f"got {numbered[0][1]!r}; {fix}")
    index = {tag: (category, i) for category, names in tags.items() for i, tag in enumerate(names)}
    clips, once = [], ListedOnce()
    for number, text in numbered[1:]:
        where, parts = f"{path}:{number}", text.split(",")
        if len(parts) != 4 or not parts[0] or not parts[1]:
            raise AnnotationError(f"{where}: expected 'tag|tag|...,youtube_id,time_start,time_end', got {text!r} "
                                  f"(a line cut short?); {fix}")
        try:
            name = clip_name(parts[1], parts[2], parts[3])
        except ValueError:
            raise AnnotationError(f"{where}: time_start/time_end must be numbers, got {text!r}; {fix}") from None
        labels = {}
        for tag in parts[0].split("|"):
            if tag not in index:
                raise AnnotationError(f"{where}: tag {tag!r} is not in {CSV_NAMES['categories']}: the CSVs come "
                                      "from different HVU releases; extract them again")
            category, i = index[tag]
            labels.setdefault(category, []).append(i)
        once.add(name, where, name, f"at line {number}")
        clips.append(Item(name, labels, where))
    return clips


def read_annotations(root):
    """(tags, {"train": [Item], "val": [Item]}); `AnnotationError` on any bad line."""
    tags = read_tags(root)
    return tags, {subset: read_csv(root, subset, tags) for subset in SUBSETS}


def scan_videos(root, subset):
    """``{stem: file name}`` of ``videos_<subset>/*`` (hidden names ignored)."""
    return items.scan_videos(Path(root) / f"videos_{subset}", 1)


# ----------------------------------------------------------------------------------------------------- steps
def downloaded(root, remote):
    return all((root / "annotations" / name).is_file() for name in CSV_NAMES.values())


def after_download(root, report):
    """The videos need YouTube or the request form (`REGISTRATION`): without ``videos_train/`` this is an error
    saying where to get them and where to put them."""
    if not (root / "videos_train").is_dir() or not any((root / "videos_train").iterdir()):
        raise DatasetError(f"{root / 'videos_train'}: no videos. {REGISTRATION}")


def extract_archives(root, report):
    """Unzip the CSVs into ``annotations/`` under MMAction2's names, write ``hvu_tags.json`` (parse_tag_list.py)."""
    if downloaded(root, None):
        report.did("annotations skipped (present)")
    else:
        found = archives.unpack_annotations(root, [root / "downloads" / r.name for r in FILES[:2]], {
            CSV_NAMES[key]: (RELEASE_NAMES[key],) for key in ("train", "val")}, lambda absent: (
            f"{root / 'downloads'}: the zips lack {absent[0]}; download them again"))
        categories = root / "downloads" / FILES[2].name
        if not categories.is_file():
            raise DatasetError(f"{categories}: not found; run prepare.py {NAME} download")
        atomic_write(root / "annotations" / CSV_NAMES["categories"], categories.read_bytes())
        report.did("annotations extracted", archives.place_annotations(root, found) + 1)
    atomic_write(root / "annotations" / TAGS_JSON, json.dumps(read_tags(root)))
    after_download(root, report)


def write_lists(report, root, annotations, frame_tmpl, start_index, work):
    """Write, for train and val, the video list of every category (``hvu_<subset>_video.json``), one list per
    category (``hvu_<category>_<subset>.json``: only the clips with a tag of it) and, when frames exist, the
    frames list ``hvu_<subset>.json``."""
    clips = annotations[1]
    for subset in SUBSETS:
        on_disk = scan_videos(root, subset)
        _report_missing(root, subset, clips[subset], on_disk, report)
        present = [c for c in clips[subset] if c.key in on_disk]
        for clip in present:
            lists.check_path(on_disk[clip.key], clip.where)
        written = lists.write_json_list(root / list_name(subset), (dict(filename=on_disk[c.key], label=c.label)
                                                                  for c in present))
        report.count(f"{subset} videos (all tags)", annotated=len(clips[subset]), on_disk=len(present), written=written)
        for category in CATEGORIES:
            tagged = [c for c in present if category in c.label]
            written = lists.write_json_list(root / list_name(subset, category),
                                            (dict(filename=on_disk[c.key], label=c.label[category]) for c in tagged))
            report.count(f"{subset} {category}", annotated=sum(category in c.label for c in clips[subset]),
                         on_disk=len(tagged), written=written)
            if len(tagged) < len(present):
                report.note(f"{subset}: {len(present) - len(tagged)} clip(s) have no {category} tag: left out of "
                            f"{list_name(subset, category)} (MMAction2's sub-list tool keeps them with the whole "
                            "tag dict as their label)")
        frames = root / f"rawframes_{subset}"
        if frames.is_dir():
            counts = listing.frame_counts(report, work, {c.key: frames / c.key for c in present}, frame_tmpl,
                                          start_index, "; left out of the frames list", desc=frames.name)
            framed = [dict(frame_dir=c.key, total_frames=counts[c.key], label=c.label) for c in present
                      if c.key in counts]
            written = lists.write_json_list(root / list_name(subset, kind="rawframes"), framed)
            report.count(f"{subset} rawframes (all tags)", annotated=len(clips[subset]), on_disk=len(framed),
                         written=written)


def _report_missing(root, subset, clips, on_disk, report):
    listing.lost_videos(report, clips, on_disk, lambda clip: root / f"videos_{subset}" / (clip.key + VIDEO_EXT),
                        "listed at {where}, not on disk: left out of the lists (YouTube has lost part of HVU; "
                        "MMAction2 leaves it out silently)", MISSING_TOLERATED, root / f"videos_{subset}",
                        lambda missing, total: f"{missing:,} of {total:,} clips are missing: the wrong folder? "
                                               f"{REGISTRATION}")


def check_annotations(report, root, annotations):
    """The six categories' sizes against HVU's."""
    for category in CATEGORIES:
        if len(annotations[0].get(category, ())) != NUM_TAGS[category]:
            report.problem("count", root / "annotations" / CSV_NAMES["categories"],
                           f"{len(annotations[0].get(category, ()))} {category} tags where HVU has "
                           f"{NUM_TAGS[category]}: a replica or another release", "warning")


def check_copy(report, root, annotations, frame_tmpl, start_index, work, deep):
    """Every listed video (missing: a warning; unreadable, truncated, zero frames: errors) and every list file
    against the CSVs."""
    clips = annotations[1]
    later = type(report)(NAME, "verify", root)
    found = {subset: scan_videos(root, subset) for subset in SUBSETS}
    listed = {s: [(root / f"videos_{s}" / found[s][c.key], c) for c in clips[s] if c.key in found[s]]
              for s in SUBSETS}
    checked = verify_videos(report, [p for s in SUBSETS for p, _ in listed[s]], work, deep,
                            {str(p): c.where for s in SUBSETS for p, c in listed[s]})  # one pool for all
    for subset in SUBSETS:
        on_disk, present = found[subset], [c for _, c in listed[subset]]
        paths = [p for p, _ in listed[subset]]
        good = {c.key for p, c in zip(paths, present) if checked[str(p)]["kind"] is None
                or checked[str(p)]["severity"] == "warning"}
        _report_missing(root, subset, clips[subset], on_disk, later)
        expected = {on_disk[c.key]: c.label for c in present}
        written = _check_list(report, root, list_name(subset), expected)
        report.count(f"{subset} videos (all tags)", annotated=len(clips[subset]), on_disk=len(good), written=written)
        for category in CATEGORIES:
            wanted = {name: labels[category] for name, labels in expected.items() if category in labels}
            written = _check_list(report, root, list_name(subset, category), wanted)
            report.count(f"{subset} {category}", annotated=sum(category in c.label for c in clips[subset]),
                         on_disk=sum(1 for c in present if c.key in good and category in c.label), written=written)
    report.merge(later)


def _check_list(report, root, name, expected):
    """Entries of JSON list ``name`` checked against ``expected`` {filename: label}; None when unreadable."""
    def stale(entry):
        where, item = entry
        if expected.get(item["filename"]) != item.get("label"):
            return "stray", where, (f"{item['filename']} with label {item.get('label')!r} is not what the CSV gives: "
                                    f"a stale list; run prepare.py {NAME} lists again")
    return listing.check_list_file(report, root / name, NAME, _read_list, stale)


def _read_list(path):
    """``[("file[number]", item)]`` of a JSON list of videos; a ValueError when it is not one."""
    try:
        items = json.loads(path.read_text())
    except json.JSONDecodeError:
        items = None
    if not isinstance(items, list) or not all(isinstance(i, dict) and "filename" in i for i in items):
        raise ValueError(f"not a JSON list of videos: run prepare.py {NAME} lists again")
    return [(f"{path}[{number}]", item) for number, item in enumerate(items)]


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
REPLICA_TAGS = {  # real HVU tags, 2-4 per category (with Kinetics' parentheses turned into _ and the misspelling)
    "action": ("hurling_sport_", "massaging_person_s_head", "passing_american_football_not_in_game_",
               "plataform_diving"),
    "attribute": ("blond", "red"),
    "concept": ("music", "sport", "team"),
    "event": ("concert", "wedding"),
    "object": ("ball", "guitar", "hair"),
    "scene": ("beach", "stadium", "stage"),
}
#: (subset, youtube id, start s, tags by category, role); one clip lacks event tags, one is missing, one corrupt
REPLICA_CLIPS = (
    ("train", "OLpWTpTC4P8", 57.0, dict(action=[0], concept=[1, 2], event=[0], object=[0], scene=[1], attribute=[1]),
     None),
    ("train", "xsPKW4tZZBc", 233.0, dict(action=[2], concept=[1, 2], event=[1], object=[0], scene=[1]), None),
    ("train", "-0u1Vb-oC3k", 12.5, dict(action=[1], attribute=[0], object=[2], scene=[2], event=[1]), None),
    ("train", "Gu1tarS0l0_", 30.0, dict(action=[3], concept=[0], event=[0], object=[1], scene=[0], attribute=[0]),
     None),
    ("train", "n0EventHere", 4.2, dict(action=[2, 0], concept=[1], object=[0], scene=[1], attribute=[1]),
     "no event"),
    ("train", "g0neFromYT1", 90.0, dict(action=[1], event=[1], object=[2], scene=[2]), "missing"),
    ("train", "cutInHalf01", 15.0, dict(action=[3], event=[0], object=[1], scene=[0]), "corrupt"),
    ("val", "vAlClip0001", 41.0, dict(action=[0], concept=[1, 2], event=[0], object=[0], scene=[1]), None),
    ("val", "vAlClip0002", 8.0, dict(action=[1], attribute=[0], event=[1], object=[2], scene=[2], concept=[0]), None),
)
_SIZES = ((426, 240), (480, 360), (320, 240))


def make_replica(root, seed=0):
    """HVU in miniature: ``downloads/HVU_{Train,Val}_V1.0.zip`` (the CSVs, ``|``-joined tags), the tag list
    ``HVU_Tags_Categories_V1.0.csv`` (6 categories x 2-4 real tags, in a shuffled order: the label map sorts
    them) and ``videos_{train,val}/`` as a registered user has them: 10-s MP4s (H.264 + AAC) named in
    deciseconds. One clip has no event tag, one listed clip is missing and one is cut short. Returns
    dict(files=[paths], videos={subset: [stems]}, missing=, corrupt=, no_event=)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = {"train": ["Tags,youtube_id,time_start,time_end"], "val": ["Tags,youtube_id,time_start,time_end"]}
    files, made, special = [], {"train": [], "val": []}, {}
    for number, (subset, youtube_id, start, labels, role) in enumerate(REPLICA_CLIPS):
        names = [REPLICA_TAGS[c][i] for c in ("scene", "object", "action", "concept", "event", "attribute")
                 for i in labels.get(c, ())]
        start_text = f"{start:g}"
        rows[subset].append(f"{'|'.join(names)},{youtube_id},{start_text},{float(start) + 10:g}")
        stem = clip_name(youtube_id, start, start + 10)
        made[subset].append(stem)
        if role:
            special[role.replace(" ", "_")] = stem
        if role == "missing":
            continue
        width, height = _SIZES[number % 3]
        colour = tuple(int(c) for c in rng.integers(40, 230, 3))
        data = _replica.youtube_clip(root / f"videos_{subset}" / ".replica.mp4", rng, 10.0, 25, height, width, colour,
                                     rng.uniform(-3, 3, size=2), preset=_replica.X264_PRESET)
        files.append(atomic_write(root / f"videos_{subset}" / (stem + VIDEO_EXT),
                                  _replica.cut_short(data, 0.5) if role == "corrupt" else data))
    for remote, subset in zip(FILES[:2], SUBSETS):
        files.insert(0, _replica.write_zip(root / "downloads" / remote.name, [
            (RELEASE_NAMES[subset], _replica.text_file(rows[subset]))]))
    pairs = [(tag, category) for category, tags in REPLICA_TAGS.items() for tag in tags]
    order = rng.permutation(len(pairs))
    text = _replica.text_file(["Tag,Category"] + [f"{pairs[i][0]},{pairs[i][1]}" for i in order])
    files.insert(0, atomic_write(root / "downloads" / FILES[2].name, text))
    return dict(files=files, videos=made, **special)
