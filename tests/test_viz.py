"""The notebook figures that compute something: the flow colour wheel and the fusion-weight sweep."""
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
    plt.close(fig)
