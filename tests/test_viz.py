"""The notebook figures that compute something: the flow colour wheel, the fusion-weight sweep, heatmaps on a
fixed scale, labelled points, and the panels the foundation notebooks draw."""
import matplotlib.ticker
import numpy as np
import pytest

from tsnbook.flow import quantize_flow
from tsnbook.course.figures import (flow_image, flow_wheel, plot_crop_boxes, plot_deviation_heatmap, plot_fusion_sweep,
                                    plot_heatmap, plot_labelled_points, plt)


def test_flow_wheel_is_the_key_to_flow_images():
    wheel = flow_wheel(101)
    assert wheel.shape == (101, 101, 3) and wheel.dtype == np.uint8
    assert (wheel[50, 50] >= 250).all() and (wheel[0, 0] >= 250).all()  # no motion (centre, outside): white
    right, left, up, down = wheel[50, 100], wheel[50, 0], wheel[0, 50], wheel[100, 50]
    colours = {tuple(c) for c in (right, left, up, down)}
    assert len(colours) == 4  # four directions, four hues
    # A uniform rightward flow image has the colour of the wheel's right rim.
    image = flow_image(quantize_flow(np.tile(np.array([5.0, 0.0], np.float32), (8, 8, 1))))
    assert np.abs(image[4, 4].astype(int) - right.astype(int)).max() <= 3
    with pytest.raises(ValueError, match="at least 3"):
        flow_wheel(2)


def test_plot_fusion_sweep_draws_one_line_per_curve():
    fig, ax = plt.subplots()
    weights = [0.0, 0.5, 1.0]
    plot_fusion_sweep(ax, weights, {"raw": [60, 95, 62], "softmax": [60, 90, 62]})
    lines = [line for line in ax.get_lines() if line.get_label() in ("raw", "softmax")]
    assert [list(line.get_ydata()) for line in lines] == [[60, 95, 62], [60, 90, 62]]
    assert any(t.get_text() == "[1:1]" for t in ax.texts)
    with pytest.raises(ValueError, match="2 values for 3 weights"):
        plot_fusion_sweep(ax, weights, {"bad": [1, 2]})
    plt.close(fig)


def test_heatmap_writes_every_value_and_its_note_and_skips_nan():
    fig, ax = plt.subplots()
    plot_heatmap(ax, [[70.6, 70.52], [np.nan, 69.95]], ["a", "b"], ["25x10", "25x3"], "t",
                 notes=[["x", "y"], ["-", "z"]])
    assert sorted(t.get_text() for t in ax.texts) == ["69.95\nz", "70.52\ny", "70.60\nx"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["25x10", "25x3"]
    plot_crop_boxes(ax, [(0, 0, 10, 10), (5, 5, 20, 15)], (40, 30), "boxes")
    assert len(ax.patches) == 3  # the frame and two boxes
    plt.close(fig)


def test_deviation_heatmap_keeps_its_scale_whatever_the_range():
    # A 1.1-point range must not be stretched over the whole colour map: the ends stay at centre +- half_range.
    fig, ax = plt.subplots()
    values = [[70.60, 70.52], [69.80, 70.91]]
    bar = plot_deviation_heatmap(ax, values, ["a", "b"], ["25x10", "25x3"], centre=70.4, half_range=2.0,
                                 scale_label="points", band=0.64)
    image = ax.get_images()[0]
    assert image.get_clim() == (-2.0, 2.0)
    rgba = image.to_rgba(np.asarray(values) - 70.4)
    assert np.abs(rgba - image.to_rgba(0.0)).max() < 0.5  # all near the neutral middle, none at an end
    assert sorted(t.get_text() for t in ax.texts) == ["69.80", "70.52", "70.60", "70.91"]
    assert bar.ax.get_ylabel() == "points"
    assert sorted(line.get_ydata()[0] for line in bar.ax.get_lines()) == [-0.64, 0.64]  # the band's edges
    with pytest.raises(ValueError, match="half_range must be positive"):
        plot_deviation_heatmap(ax, values, ["a", "b"], ["c", "d"], centre=70, half_range=0)
    plt.close(fig)


def test_labelled_points_puts_each_label_beside_its_point():
    fig, ax = plt.subplots()
    plot_labelled_points(ax, [(4.1, 70.9, "ResNet-50", (5, 0)), (15.4, 77.5, "Swin-B", (-5, 0))], "GMACs", "top-1",
                         logx=True)
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("ResNet-50", (4.1, 70.9)), ("Swin-B", (15.4, 77.5))]
    assert [t.get_ha() for t in ax.texts] == ["left", "right"] and ax.get_xscale() == "log"
    assert isinstance(ax.xaxis.get_minor_formatter(), matplotlib.ticker.NullFormatter)  # no overlapping minor labels
    assert ax.xaxis.get_major_formatter()(1000, 0) == "1000"


def test_image_rows_draws_short_rows_without_empty_panels():
    from tsnbook.course.figures import image_rows
    tile = np.zeros((4, 4, 3), np.uint8)
    fig = image_rows([[tile] * 3, [tile], [np.zeros((4, 4))] * 2], ["a", "b", "grey"])
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 9 and len(shown) == 6  # 3 x 3 grid, 6 images: the other 3 panels are switched off
    assert [ax.get_ylabel() for ax in fig.axes[::3]] == ["a", "b", "grey"]
    plt.close(fig)


def test_confusion_panel_counts_and_shares_of_the_whole_row():
    from tsnbook.course.figures import confusion_panel
    fig, ax = plt.subplots()
    part = np.array([[6, 2], [0, 5]])  # two classes cut out of a larger matrix: rows hold 10 and 5 videos in all
    image = confusion_panel(ax, part, ["a", "b"], "t", row_totals=[10, 5])
    assert np.allclose(image.get_array(), [[0.6, 0.2], [0.0, 1.0]])
    assert sorted(t.get_text() for t in ax.texts) == ["2", "5", "6"]  # zeros are left blank
    assert ax.get_ylabel() == "true" and ax.get_xlabel() == "predicted"
    plt.close(fig)


def test_filter_images_stretches_each_filter_to_0_1():
    from tsnbook.course.figures import filter_images
    weights = np.stack([np.full((3, 2, 2), -1.0), np.arange(12.0).reshape(3, 2, 2)])
    weights[0, 0, 0, 0] = 3.0
    images = filter_images(weights)
    assert [im.shape for im in images] == [(2, 2, 3), (2, 2, 3)]
    assert all(im.min() == 0 and im.max() == 1 for im in images)


def test_two_stream_panels_reads_the_runs_and_has_no_empty_panel(tmp_path):
    import json

    from tsnbook.course.figures import two_stream_panels
    from tsnbook.scores import save_scores
    labels = [0, 1, 1]
    for name, scores in [("x_rgb", np.eye(2)[[0, 0, 1]]), ("x_flow", 2 * np.eye(2)[[1, 1, 1]])]:
        (tmp_path / name).mkdir()
        save_scores(tmp_path / name / "test_scores.npz", scores.astype(np.float32), labels, ["v1", "v2", "v3"])
        records = [dict(mode="train", epoch=1, iter=1, loss=2.0), dict(mode="train", epoch=1, iter=2, loss=1.5),
                   dict(mode="val", epoch=1, top1=50.0)]
        (tmp_path / name / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    fig = two_stream_panels(tmp_path, ("x_rgb", "x_flow"), ["A", "B"])
    assert len(fig.axes) == 6  # loss, val top-1, three confusion matrices, one colour bar
    assert all(ax.has_data() for ax in fig.axes[:5])
    fused = fig.axes[4]  # scores [1, 2], [1, 2], [0, 3]: all three videos predicted B
    assert fused.get_title() == "two-stream [1:1]" and sorted(t.get_text() for t in fused.texts) == ["1", "2"]
    plt.close(fig)
