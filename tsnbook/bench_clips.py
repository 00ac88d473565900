"""The clips ``bench-data --write-clips`` writes: Kinetics-like H.264 clips (and their JPEG frames), textured and
moving so that they cost what real footage costs to decode, seeded. Apart from `tsnbook.bench`, which times
pipelines on them: notebooks 15 and 17 write clips at other sizes through `write_bench_clips`.
"""
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

#: the frames of the benchmark clips: Kinetics' "340x256" preprocessing at 30 fps, 10 s
BENCH_CLIP = dict(width=340, height=256, frames=300, fps=30)
#: x264's quality for the clips: the README's figures came from CRF 21
CRF = 21
#: the names this module writes (clips, frame folders, their partial forms): the only ones it ever removes
OUR_NAME = re.compile(r"clip_\d{3,}(\.partial)?(\.mp4)?")


def _bench_frames(rng, width, height, frames):
    """Textured, moving content, so that decoding costs what real footage costs: a blurred-noise canvas that
    pans, a disc that moves at constant velocity, and fresh sensor-like noise in every frame."""
    import cv2
    canvas = cv2.GaussianBlur(rng.integers(0, 256, (2 * height, 2 * width, 3), dtype=np.uint8), (0, 0), 1.5)
    position, velocity = rng.uniform((0, 0), (width, height)), rng.normal(0, 3, 2)
    for t in range(frames):
        x, y = int(1.5 * t) % width, int(0.7 * t) % height
        frame = canvas[y:y + height, x:x + width].copy()
        position = (position + velocity) % (width, height)
        cv2.circle(frame, (int(position[0]), int(position[1])), 30, (255, 40, 40), -1)
        noise = rng.integers(-8, 8, frame.shape, dtype=np.int16)
        yield np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_bench_clips(root, num=8, rawframes=False, seed=1000, **clip):
    """Write ``num`` benchmark clips in bench-data's layout under ``root``; returns the video list's path.

    ``root/videos/clip_000.mp4`` ... (H.264 at CRF 21, otherwise x264's defaults: a keyframe every 250 frames, as
    most downloaded footage) and ``root/videos.txt``; with ``rawframes`` also
    ``root/rawframes/clip_000/img_00001.jpg`` ... (JPEG quality 95, MMAction2's rawframe layout) and
    ``root/rawframes.txt``. Seeded and reused: clips already there are kept when ``root/clips.json`` says they
    were written with these settings (seed, size, CRF), and written again otherwise - clips of an older version,
    at CRF 23, would time another decode than the README's. Every file is written under a temporary name and
    renamed when complete. ``clip`` overrides `BENCH_CLIP` (width, height, frames, fps).
    """
    import cv2

    from .io import open_video, write_video
    shape = dict(BENCH_CLIP, **clip)
    root = Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    settings = json.dumps(dict(shape, seed=seed, crf=CRF), sort_keys=True)
    stamp = root / "clips.json"
    ours = [path for folder in ("videos", "rawframes") for path in sorted((root / folder).glob("clip_*"))
            if OUR_NAME.fullmatch(path.name)]
    stale = (stamp.read_text() != settings) if stamp.exists() else bool(ours)
    if stale:  # written again, quietly: a notebook's output does not change with what an older version left
        for path in ours:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        for list_name in ("videos.txt", "rawframes.txt"):
            (root / list_name).unlink(missing_ok=True)
    stamp.with_suffix(".partial").write_text(settings)  # before the clips: each of them is written atomically
    os.replace(stamp.with_suffix(".partial"), stamp)
    videos, folders = [], []
    for i in range(num):
        name = f"clip_{i:03d}"
        path = root / "videos" / f"{name}.mp4"
        if not path.exists():
            frames = _bench_frames(np.random.default_rng(seed + i), shape["width"], shape["height"], shape["frames"])
            partial = path.with_name(f"{name}.partial.mp4")
            write_video(partial, frames, fps=shape["fps"], crf=CRF)
            os.replace(partial, path)
        videos.append(f"{name}.mp4 {i % 4}")
        if rawframes:
            folder = root / "rawframes" / name
            if not folder.is_dir():
                partial = folder.with_name(f"{name}.partial")
                partial.mkdir(parents=True, exist_ok=True)
                with open_video(path) as video:  # the decoded frames, as an extraction tool stores them
                    for number, frame in enumerate(video.get(np.arange(video.num_frames)), start=1):
                        cv2.imwrite(str(partial / f"img_{number:05d}.jpg"), frame[..., ::-1],
                                    [cv2.IMWRITE_JPEG_QUALITY, 95])
                os.replace(partial, folder)
            count = len(list(folder.glob("img_*.jpg")))
            folders.append(f"{name} {count} {i % 4}")
    for list_name, lines in (("videos.txt", videos), ("rawframes.txt", folders)):
        if lines:
            partial = root / f"{list_name}.partial"
            partial.write_text("\n".join(lines) + "\n")
            os.replace(partial, root / list_name)
    return root / "videos.txt"
