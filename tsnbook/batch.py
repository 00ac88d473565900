"""Many videos, one model loaded once: ``predict`` and ``features`` over files, folders and list files.

    model, info = tsnbook.load_model("work_dirs/run/best.pth")
    for result in tsnbook.predict_videos(model, ["clips/", "list.txt"], cfg=info["cfg"], workers=2):
        print(result["video"], result["scores"].argmax() if "scores" in result else result["error"])

    paths = expand_inputs(["clips/", "more.txt", "one.mp4"])     # every video, in the order given
    for index, views, error in iterate_views(paths, [extract], workers=2):   # views made in DataLoader workers
        ...

Inputs (`expand_inputs`): a video file as given; a **folder**: every video file under it (`VIDEO_EXTENSIONS`, in
any case, as the folder dataset reads them; sorted, subfolders included: a dataset's class folders; hidden files
and folders left out, as ``prepare.py`` leaves them: macOS's ``._clip.mp4`` are no videos); a **list
file**, UTF-8 (a BOM is dropped; another encoding is refused naming the line): one video per entry, relative to
``video_root`` or else to the list's folder (``.txt``, ``.lst``: MMAction2's ``path label`` lines, the first field,
split at whitespace; ``.csv``: the first field, read as CSV, so a path may hold spaces, and a header whose first
field is ``path`` or ``video`` is skipped; ``.json``: a list of paths; labels are ignored). ``predict --out``'s own
CSV (header ``video,top1,...``) and JSON (``models``, ``videos`` and ``skipped``) are lists too, their paths taken
as predict wrote them (it had joined any ``video_root`` already; relative ones to the current folder): a result
file names the videos to score again. A listed
video that cannot be read is named with its ``list:line`` (a JSON list's ``list: item N``). Images and unknown
paths are refused with one line naming them.

Each item's views are made in a DataLoader worker (`ViewsDataset`; the decoder opens inside the worker), the model
scores them in the main process, so decoding the next videos overlaps the forward pass of this one. A flow model's
input is the video's optical flow, computed in the worker as `tsnbook.predict.video_flow` computes it. One bad
video does not stop the others: its item is an error record (file and reason), listed at the end.
"""
import csv
import json
import os
from pathlib import Path

import numpy as np
import torch

from .configs import as_config
from .data import ITEM_FAILURES
from .io import VIDEO_EXTENSIONS
from .predict import check_video_path, flow_input, top_k_cells, video_views, view_extractor, view_scorer
from .texts import read_text, read_text_lines

LIST_EXTENSIONS = (".txt", ".lst", ".csv", ".json")


def _list_fields(list_file):
    """``(origins and fields, written by predict)``: ``(where, path text)`` of each entry that names a video, and
    whether the file is ``predict --out``'s own (its paths are as predict opened them, not relative to the list).
    ``.csv``: read as CSV (quoted fields, commas and spaces inside paths; a header whose first field is ``path``,
    or predict's ``video``, skipped); ``.json``: `_json_fields`; other lists: MMAction2's ``path label`` lines,
    split at whitespace. Blank lines and ``#`` comments name nothing. A file that is not UTF-8 is named with its
    line (`tsnbook.texts.read_text_lines`, which also drops a BOM)."""
    if list_file.suffix.lower() == ".json":  # the text whole: a JSON string may hold a line separator
        return _json_fields(list_file, read_text(list_file, "list file"))
    lines = read_text_lines(list_file, "list file")
    if list_file.suffix.lower() == ".csv":
        table = list(csv.reader(lines))
        header = [field.strip().lower() for field in table[0]] if table else []
        rows = [(number, row[0].strip() if row else "") for number, row in enumerate(table, 1)]
        rows = rows[1:] if header[:1] in (["path"], ["video"]) else rows
    else:
        header, rows = [], [(number, line.split(maxsplit=1)[0] if line.strip() else "")
                            for number, line in enumerate(lines, 1)]
    return [(f"{list_file}:{number}", field) for number, field in rows
            if field and not field.startswith("#")], header[:2] in (["video", "top1"], ["video", "skipped"])


def _json_fields(list_file, text):
    """The entries of a JSON list: a list of video paths, or ``predict --out x.json``'s own file (its scored
    ``videos`` then its ``skipped``, each ``dict(video=...)``), so that a result file can be fed back."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"list file {list_file}:{err.lineno}: not JSON ({err.msg}): a .json list is a list of "
                         f"video paths, or predict's --out JSON") from None
    written = isinstance(items, dict) and isinstance(items.get("videos"), list) and "models" in items
    if written:
        items = [item.get("video") if isinstance(item, dict) else item
                 for item in items["videos"] + list(items.get("skipped") or [])]
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"list file {list_file}: a .json list is a list of video paths ([\"a.mp4\", ...]) or "
                         f"predict's --out JSON (its 'videos' and 'skipped', each with a 'video')")
    return [(f"{list_file}: item {number}", item) for number, item in enumerate(items, 1)], written


def _listed(list_file, video_root=None):
    """``[(path, "list:line")]`` of the videos a list file names."""
    fields, written = _list_fields(list_file)
    root = Path() if written else Path(video_root) if video_root else list_file.parent
    paths = [(Path(field) if Path(field).is_absolute() else root / field, origin) for origin, field in fields]
    if not paths:
        form = {".json": "a list of video paths", ".csv": "a path in the first field of each row"}.get(
            list_file.suffix.lower(), "one path per line, optionally followed by a label")
        raise ValueError(f"list file {list_file} names no video ({form})")
    return paths


def expand_inputs(inputs, video_root=None, origins=None):
    """The videos named by ``inputs`` (files, folders, list files; see the module docstring), in order.
    ``origins``: a dict to fill with ``{index: "list:line"}`` for the videos a list file names, so that a
    skipped video's message says which line to fix (`iterate_views`). One path alone (a string or a ``Path``) is
    one input, not a sequence of characters; no input at all is an error, as a folder without videos is."""
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not inputs:
        raise ValueError("no inputs: give video files, folders or list files")
    paths = []
    for given in map(Path, inputs):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(given).parts))
            if not found:
                raise ValueError(f"folder {given} holds no video file ({' '.join(VIDEO_EXTENSIONS)}, in any case)")
            paths.extend(found)
        elif given.suffix.lower() in LIST_EXTENSIONS and given.is_file():
            for path, origin in _listed(given, video_root):
                if origins is not None:
                    origins[len(paths)] = origin
                paths.append(path)
        else:
            paths.append(check_video_path(given))
    return paths


class ViewsDataset(torch.utils.data.Dataset):
    """Item i: the views of video i for each stream, ``dict(index, views=[uint8 [V, C, H, W], ...])``, or
    ``dict(index, error="path: reason")``. ``streams``: ``(extractor, flow settings or None)`` pairs
    (`tsnbook.views.ViewExtractor`; flow settings: the video's flow is computed first,
    `tsnbook.predict.video_views`)."""

    def __init__(self, paths, streams, origins=None):
        self.paths, self.streams, self.origins = list(map(Path, paths)), list(streams), dict(origins or {})

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        try:
            check_video_path(path)
            return dict(index=index, views=[video_views(path, extract, flow) for extract, flow in self.streams])
        except (*ITEM_FAILURES, ValueError) as err:
            error = str(err) if str(path) in str(err) else f"{path}: {err}"
            return dict(index=index, error=f"{self.origins[index]}: {error}" if index in self.origins else error)


def _one(item):
    return item


def iterate_views(paths, streams, workers=0, origins=None):
    """Yield ``(index, views per stream or None, error or None)`` for every path, in order, the views made by
    ``workers`` DataLoader processes (0: in this process); an error starts with ``origins[index]`` ("list:line",
    `expand_inputs`) when given."""
    streams = [stream if isinstance(stream, tuple) else (stream, None) for stream in streams]
    loader = torch.utils.data.DataLoader(ViewsDataset(paths, streams, origins), batch_size=None,
                                         num_workers=workers, collate_fn=_one)
    for item in loader:
        yield item["index"], item.get("views"), item.get("error")


def scored_videos(videos, streams, score, workers=0, origins=None):
    """Yield, for every video in order, ``dict(video, **score(views per stream))``, or ``dict(video, error)`` when
    its views could not be made (`iterate_views`): a skipped video is reported, never dropped."""
    for index, views, error in iterate_views(videos, streams, workers, origins):
        yield dict(video=str(videos[index]), error=error) if error is not None else dict(video=str(videos[index]),
                                                                                         **score(views))


def predict_videos(model, inputs, cfg=None, protocol=None, average_clips="prob", workers=0, video_root=None,
                   flow=None, views_per_chunk=25):
    """Class scores of many videos, the model loaded once: an iterator of ``dict(video, scores)`` (numpy
    [num_classes], exactly `tsnbook.predict.predict_video`'s for that video) or ``dict(video, error)`` (a video
    that could not be read, its reason; a listed one names its ``list:line``), one per video, in input order.

    ``inputs``: video files, folders and list files, as ``predict`` takes them (`expand_inputs`; ``video_root``:
    where a list's relative paths start). The views are ``cfg``'s own test split, or the named ``protocol``
    (`tsnbook.predict.view_extractor`), made by ``workers`` DataLoader processes while the model scores the
    previous video; a flow model scores each video's optical flow (``flow``: `tsnbook.predict.video_flow`'s
    arguments over the config's). The inputs are checked now; the videos are scored as the iterator is read.
    ``predict`` expands its inputs once and scores them with the same `view_scorer` and `scored_videos`.
    """
    origins, cfg = {}, as_config(cfg)  # a config's name or file, as the commands take
    videos = expand_inputs(inputs, video_root, origins)
    extract = view_extractor(model, cfg, protocol)
    score = view_scorer(model, extract, average_clips, views_per_chunk)
    return scored_videos(videos, [(extract, flow_input(model, cfg, flow))], lambda views: dict(scores=score(views[0])),
                         workers, origins)


# ------------------------------------------------------------------------------------------------ results
def top_k_rows(paths, scores, names, k):
    """``[dict(video, top_k=[dict(rank, class, name, score)])]``: the k best classes of each scored video."""
    rows = []
    for path, vector in zip(paths, scores):
        order = np.argsort(-vector, kind="stable")[:k]
        rows.append(dict(video=str(path), top_k=[dict(rank=r, **{"class": int(i)}, name=names[i] if names else str(i),
                                                      score=float(vector[i])) for r, i in enumerate(order, 1)]))
    return rows


def write_results(path, rows, meta, skipped=()):
    """``rows`` (`top_k_rows`) to ``path``: ``.json`` (with ``meta``: model, views, what the scores are, and the
    skipped videos) or ``.csv`` (one line a video: ``video, top1, top1_score, top1_class, top2, ..., skipped``; each
    ``skipped`` video, ``dict(video, error)``, after the scored ones, its prediction empty and its reason in the
    ``skipped`` column, so that the file accounts for every video given)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(dict(meta, videos=rows, skipped=list(skipped)), indent=1) + "\n")
    elif path.suffix.lower() == ".csv":
        lines = [dict(video=row["video"], **top_k_cells(row["top_k"])) for row in rows]
        fields = max((list(line) for line in lines), key=len, default=["video"])
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fields + ["skipped"])
            writer.writeheader()
            writer.writerows(lines)
            writer.writerows(dict(video=failure["video"], skipped=failure["error"]) for failure in skipped)
    else:
        raise ValueError(f"--out {path}: write .json or .csv")
