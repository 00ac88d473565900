"""Kinetics-400, -600 and -700: ~10-s YouTube clips of 400 / 600 / 700 actions, train / val / test CSVs
(https://github.com/cvdfoundation/kinetics-dataset; MMAction2's `tools/data/kinetics/README.md`). One module, three
datasets: `KINETICS400`, `KINETICS600` and `KINETICS700` (the registry's ``kinetics400`` ...) are `Kinetics` objects
with the attributes and steps of a dataset module; getting DeepMind's CSVs and CVDF's videos into the layout is
`tsnbook.datasets.kinetics_download`, the replicas `tsnbook.datasets.kinetics_replica`.

The layout this module reads and writes, MMAction2's (``tools/data/kinetics/``)::

    ROOT/downloads/kinetics400.tar.gz                                     DeepMind's CSVs          (download)
    ROOT/downloads/cvdf/{train,val}/k400_{train,val}_path.txt, part_*.tar.gz  CVDF's mp4s, flat  (download)
    ROOT/downloads/cvdf/replacement/replacement_for_corrupted_k400.tgz   CVDF's fixed copies (K400 only)
    ROOT/annotations/kinetics_{train,val,test}.csv                        (extract; renamed as MMAction2 does)
    ROOT/videos_{train,val}/<label_with_underscores>/<ytid>_<start:06d>_<end:06d>.mp4    (extract: arranged)
    ROOT/rawframes_{train,val}[_320p|_256p]/<class>/<video>/img_00001.jpg, x_00001.jpg  (extract --frames)
    ROOT/label_map_k400.txt, kinetics400_{train,val}_list_videos.txt,
         kinetics400_{train,val}_list_rawframes[_320p|_256p].txt, kinetics400_flow_{train,val}_list_320p.txt,
         kinetics_flow_{train,val}_list.txt                                                             (lists)

Labels are MMAction2's: the index in ``sorted()`` of the training CSV's labels with ``"`` removed and spaces
replaced by ``_`` (the order of MMAction2's ``label_map_k400.txt``); the class folder is that name. The CSVs come
in several forms, all read here by their header: 5 columns ``label,youtube_id,time_start,time_end,split``, the
original K400 release's 6th ``is_cc``, and label-less test CSVs ``youtube_id,time_start,time_end,split``.
File names use ``int(float(t))`` seconds, as MMAction2's download.py and build_file_list.py do.

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py``, besides `listing`'s differences:
- a label-less test CSV is read (its rows are counted, never listed): MMAction2's ``parse_kinetics_splits``
  always parses the test CSV as if it had labels and stops with ``ValueError: could not convert string to
  float: 'test'``, even when only the train list is asked for (open-mmlab/mmaction2#785, #1626);
- a missing video is a warning, because every copy of Kinetics misses some (YouTube removed them). A class folder
  still holding spaces (``rename_classnames.sh`` forgotten) is an error here, not a silently empty class;
- ``extract`` arranges CVDF's flat trees into class folders, with its replacements (`kinetics_download`);
- the flow lists the K400 flow configs name are written (MMAction2's `tools/data/build_file_list.py` writes RGB
  lists only);
- an unknown class, a duplicate row or a malformed line is a one-line error naming ``file:line``
  (MMAction2: a KeyError, or a duplicated line).
"""
import csv
import os
from dataclasses import dataclass
from pathlib import Path

from .. import flow
from . import kinetics_download, kinetics_replica, listing, lists
from .download import Remote
from .files import AnnotationError, DatasetError, read_lines
from .items import Item, ListedOnce, scan_videos
from .kinetics_download import CSV_NAMES, CVDF_HOME, DEEPMIND, HOME, class_folder, clip_name
from .kinetics_replica import REPLICA_CLASSES
from .steps import Dataset
from .verify import verify_frame_folders, verify_videos

SUBSETS = ("train", "val")  # what the zoo's configs read; the test CSV is read and counted, never listed
#: --resolution -> the suffix of the frame folders and lists the zoo's K400 configs read
FRAME_FOLDERS = {"340x256": "", "short320": "_320p", "short256": "_256p"}
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
FLOW_TMPL = flow.FLOW_TEMPLATES["kinetics"]  # x_00001.jpg / y_00001.jpg: the K400 flow configs
MISSING_TOLERATED = 0.2  # more missing than this: a wrong folder or an interrupted extraction, not YouTube

#: Names that Kinetics-600 spells differently from Kinetics-400 (read from MMAction2's label_map_k400/600/700.txt):
#: the same action gets another label index in each version, so a K400 checkpoint's class i is not K600's.
#: 368 K400 names reappear verbatim in K600, 378 in K700; K700 spells the last one with a capital A again.
RENAMED_IN_600 = {
    "dying hair": "dyeing hair", "making bed": "making the bed", "tying tie": "tying necktie",
    "changing wheel": "changing wheel (not on bike)", "cooking sausages": "cooking sausages (not on barbeque)",
    "hugging": "hugging (not baby)", "opening bottle": "opening bottle (not wine)",
    "throwing ball": "throwing ball (not baseball or American football)",
    "passing American football (not in game)": "passing american football (not in game)",
}


@dataclass(frozen=True)
class Clip(Item):
    """One row of a Kinetics CSV: ``key`` = ``<class>/<stem>`` (MMAction2's key; the stem alone when the row
    has no label), its label (0-based, None in a label-less test CSV) and where it was read."""

    @property
    def name(self):
        """The file stem."""
        return self.key.rpartition("/")[2]

    @property
    def folder(self):
        return self.key.rpartition("/")[0]


class Kinetics:
    """Kinetics-``version``: the facts as attributes, the reader and the hooks as methods, and the steps
    (`steps.Dataset`) as ``download``, ``extract``, ``build_lists``, ``verify`` and ``merge_shards``."""
    HOME, CVDF_HOME, REGISTRATION = HOME, CVDF_HOME, None  # annotations and CVDF's copies are public
    UNREACHABLE = (f"Kinetics' CSVs are at {HOME}, its videos at {CVDF_HOME} (or crawl YouTube with MMAction2's "
                   "download.py into ROOT/videos_train/<label>/, then run extract)")
    CONTAINER = ("MP4, H.264 video (re-encoded by the crawler, libx264) + the upload's audio (AAC); size and fps as "
                 "uploaded (commonly 24-30 fps and 360p-1080p, not verified here); ~10 s")
    LEVEL, VIDEO_EXT, MULTI_LABEL = 2, ".mp4", False  # ROOT/videos_<subset>/<class>/<video>
    FRAME_TMPL, START_INDEX, FLOW_TMPL = FRAME_TMPL, START_INDEX, FLOW_TMPL
    DEFAULT_FRAMES = "none"  # K600/K700 rows and several K400 rows read the videos; frames on request
    DEFAULT_RESOLUTION = "340x256"  # rawframes_{train,val}: the main K400 row
    ROOT_ENTRIES = ("annotations", "videos_train", "videos_val", "downloads", "rawframes_train")
    CLASSES_FILE, CLASS_COUNT_NOTE = f"annotations/{CSV_NAMES['train']}", "a replica or another version's CSV"

    def __init__(self, version, published, mmaction2, cvdf, cvdf_folder, notes, cvdf_files=None):
        self.VERSION = version
        self.NAME = self.TITLE = f"kinetics{version}"
        self.NUM_CLASSES = version
        self.FILES = (Remote(f"kinetics{version}.tar.gz", f"{DEEPMIND}/kinetics{version}.tar.gz",
                             what="DeepMind's train / validate / test CSVs (and JSONs); no checksum is published"),)
        self.CVDF = cvdf  # (base URL, path-list file name template): the videos' tarballs, public
        self.CVDF_FOLDER = cvdf_folder
        self.REPLACEMENT = () if version != 400 else (Remote(
            "replacement_for_corrupted_k400.tgz", f"{cvdf[0]}/replacement_for_corrupted_k400.tgz",
            what="CVDF's 1,392 re-encoded copies of train videos that are corrupt in the parts"),)
        self.PUBLISHED = published  # rows of DeepMind's CSVs ({subset: n}); None where not verified here
        self.MMACTION2 = mmaction2  # the videos MMAction2's own copy had (its kinetics README)
        self.CVDF_FILES = cvdf_files or {}  # the videos CVDF's tarballs hold (its arrange_by_classes.py)
        self.NOTES = notes
        self.REPLICA_CLASSES = REPLICA_CLASSES[version]
        self.download, self.extract, self.build_lists, self.verify, self.merge_shards = Dataset(self).steps()

    def __repr__(self):
        return f"<tsnbook.datasets.kinetics {self.NAME}>"

    #: the hooks that bring DeepMind's CSVs and CVDF's videos into the layout, and the replica (their modules)
    fetch_downloads = kinetics_download.fetch_downloads
    extract_archives = kinetics_download.extract_archives
    rename_class_folders = staticmethod(kinetics_download.rename_class_folders)
    make_replica = kinetics_replica.make_replica

    # ------------------------------------------------------------------------------------------------ names
    def list_name(self, subset, kind, suffix=""):
        """MMAction2's list names: ``kinetics400_train_list_videos.txt``, ``..._list_rawframes_320p.txt``;
        flow: ``kinetics400_flow_train_list_320p.txt`` (the K400 flow configs)."""
        if kind == "flow":
            return f"{self.NAME}_flow_{subset}_list{suffix}.txt"
        return f"{self.NAME}_{subset}_list_{kind}{suffix}.txt"

    def flow_aliases(self, subset, suffix):
        """Other names the zoo gives the same flow list (tsn_r50_320p_1x1x3_110e_kinetics400_flow)."""
        return [f"kinetics_flow_{subset}_list.txt"] if self.VERSION == 400 and suffix == "_320p" else []

    def label_map_name(self):
        return f"label_map_k{self.VERSION}.txt"

    def looks_inside(self, folder):
        if any((folder / name).exists() for name in CSV_NAMES.values()):
            return "the annotations folder (ROOT/annotations)"
        if folder.name.startswith(("videos_", "rawframes_")) and any(folder.glob("*/*")):
            return f"a video or frame folder (ROOT/{folder.name})"
        if (folder / self.FILES[0].name).exists() and folder.name == "downloads":
            return "the downloads folder (ROOT/downloads)"
        return None

    # ------------------------------------------------------------------------------------------ annotations
    def _read_rows(self, root, subset):
        """``([(class folder or None, file stem, "file:line"), ...], {class folder: label as spelled})`` of
        ``annotations/kinetics_<subset>.csv``, columns found by the header; one-line errors on bad rows."""
        path = Path(root) / "annotations" / CSV_NAMES[subset]
        fix = f"run prepare.py {self.NAME} extract (or download the CSVs again)"
        numbered = read_lines(path, fix=fix)
        rows = csv.reader(text for _, text in numbered)
        header = [name.strip().lower() for name in next(rows)]
        where = f"{path}:{numbered[0][0]}"
        wanted = ("youtube_id", "time_start", "time_end")
        if any(name not in header for name in wanted):
            raise AnnotationError(f"{where}: header {','.join(header)!r} lacks {', '.join(wanted)}: not a Kinetics "
                                  f"CSV (or cut before its first line); {fix}")
        if "label" not in header and subset != "test":
            raise AnnotationError(f"{where}: the {subset} CSV has no label column; a test CSV in its place? {fix}")
        youtube_id, start, end = (header.index(name) for name in wanted)
        label_column = header.index("label") if "label" in header else None
        out, spelled, once, width, name_of = [], {}, ListedOnce(), len(header), str(path)
        for (number, text), row in zip(numbered[1:], rows):
            if len(row) != width:
                raise AnnotationError(f"{name_of}:{number}: {len(row)} fields where the header has {width} (a line "
                                      f"cut short, or a label with a comma?): {text!r}; {fix}")
            try:
                name = clip_name(row[youtube_id], row[start], row[end])
            except ValueError:
                raise AnnotationError(f"{name_of}:{number}: time_start/time_end must be numbers, got {text!r}; "
                                      f"{fix}") from None
            label = row[label_column].replace('"', "").strip() if label_column is not None else ""
            if not label and subset != "test":
                raise AnnotationError(f"{name_of}:{number}: empty label; {fix}")
            folder = class_folder(label) if label else None
            if folder is not None and folder not in spelled:
                spelled[folder] = label
            once.add(name, f"{name_of}:{number}", name, f"at line {number}")
            out.append((folder, name, f"{name_of}:{number}"))
        return out, spelled

    def _clips(self, rows, index, subset):
        clips = []
        for folder, name, where in rows:
            if folder is not None and folder not in index:
                raise AnnotationError(f"{where}: class {folder.replace('_', ' ')!r} is not in {CSV_NAMES['train']} "
                                      "(the label map is the training CSV's labels): the CSVs come from different "
                                      "Kinetics versions; extract them again from one release")
            clips.append(Clip(f"{folder}/{name}" if folder else name, None if folder is None else index[folder],
                              where))
        return clips

    def read_classes(self, root):
        """The label map: sorted class folders of the training CSV (MMAction2's order)."""
        return sorted(self._read_rows(root, "train")[1])

    def read_annotations(self, root):
        """(classes, {"train": [Clip], "val": [Clip], "test": [Clip]}, label names): classes are the class folders
        in label order; the names are the labels as the training CSV spells them (spaces, parentheses, the
        apostrophe: MMAction2's ``label_map_k400.txt``). The training CSV is read once. `AnnotationError` on any
        bad line."""
        train, names = self._read_rows(root, "train")
        classes = sorted(names)
        index = {name: i for i, name in enumerate(classes)}
        clips = {"train": self._clips(train, index, "train")}
        for subset in ("val", "test"):
            clips[subset] = self._clips(self._read_rows(root, subset)[0], index, subset)
        return classes, clips, [names[c] for c in classes]

    # ---------------------------------------------------------------------------------------------- disk
    @staticmethod
    def scan_videos(root, subset):
        """``{key: relative path}`` under ``videos_<subset>/<class>/`` (hidden names ignored)."""
        return scan_videos(Path(root) / f"videos_{subset}", 2)

    @staticmethod
    def frame_folders(root, subset):
        """``{suffix: folder}`` of the frame trees present for ``subset`` (rawframes_train, ..._320p, ...)."""
        return {suffix: Path(root) / f"rawframes_{subset}{suffix}" for suffix in FRAME_FOLDERS.values()
                if (Path(root) / f"rawframes_{subset}{suffix}").is_dir()}

    def _strays(self, root, subset, classes, report):
        """Entries of ``videos_<subset>/`` that are no class: a folder with spaces (rename_classnames.sh not
        run: an error, its videos are all "missing"), files at the top (a flat CVDF tree), anything else."""
        videos, known = Path(root) / f"videos_{subset}", set(classes)
        if not videos.is_dir():
            return
        for entry in sorted(videos.iterdir()):
            if entry.name.startswith(".") or entry.name in known:
                continue
            if entry.is_dir() and class_folder(entry.name) in known:
                report.problem("stray", entry, f"class folder with spaces: MMAction2's lists would silently lose "
                                               f"its videos; run prepare.py {self.NAME} extract (renames it to "
                                               f"{class_folder(entry.name)!r}, as rename_classnames.sh does)")
            elif entry.is_file():
                report.problem("stray", entry, f"a video outside the class folders (a flat CVDF tree?): run prepare.py "
                                               f"{self.NAME} extract to arrange it", "warning")
            else:
                report.problem("stray", entry, "not a class of the training CSV: ignored here, but it would shift a "
                                               "label map built from a directory listing; remove it", "warning")

    def _report_missing(self, root, subset, clips, on_disk, report):
        listing.lost_videos(
            report, clips, on_disk, lambda clip: root / f"videos_{subset}" / (clip.key + self.VIDEO_EXT),
            "listed at {where}, not on disk: left out of the lists (every Kinetics copy misses some: YouTube "
            "removed them; MMAction2 leaves them out silently)", MISSING_TOLERATED, root / f"videos_{subset}",
            lambda missing, total: f"{missing:,} of {total:,} {subset} videos are missing (more than "
            f"{MISSING_TOLERATED:.0%}): the wrong folder, or an interrupted download or extraction; run prepare.py "
            f"{self.NAME} download and extract again")

    def _count(self, report, split, subset, annotated, on_disk, written):
        report.count(split, published=(self.PUBLISHED or {}).get(subset), mmaction2=self.MMACTION2.get(subset),
                     annotated=annotated, on_disk=on_disk, written=written)

    # ------------------------------------------------------------------------------------------- download
    # -------------------------------------------------------------------------------------------- extract
    def check_frame_options(self, root, frames, resolution):
        if frames != "none" and resolution not in FRAME_FOLDERS:
            raise DatasetError(f"--resolution {resolution}: Kinetics' frame rows read 340x256 (rawframes_*), "
                               "short320 (rawframes_*_320p) or short256 (rawframes_*_256p); pass one of those")

    def frame_pairs(self, root, resolution):
        """Every video of a class into ``rawframes_{train,val}`` + the suffix of ``resolution`` (`FRAME_FOLDERS`)."""
        classes = set(self.read_annotations(root)[0])
        suffix = FRAME_FOLDERS[resolution]
        return [(root / f"videos_{subset}" / rel, root / f"rawframes_{subset}{suffix}" / key)
                for subset in SUBSETS for key, rel in self.scan_videos(root, subset).items()
                if key.split("/")[0] in classes]

    # ---------------------------------------------------------------------------------------------- lists
    def write_lists(self, report, root, annotations, frame_tmpl, start_index, work):
        """The label map and, for train and val, the videos list and a rawframes list for every frame tree present
        (``rawframes_<subset>[_320p|_256p]``), plus flow lists where the frame folders hold flow. Videos by
        existence, frame folders by their frames; missing items are left out *and reported*."""
        classes, clips, names = annotations
        lists.write_label_map(root / self.label_map_name(), names)
        for subset in SUBSETS:
            self._strays(root, subset, classes, report)
            on_disk = self.scan_videos(root, subset)
            present = [clip for clip in clips[subset] if clip.key in on_disk]
            self._report_missing(root, subset, clips[subset], on_disk, report)
            written = lists.write_list(root / self.list_name(subset, "videos"),
                                       (lists.video_line(lists.check_path(on_disk[c.key], c.where), c.label)
                                        for c in present))
            self._count(report, f"{subset} videos", subset, len(clips[subset]), len(present), written)
            for suffix, folder in self.frame_folders(root, subset).items():
                self._frame_lists(report, root, subset, suffix, folder, clips[subset], on_disk, frame_tmpl,
                                  start_index, work)
        report.count("test (not listed)", published=(self.PUBLISHED or {}).get("test"), annotated=len(clips["test"]))
        report.did("lists written", sum(1 for _ in root.glob(f"{self.NAME}_*list*.txt")))

    def _frame_lists(self, report, root, subset, suffix, folder, clips, on_disk, frame_tmpl, start_index, work):
        """The rawframes list of one frame tree, and its flow lists when the tree holds flow."""
        folders, absent = {c.key: folder / c.key for c in clips}, {c.key for c in clips} - set(on_disk)
        left_out = f"; left out of the {folder.name} lists"
        rgb = listing.frame_counts(report, work, folders, frame_tmpl, start_index, left_out, absent, folder.name)
        framed = [c for c in clips if c.key in rgb]
        written = lists.write_list(root / self.list_name(subset, "rawframes", suffix), (
            lists.rawframes_line(lists.check_path(c.key, c.where), rgb[c.key], c.label) for c in framed))
        self._count(report, f"{subset} rawframes{suffix}", subset, len(clips), len(framed), written)
        if not any(folder.glob(f"*/*/{self.FLOW_TMPL.format('x', start_index)}")):
            return
        flows = listing.frame_counts(report, work, folders, self.FLOW_TMPL, start_index, left_out, absent,
                                     folder.name)
        flowed = [c for c in clips if c.key in flows]
        for name in [self.list_name(subset, "flow", suffix)] + self.flow_aliases(subset, suffix):
            written = lists.write_list(root / name, (lists.rawframes_line(c.key, flows[c.key], c.label)
                                                     for c in flowed))
        self._count(report, f"{subset} flow{suffix}", subset, len(clips), len(flowed), written)

    # --------------------------------------------------------------------------------------------- verify
    def check_copy(self, report, root, annotations, frame_tmpl, start_index, work, deep):
        """Every listed video on disk (unreadable, truncated, zero frames; ``deep`` decodes every frame), the
        missing ones (warnings, with an error when too many), class folders with spaces and other strays, every
        frame folder against its video, and the list files against all of that."""
        classes, clips, _ = annotations
        missing_report = type(report)(self.NAME, "verify", root)  # after the errors, so that the summary shows those
        on_disk, listed, paths = {}, {}, {}
        for subset in SUBSETS:
            self._strays(root, subset, classes, report)
            on_disk[subset] = self.scan_videos(root, subset)
            listed[subset] = [c for c in clips[subset] if c.key in on_disk[subset]]
            paths[subset] = [root / f"videos_{subset}" / on_disk[subset][c.key] for c in listed[subset]]
        where = {str(p): c.where for s in SUBSETS for p, c in zip(paths[s], listed[s])}
        checked = verify_videos(report, [p for s in SUBSETS for p in paths[s]], work, deep, where)
        for subset in SUBSETS:  # one pool of workers for every video: starting one costs seconds
            videos = {c.key: checked[str(p)] for p, c in zip(paths[subset], listed[subset])}
            good = [k for k, v in videos.items() if v["kind"] is None or v["severity"] == "warning"]
            self._report_missing(root, subset, clips[subset], on_disk[subset], missing_report)
            self._count(report, f"{subset} videos", subset, len(clips[subset]), len(good),
                        self._listed(report, root, self.list_name(subset, "videos"), "video", clips[subset]))
            for suffix, folder in self.frame_folders(root, subset).items():
                entries = [(folder / k, None) + ((videos[k]["frames"],) if videos.get(k, {}).get("frames") else ())
                           for k in good]
                verdicts = verify_frame_folders(report, entries, frame_tmpl, start_index, work, desc=folder.name)
                framed = {k: v["frames"] for k, v in zip(good, verdicts.values()) if v["kind"] is None}
                self._count(report, f"{subset} rawframes{suffix}", subset, len(clips[subset]), len(framed),
                            self._listed(report, root, self.list_name(subset, "rawframes", suffix), "rawframes",
                                         clips[subset], framed))
        report.count("test (not listed)", published=(self.PUBLISHED or {}).get("test"), annotated=len(clips["test"]))
        report.merge(missing_report)

    def _listed(self, report, root, name, source, clips, frames=None):
        """Lines of list ``name`` (None when absent: a problem), each checked against the CSV and the frames."""
        from ..data import load_annotations

        expected = {c.key: c.label for c in clips}

        def stale(record):
            key = os.path.splitext(record.path)[0] if source == "video" else record.path
            if expected.get(key, -1) != record.label:
                return "stray", record.where, (f"{record.path} with label {record.label} is not a row of "
                                               f"{CSV_NAMES[name.split('_')[1]]}: a stale list; run prepare.py "
                                               f"{self.NAME} lists again")
            if frames is not None and key in frames and record.num_frames != frames[key]:
                return "frame count", record.where, (f"the list says {record.num_frames} frames, the folder has "
                                                     f"{frames[key]}: run prepare.py {self.NAME} lists again")
        return listing.check_list_file(report, root / name, self.NAME, lambda path: load_annotations(path, "", source),
                                       stale)


KINETICS400 = Kinetics(
    400, published={"train": 246534, "val": 19906, "test": 39805},
    mmaction2={"train": 240436, "val": 19796}, cvdf_files={"train": 240258, "val": 19881, "test": 38685},
    cvdf=("https://s3.amazonaws.com/kinetics/400", "k400_{subset}_path.txt"), cvdf_folder="400",
    notes="CVDF holds 240,258 / 19,881 / 38,685 of the CSV rows (train / val / test) and 1,392 replacements for "
          "corrupt train videos; ~8-10 % of K400 train was unreachable on YouTube by 2019; DeepMind's 2020 CSVs "
          "dropped dead rows (219,561 train / 18,014 val).")
KINETICS600 = Kinetics(
    600, published=None, mmaction2={"train": 383393, "val": 27910},
    cvdf=("https://s3.amazonaws.com/kinetics/600", "k600_{subset}_path.txt"), cvdf_folder="600",
    notes="official split sizes not verified here; the test CSV has no labels.")
KINETICS700 = Kinetics(
    700, published=None, mmaction2={"train": 542357, "val": 34824},
    cvdf=("https://s3.amazonaws.com/kinetics/700_2020", "k700_2020_{subset}_path.txt"), cvdf_folder="700_2020",
    notes="CVDF hosts Kinetics-700-2020, a superset of Kinetics-700's clips: the rows of DeepMind's K700 CSVs are "
          "arranged, the other clips are left in downloads; official split sizes not verified here.")
VERSIONS = {400: KINETICS400, 600: KINETICS600, 700: KINETICS700}
