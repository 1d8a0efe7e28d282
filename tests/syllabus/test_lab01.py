"""Lab 01 (convolution and filters): the slides' numbers, computed by NumPy and SciPy, and by the
lab's own functions (``lab_code("01")``: the instructor notebook's definitions, nothing run).

Exact integer arithmetic, or float64 within 1e-12; exact decimals with ``fractions.Fraction``.
"""

from fractions import Fraction

import numpy as np
import pytest
import scipy.signal
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

# Seed 003: a 5x5 binary image and the kernel written over its top-left window (x1 / x0)
BINARY = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
CROSS = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
BINARY_OUT = [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
# Seed 003: one 3x3 window of a 64x64 photo, its kernel (the slide prints -0.03), and a second
# window (the slide prints -0.37)
WINDOW = [["0.16", "0.15", "0.16"], ["0.16", "0.17", "0.17"], ["0.17", "0.17", "0.17"]]
SMALL_KERNEL = [["0.09", "-0.01", "0.08"], ["-0.42", "0.16", "-0.02"], ["-0.32", "0.37", "-0.08"]]
SECOND_WINDOW = [["0.77", "0.21", "0.11"], ["0.81", "0.2", "0.18"], ["0.76", "0.32", "0.13"]]
# Seed 000: a 6x6 image (six rows of the 1D signal) and the kernel [[-1, 0, 1]] * 3
F6 = np.tile([10, 15, 20, 80, 85, 90], (6, 1))
H6 = np.tile([-1, 0, 1], (3, 1))


def floats(rows):
    return np.array([[float(v) for v in row] for row in rows])


def exact_sum_of_products(a, b):
    return sum(Fraction(x) * Fraction(y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


@pytest.fixture(scope="module")
def lab():
    pytest.importorskip("keras")  # the notebook's imports
    return lab_code("01")


# --- independent references -------------------------------------------------------------------


def test_1d_convolution_of_the_slide_signal():
    # np.convolve flips the kernel (a true convolution); mode "same" pads one zero each side
    out = np.convolve([10, 15, 20, 80, 85, 90], [1, 0, -1], mode="same")
    np.testing.assert_array_equal(out, [15, 10, 65, 65, 10, -85])


def test_moving_average_of_the_slide_signal():
    windows = np.lib.stride_tricks.sliding_window_view(np.array([5, 7, 3, 6, 5, 4, 6, 5]), 3)
    np.testing.assert_allclose(windows.mean(axis=1), [5, 16 / 3, 14 / 3, 5, 5, 5], atol=1e-12)
    np.testing.assert_array_equal(np.round(windows.mean(axis=1), 1), [5, 5.3, 4.7, 5, 5, 5])


def test_correlation_and_convolution_of_arange9():
    x, k = np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(
        scipy.signal.correlate2d(x, k, mode="valid"), [[19, 25], [37, 43]]
    )
    np.testing.assert_array_equal(scipy.signal.convolve2d(x, k, mode="valid"), [[5, 11], [23, 29]])


def test_binary_image_of_seed_003():
    np.testing.assert_array_equal(scipy.signal.correlate2d(BINARY, CROSS, mode="valid"), BINARY_OUT)
    # the kernel is unchanged by a 180-degree rotation: convolution gives the same
    np.testing.assert_array_equal(scipy.signal.convolve2d(BINARY, CROSS, mode="valid"), BINARY_OUT)
    assert int(np.sum(np.array(BINARY)[:3, :3] * CROSS)) == 4  # the one value the slide shows


def test_small_kernel_window_of_seed_003_sums_to_minus_0_0228_not_minus_0_03():
    total = exact_sum_of_products(WINDOW, SMALL_KERNEL)
    assert total == Fraction("-0.0228")
    assert round(float(total), 2) == -0.02  # the slide prints -0.03
    # pixels rounded to 0.01 (off by <= 0.005) move the sum by at most 0.005 * sum|kernel|
    slack = Fraction("0.005") * sum(abs(Fraction(v)) for row in SMALL_KERNEL for v in row)
    assert slack == Fraction("0.00775")
    assert total - slack < Fraction("-0.025")  # so the unrounded pixels could give -0.03
    # the second window agrees with its printed -0.37
    assert exact_sum_of_products(SECOND_WINDOW, SMALL_KERNEL) == Fraction("-0.371")


def test_6x6_example_of_seed_000():
    np.testing.assert_array_equal(np.rot90(H6, 2), np.tile([1, 0, -1], (3, 1)))  # kernel rebatido
    np.testing.assert_array_equal(
        scipy.signal.convolve2d(F6, H6, mode="valid"), [[-30, -195, -195, -30]] * 4
    )
    # zero padding (mode "same"): the middle rows are 3x the 1D convolution with [-1, 0, 1]
    same = scipy.signal.convolve2d(F6, H6, mode="same")
    np.testing.assert_array_equal(same[1:-1], [[-45, -30, -195, -195, -30, 255]] * 4)
    np.testing.assert_array_equal(same[[0, -1]], [[-30, -20, -130, -130, -20, 170]] * 2)
    np.testing.assert_array_equal(
        same[1], 3 * np.convolve([10, 15, 20, 80, 85, 90], [-1, 0, 1], mode="same")
    )
    # a correlation (Keras's Conv2D) with the unrotated kernel has the opposite sign
    np.testing.assert_array_equal(
        scipy.signal.correlate2d(F6, H6, mode="valid"), [[30, 195, 195, 30]] * 4
    )


# --- the lab's own code -------------------------------------------------------------------------


def test_lab_conv1d_and_moving_average(lab):
    np.testing.assert_array_equal(
        lab.conv1d([10, 15, 20, 80, 85, 90], [1, 0, -1]), [15, 10, 65, 65, 10, -85]
    )
    slide = lab.moving_average([5, 7, 3, 6, 5, 4, 6, 5], 3)
    np.testing.assert_allclose(slide, [5, 16 / 3, 14 / 3, 5, 5, 5], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.round(slide, 1), [5, 5.3, 4.7, 5, 5, 5])


def test_lab_correlate2d_and_convolve2d_of_arange9(lab):
    x, k = np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(lab.correlate2d(x, k), [[19, 25], [37, 43]])
    np.testing.assert_array_equal(lab.convolve2d(x, k), [[5, 11], [23, 29]])


def test_lab_correlate2d_on_the_seed_003_examples(lab):
    np.testing.assert_array_equal(lab.correlate2d(BINARY, CROSS), BINARY_OUT)
    np.testing.assert_array_equal(lab.convolve2d(BINARY, CROSS), BINARY_OUT)
    got = lab.correlate2d(floats(WINDOW), floats(SMALL_KERNEL))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(float(Fraction("-0.0228")), abs=1e-12)
    got = lab.correlate2d(floats(SECOND_WINDOW), floats(SMALL_KERNEL))
    assert got[0, 0] == pytest.approx(-0.371, abs=1e-12)


def test_lab_convolve2d_on_the_seed_000_example(lab):
    np.testing.assert_array_equal(lab.convolve2d(F6, H6), [[-30, -195, -195, -30]] * 4)
    np.testing.assert_array_equal(lab.correlate2d(F6, H6), [[30, 195, 195, 30]] * 4)


def test_lab_slide_formula_with_and_without_1_over_mn(lab):
    without = lab.slide_conv2d(F6, H6, normalize=False)
    with_factor = lab.slide_conv2d(F6, H6, normalize=True)
    np.testing.assert_array_equal(without, scipy.signal.convolve2d(F6, H6, mode="full"))
    np.testing.assert_allclose(with_factor, without / 36, rtol=1e-15, atol=0)
    assert without[3, 3] == -195 and with_factor[3, 3] == pytest.approx(-195 / 36, rel=1e-15)
    # random shapes: the formula without the factor is scipy's full convolution
    rng = np.random.default_rng(0)
    for shape, kshape in [((4, 7), (2, 3)), ((5, 5), (5, 5)), ((3, 2), (1, 1))]:
        f, h = rng.normal(size=shape), rng.normal(size=kshape)
        np.testing.assert_allclose(
            lab.slide_conv2d(f, h, normalize=False),
            scipy.signal.convolve2d(f, h, mode="full"),
            rtol=1e-12,
            atol=1e-12,
        )


def keras_conv2d(image, kernel):
    """One-filter keras.layers.Conv2D, valid, no bias, on a 2D image: (H - kh + 1, W - kw + 1)."""
    keras = pytest.importorskip("keras")
    image, kernel = np.asarray(image, "float32"), np.asarray(kernel, "float32")
    layer = keras.layers.Conv2D(1, kernel.shape, padding="valid", use_bias=False)
    layer.build((1, *image.shape, 1))
    layer.set_weights([kernel[:, :, None, None]])
    return keras.ops.convert_to_numpy(layer(image[None, :, :, None]))[0, :, :, 0]


def test_keras_conv2d_matches_the_formula_without_1_over_mn(lab):
    # Conv2D correlates: give it the rotated kernel, and 2 zeros of padding for every (x, y)
    out = keras_conv2d(np.pad(F6, 2), np.rot90(H6, 2))
    np.testing.assert_array_equal(out, lab.slide_conv2d(F6, H6, normalize=False))
    assert not np.allclose(out, lab.slide_conv2d(F6, H6, normalize=True))
    # with the slide's kernel as it is, Conv2D gives the correlation: +195
    np.testing.assert_array_equal(keras_conv2d(F6, H6), [[30, 195, 195, 30]] * 4)
    # and the arange(9) example: Conv2D is correlate2d, not convolve2d
    x, k = np.arange(9).reshape(3, 3), np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(keras_conv2d(x, k), lab.correlate2d(x, k))
    np.testing.assert_array_equal(keras_conv2d(x, k), [[19, 25], [37, 43]])
