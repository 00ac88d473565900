"""Figures for the demo and the notebooks: frame grids, flow images and the colour wheel, training curves,
confusion matrices, the two-stream fusion sweep.

Every function returns a matplotlib Figure (PNG-friendly, fixed size) and never calls ``plt.show()`` itself,
so a notebook cell decides when to show and the demo can save to a file.
"""
from pathlib import Path

import matplotlib

if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "inline"):
    matplotlib.use("Agg")  # headless (demo, CI); notebooks keep their inline backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import flow_to_image  # noqa: E402

from ..flow import dequantize_flow  # noqa: E402
from ..logs import read_log  # noqa: E402
from ..metrics import confusion_matrix  # noqa: E402


def flow_image(quantized_flow, bound=20.0):
    """uint8 x/y flow ``[H, W, 2]`` (JPEG-quantised) -> RGB uint8 ``[H, W, 3]`` in the Middlebury colour wheel."""
    flow = torch.from_numpy(dequantize_flow(quantized_flow, bound)).permute(2, 0, 1)
    return flow_to_image(flow).permute(1, 2, 0).numpy()


def flow_wheel(size=101):
    """The colour wheel that `flow_image` uses, as an RGB uint8 ``[size, size, 3]`` image (the key to flow images).

    Pixel (x, y) shows the colour of a displacement pointing from the centre to it: hue is the direction,
    saturation the speed relative to the largest one (the rim). Image coordinates, so "up" is negative y.
    Outside the disc the flow is zero, which the Middlebury wheel draws white. Like `flow_image`, colours are
    relative: torchvision's `flow_to_image` divides by the largest speed in the image.
    """
    if size < 3:
        raise ValueError(f"size must be at least 3 pixels, got {size}")
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    x, y = np.meshgrid(axis, axis)
    inside = x ** 2 + y ** 2 <= 1.0
    flow = torch.from_numpy(np.stack([x * inside, y * inside]))
    return flow_to_image(flow).permute(1, 2, 0).numpy()


def plot_fusion_sweep(ax, flow_weights, curves, reference=0.5):
    """Fused accuracy against the flow stream's weight ``w`` (RGB gets ``1 - w``), one line per curve.

    ``curves``: {label: accuracies in %, one per weight}. ``reference`` marks the zoo's "[1:1]" (w = 0.5: the
    same ranking as coefficients 1 and 1). w = 0 is the RGB stream alone, w = 1 the flow stream alone.
    """
    flow_weights = np.asarray(flow_weights, dtype=float)
    for label, accuracies in curves.items():
        if len(accuracies) != len(flow_weights):
            raise ValueError(f"curve {label!r} has {len(accuracies)} values for {len(flow_weights)} weights")
        ax.plot(flow_weights, accuracies, "o-", ms=3, label=label)
    if reference is not None:
        ax.axvline(reference, color="grey", ls="--", lw=1)
        ax.annotate("[1:1]", (reference, 0.02), xycoords=("data", "axes fraction"), ha="left", fontsize=8)
    ax.set_xlabel("flow weight w (RGB weight 1 - w)")
    ax.set_ylabel("top-1 (%)")
    ax.legend(fontsize=8)
    return ax


def frame_grid(rows, row_titles=None, col_titles=None, size=1.6):
    """A grid of images: ``rows`` is a list of lists of ``[H, W, 3]`` uint8 images."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * n_rows * 0.8), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(row[j])
            if j == 0 and row_titles:
                ax.set_ylabel(row_titles[i], fontsize=8)
            if i == 0 and col_titles:
                ax.set_title(col_titles[j], fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion(ax, scores, labels, classes, title):
    """Row-normalised confusion matrix (rows = true class) on ``ax``."""
    matrix = confusion_matrix(np.asarray(scores).argmax(1), np.asarray(labels), num_classes=len(classes))
    matrix = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_title(title, fontsize=9)


def plot_training(ax_loss, ax_acc, log_path, label):
    """Training loss per iteration and validation top-1 per evaluated epoch, from a ``log.jsonl``."""
    records = read_log(log_path)
    iters = [r for r in records if r["mode"] == "train"]
    per_epoch = max((r["iter"] for r in iters), default=1)
    x = [(r["epoch"] - 1) + r["iter"] / per_epoch for r in iters]
    ax_loss.plot(x, [r["loss"] for r in iters], label=label, lw=0.8)
    vals = [r for r in records if r["mode"] == "val"]
    ax_acc.plot([r["epoch"] for r in vals], [r["top1"] for r in vals], "o-", label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("val top-1 (%)")


def two_stream_figure(work_dir, configs, classes):
    """Training curves of both streams and the confusion matrices of each stream and of their 1:1 fusion.

    Reads ``<work_dir>/<config>/log.jsonl`` and ``test_scores.npz`` as the demo writes them.
    """
    from ..scores import load_scores
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5))
    streams = {name: load_scores(Path(work_dir) / name / "test_scores.npz") for name in configs}
    for name in configs:
        plot_training(axes[0][0], axes[0][1], Path(work_dir) / name / "log.jsonl", name.rsplit("_", 1)[-1])
    axes[0][0].legend()
    axes[0][1].legend()
    axes[0][2].axis("off")
    labels = streams[configs[0]][1]
    titles = [name.rsplit("_", 1)[-1].upper() for name in configs] + ["two-stream [1:1]"]
    score_sets = [streams[name][0] for name in configs] + [sum(streams[name][0] for name in configs)]
    for ax, scores, title in zip(axes[1], score_sets, titles):
        plot_confusion(ax, scores, labels, classes, title)
    fig.tight_layout()
    return fig


def demo_figure(work_dir, configs, classes):
    """`two_stream_figure` saved as ``<work_dir>/demo.png``; returns the path."""
    fig = two_stream_figure(work_dir, configs, classes)
    path = Path(work_dir) / "demo.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def sampling_timeline(num_frames, rows, size=(10, None)):
    """Which frames a dataset samples from one video: one bar per row, ``rows`` = [(label, frame_inds), ...]
    or [(label, frame_inds, clip_len)]; each snippet in its own colour, a frame drawn twice marked twice."""
    colours = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(len(rows), 1, figsize=(size[0], size[1] or 0.62 * len(rows) + 0.7), sharex=True,
                             squeeze=False)
    for ax, row in zip(axes[:, 0], rows):
        label, inds, clip_len = (row + (1,))[:3]
        ax.add_patch(plt.Rectangle((0, 0), num_frames, 1, color="0.88", lw=0))
        for c, clip in enumerate(np.asarray(inds).reshape(-1, clip_len)):
            for frame in clip.tolist():
                ax.add_patch(plt.Rectangle((frame, 0.1), 1, 0.8, color=colours[c % len(colours)], lw=0))
        ax.set_xlim(-0.01 * num_frames, 1.01 * num_frames)
        ax.set_ylim(-0.1, 1.1)
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    axes[-1, 0].set_xlabel("frame index")
    fig.tight_layout()
    return fig


def views_grid(imgs, rows, cols, row_titles=None, col_titles=None, size=1.4):
    """Network inputs as images: ``imgs`` uint8 ``[V, 3, H, W]`` (a `tsnbook.TSNDataset` item) laid out row by
    row into a ``rows`` x ``cols`` grid (views beyond it are left out)."""
    images = np.asarray(imgs)[:rows * cols].transpose(0, 2, 3, 1)
    grid = [list(images[r * cols:(r + 1) * cols]) for r in range(rows)]
    return frame_grid(grid, row_titles=row_titles, col_titles=col_titles, size=size)


def plot_heatmap(ax, values, row_labels, col_labels, title="", fmt="{:.2f}", notes=None, cmap="viridis"):
    """A table of numbers as coloured cells, each written in its cell (``fmt``), with an optional second line
    per cell (``notes``, same shape as ``values``: e.g. the spread over seeds). NaN cells stay blank."""
    values = np.asarray(values, dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    low, high = np.nanmin(values), np.nanmax(values)
    for (i, j), value in np.ndenumerate(values):
        if np.isnan(value):
            continue
        text = fmt.format(value) + (f"\n{notes[i][j]}" if notes is not None else "")
        dark = high > low and (value - low) / (high - low) < 0.5
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_title(title, fontsize=9)
    return image


def plot_crop_boxes(ax, boxes, frame_size, title, max_boxes=60):
    """The first ``max_boxes`` crop boxes ``(x1, y1, x2, y2)`` drawn as outlines on a frame of ``(w, h)``."""
    width, height = frame_size
    ax.add_patch(plt.Rectangle((0, 0), width, height, fill=False, lw=1.5, color="black"))
    for x1, y1, x2, y2 in boxes[:max_boxes]:
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=0.6, alpha=0.5))
    ax.set_xlim(-5, width + 5)
    ax.set_ylim(height + 5, -5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def plot_seeds(ax, values, title, ylabel="top-1 (%)", chance=None, ylim=(0, 104)):
    """One column per variant (``values`` = {name: [a value per seed]}): every seed as a dot, the mean as a bar,
    on a fixed 0-100 axis so that no difference looks larger than it is; ``chance``: a dashed line."""
    names = list(values)
    for x, name in enumerate(names):
        seeds = np.asarray(values[name], dtype=float)
        ax.bar(x, seeds.mean(), width=0.6, color="#c9d7ea", edgecolor="#4a6a96")
        ax.scatter(np.full(len(seeds), x) + np.linspace(-0.12, 0.12, len(seeds)), seeds, s=18, color="#1f3a63",
                   zorder=3)
    if chance is not None:
        ax.axhline(chance, ls="--", lw=1, color="grey")
        ax.text(-0.45, chance + 1.5, "chance", ha="left", fontsize=8, color="grey")
    ax.set_xticks(range(len(names)), names, fontsize=8, rotation=20, ha="right")
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(title, fontsize=9)
