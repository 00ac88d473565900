"""Datasets: MMAction2 list files in, uint8 snippet tensors out.

One dataset class serves videos, RGB frame folders and optical-flow folders, because TSN treats them alike: read the
list file (`tsnbook.datasets.lists` shows its line formats), and per item sample frame indices (`tsnbook.sampling`),
decode them (`tsnbook.io`, a reader opened for this item only, so nothing crosses a DataLoader fork), run the
augmentation pipeline (`tsnbook.transforms`) and hand back ``uint8 [V, C, H, W]``.

Randomness is drawn from ``np.random.default_rng([seed, epoch, index])``: an item's augmentation depends only
on the seed, the epoch and its index, never on the number of workers or on whether the run was resumed.

One bad video does not end an epoch: its item comes back as an error record (``dict(error="path: reason",
index=...)``), the collate function drops it, and the engine counts and lists it in the log. What counts as a
*per-item failure* - the data's fault, skipped quietly (`ITEM_FAILURES`):

* `tsnbook.io.DecodeError`: the file, or one JPEG of a frame folder, cannot be decoded; also a frame file that
  is missing because the list gives a frame folder more frames than it holds;
* `OSError`: the video or folder is missing or unreadable;
* `tsnbook.sampling.UnusableVideo`: it decodes but cannot be used as the config asks - a list line that says 0
  frames, frames smaller than the crop (a tiny video under a pipeline that crops before resizing).

Any other exception raised while loading one item (a TypeError, KeyError, IndexError, a ValueError of a
transform, ...) is *unexpected*: most likely a bug in tsnbook or in a custom pipeline, perhaps an edge case one
video trips. It is skipped and counted as well - one odd video must not cost a day of training - but its record
carries the traceback (``"traceback"``), which the engine prints and writes to ``log.jsonl`` once per run, and an
epoch or an evaluation in which no video at all could be used stops with an error, since then the fault is the
code's or the config's, not one video's. ``load`` (no skipping) raises every error, for debugging one item.
"""
import json
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .configs import option
from .io import DecodeError, FlowFrames, RawFrames, open_selective
from .sampling import UnusableVideo
from .transforms import build_pipeline
from .texts import read_text, read_text_lines
from .views import load_frames, sample_indices, split_settings

#: Exceptions that mean "this one video cannot be used" (see the module docstring): skipped without a traceback.
ITEM_FAILURES = (DecodeError, OSError, UnusableVideo)

SOURCES = {  # source kind -> (default filename template, default start index) as MMAction2's datasets
    "video": (None, 0),
    "rawframes": ("img_{:05d}.jpg", 1),
    "flow": ("flow_{}_{:05d}.jpg", 1),
}


@dataclass(slots=True)  # slots: a 650k-line Kinetics-700 list is 650k records (datasets' bench_datasets.py)
class VideoRecord:
    """One line of a list file: a video file (or frame folder), its label(s), and where it came from."""
    path: str
    label: object  # int, or a list of ints for multi-label datasets
    num_frames: int = None  # frame folders: read from the list (MMAction2 never counts at load time)
    offset: int = 0  # clips of untrimmed videos (ActivityNet "with_offset" lists)
    where: str = field(default="", compare=False)  # "list.txt:12", for error messages


def load_annotations(list_file, data_prefix="", source="video", multi_label=False, with_offset=False):
    """Parse an MMAction2 list file into `VideoRecord`s.

    Formats: videos ``path label [label ...]``; frames ``dir total_frames label [label ...]``; with
    ``with_offset``: ``dir offset total_frames label ...``. Labels are 0-based; several labels only with
    ``multi_label``. Paths are joined to ``data_prefix``. Any malformed line raises a ValueError naming
    ``file:line`` and the expected format. A ``.json`` list file is read as MMAction2 0.x's JSON lists (HVU),
    see `_load_json_annotations`.
    """
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FileNotFoundError(f"list file {list_file} does not exist (check the config's ann_file_* and "
                                f"data_root, or build the lists first)")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {list(SOURCES)}, got {source!r}")
    if list_file.suffix == ".json":
        return _load_json_annotations(list_file, data_prefix, source, multi_label)
    expected = ("path label" if source == "video" else
                "dir offset total_frames label" if with_offset else "dir total_frames label")
    head = 1 if source == "video" else 3 if with_offset else 2
    join, name, records = _prefix_joiner(data_prefix), str(list_file), []
    for number, line in enumerate(read_text_lines(list_file, "list file"), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) == head + 1:  # one label: the common case, kept cheap
                label = int(parts[head])
                if label < 0:
                    raise ValueError
                label = [label] if multi_label else label
            elif len(parts) > head + 1 and multi_label:
                label = [int(v) for v in parts[head:]]
                if min(label) < 0:
                    raise ValueError
            else:
                raise ValueError
            if source == "video":
                record = VideoRecord(join(parts[0]), label, None, 0, f"{name}:{number}")
            else:
                record = VideoRecord(join(parts[0]), label, int(parts[head - 1]), int(parts[1]) if with_offset else 0,
                                     f"{name}:{number}")
        except ValueError:
            raise ValueError(f"{name}:{number}: expected '{expected}' with integer, 0-based labels"
                             f"{' (several allowed)' if multi_label else ''}, got {line!r}") from None
        records.append(record)
    if not records:
        raise ValueError(f"list file {list_file} has no entries")
    return records


def _prefix_joiner(data_prefix):
    """``relative -> str(Path(data_prefix) / relative)``, without building a Path per line (5 s of a 650k-line
    list): a plain relative path is appended to the prefix as a string; anything Path would normalise (``//``,
    ``.`` components, a trailing or leading ``/``) goes through Path, so the result is always Path's."""
    base = str(Path(data_prefix))
    head = "" if base == "." else base + ("" if base.endswith("/") else "/")

    def join(relative):
        if (relative.startswith(("/", "./")) or relative.endswith(("/", "/.")) or "//" in relative
                or "/./" in relative or relative == "."):
            return str(Path(data_prefix) / relative)
        return head + relative
    return join


def _load_json_annotations(list_file, data_prefix, source, multi_label):
    """MMAction2 0.x JSON lists: ``[{"filename": "x.mp4", "label": [3, 7]}, ...]`` for videos, or
    ``[{"frame_dir": "x", "total_frames": 300, "label": ...}]`` for frame folders (HVU's per-category lists).

    Quirk kept visible: MMAction2's ``generate_sub_file_list.py`` leaves the whole ``{category: [...]}`` dict as
    the label of a video that has no tag of the category; such items are skipped, counted and reported here,
    as they carry no label for this category (MMAction2 would crash on them).
    """
    try:
        items = json.loads(read_text(list_file, "list file"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{list_file}: not valid JSON ({err})") from None
    key = "filename" if source == "video" else "frame_dir"
    records, without_label = [], 0
    for number, item in enumerate(items if isinstance(items, list) else [None]):
        where = f"{list_file}[{number}]"
        if not isinstance(item, dict) or key not in item or "label" not in item or (
                source != "video" and "total_frames" not in item):
            raise ValueError(f"{where}: expected a list of objects with {key!r}"
                             f"{', total_frames' if source != 'video' else ''} and 'label', got {item!r:.120}")
        label = item["label"]
        if isinstance(label, dict):
            without_label += 1
            continue
        labels = label if isinstance(label, list) else [label]
        if not labels or not all(isinstance(v, int) and v >= 0 for v in labels) or (len(labels) > 1 and
                                                                                   not multi_label):
            raise ValueError(f"{where}: label must be a 0-based integer{' or a list of them' * multi_label}, "
                             f"got {label!r}")
        record = VideoRecord(str(Path(data_prefix) / item[key]), labels if multi_label else labels[0], where=where)
        if source != "video":
            record.num_frames, record.offset = int(item["total_frames"]), int(item.get("offset", 0))
        records.append(record)
    if without_label:
        print(f"note: {list_file}: skipped {without_label} item(s) whose label is a dict (no tag of this category)")
    if not records:
        raise ValueError(f"list file {list_file} has no usable entries")
    return records


def _labels(record):
    return record.label if isinstance(record.label, list) else (record.label,)


def check_labels(records, num_classes):
    """Every label of ``records`` must be a class index, ``0 <= label < num_classes``; else a ValueError naming
    the list file's line. Checked when the dataset is built: training would otherwise stop at the first batch
    holding the label with a bare "Target 8 is out of bounds", and a test would silently score it as a miss."""
    for record in records:
        for label in _labels(record):
            if not 0 <= label < num_classes:
                raise ValueError(f"{record.where or record.path}: label {label} is not a class of this config: "
                                 f"labels run 0..{num_classes - 1} (num_classes={num_classes}); fix the list file, "
                                 f"or num_classes")


def classes_without_videos(records, num_classes):
    """The class indices that no record carries (a multi-label record carries each of its labels)."""
    seen = {label for record in records for label in _labels(record)}
    return [label for label in range(num_classes) if label not in seen]


class TSNDataset(torch.utils.data.Dataset):
    """Sample, decode and augment one video per item: returns ``dict(imgs=uint8 [V, C, H, W], label, index)``.

    ``num_segments`` snippets of ``clip_len`` frames (5 for flow: x/y pairs become 10 channels); in test mode
    the segment centres, else a random frame in each segment (MMAction2's SampleFrames). ``pipeline`` is a list
    of transform dicts or a callable ``(results, rng) -> results``; it must end with FormatShape.
    ``sampler="dense"`` samples as MMAction2's DenseSampleFrames instead (the zoo's dense rows): the segments
    sit ``dense_sample_range // num_segments`` frames apart in one window, at a random start in training and
    at ``dense_test_positions`` evenly spread starts in test mode. ``twice_sample`` (segments sampler, test
    mode) adds clips at the segment starts. Given ``num_classes``, every record's labels are checked against it
    (`check_labels`).
    """

    def __init__(self, records, pipeline, source="video", num_segments=3, clip_len=1, frame_interval=1,
                 test_mode=False, num_classes=None, multi_label=False, filename_tmpl=None, start_index=None,
                 decoder=None, seed=0, sampler="segments", dense_sample_range=64, dense_test_positions=10,
                 twice_sample=False):
        if source not in SOURCES:
            raise ValueError(f"source must be one of {list(SOURCES)}, got {source!r}")
        if multi_label and not num_classes:
            raise ValueError("multi_label datasets need num_classes (the length of the multi-hot label)")
        self.records, self.source = list(records), source
        if num_classes:
            check_labels(self.records, num_classes)
        self.pipeline = build_pipeline(pipeline) if isinstance(pipeline, (list, tuple)) else pipeline
        self.num_segments, self.clip_len, self.frame_interval = num_segments, clip_len, frame_interval
        self.test_mode, self.num_classes, self.multi_label = test_mode, num_classes, multi_label
        default_tmpl, default_start = SOURCES[source]
        self.filename_tmpl = filename_tmpl or default_tmpl
        self.start_index = default_start if start_index is None else start_index
        self.decoder, self.seed, self.epoch = decoder, seed, 0
        if sampler not in ("segments", "dense"):
            raise ValueError(f"sampler must be 'segments' or 'dense', got {sampler!r}")
        self.sampler, self.twice_sample = sampler, twice_sample
        self.dense_sample_range, self.dense_test_positions = dense_sample_range, dense_test_positions

    def __len__(self):
        return len(self.records)

    def set_epoch(self, epoch):
        """Change the augmentation stream of ``dataset[index]`` (call before each epoch).

        DataLoader workers hold a copy of the dataset made when they started, so persistent workers do not see
        this: the engine's sampler sends the epoch with every index instead (``dataset[(epoch, index)]``).
        """
        self.epoch = epoch

    def open(self, record):
        """The reader for one record: a video file, or a folder of RGB or flow JPEGs.

        Videos go through `open_selective`: H.264 files are decoded by `SelectiveVideo`, which decodes only the
        sampled frames and the reference frames they need (bit-identical to decord for 8-bit video, and faster for
        sparse TSN sampling); other files, or an explicit ``decoder``, use `open_video` (decord, else PyAV).
        """
        if self.source == "video":
            return open_selective(record.path, backend=self.decoder)
        reader = RawFrames if self.source == "rawframes" else FlowFrames
        return reader(record.path, record.num_frames, filename_tmpl=self.filename_tmpl,
                      start_index=self.start_index, offset=record.offset)

    def sample(self, num_frames, rng=None):
        """The frame indices (0-based) this dataset takes from a video of ``num_frames`` frames."""
        return sample_indices(num_frames, self.num_segments, self.clip_len, self.frame_interval, self.test_mode,
                              self.sampler, self.twice_sample, self.dense_sample_range, self.dense_test_positions, rng)

    def load_from(self, reader, label=None, rng=None):
        """Sample, decode and transform one open reader: the results dict (``imgs``, ``frame_inds``, ...).

        The one code path from a video to network inputs (`tsnbook.views`, torch-free): training items and test
        items here, ``predict``'s and an exported model's views through `tsnbook.views.ViewExtractor`.
        """
        return load_frames(reader, self.sample(reader.num_frames, rng), self.pipeline, self.source == "flow",
                           self.num_segments, self.clip_len, label, rng)

    def load(self, index, rng):
        """Sampled, decoded, augmented frames of item ``index`` as a results dict (useful for visualising)."""
        record = self.records[index]
        with self.open(record) as reader:
            return self.load_from(reader, record.label, rng)

    def __getitem__(self, key):
        """Item ``key`` (an index, or ``(epoch, index)``: the augmentation of that epoch), or an error record.

        Never raises for one video's failure (see the module docstring): the record names the file and the
        reason, plus the traceback when the failure is unexpected.
        """
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        rng = np.random.default_rng([self.seed, epoch, index])
        try:
            results = self.load(index, rng)
        except ITEM_FAILURES as err:  # the data's fault: skipped and counted by the engine
            return dict(error=f"{self.records[index].path}: {err}", index=index)
        except Exception as err:  # not a known data failure: skipped too, but with the traceback to report
            return dict(error=f"{self.records[index].path}: unexpected {type(err).__name__}: {err}", index=index,
                        traceback=traceback.format_exc())
        label = results["label"]
        if self.multi_label:
            label = torch.zeros(self.num_classes).index_fill_(0, torch.as_tensor(label), 1.0)
        item = dict(imgs=torch.from_numpy(results["imgs"]), label=torch.as_tensor(label), index=index)
        # Steps that leave work for the GPU (gpu_augment.DeferredCropFlip) name the keys the batch needs.
        item.update({key: torch.as_tensor(results[key]) for key in results.get("pass_through", ())})
        return item


def split_failures(batch):
    """``(good items, failures)`` of a list of items; a failure is ``{"error": "path: reason"}`` plus, when
    unexpected, ``"traceback"`` (what the collate functions pass on under ``"failures"``)."""
    good = [item for item in batch if "error" not in item]
    failures = [{k: item[k] for k in ("error", "traceback") if k in item} for item in batch if "error" in item]
    return good, failures


def collate_skipping_errors(batch):
    """Stack good items; report the bad ones instead of failing: ``"errors"`` (their messages) and
    ``"failures"`` (the records, with the traceback of unexpected ones)."""
    good, failures = split_failures(batch)
    errors = [failure["error"] for failure in failures]
    if not good:
        return dict(imgs=None, label=None, index=None, errors=errors, failures=failures)
    stacked = torch.utils.data.default_collate(good)
    stacked.update(errors=errors, failures=failures)
    return stacked


def read_label_map(path, num_classes=None):
    """Class names in label order from a label-map file, in either format datasets ship.

    * one name per line (MMAction2's ``label_map_k400.txt``): line i is label i;
    * ``ID NAME`` lines whose ids are consecutive integers from 1 or from 0 (UCF101's and SynthActions'
      ``classInd.txt``, ``1 ApplyEyeMakeup``): the id decides the label (1-based ids: label = id - 1), and the
      id is not part of the name.

    A file is read as ``ID NAME`` only when *every* line has a leading integer and the ids are exactly
    0..N-1 or 1..N, so a name that happens to start with a number stays a name. ``num_classes`` (if given)
    must equal the number of names.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label map {path} does not exist")
    lines = [line.strip() for line in read_text_lines(path, "label map") if line.strip()]
    names = lines
    pairs = [line.split(None, 1) for line in lines]
    if lines and all(len(p) == 2 and p[0].isdigit() for p in pairs):
        ids = [int(p[0]) for p in pairs]
        for base in (0, 1):
            if sorted(ids) == list(range(base, base + len(ids))):
                names = [name.strip() for _, name in sorted(zip(ids, (p[1] for p in pairs)))]
                break
    if not names:
        raise ValueError(f"label map {path} is empty: write one class name per line, in label order")
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f"label map {path} has {len(names)} names but the model has {num_classes} classes "
                         f"(one class per line in label order, or classInd.txt's 'ID NAME' lines)")
    return names


def label_names(cfg, data_root=None):
    """The class names of a config's dataset, from the file its ``label_map`` key names (relative to
    ``data_root``, else the config's), in either format of `read_label_map`; None when it names none.

    A named file that is missing gives None and a printed note (a run must not fail for want of names); one
    whose count differs from ``num_classes`` is an error, since it would put wrong names on every prediction.
    """
    name = option(cfg, "label_map")
    if not name:
        return None
    path = Path(data_root or cfg["data_root"]) / name
    if not path.is_file():
        print(f"note: label map {path} (the config's label_map) does not exist: the checkpoint stores no class "
              f"names, and predict prints class indices unless given --label-map")
        return None
    return read_label_map(path, cfg["num_classes"])


def build_dataset(cfg, split, data_root=None):
    """The train / val / test dataset a config describes (keys documented in `tsnbook.configs`)."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if cfg.get(f"ann_file_{split}") is None:
        raise ValueError(f"{cfg.get('name', 'the config')} has no {split} list (ann_file_{split} is None)")
    root = Path(data_root or cfg["data_root"])
    # Kinetics, MiT and HVU keep validation videos in another folder (MMAction2's data_root_val).
    prefix = cfg.get("data_prefix_val", cfg["data_prefix"]) if split != "train" else cfg["data_prefix"]
    records = load_annotations(root / cfg[f"ann_file_{split}"], root / prefix, cfg["source"],
                               option(cfg, "multi_label"), cfg.get("with_offset", False))
    return dataset_from_config(cfg, split, records)


def dataset_from_config(cfg, split, records):
    """A `TSNDataset` of ``records`` with the sampling and pipeline of a config's ``split``."""
    return TSNDataset(records, source=cfg["source"], test_mode=split != "train", num_classes=cfg["num_classes"],
                      multi_label=option(cfg, "multi_label"), filename_tmpl=cfg.get("filename_tmpl"),
                      start_index=cfg.get("start_index"), decoder=cfg.get("decoder"), seed=cfg.get("seed", 0),
                      **split_settings(cfg, split))
