"""Kinetics' downloads into MMAction2's layout: DeepMind's CSVs (``annotations/kinetics_{train,val,test}.csv``)
and the videos from the copies of the CVD Foundation (CVDF, https://github.com/cvdfoundation/kinetics-dataset): per
subset a path file listing tarballs of flat mp4s (``train/<ytid>_<start>_<end>.mp4``), and for K400 the re-encoded
replacements of the train videos that are corrupt in them. `fetch_downloads` downloads them (resumable, each
tarball skipped once extracted); `extract_archives` renames the CSVs as MMAction2's download_annotations.sh does
and moves each CSV row's video into its class folder ``videos_<subset>/<class>/``, as CVDF's
``arrange_by_classes.py`` does by hand. Both are the hooks of the `tsnbook.datasets.kinetics` datasets (their
``dataset`` gives the URLs, the names and the CSV rows); the names are MMAction2's (`class_folder`, `clip_name`).
"""
import os

from . import archives
from .download import Remote, fetch_explained
from .files import DatasetError, atomic_write, read_lines

SUBSETS = ("train", "val")  # no zoo config reads the test videos: they are not fetched
CSV_NAMES = {"train": "kinetics_train.csv", "val": "kinetics_val.csv", "test": "kinetics_test.csv"}
RELEASE_NAMES = {"train": ("train.csv",), "val": ("validate.csv", "val.csv"), "test": ("test.csv",)}  # DeepMind, CVDF
HOME = "https://www.deepmind.com/open-source/kinetics"
DEEPMIND = "https://storage.googleapis.com/deepmind-media/Datasets"  # the CSV tarballs
CVDF_HOME = "https://github.com/cvdfoundation/kinetics-dataset"


def class_folder(label):
    """MMAction2's class name for a CSV label: ``"`` removed, spaces -> ``_`` (its convert_label)."""
    return label.replace('"', "").replace(" ", "_")


def clip_name(youtube_id, start, end):
    """``<ytid>_<start:06d>_<end:06d>``: the file stem MMAction2's download.py writes (whole seconds)."""
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def _fetch(dataset, remote, folder, mirror, report, progress):
    return fetch_explained(remote, folder, mirror, report, progress, dataset.UNREACHABLE)

def fetch_downloads(dataset, root, report, mirror, progress):
    """DeepMind's CSVs, then CVDF's train and val tarballs (each listed in CVDF's path list; resumable,
    skipped once extracted) and, for K400, CVDF's replacements for corrupt videos. Test videos are not
    fetched: no zoo config reads them. ``mirror``: a base URL holding the same tree as ROOT/downloads."""
    if _annotations_present(root):
        report.did("skipped (already extracted)")
    else:
        _fetch(dataset, dataset.FILES[0], root / "downloads", mirror, report, progress)
    _fetch_videos(dataset, root, report, mirror, progress)


def extract_archives(dataset, root, report):
    """The CSVs into ``annotations/`` (MMAction2's names), CVDF's flat tarballs into class folders
    ``videos_{train,val}/<class>/`` (with the replacements; a class folder with spaces from a YouTube crawl is
    renamed, as ``rename_classnames.sh`` does). Each part is skipped when done."""
    _extract_annotations(dataset, root, report)
    clips = dataset.read_annotations(root)[1]
    replacements = _extract_replacements(dataset, root, report)
    for subset in SUBSETS:
        _extract_videos(dataset, root, subset, clips[subset], replacements, report)


def _extract_annotations(dataset, root, report):
    target = root / "annotations"
    if _annotations_present(root):
        report.did("annotations skipped (present)")
        return
    archive = root / "downloads" / dataset.FILES[0].name
    wanted = {CSV_NAMES[subset]: names for subset, names in RELEASE_NAMES.items()}

    def lacks(absent):
        return f"{archive}: lacks {', '.join(absent)}; not DeepMind's {dataset.NAME} tarball? download it again"
    if any((target / n).is_file() for names in RELEASE_NAMES.values() for n in names):
        found = archives.staged_files(target, wanted, lacks)  # the release's names placed by hand: renamed
    else:
        found = archives.unpack_annotations(root, [archive], wanted, lacks)
    report.did("annotations extracted", archives.place_annotations(root, found))


def _annotations_present(root):
    return all((root / "annotations" / name).is_file() for name in CSV_NAMES.values())


def rename_class_folders(videos, report):
    """Class folders with spaces (a YouTube crawl) renamed with ``_``, as ``rename_classnames.sh`` does."""
    for entry in sorted(videos.iterdir()):
        if entry.is_dir() and " " in entry.name:
            renamed = entry.with_name(class_folder(entry.name))
            if renamed.exists():
                raise DatasetError(f"{entry}: cannot rename to {renamed.name}: that folder exists too; merge them")
            os.replace(entry, renamed)
            report.did("class folders renamed (spaces -> _)")


def _fetch_videos(dataset, root, report, mirror, progress):
    """CVDF's train and val tarballs (each listed in CVDF's path list) and, for K400, the replacements."""
    base, template = dataset.CVDF
    for subset in SUBSETS:
        if (root / f"videos_{subset}").is_dir():
            report.did("skipped (already extracted)")
            continue
        folder = root / "downloads" / "cvdf" / subset
        sub_mirror = mirror and f"{mirror.rstrip('/')}/cvdf/{subset}"
        name = template.format(subset=subset)
        path_list = _fetch(dataset, Remote(name, f"{base}/{subset}/{name}",
                                           what=f"the URLs of CVDF's {subset} tarballs"), folder, sub_mirror, report,
                           progress)
        for number, url in read_lines(path_list, fix="delete it and run the download again"):
            part = Remote(url.rsplit("/", 1)[-1], url, what=f"CVDF {subset} tarball")
            if (folder / (part.name + ".extracted")).exists():
                report.did("skipped (already extracted)")
                continue
            _fetch(dataset, part, folder, sub_mirror, report, progress)
    for remote in dataset.REPLACEMENT:
        if not (root / "videos_train").is_dir():
            _fetch(dataset, remote, root / "downloads" / "cvdf" / "replacement",
                  mirror and f"{mirror.rstrip('/')}/cvdf/replacement", report, progress)


def _extract_replacements(dataset, root, report):
    """{file name: path} of CVDF's replacement videos (K400), extracted once."""
    found = {}
    for remote in dataset.REPLACEMENT:
        archive = root / "downloads" / "cvdf" / "replacement" / remote.name
        folder = archive.parent / "extracted"
        if archive.is_file() and not (archive.parent / (remote.name + ".extracted")).exists():
            archives.extract(archive, folder, flatten=True, report=report)
            atomic_write(archive.parent / (remote.name + ".extracted"), "")
        if folder.is_dir():
            found.update({p.name: p for p in folder.iterdir() if p.suffix == dataset.VIDEO_EXT})
    return found


def _extract_videos(dataset, root, subset, clips, replacements, report):
    """CVDF's tarballs of ``subset`` (or its tree unpacked by hand into ``ROOT/<subset>``) arranged into
    ``videos_<subset>/<class>/`` through a hidden staging folder, renamed when complete. A ``videos_<subset>``
    already there is kept (its class folders with spaces renamed; a flat CVDF tree given as it arranged in place)."""
    target = root / f"videos_{subset}"
    if target.is_dir():
        rename_class_folders(target, report)
        flat = {p.name: p for p in target.iterdir() if p.is_file() and p.suffix == dataset.VIDEO_EXT}
        if flat:  # a CVDF split folder given as videos_<subset>: arrange it in place
            _arrange(dataset, target, target, clips, flat, {}, report)
        else:
            report.did(f"videos_{subset} skipped (present)")
        return
    folder = root / "downloads" / "cvdf" / subset
    parts = sorted(folder.glob("*.tar.gz")) + sorted(folder.glob("*.tgz")) if folder.is_dir() else []
    by_hand = root / subset  # CVDF's trees extracted by hand (k400/train/...)
    if not parts and not by_hand.is_dir():
        raise DatasetError(f"{root}: no videos for {subset}: neither videos_{subset}/ nor CVDF's tarballs in "
                           f"{folder}; run prepare.py {dataset.NAME} download (CVDF, public) or put your crawl into "
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
    flat = {p.name: p for p in source.rglob(f"*{dataset.VIDEO_EXT}")} if source.is_dir() else {}
    stage = root / f".videos_{subset}.partial"
    _arrange(dataset, stage, source, clips, flat, replacements, report)
    os.replace(stage, target)
    report.note(f"videos_{subset}: arranged into class folders from {source}")


def _arrange(dataset, stage, source, clips, flat, replacements, report):
    """Move each CSV row's video (CVDF's replacement when there is one) to ``stage/<class>/``; resumable:
    rows already moved are skipped. What no row names stays where it is (counted)."""
    moved = replaced = 0
    named = set()
    for clip in clips:
        name = clip.name + dataset.VIDEO_EXT
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
        report.note(f"{left} video(s) in {source} are in no {dataset.NAME} CSV row (another version's clips?): "
                    "left there")
