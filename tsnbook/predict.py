"""Score one video with a trained TSN: MMAction2's ``inference_recognizer``, in tsnbook's terms.

    model, report = load_mmaction2_checkpoint("tsn_r50_...-e508be42.pth")
    scores = predict_video(model, "clip.mp4", protocol="25x10")     # numpy [num_classes], softmax probabilities

The views come from `tsnbook.presets.test_views` (the zoo's protocols, bit-identical to MMAction2's test
pipeline); the model averages the pooled features of *all* views and applies the classifier once (spec §6.1).
`TSN.score_views` does the scoring (the engine's test uses it too).
"""
from pathlib import Path

import numpy as np

from .presets import test_views


def predict_video(model, video_path, protocol="25x10", average_clips="prob", num_segments=None,
                  views_per_chunk=25, backend=None):
    """Class scores of one video (numpy [num_classes]) under a zoo test protocol ("25x10", "25x3", "val", "8x10").

    ``num_segments`` replaces the protocol's clip count; None keeps the protocol's own (25 for 25x10 / 25x3,
    8 for 8x10) and, for "val", uses the model's ``num_segments`` (3 for the 1x1x3 rows). ``video_path`` may also
    be an open tsnbook reader (a `FlowFrames` for a flow model).
    """
    if isinstance(video_path, (str, Path)) and not Path(video_path).is_file():
        raise FileNotFoundError(f"video {video_path} does not exist")
    if num_segments is None and protocol == "val":
        num_segments = model.num_segments
    clip_len = getattr(model, "in_channels", 3) // 2 if model.modality == "flow" else None
    views = test_views(video_path, protocol, num_segments=num_segments, backend=backend, clip_len=clip_len)
    was_training = model.training
    scores = model.score_views(views, average_clips, views_per_chunk)
    model.train(was_training)
    return scores


def load_any_checkpoint(path, trusted=False, num_segments=None):
    """``(model, description)`` from a tsnbook checkpoint (`engine.save_checkpoint`) or an MMAction2 one."""
    from .checkpoints import is_mmaction2_checkpoint, load_mmaction2_checkpoint, read_checkpoint
    state = read_checkpoint(path, trusted)
    if is_mmaction2_checkpoint(state):
        model, report = load_mmaction2_checkpoint(path, num_segments=num_segments, trusted=trusted)
        return model, f"MMAction2 {report['format']} checkpoint, {report['backbone']} {report['modality']}"
    if not (isinstance(state, dict) and isinstance(state.get("model"), dict) and state.get("cfg_name")):
        raise ValueError(f"{path} is neither a tsnbook checkpoint (dict with 'model' and 'cfg_name') nor an "
                         f"MMAction2 one")
    from .configs import get_config
    from .models import build_model
    cfg = get_config(state["cfg_name"])
    if num_segments:
        cfg["num_segments"] = num_segments
    model = build_model(dict(cfg, pretrained=None, load_from=None))
    model.load_state_dict(state["model"])
    return model.eval(), f"tsnbook checkpoint of {state['cfg_name']} (epoch {state.get('epoch', '?')})"


def read_label_map(path, num_classes):
    """Class names from a text file with one name per line; the count must equal the model's classes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label map {path} does not exist")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ValueError(f"label map {path} has {len(names)} names but the model has {num_classes} classes "
                         f"(one class per line, in label order)")
    return names


def top_k(scores, k=5, names=None):
    """``[(class index, name or str(index), score)]`` of the k best classes, best first."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), names[i] if names else str(i), float(scores[i])) for i in order]
