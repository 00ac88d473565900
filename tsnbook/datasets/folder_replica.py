"""The folder dataset's replica: a folder of your own videos in miniature, with the faults real folders have
(``prepare.py folder replica --root DIR``), for the course's notebook 19 and the tests."""
from pathlib import Path

import numpy as np

from . import replica as _replica

REPLICA_CLASSES = {"red ball": (230, 60, 60), "purple ball": (160, 60, 200), "Café crème": (150, 90, 40),
                   "yellow ball": (230, 200, 40)}
REPLICA_TAKES, REPLICA_CLIPS = 4, 3
REPLICA_GROUP = "^[^/]+"  # the first folder below the class: one take (source video) per folder


def make_replica(root, seed=0):
    """A folder of your own videos in miniature, with the problems real ones have: class folders named with
    spaces and non-ASCII letters, takes (source videos) of three clips each in subfolders (``--group '^[^/]+'``),
    an empty class folder, a text file, a zero-byte video, a copy of a video under another name, one cut short,
    and a class with one take (too few to split). 24-frame 160x120 clips at 25 fps, a disc of the class's colour
    on a textured background. Returns dict(files=[class folders], problems={kind: path})."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for cls, colour in REPLICA_CLASSES.items():
        for take in range(1, (1 if cls == "yellow ball" else REPLICA_TAKES) + 1):
            for clip in range(1, REPLICA_CLIPS + 1):
                frames = _replica.render_clip(rng, 24, 120, 160, colour, rng.uniform(-3, 3, size=2))
                path = root / cls / f"take {take}" / f"clip {clip}.mp4"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_replica.encode_clip(root / ".replica.mp4", frames, fps=25))
    problems = dict(empty_class=root / "empty class", stray=root / "red ball" / "notes.txt",
                    zero_bytes=root / "purple ball" / "take 2" / "broken.mp4",
                    duplicate=root / "purple ball" / "take 4" / "clip 1 copy.mp4",
                    cut=root / "Café crème" / "take 3" / "clip 3.mp4", too_few=root / "yellow ball")
    problems["empty_class"].mkdir(exist_ok=True)
    problems["stray"].write_text("shot on my phone, 2024\n")
    problems["zero_bytes"].write_bytes(b"")
    problems["duplicate"].write_bytes((root / "purple ball" / "take 4" / "clip 1.mp4").read_bytes())
    data = problems["cut"].read_bytes()
    problems["cut"].write_bytes(_replica.cut_short(data))
    return dict(files=sorted(root / cls for cls in REPLICA_CLASSES), problems=problems)
