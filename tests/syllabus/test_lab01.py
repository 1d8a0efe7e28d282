"""Lab 01 (convolution and filters): the slides' numbers, computed by NumPy and SciPy.

Exact integer arithmetic, or float64 within 1e-12.
"""

import numpy as np
import scipy.signal


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
