"""The small synthetic tasks of notebooks 21 (TSN's good practices) and 22 (transfer learning).

Each task is built so that one design choice of TSN decides its outcome by more than the noise between seeds:

* ``flash`` (sampling): a coloured disc flashes for 6 frames at a random moment of a 48-frame clip; its colour
  is the class. Most frames show only the background and a grey ball that every class shares, so a model sees
  the class only if one of its sampled frames falls on the flash.
* ``late`` and ``majority`` (consensus): three phases of 8 frames, each showing a ball of one colour. ``late``:
  the class is the colour of the *last* phase, the two before show two other colours, so only *when* tells the
  class apart. ``majority``: two phases (which two is random) show the class colour, one another colour, so only
  *how often* does.
* ``pretrain`` and ``finetune`` (transfer learning): one shape per clip, of a random colour and size, drifting
  over a textured background. The class is the shape: eight shapes to pretrain on, plenty of clips; five other
  shapes to fine-tune on, a few clips each.

SynthActions itself, at 32 px (`SYNTHACTIONS_32`), serves the question of input modalities (appearance and
motion classes).

Everything is 32x32 px, so that a small ResNet trains in seconds on a CPU. The clips are H.264 files written by
`tsnbook.io.write_video` (the same bytes on every machine for the same seed) in the UCF101-like layout of
SynthActions, ``videos/<Class>/v_<Class>_gXX_cYY.mp4``, with ``classInd.txt`` and MMAction2 list files
``train.txt`` / ``test.txt`` (``path label``). A copy is reused when its manifest (options and SHA-256 of every
file) still matches; `prepare` regenerates it otherwise.
"""
import json
import os
from pathlib import Path

import cv2
import numpy as np

from ..io import write_video
from .synth import background, file_sha256

VERSION = 1  # bump when a generator changes, so stale copies are regenerated
SIZE = 32
COLOURS = {"Red": (230, 40, 40), "Green": (40, 200, 60), "Blue": (50, 80, 235), "Yellow": (235, 215, 40),
           "Magenta": (220, 60, 220), "Cyan": (60, 220, 220)}
PRETRAIN_SHAPES = ("Disc", "Square", "Triangle", "Ring", "Plus", "HorizontalBar", "VerticalBar", "HollowSquare")
FINETUNE_SHAPES = ("Diamond", "Cross", "Star", "HalfDisc", "HollowTriangle")
#: SynthActions at 32 px: the options of `tsnbook.course.synth.generate` for notebook 21's modality question
SYNTHACTIONS_32 = dict(width=32, height=32, num_frames=16, radius=5, speed=1.0, groups=8, clips_per_group=4,
                       test_groups=2)

TASKS = {  # name -> (classes, frames, training clips per class, test clips per class)
    "flash": (("Red", "Green", "Blue", "Yellow"), 48, 24, 16),
    "late": (tuple(COLOURS), 24, 16, 10),
    "majority": (tuple(COLOURS), 24, 16, 10),
    "pretrain": (PRETRAIN_SHAPES, 8, 48, 8),
    "finetune": (FINETUNE_SHAPES, 8, 16, 16),
}
#: task -> smaller training lists it also writes, ``train_<n>.txt``: the first n training clips of each class
SUBSETS = {"finetune": (1, 2, 4, 8)}


def draw_shape(frame, shape, centre, size, colour):
    """Draw one shape, filled unless its name says hollow, centred at ``centre`` (x, y), ``size`` px across."""
    x, y = centre
    r = size / 2
    polygon = {
        "Triangle": [(0, -1), (0.95, 0.8), (-0.95, 0.8)], "HollowTriangle": [(0, -1), (0.95, 0.8), (-0.95, 0.8)],
        "Diamond": [(0, -1), (0.75, 0), (0, 1), (-0.75, 0)],
        "Star": [(np.cos(a) * (1 if i % 2 == 0 else 0.45), np.sin(a) * (1 if i % 2 == 0 else 0.45))
                 for i, a in enumerate(np.linspace(-np.pi / 2, 3 * np.pi / 2, 10, endpoint=False))],
        "HalfDisc": [(np.cos(a), np.sin(a) - 0.3) for a in np.linspace(0, np.pi, 12)],
        "Square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
        "HollowSquare": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
        "HorizontalBar": [(-1, -0.3), (1, -0.3), (1, 0.3), (-1, 0.3)],
        "VerticalBar": [(-0.3, -1), (0.3, -1), (0.3, 1), (-0.3, 1)],
    }
    shift = 4  # coordinates in 1/16 px: sub-pixel positions keep slow motion smooth
    if shape in polygon:
        points = np.round([(16 * (x + r * px), 16 * (y + r * py)) for px, py in polygon[shape]]).astype(np.int32)
        if shape.startswith("Hollow"):
            cv2.polylines(frame, [points], True, colour, max(1, int(size / 8)), cv2.LINE_AA, shift)
        else:
            cv2.fillPoly(frame, [points], colour, cv2.LINE_AA, shift)
    elif shape in ("Disc", "Ring"):
        thickness = -1 if shape == "Disc" else max(1, int(size / 8))
        cv2.circle(frame, (round(16 * x), round(16 * y)), round(16 * r), colour, thickness, cv2.LINE_AA, shift)
    elif shape in ("Plus", "Cross"):
        half = r * 0.28
        arms = [[(-1, -half / r), (1, -half / r), (1, half / r), (-1, half / r)],
                [(-half / r, -1), (half / r, -1), (half / r, 1), (-half / r, 1)]]
        if shape == "Cross":  # the plus turned by 45 degrees
            c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
            arms = [[(px * c - py * s, px * s + py * c) for px, py in arm] for arm in arms]
        for arm in arms:
            points = np.round([(16 * (x + r * px), 16 * (y + r * py)) for px, py in arm]).astype(np.int32)
            cv2.fillPoly(frame, [points], colour, cv2.LINE_AA, shift)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return frame


def _drifting(rng, num_frames, speed, margin):
    """Positions [T, 2] of a straight drift at ``speed`` px/frame in a random direction, kept ``margin`` px inside."""
    angle = rng.uniform(0, 2 * np.pi)
    travel = np.array([np.cos(angle), np.sin(angle)]) * speed * (num_frames - 1)
    low = margin - np.minimum(travel, 0)
    high = SIZE - margin - np.maximum(travel, 0)
    start = rng.uniform(low, np.maximum(high, low))
    return start + np.outer(np.arange(num_frames) / max(num_frames - 1, 1), travel)


def render(task, label, rng):
    """Frames ``[T, 32, 32, 3]`` (uint8 RGB) of one clip of ``task`` with class index ``label``."""
    classes, num_frames = TASKS[task][:2]
    frames = np.repeat(background(rng, SIZE, SIZE)[None], num_frames, axis=0)
    if task == "flash":
        grey = _drifting(rng, num_frames, 0.5, 6)  # a ball every class shares, moving all along
        start = rng.integers(0, num_frames - 6 + 1)
        where = rng.uniform(7, SIZE - 7, 2)
        for t, frame in enumerate(frames):
            draw_shape(frame, "Disc", grey[t], 9, (200, 200, 200))
            if start <= t < start + 6:
                draw_shape(frame, "Disc", where, 12, COLOURS[classes[label]])
    elif task in ("late", "majority"):
        others = [c for c in range(len(classes)) if c != label]
        if task == "late":  # two other colours, then the class colour
            colours = list(rng.choice(others, 2, replace=False)) + [label]
        else:  # the class colour twice and another once, in a random order
            colours = list(rng.permutation([label, label, rng.choice(others)]))
        phase = num_frames // 3
        for p, colour in enumerate(colours):
            path = _drifting(rng, phase, 1.0, 7)
            for t in range(phase):
                draw_shape(frames[p * phase + t], "Disc", path[t], 12, COLOURS[classes[colour]])
    else:  # pretrain / finetune: the shape is the class, colour and size are noise
        size = rng.uniform(14, 22)
        path = _drifting(rng, num_frames, 0.5, size / 2 + 1)
        colour = tuple(int(c) for c in rng.integers(60, 256, 3))
        for t, frame in enumerate(frames):
            draw_shape(frame, classes[label], path[t], size, colour)
    return frames


def _options(task, seed):
    classes, frames, train, test = TASKS[task]
    return dict(task=task, classes=list(classes), frames=frames, train_per_class=train, test_per_class=test,
                subsets=list(SUBSETS.get(task, ())), size=SIZE, seed=seed, version=VERSION)


def generate(root, task, seed=0):
    """Write ``task`` under ``root`` and return its manifest (also saved, last, as ``manifest.json``)."""
    options = _options(task, seed)
    root = Path(root)
    lines = {"train.txt": [], "test.txt": [], **{f"train_{n}.txt": [] for n in options["subsets"]}}
    files = {}
    for label, name in enumerate(options["classes"]):
        clips = options["train_per_class"] + options["test_per_class"]
        for clip in range(clips):
            rng = np.random.default_rng([seed, label, clip])
            split = "train" if clip < options["train_per_class"] else "test"
            rel = f"{name}/v_{name}_g{1 if split == 'test' else 2:02d}_c{clip + 1:02d}.mp4"
            path = root / "videos" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, render(task, label, rng), fps=25)
            files[f"videos/{rel}"] = file_sha256(path)
            lines[f"{split}.txt"].append(f"{rel} {label}")
            for n in options["subsets"]:
                if split == "train" and clip < n:
                    lines[f"train_{n}.txt"].append(f"{rel} {label}")
    for filename, content in lines.items():
        (root / filename).write_text("\n".join(content) + "\n")
    (root / "classInd.txt").write_text("".join(f"{i + 1} {name}\n" for i, name in enumerate(options["classes"])))
    manifest = dict(options=options, files=files)
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / "manifest.json")
    return manifest


def prepare(root, task, seed=0):
    """The manifest of an intact copy of ``task`` under ``root``, generated first when missing, stale or damaged."""
    root = Path(root)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        manifest = None
    if manifest is None or manifest.get("options") != _options(task, seed) or any(
            not (root / rel).is_file() or file_sha256(root / rel) != digest
            for rel, digest in manifest["files"].items()):
        manifest = generate(root, task, seed)
    return manifest
