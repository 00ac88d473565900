"""Kinetics-400, -600 and -700: ~10-s YouTube clips of 400 / 600 / 700 actions, train / val / test CSVs (spec
datasets.md §4). One module, three datasets: `KINETICS400`, `KINETICS600` and `KINETICS700` (the registry's
``kinetics400`` ...) are `Kinetics` objects with the attributes and steps of a dataset module.

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

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py`` (the lines are otherwise equal, tested
against it on the replicas):
- a label-less test CSV is read (its rows are counted, never listed): MMAction2's ``parse_kinetics_splits``
  always parses the test CSV as if it had labels and stops with ``ValueError: could not convert string to
  float: 'test'``, even when only the train list is asked for (open-mmlab/mmaction2#785, #1626);
- a video listed but absent is left out of the lists, as there, but reported ("missing": a warning, because
  every copy of Kinetics misses some: YouTube removed them) - MMAction2 drops it silently. A class folder
  still holding spaces (``rename_classnames.sh`` forgotten) is an error here, not a silently empty class;
- CVDF's flat trees (``train/<ytid>_<start>_<end>.mp4``) are arranged into class folders by ``extract``, with
  CVDF's replacements for corrupt videos, instead of by hand (``arrange_by_classes.py``);
- frames are counted by the template from the start index, not by the prefix (see ``ucf101``), and the flow
  lists the K400 flow configs name are written (MMAction2's tools write RGB lists only, spec §1.1);
- an unknown class, a duplicate row or a malformed line is a one-line error naming ``file:line``
  (MMAction2: a KeyError, or a duplicated line); MMAction2's scripts pass ``--shuffle``, tsnbook keeps the
  CSV order (training shuffles).
"""
import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, download as _download, frames as _frames, jobs, lists, replica as _replica, verify as _verify
from .files import AnnotationError, DatasetError, atomic_write, check_level, read_lines
from .report import Report
from .shards import Work

SUBSETS = ("train", "val")  # what the zoo's configs read; the test CSV is read and counted, never listed
CSV_NAMES = {"train": "kinetics_train.csv", "val": "kinetics_val.csv", "test": "kinetics_test.csv"}
RELEASE_NAMES = {"train": ("train.csv",), "val": ("validate.csv", "val.csv"), "test": ("test.csv",)}  # DeepMind, CVDF
#: --resolution -> the suffix of the frame folders and lists the zoo's K400 configs read
FRAME_FOLDERS = {"340x256": "", "short320": "_320p", "short256": "_256p"}
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
FLOW_TMPL = flow.FLOW_TEMPLATES["kinetics"]  # x_00001.jpg / y_00001.jpg: the K400 flow configs
MISSING_TOLERATED = 0.2  # more missing than this: a wrong folder or an interrupted extraction, not YouTube
HOME = "https://www.deepmind.com/open-source/kinetics"
DEEPMIND = "https://storage.googleapis.com/deepmind-media/Datasets"  # the CSV tarballs
CVDF_HOME = "https://github.com/cvdfoundation/kinetics-dataset"

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


def class_folder(label):
    """MMAction2's class name for a CSV label: ``"`` removed, spaces -> ``_`` (its convert_label)."""
    return label.replace('"', "").replace(" ", "_")


def clip_name(youtube_id, start, end):
    """``<ytid>_<start:06d>_<end:06d>``: the file stem MMAction2's download.py writes (whole seconds)."""
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


@dataclass(frozen=True)
class Clip:
    """One row of a Kinetics CSV: ``key`` = ``<class>/<stem>`` (MMAction2's key; the stem alone when the row
    has no label), its label (0-based, None in a label-less test CSV) and where it was read."""
    key: str
    name: str  # the file stem
    label: object
    where: str

    @property
    def folder(self):
        return self.key.rpartition("/")[0]


class Kinetics:
    """Kinetics-``version``: the facts as attributes, and the steps of a dataset module as methods."""

    def __init__(self, version, published, mmaction2, cvdf, cvdf_folder, notes, cvdf_files=None):
        self.VERSION = version
        self.NAME = f"kinetics{version}"
        self.NUM_CLASSES = version
        self.HOME, self.CVDF_HOME = HOME, CVDF_HOME
        self.FILES = (_download.Remote(
            f"kinetics{version}.tar.gz", f"{DEEPMIND}/kinetics{version}.tar.gz",
            what="DeepMind's train / validate / test CSVs (and JSONs); no checksum is published"),)
        self.CVDF = cvdf  # (base URL, path-list file name template): the videos' tarballs, public
        self.CVDF_FOLDER = cvdf_folder
        self.REPLACEMENT = () if version != 400 else (_download.Remote(
            "replacement_for_corrupted_k400.tgz", f"{cvdf[0]}/replacement_for_corrupted_k400.tgz",
            what="CVDF's 1,392 re-encoded copies of train videos that are corrupt in the parts"),)
        self.REGISTRATION = None  # annotations and CVDF's copies are public; YouTube is the original source
        self.PUBLISHED = published  # rows of DeepMind's CSVs ({subset: n}); None where not verified here
        self.MMACTION2 = mmaction2  # the videos MMAction2's own copy had (its kinetics README)
        self.CVDF_FILES = cvdf_files or {}  # the videos CVDF's tarballs hold (its arrange_by_classes.py)
        self.NOTES = notes
        self.CONTAINER = ("MP4, H.264 video (re-encoded by the crawler, libx264) + the upload's audio (AAC); size "
                          "and fps as uploaded (commonly 24-30 fps and 360p-1080p, not verified here); ~10 s")
        self.LEVEL = 2  # ROOT/videos_<subset>/<class>/<video>
        self.VIDEO_EXT = ".mp4"
        self.FRAME_TMPL, self.START_INDEX, self.FLOW_TMPL = FRAME_TMPL, START_INDEX, FLOW_TMPL
        self.MULTI_LABEL = False
        self.DEFAULT_FRAMES = "none"  # K600/K700 rows and several K400 rows read the videos; frames on request
        self.DEFAULT_RESOLUTION = "340x256"  # rawframes_{train,val}: the main K400 row
        self.REPLICA_CLASSES = REPLICA_CLASSES[version]

    def __repr__(self):
        return f"<tsnbook.datasets.kinetics {self.NAME}>"

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

    def _root(self, root):
        return check_level(root, ("annotations", "videos_train", "videos_val", "downloads", "rawframes_train"),
                           self._looks_inside)

    def _looks_inside(self, folder):
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
        out, spelled, seen, width, name_of = [], {}, {}, len(header), str(path)
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
            if name in seen:
                raise AnnotationError(f"{name_of}:{number}: {name} is listed twice (first at line {seen[name]}): "
                                      "duplicate id")
            seen[name] = number
            out.append((folder, name, f"{name_of}:{number}"))
        return out, spelled

    def _clips(self, rows, index, subset):
        clips = []
        for folder, name, where in rows:
            if folder is not None and folder not in index:
                raise AnnotationError(f"{where}: class {folder.replace('_', ' ')!r} is not in {CSV_NAMES['train']} "
                                      "(the label map is the training CSV's labels): the CSVs come from different "
                                      "Kinetics versions; extract them again from one release")
            clips.append(Clip(f"{folder}/{name}" if folder else name, name,
                              None if folder is None else index[folder], where))
        return clips

    def read_csv(self, root, subset, classes):
        """The `Clip`s of ``annotations/kinetics_<subset>.csv`` with the label map ``classes`` (class folders in
        label order). Columns are found by the header; a row without a label (label-less test CSVs) has label
        None."""
        return self._clips(self._read_rows(root, subset)[0], {c: i for i, c in enumerate(classes)}, subset)

    def read_classes(self, root):
        """The label map: sorted class folders of the training CSV (MMAction2's order)."""
        return sorted(self._read_rows(root, "train")[1])

    def read_annotations(self, root, spelled=False):
        """(classes, {"train": [Clip], "val": [Clip], "test": [Clip]}), and with ``spelled`` the label names as
        the CSV spells them (spaces, parentheses, the apostrophe: MMAction2's ``label_map_k400.txt``), in label
        order. The training CSV is read once. `AnnotationError` on any bad line."""
        train, names = self._read_rows(root, "train")
        classes = sorted(names)
        index = {name: i for i, name in enumerate(classes)}
        clips = {"train": self._clips(train, index, "train")}
        for subset in ("val", "test"):
            clips[subset] = self._clips(self._read_rows(root, subset)[0], index, subset)
        return (classes, clips, [names[c] for c in classes]) if spelled else (classes, clips)

    def label_names(self, root):
        """The label map as the training CSV spells it, in label order."""
        _, names = self._read_rows(root, "train")
        return [names[folder] for folder in sorted(names)]

    # ---------------------------------------------------------------------------------------------- disk
    @staticmethod
    def scan_videos(root, subset):
        """``{key: relative path}`` under ``videos_<subset>/<class>/`` (hidden names ignored)."""
        found, videos = {}, Path(root) / f"videos_{subset}"
        if not videos.is_dir():
            return found
        with os.scandir(videos) as folders:
            for folder in sorted((f for f in folders if f.is_dir() and not f.name.startswith(".")),
                                 key=lambda f: f.name):
                with os.scandir(folder.path) as files:
                    for entry in files:
                        if not entry.name.startswith(".") and entry.is_file():
                            stem = os.path.splitext(entry.name)[0]
                            found[f"{folder.name}/{stem}"] = f"{folder.name}/{entry.name}"
        return found

    def frame_folders(self, root, subset):
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

    # ------------------------------------------------------------------------------------------------ steps
    def _cvdf_list(self, subset):
        base, template = self.CVDF
        name = template.format(subset=subset)
        return _download.Remote(name, f"{base}/{subset}/{name}", what=f"the URLs of CVDF's {subset} tarballs")

    def download(self, root, mirror=None, workers=None, progress=None):
        """DeepMind's CSVs, then CVDF's train and val tarballs (each listed in CVDF's path list; resumable,
        skipped once extracted) and, for K400, CVDF's replacements for corrupt videos. Test videos are not
        fetched: no zoo config reads them. ``mirror``: a base URL holding the same tree as ROOT/downloads."""
        root = self._root(root)
        report = Report(self.NAME, "download", root)
        downloads = root / "downloads"
        if all((root / "annotations" / name).is_file() for name in CSV_NAMES.values()):
            report.did("skipped (already extracted)")
        else:
            self._fetch(self.FILES[0], downloads, mirror, report, progress)
        for subset in SUBSETS:
            if (root / f"videos_{subset}").is_dir():
                report.did("skipped (already extracted)")
                continue
            folder = downloads / "cvdf" / subset
            sub_mirror = mirror and f"{mirror.rstrip('/')}/cvdf/{subset}"
            path_list = self._fetch(self._cvdf_list(subset), folder, sub_mirror, report, progress)
            for number, url in read_lines(path_list, fix="delete it and run the download again"):
                part = _download.Remote(url.rsplit("/", 1)[-1], url, what=f"CVDF {subset} tarball")
                if (folder / (part.name + ".extracted")).exists():
                    report.did("skipped (already extracted)")
                    continue
                self._fetch(part, folder, sub_mirror, report, progress)
        for remote in self.REPLACEMENT:
            if not (root / "videos_train").is_dir():
                self._fetch(remote, downloads / "cvdf" / "replacement",
                            mirror and f"{mirror.rstrip('/')}/cvdf/replacement", report, progress)
        return report

    def _fetch(self, remote, folder, mirror, report, progress):
        try:
            return _download.fetch(remote, folder, mirror=mirror, report=report, progress=progress)
        except DatasetError as error:
            if "server" not in str(error):
                raise
            raise DatasetError(f"{error}. Kinetics' CSVs are at {HOME}, its videos at {CVDF_HOME} (or crawl "
                               "YouTube with MMAction2's download.py into ROOT/videos_train/<label>/, then run "
                               "extract)") from None

    def extract(self, root, workers=None, frames="none", resolution="340x256", flow_algorithm=flow.FAST_ALGORITHM,
                flow_tmpl=FLOW_TMPL, frame_tmpl=FRAME_TMPL, start_index=START_INDEX):
        """The CSVs into ``annotations/`` (MMAction2's names), CVDF's flat tarballs into class folders
        ``videos_{train,val}/<class>/`` (with the replacements; a class folder with spaces from a YouTube crawl
        is renamed, as ``rename_classnames.sh`` does), then ``frames`` ("rgb", "flow", "both", "none") into
        ``rawframes_{train,val}`` + the suffix of ``resolution`` (`FRAME_FOLDERS`). Each part is skipped when done."""
        root = self._root(root)
        if frames != "none" and resolution not in FRAME_FOLDERS:
            raise DatasetError(f"--resolution {resolution}: Kinetics' frame rows read 340x256 (rawframes_*), "
                               "short320 (rawframes_*_320p) or short256 (rawframes_*_256p); pass one of those")
        report = Report(self.NAME, "extract", root)
        settings = _frames.frame_settings(frames, frame_tmpl, flow_tmpl, start_index, resolution, flow_algorithm)
        self._extract_annotations(root, report)
        classes, clips = self.read_annotations(root)
        replacements = self._extract_replacements(root, report)
        for subset in SUBSETS:
            self._extract_videos(root, subset, clips[subset], replacements, workers, report)
        if settings is not None:
            suffix = FRAME_FOLDERS[resolution]
            pairs = [(root / f"videos_{subset}" / rel, root / f"rawframes_{subset}{suffix}" / key)
                     for subset in SUBSETS for key, rel in self.scan_videos(root, subset).items()
                     if key.split("/")[0] in set(classes)]
            _frames.extract_frames(report, pairs, settings, Work(root, workers))
        return report

    def _extract_annotations(self, root, report):
        target = root / "annotations"
        if all((target / name).is_file() for name in CSV_NAMES.values()):
            report.did("annotations skipped (present)")
            return
        stage = root / ".annotations.partial"
        if any((target / n).is_file() for names in RELEASE_NAMES.values() for n in names):
            stage = target  # the release's names placed by hand: rename them, as download_annotations.sh does
        else:
            archives.extract(root / "downloads" / self.FILES[0].name, stage, flatten=True)
        found = {subset: next((stage / n for n in names if (stage / n).is_file()), None)
                 for subset, names in RELEASE_NAMES.items()}
        absent = [" or ".join(RELEASE_NAMES[s]) for s, path in found.items() if path is None]
        if absent:
            raise DatasetError(f"{root / 'downloads' / self.FILES[0].name}: lacks {', '.join(absent)}; not "
                               f"DeepMind's {self.NAME} tarball? download it again")
        target.mkdir(exist_ok=True)
        for subset, path in found.items():
            os.replace(path, target / CSV_NAMES[subset])
        if stage != target:
            shutil.rmtree(stage)
        report.did("annotations extracted", len(found))

    def _extract_replacements(self, root, report):
        """{file name: path} of CVDF's replacement videos (K400), extracted once."""
        found = {}
        for remote in self.REPLACEMENT:
            archive = root / "downloads" / "cvdf" / "replacement" / remote.name
            folder = archive.parent / "extracted"
            if archive.is_file() and not (archive.parent / (remote.name + ".extracted")).exists():
                archives.extract(archive, folder, flatten=True, report=report)
                atomic_write(archive.parent / (remote.name + ".extracted"), "")
            if folder.is_dir():
                found.update({p.name: p for p in folder.iterdir() if p.suffix == self.VIDEO_EXT})
        return found

    def _extract_videos(self, root, subset, clips, replacements, workers, report):
        target = root / f"videos_{subset}"
        if target.is_dir():
            self._rename_class_folders(target, report)
            flat = {p.name: p for p in target.iterdir() if p.is_file() and p.suffix == self.VIDEO_EXT}
            if flat:  # a CVDF split folder given as videos_<subset>: arrange it in place
                self._arrange(target, target, clips, flat, {}, report)
            else:
                report.did(f"videos_{subset} skipped (present)")
            return
        folder = root / "downloads" / "cvdf" / subset
        parts = sorted(folder.glob("*.tar.gz")) + sorted(folder.glob("*.tgz")) if folder.is_dir() else []
        by_hand = root / subset  # CVDF's trees extracted by hand (k400/train/...)
        if not parts and not by_hand.is_dir():
            raise DatasetError(f"{root}: no videos for {subset}: neither videos_{subset}/ nor CVDF's tarballs in "
                               f"{folder}; run prepare.py {self.NAME} download (CVDF, public) or put your crawl into "
                               f"videos_{subset}/<label>/")
        extracted = folder / "extracted"
        for part in parts:
            marker = part.with_name(part.name + ".extracted")
            if marker.exists():
                report.did("parts skipped (done)")
                continue
            archives.extract(part, extracted, flatten=True, report=report)
            atomic_write(marker, "")
        source = extracted if parts else by_hand
        flat = {p.name: p for p in source.rglob(f"*{self.VIDEO_EXT}")} if source.is_dir() else {}
        stage = root / f".videos_{subset}.partial"
        self._arrange(stage, source, clips, flat, replacements, report)
        os.replace(stage, target)
        report.note(f"videos_{subset}: arranged into class folders from {source}")

    def _arrange(self, stage, source, clips, flat, replacements, report):
        """Move each CSV row's video (CVDF's replacement when there is one) to ``stage/<class>/``; resumable:
        rows already moved are skipped. What no row names stays where it is (counted)."""
        moved = replaced = 0
        named = set()
        for clip in clips:
            name = clip.name + self.VIDEO_EXT
            named.add(name)
            destination = stage / clip.folder / name
            if destination.exists():
                continue
            origin = replacements.get(name) or flat.get(name)
            if origin is None or not origin.exists():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(origin, destination)
            moved += 1
            replaced += name in replacements
        report.did("videos arranged", moved)
        if replaced:
            report.did("videos taken from CVDF's replacements", replaced)
        left = sum(1 for name, path in flat.items() if name not in named and path.exists())
        if left:
            report.note(f"{left} video(s) in {source} are in no {self.NAME} CSV row (another version's clips?): "
                        "left there")

    @staticmethod
    def _rename_class_folders(videos, report):
        for entry in sorted(videos.iterdir()):
            if entry.is_dir() and " " in entry.name:
                renamed = entry.with_name(class_folder(entry.name))
                if renamed.exists():
                    raise DatasetError(f"{entry}: cannot rename to {renamed.name}: that folder exists too; merge them")
                os.replace(entry, renamed)
                report.did("class folders renamed (spaces -> _)")

    def build_lists(self, root, workers=None, frame_tmpl=FRAME_TMPL, start_index=START_INDEX, flow_tmpl=FLOW_TMPL):
        """Write the label map and, for train and val, the videos list and a rawframes list for every frame tree
        present (``rawframes_<subset>[_320p|_256p]``), plus flow lists where the frame folders hold flow. Videos
        by existence, frame folders by their frames; missing items are left out *and reported*."""
        root = self._root(root)
        report = Report(self.NAME, "lists", root)
        classes, clips, names = self.read_annotations(root, spelled=True)
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
                keys = [c.key for c in clips[subset]]
                rgb = self._frame_counts(folder, keys, frame_tmpl, start_index, workers, report, on_disk)
                framed = [c for c in clips[subset] if c.key in rgb]
                written = lists.write_list(root / self.list_name(subset, "rawframes", suffix),
                                           (lists.rawframes_line(lists.check_path(c.key, c.where), rgb[c.key], c.label)
                                            for c in framed))
                self._count(report, f"{subset} rawframes{suffix}", subset, len(clips[subset]), len(framed), written)
                if not any(folder.glob(f"*/*/{flow_tmpl.format('x', start_index)}")):
                    continue
                flows = self._frame_counts(folder, keys, flow_tmpl, start_index, workers, report, on_disk)
                flowed = [c for c in clips[subset] if c.key in flows]
                for name in [self.list_name(subset, "flow", suffix)] + self.flow_aliases(subset, suffix):
                    written = lists.write_list(root / name, (lists.rawframes_line(c.key, flows[c.key], c.label)
                                                             for c in flowed))
                self._count(report, f"{subset} flow{suffix}", subset, len(clips[subset]), len(flowed), written)
        report.count("test (not listed)", published=(self.PUBLISHED or {}).get("test"), annotated=len(clips["test"]))
        report.did("lists written", sum(1 for _ in root.glob(f"{self.NAME}_*list*.txt")))
        return report

    def _count(self, report, split, subset, annotated, on_disk, written):
        report.count(split, published=(self.PUBLISHED or {}).get(subset), mmaction2=self.MMACTION2.get(subset),
                     annotated=annotated, on_disk=on_disk, written=written)

    def _report_missing(self, root, subset, clips, on_disk, report):
        missing = [clip for clip in clips if clip.key not in on_disk]
        for clip in missing:
            report.problem("missing", root / f"videos_{subset}" / (clip.key + self.VIDEO_EXT),
                           f"listed at {clip.where}, not on disk: left out of the lists (every Kinetics copy misses "
                           "some: YouTube removed them; MMAction2 leaves them out silently)", "warning")
        if clips and len(missing) > MISSING_TOLERATED * len(clips):
            report.problem("count", root / f"videos_{subset}",
                           f"{len(missing):,} of {len(clips):,} {subset} videos are missing (more than "
                           f"{MISSING_TOLERATED:.0%}): the wrong folder, or an interrupted download or extraction; "
                           f"run prepare.py {self.NAME} download and extract again")

    @staticmethod
    def _frame_counts(folder, keys, tmpl, start_index, workers, report, on_disk):
        """{key: frames} of the good folders among ``folder/<key>``; a bad folder of a video on disk is a problem."""
        verdicts = jobs.run(_verify.check_frames, [(str(folder / k), None, tmpl, start_index) for k in keys], workers,
                            desc=folder.name)
        counts = {}
        for key, verdict in zip(keys, verdicts):
            if verdict["kind"] is None:
                counts[key] = verdict["frames"]
            elif key in on_disk or verdict["kind"] != "missing":
                report.problem(verdict["kind"], verdict["path"], verdict["reason"] + f"; left out of the {folder.name} "
                               "lists", verdict["severity"])
        return counts

    def verify(self, root, workers=None, deep=False, frame_tmpl=FRAME_TMPL, start_index=START_INDEX,
               flow_tmpl=FLOW_TMPL):
        """Check the copy in ROOT: the CSVs, every listed video on disk (unreadable, truncated, zero frames;
        ``deep`` decodes every frame), the missing ones (warnings, with an error when too many), class folders
        with spaces and other strays, every frame folder against its video, and the list files against all of
        that. ``ok`` is False on any error."""
        root = self._root(root)
        report = Report(self.NAME, "verify", root)
        try:
            classes, clips = self.read_annotations(root)
        except AnnotationError as error:
            return report.unreadable_annotations(error)
        if len(classes) != self.NUM_CLASSES:
            report.problem("count", root / "annotations" / CSV_NAMES["train"],
                           f"{len(classes)} classes where {self.NAME} has {self.NUM_CLASSES}: a replica or another "
                           "version's CSV", "warning")
        missing_report = Report(self.NAME, "verify", root)  # after the errors, so that the summary shows those
        on_disk, listed, paths = {}, {}, {}
        for subset in SUBSETS:
            self._strays(root, subset, classes, report)
            on_disk[subset] = self.scan_videos(root, subset)
            listed[subset] = [c for c in clips[subset] if c.key in on_disk[subset]]
            paths[subset] = [root / f"videos_{subset}" / on_disk[subset][c.key] for c in listed[subset]]
        where = {str(p): c.where for s in SUBSETS for p, c in zip(paths[s], listed[s])}
        checked = _verify.verify_videos(report, [p for s in SUBSETS for p in paths[s]], Work(root, workers), deep, where)
        for subset in SUBSETS:  # one pool of workers for every video: starting one costs seconds
            videos = {c.key: checked[str(p)] for p, c in zip(paths[subset], listed[subset])}
            good = [k for k, v in videos.items() if v["kind"] is None or v["severity"] == "warning"]
            self._report_missing(root, subset, clips[subset], on_disk[subset], missing_report)
            self._count(report, f"{subset} videos", subset, len(clips[subset]), len(good),
                        self._listed(report, root, self.list_name(subset, "videos"), "video", clips[subset]))
            for suffix, folder in self.frame_folders(root, subset).items():
                entries = [(folder / k, None) + ((videos[k]["frames"],) if videos.get(k, {}).get("frames") else ())
                           for k in good]
                verdicts = _verify.verify_frame_folders(report, entries, frame_tmpl, start_index, Work(root, workers),
                                                        desc=folder.name)
                framed = {k: v["frames"] for k, v in zip(good, verdicts.values()) if v["kind"] is None}
                self._count(report, f"{subset} rawframes{suffix}", subset, len(clips[subset]), len(framed),
                            self._listed(report, root, self.list_name(subset, "rawframes", suffix), "rawframes",
                                         clips[subset], framed))
        report.count("test (not listed)", published=(self.PUBLISHED or {}).get("test"), annotated=len(clips["test"]))
        return report.merge(missing_report)

    def _listed(self, report, root, name, source, clips, frames=None):
        """Lines of list ``name`` (None when absent: a problem), each checked against the CSV and the frames."""
        from ..data import load_annotations

        path = root / name
        if not path.is_file():
            report.problem("missing", path, f"list file not written: run prepare.py {self.NAME} lists")
            return None
        try:
            records = load_annotations(path, "", source)
        except ValueError as error:
            report.problem("annotation", path, str(error))
            return None
        expected = {c.key: c.label for c in clips}
        for record in records:
            key = os.path.splitext(record.path)[0] if source == "video" else record.path
            if expected.get(key, -1) != record.label:
                report.problem("stray", record.where, f"{record.path} with label {record.label} is not a row of "
                                                      f"{CSV_NAMES[name.split('_')[1]]}: a stale list; run prepare.py "
                                                      f"{self.NAME} lists again")
            elif frames is not None and key in frames and record.num_frames != frames[key]:
                report.problem("frame count", record.where, f"the list says {record.num_frames} frames, the "
                                                            f"folder has {frames[key]}: run prepare.py {self.NAME} "
                                                            "lists again")
        return len(records)

    # -------------------------------------------------------------------------------------------- replica
    def make_replica(self, root, seed=0):
        """The real download in miniature, into ``ROOT/downloads``: DeepMind's tarball (``kinetics400/train.csv``,
        ``validate.csv``, ``test.csv`` and JSONs) and CVDF's trees (``cvdf/<subset>/k400_<subset>_path.txt`` and
        ``part_N.tar.gz`` of flat mp4s; K400 also ``replacement_for_corrupted_k400.tgz``).

        Five classes (`REPLICA_CLASSES`, spaces, parentheses, the apostrophe and the class K600 renamed), 3 train
        + 1 val clips each: MP4, H.264 + AAC, 640x360, 480x360 or portrait 360x640, 25 or 29.97 fps, 2-3 s (one of
        10 s). K400's train CSV has the original release's 6th column ``is_cc`` and its test CSV has labels;
        K600's and K700's test CSVs have none. ``missing`` is listed but in no tarball; ``corrupt`` is cut in
        half (its moov atom lost); K400's ``replaced`` is cut too, but CVDF's replacement has a good copy. Same
        bytes for the same seed. Returns dict(files=[paths], videos={subset: [keys]}, missing=, corrupt=, ...).
        """
        root = Path(root)
        rng = np.random.default_rng([seed, self.VERSION])
        downloads = root / "downloads"
        sizes = [(640, 360), (480, 360), (360, 640)]
        rows, members, videos, replacement = {s: [] for s in ("train", "val", "test")}, {"train": [], "val": []}, \
            {"train": [], "val": []}, []
        special = {}
        count = 0
        for label, name in enumerate(self.REPLICA_CLASSES):
            for subset, k in [("train", 0), ("train", 1), ("train", 2), ("val", 0), ("test", 0)]:
                youtube_id = _youtube_id(rng)
                start = int(rng.integers(0, 300))
                row = dict(label=name, youtube_id=youtube_id, time_start=start, time_end=start + 10, split=subset,
                           is_cc=int(rng.integers(0, 2)))
                rows[subset].append(row)
                if subset == "test":
                    continue
                key = f"{class_folder(name)}/{clip_name(youtube_id, start, start + 10)}"
                videos[subset].append(key)
                width, height = sizes[count % 3]
                fps = (25, 30000 / 1001)[count % 2]
                seconds = 10.0 if count == 4 else float(rng.uniform(2, 3))
                count += 1
                data = _replica.encode_clip(
                    downloads / ".replica.mp4",
                    _replica.iter_clip(rng, int(seconds * fps), height, width, REPLICA_COLOURS[label],
                                       rng.uniform(-4, 4, size=2)),
                    fps=fps, audio=_replica.tone(rng, seconds), preset="ultrafast")
                role = REPLICA_ROLES.get((label, subset, k))
                if role == "replaced" and not self.REPLACEMENT:
                    role = None  # only K400 has CVDF's replacements
                if role:
                    special[role] = key
                if role == "missing":
                    continue
                file_name = key.split("/")[1] + self.VIDEO_EXT
                if role == "replaced":
                    replacement.append((f"replacement_for_corrupted_k400/{file_name}", data))
                if role in ("corrupt", "replaced"):
                    data = data[:len(data) // 2]  # the moov atom (at the end) is lost: "moov atom not found"
                members[subset].append((file_name, data))
        files = [self._write_annotations(downloads, rows)]
        base, template = self.CVDF
        for subset in ("train", "val"):
            folder = downloads / "cvdf" / subset
            parts = [members[subset][i::2] for i in range(2)] if subset == "train" else [members[subset]]
            urls = []
            for number, part in enumerate(parts):
                files.append(_replica.write_tar_gz(folder / f"part_{number}.tar.gz", part))
                urls.append(f"{base}/{subset}/part_{number}.tar.gz")
            files.append(atomic_write(folder / template.format(subset=subset), "".join(u + "\n" for u in urls)))
        for remote in self.REPLACEMENT:
            files.append(_replica.write_tar_gz(downloads / "cvdf" / "replacement" / remote.name, replacement))
        return dict(files=files, videos=videos, classes=list(self.REPLICA_CLASSES), **special)

    def _write_annotations(self, downloads, rows):
        """DeepMind's tarball: ``kinetics<V>/{train,validate,test}.csv`` (+ JSONs), with this version's columns."""
        import io
        import json

        top = f"kinetics{self.VERSION}"
        members = []
        for subset, file_name in (("train", "train"), ("val", "validate"), ("test", "test")):
            columns = ["label", "youtube_id", "time_start", "time_end", "split"]
            if self.VERSION == 400 and subset == "train":
                columns.append("is_cc")  # the original K400 release (spec §4)
            if subset == "test" and self.VERSION != 400:
                columns.remove("label")  # K600 / K700 test CSVs: no labels
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(columns)
            for row in rows[subset]:
                writer.writerow([row[c] for c in columns])
            members.append((f"{top}/{file_name}.csv", text.getvalue().encode()))
            database = {r["youtube_id"]: dict(annotations=dict(label=r["label"], segment=[r["time_start"],
                                                                                         r["time_end"]]),
                                              duration=10.0, subset=r["split"],
                                              url=f"https://www.youtube.com/watch?v={r['youtube_id']}")
                        for r in rows[subset]}
            if subset == "test" and self.VERSION != 400:
                for entry in database.values():
                    entry.pop("annotations")
            members.append((f"{top}/{file_name}.json", json.dumps(database).encode()))
        return _replica.write_tar_gz(downloads / self.FILES[0].name, members)


def _youtube_id(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 11))


REPLICA_CLASSES = {  # 5 per version: spaces, parentheses, the apostrophe, the K600 renaming and its case change
    400: ("abseiling", "dying hair", "massaging person's head", "passing American football (in game)", "zumba"),
    600: ("abseiling", "dyeing hair", "massaging person's head", "passing American football (in game)",
          "passing american football (not in game)"),
    700: ("abseiling", "dyeing hair", "massaging person's head", "passing American football (in game)",
          "passing American football (not in game)"),
}
REPLICA_COLOURS = [(230, 60, 60), (60, 200, 60), (60, 90, 230), (230, 200, 40), (200, 60, 220)]
REPLICA_ROLES = {(2, "train", 1): "missing", (3, "train", 2): "corrupt", (0, "train", 1): "replaced"}

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
