"""Tests for lablib.shapes: the syllabus numbers, and agreement with real Keras layers.

The reference is what Keras layers actually produce: output shapes of layers called on
zero tensors, ``count_params()`` of built layers, and for ``same_padding`` the values of
a "same" convolution versus explicit ``ZeroPadding2D`` + "valid" convolution (random
inputs, seed 0, float32, atol 1e-5).
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from lablib import shapes  # noqa: E402

# ----------------------------------------------------------------------------------------
# The numbers of the slides (SYLLABUS.md, labs 02 and 03)
# ----------------------------------------------------------------------------------------


def test_mlp_on_pixels_numbers():
    n = 640 * 480 * 3
    assert n == 921_600
    assert shapes.dense_params(n, 20) == 18_432_020
    # The slide's 19,353,600 counts n biases (one per INPUT) instead of 20 (one per neuron).
    assert 20 * n + n == 19_353_600
    assert 19_353_600 - shapes.dense_params(n, 20) == n - 20
    assert shapes.dense_params(n, 20, bias=False) == 18_432_000


def test_mlp_first_layer_matches_keras_dense():
    layer = keras.layers.Dense(20)
    layer.build((None, 921_600))
    assert layer.count_params() == shapes.dense_params(921_600, 20) == 18_432_020


@pytest.mark.parametrize(
    "w_in, f, s, p, expected",
    [
        (224, 3, 1, 1, 224),  # slide 000: F=3, S=1, P=1 keeps the size
        (224, 7, 7, 0, 32),  # slide 000: F=7, S=7, P=0
        (256, 3, 1, 0, 254),  # slide 003: 256x256 RGB, 10 filters 3x3, P=0, S=1
        (5, 3, 1, 0, 3),  # slide 003: the 5x5 "sem padding" example
        (28, 3, 1, "same", 28),
    ],
)
def test_conv_output_size_slide_numbers(w_in, f, s, p, expected):
    assert shapes.conv_output_size(w_in, f, s, p) == expected


def test_conv_params_slide_number_and_keras():
    assert shapes.conv_params(3, 3, 10) == 280  # 10 x (3 x 3 x 3) weights + 10 biases
    layer = keras.layers.Conv2D(10, 3)
    out = layer(np.zeros((1, 256, 256, 3), "float32"))
    assert tuple(out.shape) == (1, 254, 254, 10)
    assert layer.count_params() == 280


@pytest.mark.parametrize(
    "w_in, f, s, expected",
    [
        (3, 2, 1, 2),  # arange(9).reshape(3, 3), 2x2 max pooling, stride 1 -> 2x2
        (4, 2, 2, 2),  # slide 000: 4x4 input, F=2, S=2
        (4, 2, 1, 3),  # slide 000: 4x4 input, F=2, S=1
        (28, 2, 2, 14),  # slide 001: MNIST model, 28x28 -> 14x14
        (14, 2, 2, 7),  #            14x14 -> 7x7
    ],
)
def test_pool_output_size_slide_numbers(w_in, f, s, expected):
    assert shapes.pool_output_size(w_in, f, s) == expected


# ----------------------------------------------------------------------------------------
# Agreement with Keras layers over a grid of settings
# ----------------------------------------------------------------------------------------

SIZES, KERNELS, STRIDES = (5, 6, 7, 8, 11), (1, 2, 3, 4), (1, 2, 3)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_output_size_matches_keras_conv2d(padding):
    checked = 0
    for h, f, s, d in itertools.product(SIZES, KERNELS, STRIDES, (1, 2)):
        w = h + 3  # non-square: both axes are checked
        if (s > 1 and d > 1) or (padding == "valid" and shapes.effective_kernel_size(f, d) > h):
            continue  # Keras refuses strides > 1 with dilation > 1; kernel larger than input
        layer = keras.layers.Conv2D(1, f, strides=s, padding=padding, dilation_rate=d)
        out = layer(np.zeros((1, h, w, 1), "float32"))
        expected = (
            shapes.conv_output_size(h, f, s, padding, d),
            shapes.conv_output_size(w, f, s, padding, d),
        )
        assert tuple(out.shape[1:3]) == expected, (h, w, f, s, d, padding)
        checked += 1
    assert checked >= 70


def test_conv_output_size_with_integer_padding_matches_zero_padding_then_valid():
    for h, f, s, p in itertools.product((5, 8), (1, 3, 4), (1, 2, 3), (0, 1, 2)):
        model = keras.Sequential(
            [
                keras.Input((h, h + 1, 1)),
                keras.layers.ZeroPadding2D(p),
                keras.layers.Conv2D(1, f, strides=s),
            ]
        )
        out_shape = model.compute_output_shape((1, h, h + 1, 1))
        assert out_shape[1:3] == (
            shapes.conv_output_size(h, f, s, p),
            shapes.conv_output_size(h + 1, f, s, p),
        )


def test_same_padding_matches_keras_values():
    rng = np.random.default_rng(0)
    for h, w, f, s in [
        (6, 6, 3, 2),
        (7, 6, 3, 2),
        (8, 5, 4, 3),
        (5, 9, 2, 1),
        (6, 7, 5, 2),
        (4, 4, 1, 2),
    ]:
        x = rng.normal(size=(2, h, w, 3)).astype("float32")
        same = keras.layers.Conv2D(4, f, strides=s, padding="same")
        y_same = np.asarray(same(x))
        (top, bottom), (left, right) = shapes.same_padding(h, f, s), shapes.same_padding(w, f, s)
        valid = keras.layers.Conv2D(4, f, strides=s, padding="valid")
        valid.build(x.shape)
        valid.set_weights(same.get_weights())
        y_valid = np.asarray(valid(np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))))
        np.testing.assert_allclose(y_valid, y_same, atol=1e-5, err_msg=str((h, w, f, s)))


def test_same_padding_puts_the_odd_pixel_after():
    assert shapes.same_padding(6, 3, 2) == (0, 1)
    assert shapes.same_padding(7, 3, 2) == (1, 1)
    assert shapes.same_padding(6, 4, 1) == (1, 2)
    assert shapes.same_padding(5, 3, 1, d=2) == (2, 2)
    assert shapes.same_padding(4, 1, 2) == (0, 0)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pool_output_size_matches_keras_pooling(padding):
    for h, f, s in itertools.product(SIZES, (1, 2, 3), (None, 1, 2, 3)):
        w = h + 2
        for layer in (
            keras.layers.MaxPooling2D(f, strides=s, padding=padding),
            keras.layers.AveragePooling2D(f, strides=s, padding=padding),
        ):
            out = layer(np.zeros((1, h, w, 2), "float32"))
            assert tuple(out.shape[1:3]) == (
                shapes.pool_output_size(h, f, s, padding),
                shapes.pool_output_size(w, f, s, padding),
            ), (h, w, f, s, padding)
            assert layer.count_params() == 0


def test_conv_params_matches_keras_count_params():
    for f, c_in, c_out, bias in itertools.product(
        (1, 3, (1, 5), (3, 2)), (1, 3, 16), (1, 8), (True, False)
    ):
        layer = keras.layers.Conv2D(c_out, f, use_bias=bias)
        layer.build((None, 9, 9, c_in))
        assert layer.count_params() == shapes.conv_params(f, c_in, c_out, bias), (
            f,
            c_in,
            c_out,
            bias,
        )


def test_dense_params_matches_keras_count_params():
    for n_in, n_out, bias in itertools.product((1, 7, 3136), (1, 10, 64), (True, False)):
        layer = keras.layers.Dense(n_out, use_bias=bias)
        layer.build((None, n_in))
        assert layer.count_params() == shapes.dense_params(n_in, n_out, bias)


# ----------------------------------------------------------------------------------------
# Edge cases and errors
# ----------------------------------------------------------------------------------------


def test_effective_kernel_size_and_dilation():
    assert [shapes.effective_kernel_size(3, d) for d in (1, 2, 3)] == [3, 5, 7]
    assert shapes.conv_output_size(32, 3, d=2) == shapes.conv_output_size(32, 5) == 28


def test_rounds_down_when_windows_do_not_fit():
    assert shapes.conv_output_size(224, 7, s=2) == 109  # (224 - 7) / 2 + 1 = 109.5
    assert shapes.pool_output_size(7, 2) == 3


@pytest.mark.parametrize(
    "call",
    [
        lambda: shapes.conv_output_size(0, 3),
        lambda: shapes.conv_output_size(2, 3),
        lambda: shapes.conv_output_size(8, 3, s=0),
        lambda: shapes.conv_output_size(8, 3, p=-1),
        lambda: shapes.conv_output_size(8, 3, p="full"),
        lambda: shapes.conv_output_size(8.0, 3),
        lambda: shapes.conv_params(3, 0, 4),
        lambda: shapes.dense_params(True, 4),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_results_are_plain_ints():
    assert type(shapes.conv_output_size(np.int64(9), 3)) is int
    assert type(shapes.conv_params(np.int32(3), 3, 10)) is int
