"""SynthActions: the course's embedded dataset, generated offline from a seed.

Why it exists: the real datasets are tens of gigabytes and cannot be downloaded in CI, yet every idea of the
course (segment sampling, decoding, the two streams) should run on real files. SynthActions writes genuine
H.264 ``.mp4`` files laid out exactly like UCF101 (``videos/<Class>/v_<Class>_gXX_cYY.mp4``, ``classInd.txt``,
``trainlist01.txt``, ``testlist01.txt``) plus MMAction2-style list files, so the loaders that read it also read
UCF101.

It is built to show *why TSN has two streams*. Every video shows one ball moving over a textured background:

* **appearance classes** (``RedBall`` ... ``YellowBall``): the class is the ball's colour; it moves along a
  random *diagonal*. One RGB frame names the class; the motion says only "some appearance class".
* **motion classes** (``MoveLeft`` ... ``MoveDown``): the class is the direction of a *straight* (cardinal)
  motion; the ball's colour is drawn from a palette of its own, at random, and so is its start position. No
  single frame - and, since average consensus is order-blind, no bag of frames - tells left from right.

So an RGB TSN should be near-perfect on the first half and near chance on the second, optical flow the reverse,
and their late fusion should beat both by a wide margin.

Like UCF101, clips are grouped (``gXX``): clips of one group share a background, and split 1 tests on whole
groups (g01-g02) so that no background is seen in both training and testing.
"""
import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np

from ..io import write_video

VERSION = 2  # bump when the generator changes, so stale copies are regenerated (2: CPU-independent x264)

APPEARANCE_COLOURS = {  # class name -> RGB colour of the ball
    "RedBall": (230, 40, 40),
    "GreenBall": (40, 200, 60),
    "BlueBall": (50, 80, 235),
    "YellowBall": (235, 215, 40),
}
MOTION_DIRECTIONS = {  # class name -> (dx, dy) unit direction in image coordinates (y points down)
    "MoveLeft": (-1, 0),
    "MoveRight": (1, 0),
    "MoveUp": (0, -1),
    "MoveDown": (0, 1),
}
MOTION_PALETTE = [(220, 60, 220), (60, 220, 220), (245, 245, 245), (245, 140, 30)]  # magenta, cyan, white, orange
CLASSES = list(APPEARANCE_COLOURS) + list(MOTION_DIRECTIONS)
# A horizontal flip turns MoveLeft into MoveRight: training with Flip needs this label map (as MMAction2's
# Something-Something V2 configs do for their left/right classes). The configs write it as a literal
# (`tsnbook.configs.synthactions.FLIP_LABEL_MAP`, so the library does not import the course); a test checks both agree.
FLIP_LABEL_MAP = {CLASSES.index("MoveLeft"): CLASSES.index("MoveRight"),
                  CLASSES.index("MoveRight"): CLASSES.index("MoveLeft")}

DEFAULTS = dict(width=160, height=120, num_frames=24, fps=25, radius=24, speed=2.5,
                groups=8, clips_per_group=5, test_groups=2, seed=0)


def background(rng, width, height):
    """A smooth grey random texture (blurred noise), shared by the clips of one group.

    Grey, so that colour belongs to the ball alone; textured, so that optical flow has something to get wrong.
    """
    noise = rng.normal(0, 1, (height // 8 + 2, width // 8 + 2)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    grey = np.clip(rng.uniform(90, 150) + 25 * smooth, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def ball_path(class_name, rng, width, height, num_frames, radius, speed):
    """The ball of one clip: its RGB colour and its centre in every frame, ``[num_frames, 2]`` (x, y) in pixels.

    The one place where a clip's random draws are made (the colour or the diagonal, then the start), so that
    `render_clip` and `ball_occupancy` see the same paths: a straight line at ``speed`` px per frame, from a
    random start chosen so that the whole path stays inside the frame.
    """
    if class_name in APPEARANCE_COLOURS:
        colour = APPEARANCE_COLOURS[class_name]
        direction = np.array([rng.choice([-1, 1]), rng.choice([-1, 1])]) / np.sqrt(2)
    else:
        colour = MOTION_PALETTE[rng.integers(len(MOTION_PALETTE))]
        direction = np.array(MOTION_DIRECTIONS[class_name], dtype=float)
    travel = direction * speed * (num_frames - 1)
    low = np.array([radius, radius]) - np.minimum(travel, 0)
    high = np.array([width - radius, height - radius]) - np.maximum(travel, 0)
    start = rng.uniform(low, high)
    return colour, np.stack([start + direction * speed * t for t in range(num_frames)])


def render_clip(class_name, background, rng, num_frames, radius, speed):
    """Frames ``[T, H, W, 3]`` (uint8 RGB) of one clip: a ball on ``background`` moving in a straight line."""
    height, width = background.shape[:2]
    colour, centres = ball_path(class_name, rng, width, height, num_frames, radius, speed)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t, (x, y) in enumerate(centres):
        frame = background.copy()
        # Sub-pixel centre (shift=4 -> 1/16 px) keeps the motion smooth at non-integer speeds.
        cv2.circle(frame, (int(round(x * 16)), int(round(y * 16))), radius * 16, colour, -1, cv2.LINE_AA, 4)
        frames[t] = frame
    return frames


def ball_occupancy(class_name, clips=2000, seed=0, **options):
    """How often each pixel shows the ball in the frames of ``clips`` random clips of ``class_name``: ``[H, W]``
    shares of frames, 0..1 (options as `generate`'s: frame size, radius, speed, ...).

    What one frame can tell about a class: where its ball tends to be. The paths are drawn as `render_clip` draws
    them; each frame's ball is counted as a disc around its centre rounded to the pixel (radius + 0.5: the pixels
    that `render_clip`'s anti-aliased ball covers at least half), so the counts are exact integers and the map is
    the same on every machine.
    """
    cfg = {**DEFAULTS, **options}
    rng = np.random.default_rng(seed)
    width, height, radius = cfg["width"], cfg["height"], cfg["radius"]
    centres = np.zeros((height, width), np.int64)  # how many frames have the ball's centre on each pixel
    for _ in range(clips):
        _, path = ball_path(class_name, rng, width, height, cfg["num_frames"], radius, cfg["speed"])
        np.add.at(centres, (np.round(path[:, 1]).astype(int), np.round(path[:, 0]).astype(int)), 1)
    offsets = np.arange(-radius, radius + 1)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2) <= (radius + 0.5) ** 2
    padded = np.zeros((height + 2 * radius, width + 2 * radius), np.int64)
    for y, x in zip(*np.nonzero(centres)):  # the centres stay `radius` inside the frame: every disc fits the pad
        padded[y:y + 2 * radius + 1, x:x + 2 * radius + 1] += centres[y, x] * disc
    return padded[radius:radius + height, radius:radius + width] / (clips * cfg["num_frames"])


def file_sha256(path):
    """Hex SHA-256 of a file's bytes (the manifest records one per video)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def generate(root, **options):
    """Write SynthActions under ``root`` and return its manifest (a dict, also saved as ``manifest.json``).

    Deterministic: the same options give the same frames and the same files (x264 runs single-threaded).
    Options (see ``DEFAULTS``): frame size, number of frames, fps, ball radius and speed (px/frame), number of
    groups per class, clips per group, how many groups split 1 tests on, and the seed.
    """
    cfg = {**DEFAULTS, **options}
    root = Path(root)
    lines = {"classInd.txt": [], "trainlist01.txt": [], "testlist01.txt": [],
             "synthactions_train_split_1_videos.txt": [], "synthactions_val_split_1_videos.txt": []}
    files = {}
    for label, name in enumerate(CLASSES):
        lines["classInd.txt"].append(f"{label + 1} {name}")
        for group in range(1, cfg["groups"] + 1):
            group_rng = np.random.default_rng([cfg["seed"], label, group])
            group_background = background(group_rng, cfg["width"], cfg["height"])
            for clip in range(1, cfg["clips_per_group"] + 1):
                rel = f"{name}/v_{name}_g{group:02d}_c{clip:02d}.mp4"
                frames = render_clip(name, group_background, group_rng, cfg["num_frames"], cfg["radius"], cfg["speed"])
                path = root / "videos" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                write_video(path, frames, fps=cfg["fps"])
                files[f"videos/{rel}"] = file_sha256(path)
                if group <= cfg["test_groups"]:
                    lines["testlist01.txt"].append(rel)
                    lines["synthactions_val_split_1_videos.txt"].append(f"{rel} {label}")
                else:
                    lines["trainlist01.txt"].append(f"{rel} {label + 1}")
                    lines["synthactions_train_split_1_videos.txt"].append(f"{rel} {label}")
    for filename, content in lines.items():
        (root / filename).write_text("\n".join(content) + "\n")
    manifest = dict(name="SynthActions", version=VERSION, options=cfg, classes=CLASSES, files=files)
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / "manifest.json")  # written last: its presence means "complete"
    return manifest


class CorruptDataError(RuntimeError):
    """A generated file no longer matches the manifest written when it was generated."""


def verify(root, **options):
    """Check an existing copy against its manifest.

    Returns the manifest if the copy is complete, was made by this generator version with these options, and
    every video still has its recorded SHA-256; returns None if there is no complete copy (never generated, or
    interrupted, or generated with other options). Raises ``CorruptDataError`` naming the first damaged file.
    """
    root = Path(root)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if manifest.get("version") != VERSION or manifest.get("options") != {**DEFAULTS, **options}:
        return None
    for rel, digest in manifest["files"].items():
        path = root / rel
        if not path.is_file() or file_sha256(path) != digest:
            raise CorruptDataError(
                f"{path} is missing or corrupt (its SHA-256 differs from {root / 'manifest.json'}). "
                f"Delete {root} and run again to regenerate SynthActions (it takes seconds).")
    return manifest


def prepare(root, regenerate_corrupt=True, **options):
    """Return the manifest of a verified copy under ``root``, generating it first if needed.

    A second call reuses the files. A corrupt copy is reported (the file is named) and, with
    ``regenerate_corrupt=True``, regenerated from its seed; otherwise ``CorruptDataError`` is raised.
    """
    try:
        manifest = verify(root, **options)
    except CorruptDataError as err:
        if not regenerate_corrupt:
            raise
        print(f"warning: {err.args[0].split(' (')[0]} is corrupt; regenerating SynthActions from its seed")
        manifest = None
    return manifest or generate(root, **options)


# --------------------------------------------------------------------------------- replicas for the zoo configs
ZOO_REPLICA_VERSION = 1
TAG_CLASSES = ["appearance", "motion"]  # the multi-label replica's extra labels 8 and 9


def write_zoo_replicas(root):
    """Give an existing SynthActions copy (with its flow, see `tsnbook.demo.prepare_synthactions`) the other
    on-disk shapes the model-zoo configs read, so that every zoo config's ``_tiny`` twin has data:

    * ``zoo_frames/<Class>/<video>/``: RGB JPEGs as ``img_{:05d}.jpg`` and ``{:05d}.jpg`` numbered from 1 (UCF101,
      Kinetics, SthV2 / SthV1) and ``image_{:05d}.jpg`` from 0 (ActivityNet clips); the demo's flow again as
      ``{x,y}_{:05d}.jpg`` from 1 (Kinetics flow) and ``flow_{x,y}_{:05d}.jpg`` from 0 (ActivityNet flow).
      The copies are hard links where the file system allows, so they cost no space.
    * lists, for split in train / val: ``synthactions_<split>_split_1_rawframes.txt`` (``dir frames label``),
      ``..._rawframes_clips.txt`` and ``..._flow_clips.txt`` (``dir offset frames label``: each video cut into
      two clips, as ActivityNet's segment lists with ``with_offset``) and ``..._multilabel_videos.txt``
      (``path class tag``: every video also carries tag 8 "appearance" or 9 "motion", 10 classes in all).

    What the demo reads is left untouched. Returns the number of videos processed.
    """
    from ..io import open_video

    root = Path(root)
    count = 0
    for split in ("train", "val"):
        flow_counts = {}
        for line in (root / f"synthactions_{split}_split_1_flow.txt").read_text().splitlines():
            if line.strip():
                stem, frames, _ = line.split()
                flow_counts[stem] = int(frames)
        lists = {"rawframes": [], "rawframes_clips": [], "flow_clips": [], "multilabel_videos": []}
        for line in (root / f"synthactions_{split}_split_1_videos.txt").read_text().splitlines():
            if not line.strip():
                continue
            rel, label = line.split()
            stem = rel.rsplit(".", 1)[0]
            folder = root / "zoo_frames" / stem
            folder.mkdir(parents=True, exist_ok=True)
            with open_video(root / "videos" / rel) as video:
                frames = video.get(np.arange(video.num_frames))
            for i, frame in enumerate(frames):
                first = folder / f"img_{i + 1:05d}.jpg"
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
                if not ok:
                    raise RuntimeError(f"could not encode {first}")
                buf.tofile(first)
                _link(first, folder / f"{i + 1:05d}.jpg")
                _link(first, folder / f"image_{i:05d}.jpg")
            flows = flow_counts[stem]
            for i in range(flows):
                for axis in "xy":
                    source = root / "rawframes" / stem / f"flow_{axis}_{i + 1:05d}.jpg"
                    _link(source, folder / f"{axis}_{i + 1:05d}.jpg")
                    _link(source, folder / f"flow_{axis}_{i:05d}.jpg")
            num = len(frames)
            lists["rawframes"].append(f"{stem} {num} {label}")
            lists["rawframes_clips"] += [f"{stem} 0 {num // 2} {label}", f"{stem} {num // 2} {num - num // 2} {label}"]
            lists["flow_clips"] += [f"{stem} 0 {flows // 2} {label}",
                                    f"{stem} {flows // 2} {flows - flows // 2} {label}"]
            tag = len(CLASSES) + (0 if CLASSES[int(label)] in APPEARANCE_COLOURS else 1)
            lists["multilabel_videos"].append(f"{rel} {label} {tag}")
            count += 1
        for kind, content in lists.items():
            (root / f"synthactions_{split}_split_1_{kind}.txt").write_text("\n".join(content) + "\n")
    return count


def _link(source, target):
    """Hard-link ``target`` to ``source`` (a copy where links are not possible); replaces an old ``target``."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        import shutil
        shutil.copyfile(source, target)
