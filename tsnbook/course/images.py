"""Pictures of what the network sees: frames and views in grids, flow as colour (and the wheel that is its key),
first-layer filters, the frames a sampler picks, crop boxes on a frame.

Like `tsnbook.course.figures`, every function returns a matplotlib Figure (or draws on an axis) and never calls
``plt.show()`` itself.
"""
import matplotlib

if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "inline"):
    matplotlib.use("Agg")  # headless (demo, CI); notebooks keep their inline backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import flow_to_image  # noqa: E402

from ..flow import dequantize_flow  # noqa: E402


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


def image_rows(rows, row_titles, size=1.4, col_titles=None):
    """Rows of images of different lengths, each row titled on its left: no empty panels where a row is short
    (`frame_grid` draws a full grid). ``rows``: lists of ``[H, W, 3]`` uint8 (or ``[H, W]`` grey) images."""
    n_cols = max(len(row) for row in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.6 + size * n_cols, size * len(rows)), squeeze=False)
    for i, (row, title) in enumerate(zip(rows, row_titles)):
        for j, ax in enumerate(axes[i]):
            if j >= len(row):
                ax.axis("off")
                continue
            ax.imshow(row[j], cmap="gray" if np.ndim(row[j]) == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and col_titles:
                ax.set_title(col_titles[j], fontsize=8)
        axes[i][0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def filter_images(weights):
    """First-layer filters ``[out, 3, k, k]`` as RGB images, each stretched to 0..1 on its own (a filter's scale is
    not what the picture is about: its pattern is)."""
    images = []
    for w in np.asarray(weights, dtype=np.float64):
        image = w.transpose(1, 2, 0)
        images.append((image - image.min()) / max(image.max() - image.min(), 1e-12))
    return images


def views_grid(imgs, rows, cols, row_titles=None, col_titles=None, size=1.4):
    """Network inputs as images: ``imgs`` uint8 ``[V, 3, H, W]`` (a `tsnbook.TSNDataset` item) laid out row by
    row into a ``rows`` x ``cols`` grid (views beyond it are left out)."""
    images = np.asarray(imgs)[:rows * cols].transpose(0, 2, 3, 1)
    grid = [list(images[r * cols:(r + 1) * cols]) for r in range(rows)]
    return frame_grid(grid, row_titles=row_titles, col_titles=col_titles, size=size)


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
