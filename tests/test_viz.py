"""The notebook figures that compute something: the flow colour wheel and the fusion-weight sweep."""
import numpy as np
import pytest

from tsnbook.flow import quantize_flow
from tsnbook.course.figures import flow_image, flow_wheel, plot_crop_boxes, plot_fusion_sweep, plot_heatmap, plt


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
