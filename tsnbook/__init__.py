"""tsnbook: Temporal Segment Networks, as a course and a compact library.

Modules, in the order data flows through them (each imports only those before it):
``sampling`` (which frames) -> ``io`` (decode them) -> ``transforms`` (crop, flip, format) -> ``data``
(datasets from list files) -> ``models`` (TSN) -> ``metrics`` -> ``engine`` (train / test) -> ``demo``.
``presets`` names the zoo's test protocols ("25x10", "25x3", "val", "8x10"), ``bench`` times data pipelines,
``flow`` extracts optical flow, ``synth`` generates the SynthActions dataset, ``viz`` draws figures.
``checkpoints`` imports MMAction2 TSN checkpoints, ``predict`` scores one video, ``bench_model`` times a model.

The names below are imported on first use, so ``import tsnbook.io`` in a decoding worker does not pay for torch.
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "sample_frames": "sampling", "dense_sample_frames": "sampling",
    "open_video": "io", "write_video": "io", "RawFrames": "io", "FlowFrames": "io", "DecodeError": "io",
    "build_pipeline": "transforms", "test_views": "presets",
    "TSNDataset": "data", "VideoRecord": "data", "load_annotations": "data", "build_dataset": "data",
    "TSN": "models",
    "load_mmaction2_checkpoint": "checkpoints", "read_checkpoint": "checkpoints",
    "export_mmaction2_checkpoint": "checkpoints",
    "predict_video": "predict",
    "top_k_accuracy": "metrics", "mean_class_accuracy": "metrics", "fuse_scores": "metrics",
    "build_model": "engine", "train": "engine", "test": "engine", "evaluate": "engine",
    "load_checkpoint": "engine", "read_log": "engine",
    "get_config": "configs",
    "run_demo": "demo",
    "seed_everything": "utils", "best_device": "utils", "environment_report": "utils",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tsnbook' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
