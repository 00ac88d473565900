"""Real datasets, from their downloads to verified MMAction2 list files.

    python data_scripts/prepare.py ucf101 all --root data/ucf101      # download, extract, lists, verify

A dataset is described; its steps are written once: `steps.Dataset` turns a description into the steps of
``prepare.py`` (what each returns: `steps`). A description is a dataset's module (Kinetics-400/600/700 are three
objects of `kinetics`):

* its facts, as constants: the name, the files it downloads (`download.Remote`) and the folders they unpack into,
  what the zoo's configs read (frame template, start index, the frames and resolution ``extract`` makes by
  default), the published counts;
* its reader: ``read_annotations(root)`` turns its annotation files into `items.Item`s (key, label or labels,
  where each was read, the video's path), and ``subsets(root, annotations)`` groups them into `items.Subset`s
  (which videos and frames folder, which list files);
* its hooks, where it truly differs: how its archives unpack (``extract_archives``), what else it checks
  (``check_annotations``, ``check_videos``), and its own list formats where MMAction2's differ (``write_lists``
  and ``check_copy``: Kinetics' frame trees and flow lists, ActivityNet's clips of untrimmed videos, HVU's tag
  categories) - the full list is in `steps`;
* ``make_replica(root, seed=0)``: the real download in miniature, for the course and the tests.

The shared machinery, in the order it builds up: `files` (atomic writes, annotation lines, the root check),
`lists` (list-file lines and label maps), `report`, `verify` (one video or frame folder; processes and
progress bars come from `tsnbook.jobs`), `items` (what readers give, and the checks they share), `download`
(resumable HTTP), `archives` (zip / tar / RAR, unpacked into place), `frames` (RGB and flow folders), `shards` (the
per-video work, on one machine or one of N: ``--shard K/N``), `listing` (lists and checks of annotated subsets,
and the differences from MMAction2's lists that every dataset shares), `steps`, `replica` (archives and clips for
the replicas) and `command` (prepare.py).

To add a dataset, write a module with the facts `steps` names, a ``read_annotations`` (a folder walk or a CSV)
and ``subsets`` (a split of your own where the data has none), ``extract_archives`` (nothing to unpack: a
function that does nothing), ``make_replica``, and end it with the line `steps` shows; then add one line to
`MODULES`. `ucf101` is a small example with split files, `mit` one with a folder per subset, `folder` (your own
videos: a folder of class folders or a CSV, ``prepare.py folder all --root ROOT --videos SRC``) one whose videos
come from elsewhere: its ``extract`` and ``lists`` wrap the shared steps (the videos checked and linked in, the
split, ``config.py``).
"""
import importlib

#: Every dataset of MMAction2's TSN zoo, by the name ``prepare.py`` takes.
PLANNED = ("ucf101", "hmdb51", "kinetics400", "kinetics600", "kinetics700", "sthv1", "sthv2", "diving48", "mit",
           "mmit", "activitynet", "hvu")
#: name -> the dataset's module (``"module:attribute"``: one object of a module that serves several, as Kinetics').
MODULES = {
    "ucf101": "tsnbook.datasets.ucf101",
    "hmdb51": "tsnbook.datasets.hmdb51",
    "sthv1": "tsnbook.datasets.sthv1",
    "sthv2": "tsnbook.datasets.sthv2",
    "diving48": "tsnbook.datasets.diving48",
    "mit": "tsnbook.datasets.mit",
    "mmit": "tsnbook.datasets.mmit",
    "kinetics400": "tsnbook.datasets.kinetics:KINETICS400",
    "kinetics600": "tsnbook.datasets.kinetics:KINETICS600",
    "kinetics700": "tsnbook.datasets.kinetics:KINETICS700",
    "activitynet": "tsnbook.datasets.activitynet",
    "hvu": "tsnbook.datasets.hvu",
    "folder": "tsnbook.datasets.folder",  # your own videos: a folder of class folders, or a CSV
}
STEPS = ("download", "extract", "lists", "verify")


def names():
    """The dataset names that have a module, in the zoo's order."""
    return tuple(name for name in PLANNED if name in MODULES) + tuple(n for n in MODULES if n not in PLANNED)


def get(name):
    """The module of dataset ``name``; an unknown name is a ValueError listing the valid ones."""
    if name not in MODULES:
        valid = ", ".join(names())
        if name in PLANNED:
            raise ValueError(f"dataset {name!r} has no preparation module yet; available: {valid}")
        raise ValueError(f"unknown dataset {name!r}; valid names: {valid}")
    module, _, attribute = MODULES[name].partition(":")
    module = importlib.import_module(module)
    return getattr(module, attribute) if attribute else module
