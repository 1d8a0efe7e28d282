"""Lab 04 (backpropagation): the slide's example gradients, computed by tf.GradientTape.

The slide: X = arange(9).reshape(3, 3), F = [[1, 2], [3, 4]], and an upstream gradient
dL/dO = [[10, 100], [1000, 10000]] whose digits show which output reached which input.
float64 throughout; the results are integers, compared within 1e-9.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

X = np.arange(9, dtype=float).reshape(3, 3)
F = np.array([[1.0, 2.0], [3.0, 4.0]])
DO = np.array([[10.0, 100.0], [1000.0, 10000.0]])


def conv_grads(x, f, dout):
    xt, ft = tf.constant(x[None, :, :, None]), tf.constant(f[:, :, None, None])
    with tf.GradientTape() as tape:
        tape.watch([xt, ft])
        loss = tf.reduce_sum(keras.ops.conv(xt, ft) * dout[None, :, :, None])
    dx, df = tape.gradient(loss, [xt, ft])
    return dx.numpy()[0, :, :, 0], df.numpy()[:, :, 0, 0]


def test_forward_pass_of_the_slide():
    out = keras.ops.convert_to_numpy(keras.ops.conv(X[None, :, :, None], F[:, :, None, None]))
    np.testing.assert_allclose(out[0, :, :, 0], [[27, 37], [57, 67]], atol=1e-9)
    assert X[0, 0] * F[0, 0] + X[0, 1] * F[0, 1] + X[1, 0] * F[1, 0] + X[1, 1] * F[1, 1] == 27


def test_filter_and_input_gradients_of_the_slide():
    dx, df = conv_grads(X, F, DO)
    # dL/dF = conv(X, dL/dO): f_00 = 0*10 + 1*100 + 3*1000 + 4*10000
    np.testing.assert_allclose(df, [[43_100, 54_210], [76_430, 87_540]], atol=1e-9)
    # dL/dX = full_conv(rot180(F), dL/dO): x_11 = 10*f11 + 100*f10 + 1000*f01 + 10000*f00
    np.testing.assert_allclose(
        dx, [[10, 120, 200], [1030, 12_340, 20_400], [3000, 34_000, 40_000]], atol=1e-9
    )


def test_ones_upstream_gradient_and_a_single_output():
    _, df = conv_grads(X, F, np.ones((2, 2)))
    np.testing.assert_allclose(df, [[8, 12], [20, 24]], atol=1e-9)
    _, df = conv_grads(X, F, np.array([[1.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(df, [[0, 1], [3, 4]], atol=1e-9)  # O_00 saw the window X[0:2, 0:2]


def test_max_pool_routes_the_gradient_to_the_arg_max():
    x = np.array([[1, 2, 0, 0], [3, 4, 0, 9], [0, 0, 5, 0], [7, 0, 0, 6]], float)[None, :, :, None]
    g = np.array([[10.0, 20.0], [30.0, 40.0]])[None, :, :, None]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(keras.ops.max_pool(xt, 2, 2) * g)
    dx = tape.gradient(loss, xt).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(dx, [[0, 0, 0, 0], [0, 10, 0, 20], [0, 0, 0, 0], [30, 0, 0, 40]])


def test_relu_gradient_at_zero_is_zero():
    xt = tf.constant([-1.0, 0.0, 2.0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(keras.ops.relu(xt) * tf.constant([5.0, 5.0, 5.0], tf.float64))
    np.testing.assert_array_equal(tape.gradient(loss, xt).numpy(), [0, 0, 5])


def test_tiny_cnn_parameter_counts():
    model = keras.Sequential(
        [
            keras.Input((14, 14, 1)),
            keras.layers.Conv2D(8, 3, padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    assert [layer.count_params() for layer in model.layers] == [
        3 * 3 * 8 + 8,
        0,
        0,
        7 * 7 * 8 * 10 + 10,
    ]
