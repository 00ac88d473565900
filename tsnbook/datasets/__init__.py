"""Real datasets, from their downloads to verified MMAction2 list files: one module per dataset.

    python data_scripts/prepare.py ucf101 all --root data/ucf101      # download, extract, lists, verify

Every dataset module has the same shape (`ucf101` is the model to copy): its facts as module constants, and
the steps ``download(root, mirror=None, workers=None)``, ``extract(root, workers=None, **frame_options)``,
``build_lists(root, workers=None)``, ``verify(root, workers=None, deep=False)`` - each returns a
`report.Report` (``ok``: can training start?) or raises `files.DatasetError` (a one-line reason and what to
do) - and ``make_replica(root, seed=0)``, the real download in miniature. The shared machinery is small:
`files` (atomic writes, annotation reading, the root check), `lists` (list-file lines and label maps),
`report`, `verify` (videos and frame folders; processes and progress bars come from `tsnbook.jobs`), `splits` (lists and
checks from labelled items, shared by the datasets with official split files), `subsets` (lists and checks for
datasets whose annotations list each subset's videos: Diving48, MiT, MMiT), `download`
(resumable HTTP), `archives` (zip / tar / RAR), `frames` (RGB and flow folders) and `replica` (archives
and clips for the replicas).

The registry below maps the names ``prepare.py`` takes to modules; a new dataset adds one line to `MODULES`.
A module serving several datasets (Kinetics-400/600/700) names one object per dataset, ``"module:attribute"``,
that has the same attributes and steps as a module.
"""
import importlib

#: Every dataset of MMAction2's TSN zoo, by the name ``prepare.py`` takes.
PLANNED = ("ucf101", "hmdb51", "kinetics400", "kinetics600", "kinetics700", "sthv1", "sthv2", "diving48", "mit",
           "mmit", "activitynet", "hvu")
#: name -> module of the datasets implemented so far.
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
