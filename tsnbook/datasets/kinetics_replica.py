"""The Kinetics-400/600/700 replicas: DeepMind's CSV tarball and CVDF's trees in miniature, with the real quirks
(as `tsnbook.datasets.kinetics` describes them): the CSV variants of each version, class names with spaces,
parentheses and the apostrophe, the class K600 renamed, one clip listed but in no tarball, one cut in half, and
(K400) one whose good copy is in CVDF's replacements. `make_replica` is the ``make_replica`` of the
`tsnbook.datasets.kinetics` datasets.
"""
import csv
import io
import json
from pathlib import Path

import numpy as np

from . import replica as _replica
from .files import atomic_write
from .kinetics_download import class_folder, clip_name

def make_replica(dataset, root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: DeepMind's tarball (``kinetics400/train.csv``,
    ``validate.csv``, ``test.csv`` and JSONs) and CVDF's trees (``cvdf/<subset>/k400_<subset>_path.txt`` and
    ``part_N.tar.gz`` of flat mp4s; K400 also ``replacement_for_corrupted_k400.tgz``).

    Five classes (`REPLICA_CLASSES`, spaces, parentheses, the apostrophe and the class K600 renamed), each its
    own scene and object colour (`replica.background`: Kinetics' classes are largely recognisable from
    appearance); `REPLICA_SIZES` train + val clips per class (K400, which notebook 09 trains on: 8 + 6) and one
    test row: MP4, H.264 + AAC, 640x360, 480x360 or portrait 360x640, 25 or 29.97 fps, 2-3 s (one of 10 s).
    K400's train CSV has the original release's 6th column ``is_cc`` and its test CSV has labels; K600's and
    K700's test CSVs have none. ``missing`` is listed but in no tarball; ``corrupt`` is cut in half (its moov
    atom lost); K400's ``replaced`` is cut too, but CVDF's replacement has a good copy. Returns
    dict(files=[paths], videos={subset: [keys]}, missing=, corrupt=, ...).
    """
    root = Path(root)
    rng = np.random.default_rng([seed, dataset.VERSION])
    downloads = root / "downloads"
    sizes = [(640, 360), (480, 360), (360, 640)]
    rows, members, videos, replacement = {s: [] for s in ("train", "val", "test")}, {"train": [], "val": []}, \
        {"train": [], "val": []}, []
    special = {}
    count = 0
    for label, name in enumerate(dataset.REPLICA_CLASSES):
        num_train, num_val = REPLICA_SIZES[dataset.VERSION]
        for subset, k in [("train", k) for k in range(num_train)] + [("val", k) for k in range(num_val)] + \
                [("test", 0)]:
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
            colour = _replica.PALETTE[label]
            data = _replica.youtube_clip(  # a missing clip too: its frames draw from rng as they are encoded
                downloads / ".replica.mp4", rng, seconds, fps, height, width, colour, rng.uniform(-4, 4, size=2),
                tint=colour)
            role = REPLICA_ROLES.get((label, subset, k))
            if role == "replaced" and not dataset.REPLACEMENT:
                role = None  # only K400 has CVDF's replacements
            if role:
                special[role] = key
            if role == "missing":
                continue
            file_name = key.split("/")[1] + dataset.VIDEO_EXT
            if role == "replaced":
                replacement.append((f"replacement_for_corrupted_k400/{file_name}", data))
            if role in ("corrupt", "replaced"):
                data = _replica.cut_short(data, 0.5)  # the moov atom (at the end) is lost: "moov atom not found"
            members[subset].append((file_name, data))
    files = [_write_annotations(dataset, downloads, rows)]
    base, template = dataset.CVDF
    for subset in ("train", "val"):
        folder = downloads / "cvdf" / subset
        parts = [members[subset][i::2] for i in range(2)] if subset == "train" else [members[subset]]
        urls = []
        for number, part in enumerate(parts):
            files.append(_replica.write_tar_gz(folder / f"part_{number}.tar.gz", part))
            urls.append(f"{base}/{subset}/part_{number}.tar.gz")
        files.append(atomic_write(folder / template.format(subset=subset), _replica.text_file(urls)))
    for remote in dataset.REPLACEMENT:
        files.append(_replica.write_tar_gz(downloads / "cvdf" / "replacement" / remote.name, replacement))
    return dict(files=files, videos=videos, classes=list(dataset.REPLICA_CLASSES), **special)


def _write_annotations(dataset, downloads, rows):
    """DeepMind's tarball: ``kinetics<V>/{train,validate,test}.csv`` (+ JSONs), with this version's columns."""
    top = f"kinetics{dataset.VERSION}"
    members = []
    for subset, file_name in (("train", "train"), ("val", "validate"), ("test", "test")):
        columns = ["label", "youtube_id", "time_start", "time_end", "split"]
        if dataset.VERSION == 400 and subset == "train":
            columns.append("is_cc")  # the original K400 CSVs had this 6th column
        if subset == "test" and dataset.VERSION != 400:
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
        if subset == "test" and dataset.VERSION != 400:
            for entry in database.values():
                entry.pop("annotations")
        members.append((f"{top}/{file_name}.json", json.dumps(database).encode()))
    return _replica.write_tar_gz(downloads / dataset.FILES[0].name, members)


def _youtube_id(rng):
    return "".join(_replica.YOUTUBE_CHARS[i] for i in rng.integers(0, len(_replica.YOUTUBE_CHARS), 11))


REPLICA_CLASSES = {  # 5 per version: spaces, parentheses, the apostrophe, the K600 renaming and its case change
    400: ("abseiling", "dying hair", "massaging person's head", "passing American football (in game)", "zumba"),
    600: ("abseiling", "dyeing hair", "massaging person's head", "passing American football (in game)",
          "passing american football (not in game)"),
    700: ("abseiling", "dyeing hair", "massaging person's head", "passing American football (in game)",
          "passing American football (not in game)"),
}
#: (train, val) clips per class: K400's replica is the one notebook 09 trains and tests a twin on (30 val videos)
REPLICA_SIZES = {400: (8, 6), 600: (3, 1), 700: (3, 1)}
REPLICA_ROLES = {(2, "train", 1): "missing", (3, "train", 2): "corrupt", (0, "train", 1): "replaced"}
