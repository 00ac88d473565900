"""Fixtures shared by the unit tests: a small SynthActions copy with optical flow, made once per session.

Tests marked ``cuda`` (`pytest -m cuda`, what tools/gpu_check.sh runs on a GPU machine) are skipped here when
torch sees no CUDA device - always under the default test profile, which hides the GPU (tsnbook.testenv).
"""
from pathlib import Path

import pytest
import torch

from tsnbook.configs import get_config
from tsnbook.course.demo import prepare_synthactions

SMALL = dict(groups=3, clips_per_group=1, test_groups=1)  # 8 classes x 3 clips: 16 train, 8 test videos


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run tools/gpu_check.sh on a GPU machine)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthactions")
    prepare_synthactions(root, workers=1, progress=False, **SMALL)
    return root


def small_config(modality, data_root, **overrides):
    """The demo config of one stream, shrunk to seconds: 2 epochs of 16 videos, 2 test clips."""
    cfg = get_config(f"tsn_r18_1x1x3_12e_synthactions_{modality}")
    cfg.update(dict(dict(data_root=str(data_root), epochs=2, batch_size=8, lr_steps=[1], test_clips=2,
                         val_clips=1, eval_interval=1), **overrides))
    return cfg


def rgbdiff_config(data_root, **overrides):
    """`small_config` of an RGB-difference model: 2 differences (3 stacked frames) per snippet, NCHW_Stack."""
    cfg = dict(small_config("rgb", data_root, clip_len=2, **overrides), modality="rgbdiff")
    for split in ("train", "val", "test"):
        cfg[f"{split}_pipeline"] = [dict(step, input_format="NCHW_Stack") if step["type"] == "FormatShape" else step
                                    for step in cfg[f"{split}_pipeline"]]
    return cfg


def prepare_cli(argv):
    """``data_scripts/prepare.py ARGV`` in this process: ``(exit status, everything it printed)``."""
    from tsnbook.datasets.command import main
    printed = []
    code = main(argv, log=printed.append)
    return code, "\n".join(printed)


def file_lines(path):
    return Path(path).read_text().splitlines()


def cli_exit(argv):
    """``python -m tsnbook ARGV`` in this process: its exit status, or its one-line ``error: ...`` message."""
    from tsnbook import cli
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in argv])
    return info.value.code


def random_checkpoint(path, cfg, classes=None, seed=0):
    """A seeded random TSN of ``cfg`` saved as ``train`` saves runs (its config and class names inside)."""
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.factory import build_model
    torch.manual_seed(seed)
    save_checkpoint(path, dict(model=build_model(cfg).state_dict(), epoch=1, cfg=cfg, classes=classes))
    return path


def consensus_checkpoint(path, cfg, consensus, classes=None):
    """`random_checkpoint` of ``cfg`` with another ``consensus``, its scores spread out (a classifier of std 0.2) and,
    for "weighted", unequal segment weights (softmax of 0, 1, 2, ...): a test that weighs the wrong clips shows."""
    from tsnbook.checkpoints import save_checkpoint
    from tsnbook.factory import build_model
    cfg = dict(cfg, consensus=consensus)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.fc.weight.normal_(0, 0.2)
        if consensus == "weighted":
            model.consensus.weight.copy_(torch.arange(float(cfg["num_segments"])))
    save_checkpoint(path, dict(model=model.state_dict(), epoch=1, cfg=cfg, classes=classes))
    return path


def frames_and_windows(frames, extract, length, stride, total=None):
    """`tsnbook.timeline.frames_and_spans` of windows of ``length`` frames every ``stride`` frames, ending by
    ``total`` frames when given: windows counted in frames, as the tests reason about them."""
    import itertools

    from tsnbook.timeline import frames_and_spans
    starts = itertools.count(0, stride) if total is None else range(0, total - length + 1, stride)
    return frames_and_spans(frames, extract, ((start, start + length) for start in starts))
