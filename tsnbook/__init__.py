"""tsnbook: Temporal Segment Networks, as a course and a compact library.

Modules, in the order data flows through them; each imports only modules above it (a test checks):

    spelling      "did you mean ...?": the nearest valid name in an error about an unknown one
    progress      progress bars where a person watches (terminal, notebook), one line per step in a log
    utils         seeding, device choice, environment report
    sampling      which frames: MMAction2's SampleFrames / DenseSampleFrames
    h264          what an H.264 packet holds (NAL types, SPS): where decoding may restart safely
    io            decoding: videos (decord / PyAV / selective H.264), RGB and flow JPEG folders; write_video
    flow          optical flow (DIS, Farneback, TV-L1) as denseflow's JPEGs; a video's flow as a flow model reads it
    streams       frames in order, each decoded once: a file, a URL, a camera
    transforms    Resize, MultiScaleCrop, RandomResizedCrop, Flip, Center/Three/TenCrop, FormatShape
    pipelines     the zoo's training recipe and named test protocols ("25x10", "25x3", "dense-8x1", ...)
    configs       one plain dict per zoo row (+ a _tiny CPU twin each); config files (plain assignments on a row)
    views         test views without torch: sampling, resize, crop (datasets, predict, exported models)
    data          list files -> TSNDataset (sampled, decoded, augmented items)
    backbones     torchvision / timm networks without their classifier, pretrained weights, cross-modality init
    consensus     TSN's segmental consensus: average, max, weighted (and how each scores test views)
    models        TSN: snippets through a backbone, consensus, classifier (RGB, flow, RGB difference)
    checkpoints   tsnbook's checkpoint files: safe reading, atomic writing, strict weight loading
    mmaction2     MMAction2 0.x / 1.x checkpoints: key names, architecture from the weights
    factory       build_model(cfg), load_model(any checkpoint): the one loader
    metrics       top-k, mean class accuracy, mAP, fusion, test reports
    scores        per-video score files (.npz, MMAction2's .pkl / .json)
    logs          JSON-lines training logs
    schedules     learning-rate schedules (step, cosine, warmup, linear scaling)
    optim         SGD and MMAction2's TSM parameter groups
    distributed   torchrun / DDP process groups
    gpu_augment   the training crop / resize / flip batched on the GPU
    loops         train_one_epoch, evaluate: one pass of training, every video's scores
    locks         a work dir held by one run at a time (a POSIX lock on a file in it, across NFS clients)
    runs          a run's work dir: never overwritten by accident, the epoch checkpoints kept
    engine        a run: train (checkpoints, resume, validation, DDP), evaluate_checkpoint
    predict       one video's views and scores (test_views, predict_video; a flow model's flow computed)
    annotate, timeline, batch   a video with its top-k drawn; windows along a long video or stream; many videos
                  (predict_videos: files, folders, list files; the model loaded once)
    features, export, explain   pooled features (extract_features; videos_features: many videos; .npy);
                  ONNX / TorchScript with a check; exact explanations
    bench, bench_model   data-pipeline and model speed
    cli           python -m tsnbook ...
    course/       the course, not the library: SynthActions (synth), the demo, the notebooks' figures

The names below are imported on first use, so ``import tsnbook.io`` in a decoding worker does not pay for torch.
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "sample_frames": "sampling", "dense_sample_frames": "sampling",
    "open_video": "io", "write_video": "io", "RawFrames": "io", "FlowFrames": "io", "DecodeError": "io",
    "build_pipeline": "transforms",
    "TSNDataset": "data", "VideoRecord": "data", "load_annotations": "data", "build_dataset": "data",
    "TSN": "models",
    "read_checkpoint": "checkpoints", "load_checkpoint": "checkpoints",
    "load_mmaction2_checkpoint": "mmaction2", "export_mmaction2_checkpoint": "mmaction2",
    "build_model": "factory", "load_model": "factory",
    "top_k_accuracy": "metrics", "mean_class_accuracy": "metrics", "fuse_scores": "metrics",
    "read_log": "logs", "run_history": "logs",
    "train": "engine", "evaluate": "loops", "evaluate_checkpoint": "engine",
    "test_views": "predict", "predict_video": "predict", "predict_videos": "batch", "extract_features": "features",
    "videos_features": "features",
    "ViewExtractor": "views", "run_timeline": "timeline", "export_model": "export", "explain_views": "explain",
    "get_config": "configs",
    "run_demo": "course.demo",
    "seed_everything": "utils", "best_device": "utils", "environment_report": "utils",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tsnbook' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
