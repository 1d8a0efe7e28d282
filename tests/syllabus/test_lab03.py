"""Lab 03 (pooling): the slides' numbers, against Keras pooling layers and NumPy arithmetic, and
computed by the lab's own functions (``lab_code("03")``: the instructor notebook's definitions,
nothing run).

Pooled values are compared exactly (max of floats; averages of small integers); parameter
counts exactly.
"""

import os

import numpy as np
import pytest
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")


# Seed 000: a 4x4 input whose rows are all [35, 60, 275, -280]
ROWS = np.tile([35, 60, 275, -280], (4, 1))
# (pool size, stride) -> the full output: the slides show F=2; F=3 is a figure, the lab prints it
ROWS_POOLED = {
    (2, 2): [[60, 275], [60, 275]],
    (2, 1): [[60, 275, 275]] * 3,
    (3, 1): [[275, 275], [275, 275]],
}


def pool(layer, x):
    return np.asarray(layer(np.asarray(x, "float32")[None, :, :, None]))[0, :, :, 0]


@pytest.fixture(scope="module")
def lab():
    return lab_code("03")


def nhwc(x):
    return np.asarray(x, "float32")[None, :, :, None]


def test_arange9_max_pooling_2x2_stride_1():
    np.testing.assert_array_equal(
        pool(keras.layers.MaxPooling2D(2, strides=1), np.arange(9).reshape(3, 3)), [[4, 5], [7, 8]]
    )
    np.testing.assert_array_equal(
        pool(keras.layers.AveragePooling2D(2, strides=1), np.arange(9).reshape(3, 3)),
        [[2, 3], [5, 6]],
    )


def test_the_slide_rows_35_60_275_minus_280():
    x = np.tile([35, 60, 275, -280], (4, 1))
    np.testing.assert_array_equal(
        pool(keras.layers.MaxPooling2D(2, strides=2), x), [[60, 275], [60, 275]]
    )
    np.testing.assert_array_equal(
        pool(keras.layers.MaxPooling2D(2, strides=1), x), [[60, 275, 275]] * 3
    )
    assert pool(keras.layers.MaxPooling2D(3, strides=1), x).shape == (2, 2)
    np.testing.assert_array_equal(
        pool(keras.layers.MaxPooling2D(3, strides=1), x), [[275, 275], [275, 275]]
    )


# --- the lab's own code -------------------------------------------------------------------------


def test_lab_pools_arange9(lab):
    x = nhwc(np.arange(9).reshape(3, 3))
    np.testing.assert_array_equal(lab.max_pool2d(x, 2, stride=1)[0, :, :, 0], [[4, 5], [7, 8]])
    np.testing.assert_array_equal(lab.avg_pool2d(x, 2, stride=1)[0, :, :, 0], [[2, 3], [5, 6]])
    np.testing.assert_array_equal(
        lab.max_pool2d(x, 2, stride=1), keras.layers.MaxPooling2D(2, strides=1)(x)
    )


@pytest.mark.parametrize("f, s", list(ROWS_POOLED))
def test_lab_max_pool2d_of_the_slide_rows(lab, f, s):
    got = lab.max_pool2d(nhwc(ROWS), f, stride=s)[0, :, :, 0]
    np.testing.assert_array_equal(got, ROWS_POOLED[(f, s)])
    np.testing.assert_array_equal(got, pool(keras.layers.MaxPooling2D(f, strides=s), ROWS))
    # plain arithmetic: the max of every f x f window, moving by s
    n = (4 - f) // s + 1
    windows = [
        [ROWS[i * s : i * s + f, j * s : j * s + f].max() for j in range(n)] for i in range(n)
    ]
    np.testing.assert_array_equal(got, windows)


@pytest.mark.parametrize(
    "w_in, f, s, expected",
    [
        (3, 2, 1, 2),
        (4, 2, 2, 2),
        (4, 2, 1, 3),
        (4, 3, 1, 2),
        (28, 2, None, 14),
        (14, 2, None, 7),
        (7, 2, None, 3),
    ],
)
def test_lab_pool_output_size(lab, w_in, f, s, expected):
    assert lab.pool_output_size(w_in, f, s) == expected
    layer = keras.layers.MaxPooling2D(f, strides=s)
    assert layer.compute_output_shape((1, w_in, w_in, 1))[1] == expected


def test_lab_global_avg_pool_of_a_10x10x64_block(lab):
    x = np.random.default_rng(0).normal(size=(2, 10, 10, 64)).astype("float32")
    got = lab.global_avg_pool(x)
    assert got.shape == (2, 64)
    np.testing.assert_allclose(got, x.astype(float).mean(axis=(1, 2)), rtol=1e-12, atol=0)
    np.testing.assert_allclose(got, keras.layers.GlobalAveragePooling2D()(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "w_in, f, s, expected",
    [(3, 2, 1, 2), (4, 2, 2, 2), (4, 2, 1, 3), (28, 2, 2, 14), (14, 2, 2, 7), (7, 2, 2, 3)],
)
def test_pool_output_size_slide_numbers(w_in, f, s, expected):
    for layer in (
        keras.layers.MaxPooling2D(f, strides=s),
        keras.layers.AveragePooling2D(f, strides=s),
    ):
        assert layer.compute_output_shape((1, w_in, w_in, 1))[1] == (w_in - f) // s + 1 == expected
        assert layer.count_params() == 0


def test_mnist_model_shapes_and_no_pooling_parameters():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, padding="same"),
            keras.layers.MaxPooling2D(2),
        ]
    )
    assert tuple(model.layers[1].output.shape[1:]) == (14, 14, 32)
    assert tuple(model.layers[3].output.shape[1:]) == (7, 7, 64)
    assert model.layers[1].count_params() + model.layers[3].count_params() == 0


def test_global_average_pooling_heads():
    def params(*head):
        return keras.Sequential([keras.Input((7, 7, 64)), *head]).count_params()

    flatten = params(keras.layers.Flatten(), keras.layers.Dense(10))
    gap = params(keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10))
    nin = params(keras.layers.Conv2D(10, 1), keras.layers.GlobalAveragePooling2D())
    assert (
        (flatten, gap, nin)
        == (7 * 7 * 64 * 10 + 10, 64 * 10 + 10, (64 + 1) * 10)
        == (31_370, 650, 650)
    )
    # 10x10x64 -> 1x1x64 (the slides' example)
    assert keras.layers.GlobalAveragePooling2D(keepdims=True).compute_output_shape(
        (1, 10, 10, 64)
    ) == (1, 1, 1, 64)


def test_vgg_scale_head_numbers():
    # n_in * n_out + n_out, the formula the small heads above confirm with Keras
    assert 7 * 7 * 512 * 4096 + 4096 == 102_764_544
    assert 512 * 4096 + 4096 == 2_101_248
    assert round((7 * 7 * 512 * 4096 + 4096) / (512 * 4096 + 4096)) == 49
