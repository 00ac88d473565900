"""Export the whole test-time TSN - uint8 views in, video scores out - as ONNX or TorchScript, with proof.

    path = export_model(model, "tsn.onnx", extract, names=classes)          # + "tsn.onnx.json", its sidecar
    report = check_export("tsn.onnx", model, "clip.mp4", extract)          # max |exported - predict_video|

**In the graph** (`TestTimeTSN`): the normalisation (ImageNet mean/std, or flow's 128/128: the model takes uint8;
an RGB-difference model's frame differences too), the backbone on every view, the average consensus over the view
axis, the classifier and ``average_clips``
("prob": softmax; "score": raw logits). Input ``views``: uint8 ``[videos, views, C, H, W]``, with the number of
videos, of views and the view size dynamic, so one file serves 25x3 and 25x10 alike. Output ``scores``:
``[videos, num_classes]``. MMAction2 0.x's exporter (``tools/deployment/pytorch2onnx.py``) fixed every dimension and
left normalisation and score averaging outside; its ``--verify`` compared one random class of one random input.
The graph is the average consensus, MMAction2's only one: a max or weighted TSN (`tsnbook.consensus`) pools each
crop's clips in time order, which a graph of any number of views cannot know, and is refused.

**Outside the graph**: decoding, sampling, resize and crop: `tsnbook.views`, which needs numpy, OpenCV and PyAV but
not torch. The sidecar JSON (``<file>.json``) holds what a deployment needs: the views' settings
(`ViewExtractor.from_settings`; a flow model's include how the video's optical flow is computed - algorithm, bound,
resolution, as for its training data - so ``from_file`` makes its flow views from the video itself), the class
names, the input/output names and what the scores are, so

    import json, onnxruntime
    from tsnbook.views import ViewExtractor
    side = json.load(open("tsn.onnx.json"))
    views = ViewExtractor.from_settings(side["views"]).from_file("clip.mp4")
    scores = onnxruntime.InferenceSession("tsn.onnx").run(None, {"views": views[None]})[0][0]

runs without PyTorch (`tests/test_export.py` runs it with torch blocked). ONNX goes through ``torch.onnx.export``'s
``torch.export``-based exporter (``onnx``, ``onnxscript``; ``onnxruntime`` to run it: the ``export`` extra).
TorchScript is ``torch.jit.trace``, deprecated by PyTorch since 2.9 but still loadable with ``torch.jit.load``.
"""
import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

FORMATS = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".ts")}


class TestTimeTSN(nn.Module):
    """A TSN as tested: uint8 views ``[B, V, C, H, W]`` -> scores ``[B, num_classes]`` (see the module docstring)."""

    __test__ = False  # a model, not a pytest class

    def __init__(self, model, average_clips="prob"):
        super().__init__()
        self.model, self.average_clips = model.eval(), average_clips

    def forward(self, views):
        return self.model.class_scores(self.model.fc(self.model.features(views)), self.average_clips)


def _needs(module, extra="export"):
    try:
        return __import__(module)
    except ImportError:
        raise RuntimeError(f"{module} is not installed: pip install 'tsnbook[{extra}]' (onnx, onnxscript, "
                           f"onnxruntime)") from None


def export_format(path, fmt=None):
    """The format of ``path``: ``fmt``, else its ending (.onnx; .pt / .ts for TorchScript)."""
    suffix = Path(path).suffix.lower()
    fmt = fmt or next((name for name, endings in FORMATS.items() if suffix in endings), None)
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the export format of {path}: pass --format onnx or torchscript")
    return fmt


def export_model(model, path, extract, fmt=None, average_clips="prob", names=None, description=""):
    """Write ``model`` as ``fmt`` to ``path`` and its sidecar ``path + '.json'``; returns the path.

    ``extract``: the `tsnbook.views.ViewExtractor` whose views the file takes (its settings go into the sidecar;
    an example of its view size traces the graph, and every size stays dynamic; a flow model's extractor carries
    how a video's flow is computed, `tsnbook.predict.view_extractor`). ``model`` itself is left as it was (device,
    train/eval mode): a copy is exported.
    """
    fmt, path = export_format(path, fmt), Path(path)
    if model.consensus.kind != "avg":
        raise ValueError(f"export writes the average consensus over any number of views; this TSN's "
                         f"{model.consensus.kind} consensus pools each crop's clips in time order: score it with "
                         f"predict (tsnbook.predict_video) instead")
    if model.modality == "flow" and extract.optical_flow is None:
        raise ValueError("a flow model's export must say how a video's optical flow is computed for it: make the "
                         "views with tsnbook.predict.view_extractor(model, cfg, flow=...), whose settings carry the "
                         "flow algorithm, bound and resolution into the sidecar")
    wrapper = TestTimeTSN(copy.deepcopy(model).cpu(), average_clips).eval()
    size = _view_size(extract)
    example = torch.zeros(2, 3, model.in_channels, size, size, dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation, the tracer's notes on the shape checks
        if fmt == "onnx":
            _needs("onnx"), _needs("onnxscript")
            dims = {0: torch.export.Dim("videos"), 1: torch.export.Dim("views"),
                    3: torch.export.Dim("height", min=16), 4: torch.export.Dim("width", min=16)}
            torch.onnx.export(wrapper, (example,), str(path), input_names=["views"], output_names=["scores"],
                              dynamic_shapes={"views": dims}, dynamo=True, external_data=False, verbose=False)
        else:
            torch.jit.trace(wrapper, example).save(str(path))
    sidecar = dict(format=fmt, model=description, input=dict(name="views", dtype="uint8",
                                                             shape=["videos", "views", model.in_channels, "H", "W"]),
                   output=dict(name="scores", shape=["videos", model.num_classes]), average_clips=average_clips,
                   scores="probabilities (softmax)" if average_clips == "prob" else "raw scores (logits)",
                   classes=names, views=extract.settings())
    Path(str(path) + ".json").write_text(json.dumps(sidecar, indent=1) + "\n")
    return path


def _view_size(extract, default=224):
    """The size of the example views that trace the graph (every size stays dynamic, so any real one will do):
    the crop's, else the last fixed-size Resize's (a pipeline without a crop), else ``default``."""
    pipeline = extract.settings()["pipeline"]
    crop = next((step["crop_size"] for step in pipeline if "crop_size" in step), None)
    if crop is not None:
        return crop if isinstance(crop, int) else crop[0]
    scales = [step["scale"] for step in pipeline
              if step["type"] == "Resize" and isinstance(step["scale"], (list, tuple))]
    sizes = [size for size in (scales[-1] if scales else ()) if size > 0]
    return min(sizes) if sizes else default


def load_exported(path, fmt=None, threads=None):
    """A callable ``uint8 [B, V, C, H, W] numpy -> scores [B, num_classes] numpy`` running the exported file:
    onnxruntime for ONNX, ``torch.jit.load`` for TorchScript. ``threads``: intra-op threads (None: the runtime's)."""
    fmt = export_format(path, fmt)
    if fmt == "onnx":
        runtime = _needs("onnxruntime")
        options = runtime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = runtime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda views: session.run(None, {"views": np.ascontiguousarray(views, dtype=np.uint8)})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu")

    def run(views):
        with torch.no_grad():
            return module(torch.as_tensor(views)).numpy()
    return run


def check_export(path, model, video, extract, average_clips="prob", fmt=None, views=None):
    """Run the exported file on ``video``'s views and compare with `tsnbook.predict_video` (eager PyTorch, the
    same views; a flow model's: of the video's optical flow, `tsnbook.views.ViewExtractor.from_file`):
    ``dict(exported, eager, max_abs_diff, views)``. ``views``: the video's views when the caller has them already
    (``export --check --bench`` times the same views: a flow model's flow is computed once)."""
    from .predict import video_views
    views = video_views(video, extract) if views is None else views
    exported = load_exported(path, fmt)(views[None])[0]
    eager = model.score_views(views, average_clips)
    return dict(exported=exported, eager=eager, max_abs_diff=float(np.abs(exported - eager).max()),
                views=tuple(views.shape))


def compare_speed(model, path, views, repeats=3, fmt=None, threads=None):
    """Videos/s of eager PyTorch (`TSN.score_views`, all views in one batch) and of the exported file on the same
    views, run alternately (eager, exported, eager, ...) in this process after one warm-up each, both with
    ``threads`` intra-op threads (default: PyTorch's count): ``dict(eager=, exported=, ratio=, threads=)``, ratio =
    exported / eager videos/s, from the median times. PyTorch's thread count is restored afterwards."""
    before = torch.get_num_threads()
    threads = threads or before
    torch.set_num_threads(threads)
    try:
        run = load_exported(path, fmt, threads)
        batch = np.ascontiguousarray(views[None])
        calls = {"eager": lambda: model.score_views(views, "prob", len(views)), "exported": lambda: run(batch)}
        times = {name: [] for name in calls}
        for name, call in calls.items():
            call()
        for _ in range(repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)  # the caller's setting, not this comparison's
    speed = {name: 1 / float(np.median(t)) for name, t in times.items()}
    return dict(speed, ratio=speed["exported"] / speed["eager"], threads=threads)
