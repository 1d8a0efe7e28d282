"""lablib.plot: every function returns a Figure whose axes show what was asked."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lablib import plot  # noqa: E402

rng = np.random.default_rng(0)


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_image_grid_titles_and_wrong_predictions_in_red():
    images = rng.integers(0, 255, size=(5, 8, 8), dtype=np.uint8)
    fig = plot.image_grid(
        images, [0, 1, 2, 0, 1], class_names=["a", "b", "c"], predictions=[0, 2, 2, 0, 1], ncols=3
    )
    axes = visible_axes(fig)
    assert isinstance(fig, Figure) and len(axes) == 5
    assert axes[1].get_title() == "b\n(pred c)" and axes[1].title.get_color() == "red"
    assert axes[0].title.get_color() == "green"


def test_image_grid_accepts_rgb_float_and_single_channel():
    fig = plot.image_grid(rng.normal(size=(3, 6, 6, 3)), titles=["x", "y", "z"])
    assert [ax.get_title() for ax in visible_axes(fig)] == ["x", "y", "z"]
    assert len(visible_axes(plot.image_grid(rng.random((2, 6, 6, 1))))) == 2


def test_plot_history_panels_and_runs():
    h = {
        "loss": [1.0, 0.5],
        "val_loss": [1.1, 0.7],
        "accuracy": [0.5, 0.8],
        "val_accuracy": [0.4, 0.7],
    }
    fig = plot.plot_history(h, others={"with BN": {"loss": [0.9, 0.3], "accuracy": [0.6, 0.9]}})
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "loss" and acc_ax.get_title() == "accuracy"
    assert len(loss_ax.lines) == 3  # run train, run val, with BN train
    assert {t.get_text() for t in loss_ax.get_legend().get_texts()} == {
        "run train",
        "run val",
        "with BN train",
    }
    fig = plot.plot_history(h, others={"with BN": h}, label="plain")
    assert "plain train" in {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.plot_history({"val_loss": [1.0]})


def test_confusion_matrix_counts():
    fig = plot.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert "75.0%" in ax.get_title()
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("1") == 4 and texts.count("0") == 5


def test_filters_feature_maps_mask_boxes():
    assert len(visible_axes(plot.show_filters(rng.normal(size=(3, 3, 1, 6))))) == 6
    assert len(visible_axes(plot.show_filters(rng.normal(size=(5, 5, 3, 4))))) == 4
    assert len(visible_axes(plot.show_feature_maps(rng.random((1, 8, 8, 20)), max_maps=10))) == 10
    with pytest.raises(ValueError, match="kernel"):
        plot.show_filters(np.zeros((3, 3, 3)))
    fig = plot.overlay_mask(
        rng.random((16, 16, 3)), rng.integers(0, 3, (16, 16)), class_names=["bg", "a", "b"]
    )
    assert [ax.get_title() for ax in fig.axes] == ["image", "mask", "overlay"]
    with pytest.raises(ValueError, match="does not match"):
        plot.overlay_mask(np.zeros((8, 8)), np.zeros((4, 4), int))
    fig = plot.draw_boxes(
        np.zeros((32, 32)),
        [[2, 3, 10, 12], [15, 15, 30, 30]],
        [0, 1],
        scores=[0.9, 0.5],
        class_names=["circle", "square"],
    )
    ax = fig.axes[0]
    assert len(ax.patches) == 2 and ax.patches[0].get_width() == 8
    assert [t.get_text() for t in ax.texts] == ["circle 0.90", "square 0.50"]


def test_image_rows_fixed_grey_scale_row_names_and_titles():
    faint = np.full((3, 6, 6, 1), 0.2)
    fig = plot.image_rows(
        {"input": rng.random((4, 6, 6)), "faint": faint},
        titles={"faint": ["a", "b", "c"]},
        suptitle="rows",
    )
    axes = fig.axes
    assert len(axes) == 8 and len(visible_axes(fig)) == 7  # the short row hides its last panel
    assert axes[0].get_ylabel() == "input" and axes[4].get_ylabel() == "faint"
    assert [ax.get_title() for ax in axes[4:7]] == ["a", "b", "c"]
    image = axes[4].images[0]
    assert image.get_clim() == (0.0, 1.0)  # not stretched to the image's own range
    assert image.get_array().shape == (6, 6)
    with pytest.raises(ValueError, match="at least one row"):
        plot.image_rows({})


def test_image_mosaic_tiles_rows_first_on_a_fixed_scale():
    images = np.stack([np.full((4, 5), v) for v in (0.0, 0.25, 0.5, 0.75, 1.0)])[..., None]
    fig = plot.image_mosaic(
        images, 3, pad=1, xlabels=["a", "b", "c"], ylabels=["top", "bottom"], title="mosaic"
    )
    (ax,) = fig.axes
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 4 + 1, 3 * 5 + 2) and ax.images[0].get_clim() == (0.0, 1.0)
    assert canvas[0, 0] == 0.0 and canvas[0, 6] == 0.25 and canvas[5, 0] == 0.75  # row-major
    assert canvas[4, 0] == 1.0 and canvas[5, 12] == 1.0  # the padding, and the empty last tile
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["top", "bottom"]
    assert ax.get_title() == "mosaic"
    assert plot.image_mosaic(np.zeros((9, 3, 3))).axes[0].images[0].get_array().shape == (11, 11)
    with pytest.raises(ValueError, match="n, H, W"):
        plot.image_mosaic(np.zeros((3, 3)))


def test_precision_recall_curves_and_legend():
    curves = {"circle": ([0.5, 0.5, 1.0], [1.0, 0.5, 0.667]), "square": ([0.0, 1.0], [0.0, 0.5])}
    fig = plot.precision_recall(curves, ap={"circle": 0.75}, title="PR")
    ax = fig.axes[0]
    assert ax.get_title() == "PR" and len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.5, 0.5, 1.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["circle (AP 0.750)", "square"]
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_xlabel() == "recall"
    with pytest.raises(ValueError, match="differ"):
        plot.precision_recall({"x": ([0.1, 0.2], [1.0])})


@pytest.mark.parametrize("two_lines", [False, True])
def test_image_grid_titles_stay_clear_of_the_row_above(two_lines):
    images = np.random.default_rng(0).random((16, 28, 28))
    labels = [i % 10 for i in range(16)]
    kwargs = (
        {"predictions": labels[::-1]} if two_lines else {"titles": [f"crop {i}" for i in labels]}
    )
    fig = plot.image_grid(images, labels, ncols=8, suptitle="a grid", **kwargs)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top_row, second_row = fig.axes[0], fig.axes[8]
    title_top = second_row.title.get_window_extent(renderer).y1
    image_bottom = top_row.get_window_extent(renderer).y0
    assert title_top < image_bottom, "a title of the second row runs into the first row's image"
    matplotlib.pyplot.close(fig)
