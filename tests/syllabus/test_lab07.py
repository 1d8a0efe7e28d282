"""Lab 07 (MNIST, MLP vs CNN): the slides' parameter counts and shapes, against Keras.

Every count is the ``count_params()`` of a built Keras model, compared exactly with the
formula ``n_in n_out + n_out`` (Dense) or ``(F F C_in + 1) C_out`` (Conv2D). The lab's own
functions (``lab_code("07")``) are held to the same numbers: the slide's 3136 Flatten values and
the 1,000,011,010 parameters of a 1000x1000 image into 1000 neurons, the multiply-adds the lab
prints, and the shift experiment's helpers against ``scipy.ndimage.shift`` (exact, order 0).
"""

import os

import numpy as np
import pytest
import scipy.ndimage
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers


def mlp(n_inputs, hidden, num_classes=10):
    return keras.Sequential(
        [keras.Input((n_inputs,)), *[layers.Dense(h) for h in hidden], layers.Dense(num_classes)]
    )


def test_mlp_counts():
    assert mlp(784, (512,)).count_params() == 784 * 512 + 512 + 512 * 10 + 10 == 407_050
    assert mlp(784, ()).count_params() == 7_850
    # the slide's warning: a 1000 x 1000 image into 1000 neurons
    assert 1000 * 1000 * 1000 + 1000 + 1000 * 10 + 10 == 1_000_011_010


def slide_cnn(size=28):
    return keras.Sequential(
        [
            keras.Input((size, size, 1)),
            layers.Conv2D(32, 3, padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64),
            layers.Dropout(0.5),
            layers.Dense(10),
        ]
    )


def test_slide_cnn_table():
    model = slide_cnn()
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes[:5] == [(28, 28, 32), (14, 14, 32), (14, 14, 64), (7, 7, 64), (3136,)]
    counts = [layer.count_params() for layer in model.layers]
    assert counts == [320, 0, 18_496, 0, 0, 200_768, 0, 650]
    assert model.count_params() == 220_234
    assert round(100 * 200_768 / 220_234) == 91  # the Dense layer on the 3136 values
    # at 56x56 only the first Dense layer grows: Flatten gives 14 * 14 * 64 values
    assert slide_cnn(56).count_params() == 220_234 - 200_768 + 14 * 14 * 64 * 64 + 64


def test_training_procedure_cnn_counts():
    model = keras.Sequential([keras.Input((28, 28, 1))])
    for c in (32, 64):
        for _ in range(2):
            model.add(layers.Conv2D(c, 3, padding="same"))
            model.add(layers.BatchNormalization(momentum=0.9))
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    for units in (200, 50, 10):
        model.add(layers.Dense(units))
    convs = (9 * 1 + 1) * 32 + (9 * 32 + 1) * 32 + (9 * 32 + 1) * 64 + (9 * 64 + 1) * 64
    dense = 3136 * 200 + 200 + 200 * 50 + 50 + 50 * 10 + 10
    assert model.count_params() == convs + 4 * (32 + 32 + 64 + 64) + dense
    assert tuple(model.layers[-4].output.shape[1:]) == (3136,)


# --- the lab's own code ------------------------------------------------------------------------


def test_the_lab_counts_1_000_011_010_for_the_slides_warning():
    lab = lab_code("07")
    arithmetic = 1000 * 1000 * 1000 + 1000 + 1000 * 10 + 10
    assert lab.mlp_params(1000 * 1000, hidden=(1000,)) == arithmetic == 1_000_011_010
    # the same formula against Keras where a model fits in memory
    for n_inputs, hidden in [(784, (512,)), (1000, (1000,)), (784, ())]:
        assert lab.mlp_params(n_inputs, hidden) == mlp(n_inputs, hidden).count_params()
    assert lab.mlp_params(784) == lab.build_mlp().count_params() == 407_050


def test_the_lab_flattens_the_slide_cnn_to_3136_values():
    lab = lab_code("07")
    cnn = lab.build_cnn()
    assert lab.output_shapes(cnn, layers.Flatten) == [(7 * 7 * 64,)] == [(3136,)]
    assert lab.output_shapes(cnn, layers.MaxPooling2D) == [(14, 14, 32), (7, 7, 64)]
    assert lab.cnn_params(28) == cnn.count_params() == slide_cnn().count_params() == 220_234
    assert lab.dense_params(3136, 64) == 200_768
    assert lab.cnn_params(56) == slide_cnn(56).count_params()
    tp = lab.build_training_procedure_cnn()
    assert lab.output_shapes(tp, layers.Flatten) == [(3136,)]
    assert lab.output_shapes(tp, layers.MaxPooling2D) == [(14, 14, 32), (7, 7, 64)]
    convs = sum(lab.conv_params(3, a, b) for a, b in [(1, 32), (32, 32), (32, 64), (64, 64)])
    dense = lab.dense_params(3136, 200) + lab.dense_params(200, 50) + lab.dense_params(50, 10)
    assert tp.count_params() == convs + 4 * (32 + 32 + 64 + 64) + dense == 703_720


def test_the_lab_multiply_adds():
    lab = lab_code("07")
    # MACs per image: a Dense layer one per weight, a Conv2D one per weight per output position
    cnn = sum(row[3] for row in lab.layer_rows(lab.build_cnn()))
    assert cnn == 28 * 28 * 9 * 32 + 14 * 14 * 9 * 32 * 64 + 3136 * 64 + 64 * 10 == 4_039_808
    mlp_macs = sum(row[3] for row in lab.layer_rows(lab.build_mlp()))
    assert mlp_macs == 784 * 512 + 512 * 10 == 406_528


def test_shift_images_is_scipy_ndimage_shift_with_zero_fill():
    lab = lab_code("07")
    x = np.random.default_rng(0).random((3, 7, 6, 2))
    for dx, dy in [(0, 0), (1, 0), (-2, 3), (4, -4), (0, -6), (6, 0), (-7, 1)]:
        expected = scipy.ndimage.shift(x, (0, dy, dx, 0), order=0, mode="constant", cval=0.0)
        np.testing.assert_array_equal(lab.shift_images(x, dx, dy), expected)
        # and the same as np.roll with the wrapped-around rows and columns set to zero
        rolled = np.roll(x, (dy, dx), axis=(1, 2))
        rolled[:, :dy] = 0 if dy > 0 else rolled[:, :dy]
        if dy < 0:
            rolled[:, dy:] = 0
        if dx > 0:
            rolled[:, :, :dx] = 0
        elif dx < 0:
            rolled[:, :, dx:] = 0
        if abs(dx) >= x.shape[2] or abs(dy) >= x.shape[1]:
            rolled[:] = 0
        np.testing.assert_array_equal(lab.shift_images(x, dx, dy), rolled)


def test_accuracy_under_shift_on_two_hand_made_classifiers():
    lab = lab_code("07")
    # a position reader (class = index of the brightest pixel) fails as soon as the dot moves
    pixel = keras.Sequential(
        [keras.Input((5, 5, 1)), layers.Flatten(), layers.Dense(25, use_bias=False)]
    )
    pixel.set_weights([np.eye(25, dtype="float32")])
    dot = np.zeros((1, 5, 5, 1), "float32")
    dot[0, 2, 2, 0] = 1.0
    assert lab.accuracy_under_shift(pixel, dot, np.array([12]), [0, 1, 3]) == [1.0, 0.0, 0.0]
    # a global-max reader keeps its answer until the dot leaves the image
    bright = keras.Sequential(
        [keras.Input((5, 5, 1)), layers.GlobalMaxPooling2D(), layers.Dense(2)]
    )
    bright.set_weights([np.array([[0.0, 1.0]], "float32"), np.array([0.5, 0.0], "float32")])
    dots = np.zeros((2, 5, 5, 1), "float32")
    dots[0, 2, 2, 0], dots[1, 2, 2, 0] = 0.9, 0.3
    assert lab.accuracy_under_shift(bright, dots, np.array([1, 0]), [0, 2, 3]) == [1.0, 1.0, 0.5]


def test_the_fallback_digits_leave_a_4_pixel_margin(monkeypatch):
    """The lab shifts by up to cfg.max_shift = 4 pixels: on the fallback digits no ink is lost."""
    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    from lablib import datasets

    (x_train, _), (x_test, _) = datasets.load_mnist()
    for x in (x_train, x_test):
        ink_rows, ink_cols = np.flatnonzero(x.any(axis=(0, 2))), np.flatnonzero(x.any(axis=(0, 1)))
        assert (ink_rows.min(), ink_rows.max(), ink_cols.min(), ink_cols.max()) == (4, 23, 4, 23)
    lab = lab_code("07")
    images = x_test[..., None].astype("float32")
    for dx, dy in [(4, 0), (-4, 0), (0, 4), (0, -4)]:
        shifted = lab.shift_images(images, dx, dy)
        np.testing.assert_array_equal(shifted.sum(axis=(1, 2, 3)), images.sum(axis=(1, 2, 3)))
