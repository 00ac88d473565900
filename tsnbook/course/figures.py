"""Figures of results for the demo and the notebooks: training curves, confusion matrices, the two-stream fusion
sweep, heatmaps of tables, timelines and explanations. The pictures of inputs (frame grids, flow images, sampled
frames, crop boxes) are in `tsnbook.course.images`, and importable from here too.

Every function returns a matplotlib Figure (PNG-friendly, fixed size) and never calls ``plt.show()`` itself,
so a notebook cell decides when to show and the demo can save to a file.
"""
from pathlib import Path

# first: importing images picks the headless backend where there is no notebook, before pyplot loads
from .images import (filter_images, flow_image, flow_wheel, frame_grid, image_rows,  # noqa: F401 (re-exported)
                     plot_crop_boxes, sampling_timeline, views_grid)
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from ..logs import read_log, run_history  # noqa: E402
from ..metrics import confusion_matrix  # noqa: E402


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


def plot_confusion(ax, scores, labels, classes, title):
    """Row-normalised confusion matrix (rows = true class) on ``ax``."""
    matrix = confusion_matrix(np.asarray(scores).argmax(1), np.asarray(labels), num_classes=len(classes))
    matrix = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_title(title, fontsize=9)


def confusion_figure(scores, labels, classes, title, path):
    """`plot_confusion` alone, sized to the class count, saved as the PNG ``path`` (``python -m tsnbook test
    --eval confusion_matrix --out ...``)."""
    size = min(24.0, 3.0 + 0.35 * len(classes))
    fig, ax = plt.subplots(figsize=(size, size))
    plot_confusion(ax, scores, labels, classes, title)
    ax.set_ylabel("true", fontsize=8)
    if len(classes) <= 20:  # the counts, where they fit
        matrix = confusion_matrix(np.asarray(scores).argmax(1), np.asarray(labels), num_classes=len(classes))
        dark = matrix > 0.5 * np.maximum(matrix.sum(1, keepdims=True), 1)
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, count, ha="center", va="center", fontsize=7, color="white" if dark[i, j] else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_training(ax_loss, ax_acc, log_path, label):
    """Training loss per iteration and validation top-1 per evaluated epoch, from a ``log.jsonl`` (the history its
    latest checkpoint continues: a resumed run's epochs once)."""
    records = run_history(read_log(log_path))
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


def confusion_panel(ax, matrix, classes, title, row_totals=None):
    """A confusion matrix of counts (rows: true class, as `tsnbook.metrics.confusion_matrix` gives it), coloured by
    each cell's share of its row, with the counts written in the cells where they fit (<= 20 classes). Returns the
    image, for a colour bar of the shares.

    ``row_totals``: the videos of each row's class when ``matrix`` is a part of a larger matrix (a few classes of
    Kinetics' 400): the shares stay shares of all the class's videos, not of the columns shown.
    """
    matrix = np.asarray(matrix)
    totals = matrix.sum(1) if row_totals is None else np.asarray(row_totals)
    share = matrix / np.maximum(totals, 1)[:, None]
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    ax.set_title(title, fontsize=9)
    if len(classes) <= 20:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax.text(j, i, count, ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    return image


def two_stream_panels(work_dir, configs, classes):
    """`two_stream_figure` without its empty panel: training loss and validation top-1 of both streams above,
    the confusion matrices of each stream and of their 1:1 fusion below (counts in the cells, one colour bar)."""
    from ..scores import load_scores
    fig = plt.figure(figsize=(13, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, 6, height_ratios=[1, 1.35])
    ax_loss, ax_acc = fig.add_subplot(grid[0, :3]), fig.add_subplot(grid[0, 3:])
    streams = {name: load_scores(Path(work_dir) / name / "test_scores.npz") for name in configs}
    for name in configs:
        plot_training(ax_loss, ax_acc, Path(work_dir) / name / "log.jsonl", name.rsplit("_", 1)[-1])
    ax_acc.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole numbers
    ax_loss.legend()
    ax_acc.legend()
    labels = streams[configs[0]][1]
    titles = [name.rsplit("_", 1)[-1].upper() for name in configs] + ["two-stream [1:1]"]
    score_sets = [streams[name][0] for name in configs] + [sum(streams[name][0] for name in configs)]
    axes = [fig.add_subplot(grid[1, 2 * i:2 * i + 2]) for i in range(3)]
    for ax, scores, title in zip(axes, score_sets, titles):
        matrix = confusion_matrix(np.asarray(scores).argmax(1), np.asarray(labels), num_classes=len(classes))
        image = confusion_panel(ax, matrix, classes, title)
    fig.colorbar(image, ax=axes, shrink=0.8, label="share of the true class's test videos")
    return fig


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


def timeline_figure(result, top=4, truth=None, size=(10, 3.2)):
    """Class scores over time of a `tsnbook.timeline.run_timeline` result: one line per class among the ``top``
    classes that score highest in some window, each point at its window's centre; ``truth``: ``[(start s, end s,
    name)]`` drawn as shaded bands (a stitched video's known classes)."""
    from ..timeline import timeline_scores
    centres, scores = timeline_scores(result)
    names = result.get("classes") or [str(i) for i in range(scores.shape[1])]
    chosen = [int(i) for i in np.argsort(-scores.max(axis=0), kind="stable")[:top]]
    fig, ax = plt.subplots(figsize=size)
    colours = {index: plt.cm.tab10(n % 10) for n, index in enumerate(chosen)}
    for start, end, name in truth or ():
        index = names.index(name) if name in names else None
        ax.axvspan(start, end, color=colours.get(index, "0.8"), alpha=0.12, lw=0)
        ax.text((start + end) / 2, 1.02, name, ha="center", va="bottom", fontsize=8,
                transform=ax.get_xaxis_transform())
    for index in chosen:
        ax.plot(centres, scores[:, index], marker="o", ms=3, color=colours[index], label=names[index])
    ax.set_xlim(0, result["num_frames"] / result["fps"])
    ax.set_xlabel("time (s): the centre of each window")
    prob = result.get("average_clips") == "prob"
    ax.set_ylabel("probability" if prob else "score")
    if prob:
        ax.set_ylim(0, 1)
    ax.set_title(f"{result['window']:g}-s windows every {result['stride']:g} s", fontsize=10, pad=16 if truth else 6)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def explanation_figure(result, views, crops, name, max_clips=8, size=1.5):
    """A `tsnbook.explain.explain_views` result: the segments' and crops' contributions to the score (bars), and
    the class activation map over each shown view (red: for the class, blue: against; one colour scale for all)."""
    from ..explain import upsampled
    clips = len(views) // crops
    shown = np.unique(np.linspace(0, clips - 1, min(clips, max_clips)).round().astype(int))
    rows = min(crops, 3)
    fig = plt.figure(figsize=(max(6.0, size * len(shown)), 2.4 + size * rows))
    grid = fig.add_gridspec(rows + 1, len(shown), height_ratios=[1.6] + [1] * rows)
    bars = fig.add_subplot(grid[0, :])
    colours = ["tab:red" if v > 0 else "tab:blue" for v in result["per_segment"]]
    bars.bar(np.arange(1, clips + 1), result["per_segment"], color=colours)
    bars.axhline(0, color="0.3", lw=0.8)
    per_crop = ", ".join(f"{v:+.2f}" for v in result["per_crop"])
    bars.set_title(f"{name}: score {result['score']:.2f} = sum of the segments' shares (crops: {per_crop})",
                   fontsize=9)
    bars.set_xlabel("segment (clip), in time order", fontsize=8)
    if clips <= 25:
        bars.set_xticks(np.arange(1, clips + 1))
    bars.set_ylabel("share of the score", fontsize=8)
    limit = max(abs(result["maps"]).max(), 1e-9)
    for row in range(rows):
        for col, clip in enumerate(shown):
            index = row * clips + clip
            ax = fig.add_subplot(grid[row + 1, col])
            image = views[index]
            image = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
            ax.imshow(image, cmap=None if image.ndim == 3 else "gray")
            ax.imshow(upsampled(result["maps"][index], image.shape[:2]), cmap="RdBu_r", vmin=-limit, vmax=limit,
                      alpha=0.6)
            ax.set_title(f"s{clip + 1}c{row + 1} {result['contributions'][index]:+.2f}", fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def save_figure(fig, path):
    """Write ``fig`` (PNG, SVG or PDF by the ending) and close it, so that a command run inside a notebook does not
    also show it."""
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_deviation_heatmap(ax, values, row_labels, col_labels, centre, half_range, title="", fmt="{:.2f}",
                           notes=None, scale_label="", band=None):
    """`plot_heatmap` for numbers that differ by less than their noise: each cell coloured by ``value - centre``
    on a diverging scale whose ends are fixed at ``± half_range`` (e.g. a noise floor), so that a small range of
    numbers looks small. The value itself (``fmt``) and an optional ``notes`` line are written in each cell; a
    colour bar labelled ``scale_label`` gives the scale, with lines at ``± band`` when given (e.g. the noise floor:
    a cell whose colour lies between them is within it of the centre). An automatic scale would stretch any
    range, however small, from the darkest colour to the brightest. Returns the colour bar."""
    values = np.asarray(values, dtype=float)
    if half_range <= 0:
        raise ValueError(f"half_range must be positive, got {half_range}")
    image = ax.imshow(np.ma.masked_invalid(values - centre), cmap="RdBu_r", vmin=-half_range, vmax=half_range,
                      aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):
            text = fmt.format(value) + (f"\n{notes[i][j]}" if notes is not None else "")
            dark = abs(value - centre) > 0.75 * half_range  # the saturated ends of the scale
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_title(title, fontsize=9)
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.08, pad=0.03)
    bar.set_label(scale_label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if band is not None:
        for edge in (-band, band):
            bar.ax.axhline(edge, color="black", lw=1.2)
    return bar


def plot_labelled_points(ax, points, xlabel, ylabel, title="", logx=False):
    """A scatter plot with a text label per point: ``points`` is ``[(x, y, label, (dx, dy))]``, the label placed
    ``(dx, dy)`` typographic points away from its marker (chosen per point, so that close markers' labels do not
    overlap)."""
    for x, y, label, (dx, dy) in points:
        ax.plot([x], [y], "o", ms=5, color="tab:blue")
        ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8,
                    ha="left" if dx >= 0 else "right", va="center")
    if logx:  # plain numbers (300, 1000) at the major ticks, none at the minor ones: they would overlap
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    return ax


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
        # labelled just outside the right edge, where no seed's dot can sit on it
        ax.text(1.01, chance, "chance", transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8,
                color="grey")
    ax.set_xticks(range(len(names)), names, fontsize=8, rotation=20, ha="right")
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(title, fontsize=9)
