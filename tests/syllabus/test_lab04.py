"""Lab 04 (backpropagation): the slide's example gradients, computed by tf.GradientTape, and the
lab's own pooling backward passes (``lab_code("04")``) against Keras's pooling layers.

The slide: X = arange(9).reshape(3, 3), F = [[1, 2], [3, 4]], and an upstream gradient
dL/dO = [[10, 100], [1000, 10000]] whose digits show which output reached which input.
float64 throughout; the results are integers, compared within 1e-9.
"""

import os

import numpy as np
import pytest
from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

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


# Average pooling backward (the slide's "copy the values back"): the lab's avgpool_backward
# and Keras's layers under tf.GradientTape, float64.

X4 = np.array([[1, 2, 0, 0], [3, 4, 0, 9], [0, 0, 5, 0], [7, 0, 0, 6]], float)[None, :, :, None]
G4 = np.array([[10.0, 20.0], [30.0, 40.0]])[None, :, :, None]


def tape_grad(layer, x, dout):
    xt = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt) * dout)
    return tape.gradient(loss, xt).numpy()


def test_pooling_layers_copy_the_gradient_back():
    lab = lab_code("04")
    dx_max = tape_grad(keras.layers.MaxPooling2D(2, dtype="float64"), X4, G4)
    np.testing.assert_array_equal(
        dx_max[0, :, :, 0], [[0, 0, 0, 0], [0, 10, 0, 20], [0, 0, 0, 0], [30, 0, 0, 40]]
    )
    np.testing.assert_array_equal(lab.maxpool_backward(G4, X4), dx_max)
    dx_avg = tape_grad(keras.layers.AveragePooling2D(2, dtype="float64"), X4, G4)
    expected = [[2.5, 2.5, 5, 5], [2.5, 2.5, 5, 5], [7.5, 7.5, 10, 10], [7.5, 7.5, 10, 10]]
    np.testing.assert_array_equal(dx_avg[0, :, :, 0], expected)
    np.testing.assert_array_equal(dx_avg[0, :, :, 0], np.kron(G4[0, :, :, 0], np.ones((2, 2))) / 4)
    np.testing.assert_array_equal(lab.avgpool_backward(G4, X4.shape)[0, :, :, 0], expected)
    assert dx_max.sum() == dx_avg.sum() == G4.sum() == 100


def test_overlapping_average_windows_add_their_shares():
    lab = lab_code("04")
    layer = keras.layers.AveragePooling2D(2, strides=1, dtype="float64")
    dx = tape_grad(layer, X4, np.ones((1, 3, 3, 1)))
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]) / 4
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)
    np.testing.assert_array_equal(
        lab.avgpool_backward(np.ones((1, 3, 3, 1)), (1, 4, 4, 1), 2, 1)[0, :, :, 0], expected
    )


@pytest.mark.parametrize(
    "shape, pool, stride",
    [
        ((2, 6, 6, 3), 2, None),
        ((3, 7, 7, 2), 2, None),  # last row and column in no window
        ((2, 7, 8, 3), 3, 1),  # overlapping
        ((1, 9, 9, 2), 3, 2),  # overlapping, stride 2
        ((2, 8, 9, 1), 2, 3),  # gaps between windows
        ((1, 5, 5, 3), 5, None),  # global average pooling
    ],
)
def test_lab_avgpool_matches_keras_forward_and_backward(shape, pool, stride):
    lab = lab_code("04")
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    layer = keras.layers.AveragePooling2D(pool, strides=stride, dtype="float64")
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(lab.avgpool_forward(x, pool, stride), out, rtol=1e-12, atol=1e-12)
    dout = rng.normal(size=out.shape)
    np.testing.assert_allclose(
        lab.avgpool_backward(dout, shape, pool, stride),
        tape_grad(layer, x, dout),
        rtol=1e-12,
        atol=1e-12,
    )
