"""Tests for lablib.numpy_nn against Keras layers, tf.GradientTape, SciPy and finite differences.

Everything runs in float64 (Keras layers built with ``dtype="float64"``) with fixed seeds.
Tolerances, as the largest elementwise relative error ``|a - b| / (|a| + |b|)``
(``lablib.checks.rel_error``):

* against Keras / GradientTape / SciPy / the loop version: ``TOL_EXACT = 1e-9`` (the same
  sums in a different order; float64 rounding is ~1e-16);
* against central finite differences (h = 1e-5): ``TOL_FD = 1e-5``.

Run ``pytest tests/test_layers.py -s`` to see the largest errors observed per comparison.
"""

from __future__ import annotations

import doctest
import os
import zlib
from collections import defaultdict

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import signal  # noqa: E402

from lablib import numpy_nn as L  # noqa: E402
from lablib.checks import rel_error  # noqa: E402
from lablib.shapes import same_padding  # noqa: E402

TOL_EXACT = 1e-9
TOL_FD = 1e-5
_worst: dict[str, float] = defaultdict(float)


def close(kind: str, got, expected, tol: float) -> None:
    """Assert rel_error(got, expected) < tol and remember the largest error per kind."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{kind}: shape {got.shape} != {expected.shape}"
    err = rel_error(got, expected)
    _worst[kind] = max(_worst[kind], err)
    assert err < tol, f"{kind}: relative error {err:.3g} >= {tol:g}"


@pytest.fixture(scope="module", autouse=True)
def report_worst():
    yield
    print("\nlargest relative errors seen (lablib.numpy_nn):")
    for kind in sorted(_worst):
        print(f"  {kind:<42s} {_worst[kind]:.2e}")


def rng_for(*key) -> np.random.Generator:
    """A generator seeded by the test case (crc32 of its repr: the same in every run)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def tape_grads(layer, x: np.ndarray, dout: np.ndarray, weights, **call_kwargs):
    """Gradients of sum(layer(x) * dout) with respect to x and the given variables."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt, **call_kwargs) * dout)
    return [g.numpy() for g in tape.gradient(loss, [xt, *weights])]


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize(
    "size, kernel, stride, expected",
    [
        (5, 3, 1, (1, 1)),
        (5, 4, 1, (1, 2)),
        (6, 3, 2, (0, 1)),
        (7, 3, 2, (1, 1)),
        (8, 4, 2, (1, 1)),
        (7, 4, 3, (1, 2)),
        (8, 3, 3, (0, 1)),
        (9, 2, 3, (0, 0)),
        (4, 1, 2, (0, 0)),
    ],
)
def test_same_padding_follows_tensorflow(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected
    # TensorFlow agrees: a kernel of ones on an image of ones counts each window's real pixels
    x = np.ones((1, size, size, 1))
    counts = tf.nn.conv2d(x, np.ones((kernel, kernel, 1, 1)), stride, "SAME").numpy()[0, :, 0, 0]
    ours = L.conv2d_forward_fast(x, np.ones((kernel, kernel, 1, 1)), np.zeros(1), stride, "same")[
        0
    ][0, :, 0, 0]
    np.testing.assert_array_equal(ours, counts)


# --------------------------------------------------------------------------- convolution

CONV_CASES = [  # (N, H, W, C_in, C_out, k, stride, padding)
    (2, 5, 5, 1, 1, 3, 1, "valid"),
    (2, 5, 5, 1, 1, 3, 1, "same"),
    (2, 6, 7, 2, 3, 3, 2, "same"),  # odd total padding: one more row/column at the bottom/right
    (2, 6, 6, 3, 2, 3, 2, "valid"),
    (1, 7, 7, 3, 2, 4, 3, "same"),
    (2, 9, 8, 2, 4, 3, 3, "valid"),  # last rows/columns reached by no window
    (3, 6, 6, 4, 2, 2, 2, "same"),
    (2, 5, 6, 2, 3, 1, 2, "same"),
    (1, 8, 8, 1, 5, 5, 1, "same"),
]


def _conv_case(case):
    n, h, w, c_in, c_out, k, stride, padding = case
    rng = rng_for("conv", case)
    x, kernel, bias = (
        rng.normal(size=(n, h, w, c_in)),
        rng.normal(size=(k, k, c_in, c_out)),
        rng.normal(size=c_out),
    )
    layer = keras.layers.Conv2D(c_out, k, strides=stride, padding=padding, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    return x, kernel, bias, stride, padding, layer, rng


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_matches_keras_and_gradient_tape(case):
    x, kernel, bias, stride, padding, layer, rng = _conv_case(case)
    expected = layer(x).numpy()
    out_loop, cache_loop = L.conv2d_forward(x, kernel, bias, stride, padding)
    out_fast, cache_fast = L.conv2d_forward_fast(x, kernel, bias, stride, padding)
    close("conv forward loop vs Keras", out_loop, expected, TOL_EXACT)
    close("conv forward fast vs Keras", out_fast, expected, TOL_EXACT)

    dout = rng.normal(size=expected.shape)
    tape = tape_grads(layer, x, dout, [layer.kernel, layer.bias])
    loop = L.conv2d_backward(dout, cache_loop)
    fast = L.conv2d_backward_fast(dout, cache_fast)
    for name, g_loop, g_fast, g_tape in zip(("dx", "dw", "db"), loop, fast, tape):
        close(f"conv {name} loop vs GradientTape", g_loop, g_tape, TOL_EXACT)
        close(f"conv {name} fast vs GradientTape", g_fast, g_tape, TOL_EXACT)
        close(f"conv {name} loop vs fast", g_loop, g_fast, TOL_EXACT)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_backward_matches_finite_differences(case):
    x, kernel, bias, stride, padding, _, rng = _conv_case(case)
    out, cache = L.conv2d_forward_fast(x, kernel, bias, stride, padding)
    dout = rng.normal(size=out.shape)
    dx, dw, db = L.conv2d_backward_fast(dout, cache)
    fwd = lambda: L.conv2d_forward_fast(x, kernel, bias, stride, padding)[0]  # noqa: E731
    close(
        "conv dx vs finite differences",
        dx,
        L.numerical_gradient(lambda _: fwd(), x, dout=dout),
        TOL_FD,
    )
    close(
        "conv dw vs finite differences",
        dw,
        L.numerical_gradient(lambda _: fwd(), kernel, dout=dout),
        TOL_FD,
    )
    close(
        "conv db vs finite differences",
        db,
        L.numerical_gradient(lambda _: fwd(), bias, dout=dout),
        TOL_FD,
    )


def test_conv2d_loop_backward_matches_finite_differences():
    x, kernel, bias, stride, padding, _, rng = _conv_case(CONV_CASES[2])
    out, cache = L.conv2d_forward(x, kernel, bias, stride, padding)
    dout = rng.normal(size=out.shape)
    dx, dw, _ = L.conv2d_backward(dout, cache)
    fwd = lambda _: L.conv2d_forward(x, kernel, bias, stride, padding)[0]  # noqa: E731
    close("conv dx vs finite differences", dx, L.numerical_gradient(fwd, x, dout=dout), TOL_FD)
    close("conv dw vs finite differences", dw, L.numerical_gradient(fwd, kernel, dout=dout), TOL_FD)


def test_conv2d_slide_formulas_single_channel():
    """dL/dF = correlate(X, dL/dO) (valid) and dL/dX = full_conv(rot180(F), dL/dO), via SciPy."""
    rng = np.random.default_rng(3)
    x, f, dout = rng.normal(size=(3, 3)), rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    _, cache = L.conv2d_forward(x[None, :, :, None], f[:, :, None, None], np.zeros(1))
    dx, dw, _ = L.conv2d_backward(dout[None, :, :, None], cache)
    close(
        "slide dF = correlate(X, dO)",
        dw[:, :, 0, 0],
        signal.correlate2d(x, dout, mode="valid"),
        TOL_EXACT,
    )
    rot180 = f[::-1, ::-1]
    full = signal.correlate2d(np.pad(dout, 1), rot180, mode="valid")  # full_conv(rot180(F), dO)
    close("slide dX = full_conv(rot180 F, dO)", dx[0, :, :, 0], full, TOL_EXACT)
    close(
        "slide dX = full_conv(rot180 F, dO)",
        dx[0, :, :, 0],
        signal.convolve2d(dout, f, mode="full"),
        TOL_EXACT,
    )


def test_conv2d_rejects_bad_arguments():
    x, w, b = np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 2, 4)), np.zeros(4)
    with pytest.raises(ValueError, match="3 channels"):
        L.conv2d_forward(x, w, b)
    with pytest.raises(ValueError, match="padding"):
        L.conv2d_forward_fast(x, np.zeros((3, 3, 3, 4)), b, padding="full")
    with pytest.raises(ValueError, match="larger than"):
        L.conv2d_forward(np.zeros((1, 2, 2, 3)), np.zeros((3, 3, 3, 4)), b)


# --------------------------------------------------------------------------- max pooling


@pytest.mark.parametrize(
    "shape, pool, stride",
    [
        ((2, 4, 4, 1), 2, 2),
        ((2, 7, 7, 3), 2, 2),
        ((2, 7, 6, 2), 3, 2),
        ((1, 5, 5, 2), 2, 1),
        ((2, 9, 9, 1), 3, 3),
    ],
)
def test_maxpool_matches_keras_tape_and_finite_differences(shape, pool, stride):
    rng = rng_for("pool", shape, pool, stride)
    x = rng.normal(size=shape)
    layer = keras.layers.MaxPooling2D(pool, stride, dtype="float64")
    expected = layer(x).numpy()
    out, cache = L.maxpool_forward(x, pool, stride)
    close("maxpool forward vs Keras", out, expected, TOL_EXACT)
    dout = rng.normal(size=out.shape)
    dx = L.maxpool_backward(dout, cache)
    (dx_tape,) = tape_grads(layer, x, dout, [])
    close("maxpool dx vs GradientTape", dx, dx_tape, TOL_EXACT)
    numeric = L.numerical_gradient(lambda v: L.maxpool_forward(v, pool, stride)[0], x, dout=dout)
    close("maxpool dx vs finite differences", dx, numeric, TOL_FD)


def test_maxpool_routes_to_the_argmax_only():
    x = np.array([[1, 2, 0, 0], [3, 4, 0, 9], [0, 0, 5, 0], [7, 0, 0, 6]], float)[None, :, :, None]
    out, cache = L.maxpool_forward(x)
    np.testing.assert_array_equal(out[0, :, :, 0], [[4, 9], [7, 6]])
    dx = L.maxpool_backward(np.array([[10.0, 20.0], [30.0, 40.0]])[None, :, :, None], cache)
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[3, 0], expected[3, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


# --------------------------------------------------------------------------- relu, dense, softmax


def test_relu_and_dense_match_keras_and_finite_differences():
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(4, 6)), rng.normal(size=(6, 3)), rng.normal(size=3)
    out, cache = L.relu_forward(x)
    close("relu forward vs Keras", out, keras.ops.relu(x), TOL_EXACT)
    dout = rng.normal(size=x.shape)
    close(
        "relu dx vs finite differences",
        L.relu_backward(dout, cache),
        L.numerical_gradient(lambda v: L.relu_forward(v)[0], x, dout=dout),
        TOL_FD,
    )

    dense = keras.layers.Dense(3, dtype="float64")
    dense.build(x.shape)
    dense.set_weights([w, b])
    out, cache = L.dense_forward(x, w, b)
    close("dense forward vs Keras", out, dense(x), TOL_EXACT)
    dout = rng.normal(size=out.shape)
    grads = L.dense_backward(dout, cache)
    for name, ours, tape in zip(
        ("dx", "dw", "db"), grads, tape_grads(dense, x, dout, [dense.kernel, dense.bias])
    ):
        close(f"dense {name} vs GradientTape", ours, tape, TOL_EXACT)
    close(
        "dense dw vs finite differences",
        grads[1],
        L.numerical_gradient(lambda v: L.dense_forward(x, v, b)[0], w, dout=dout),
        TOL_FD,
    )


def test_softmax_cross_entropy_matches_keras():
    rng = np.random.default_rng(6)
    logits, y = rng.normal(size=(5, 4)) * 3, np.array([0, 3, 1, 1, 2])
    loss, dlogits = L.softmax_cross_entropy(logits, y)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    close("softmax CE loss vs Keras", loss, keras_loss(y, logits), TOL_EXACT)
    lt = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(lt)
        value = keras_loss(y, lt)
    close("softmax CE dlogits vs GradientTape", dlogits, tape.gradient(value, lt), TOL_EXACT)
    # h = 1e-4: some entries of dlogits are ~1e-5, where the rounding error of h = 1e-5 shows
    close(
        "softmax CE dlogits vs finite differences",
        dlogits,
        L.numerical_gradient(lambda v: L.softmax_cross_entropy(v, y)[0], logits, h=1e-4),
        TOL_FD,
    )
    big, _ = L.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert np.isclose(big, 1000.0)  # no overflow


# --------------------------------------------------------------------------- batch normalization


def _bn_layer(x, gamma, beta, stats, momentum=0.99, eps=1e-3):
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=eps, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([gamma, beta, stats.moving_mean, stats.moving_variance])
    return layer


@pytest.mark.parametrize(
    "shape, momentum", [((8, 5), 0.99), ((4, 3, 3, 2), 0.9), ((3, 5, 4, 3), 0.99)]
)
def test_batchnorm_matches_keras_in_training_and_inference(shape, momentum):
    rng = rng_for("bn", shape, momentum)
    c = shape[-1]
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    ours = L.BatchNormStats(rng.normal(size=c), rng.uniform(0.5, 2.0, size=c))
    layer = _bn_layer(np.zeros(shape), gamma, beta, ours, momentum)
    for step in range(3):  # training steps: batch statistics, moving statistics updated
        x = rng.normal(loc=2.0, scale=3.0, size=shape)
        out, _ = L.batchnorm_forward(x, gamma, beta, ours, True, momentum)
        close("batchnorm train forward vs Keras", out, layer(x, training=True), TOL_EXACT)
        close(
            "batchnorm moving_mean vs Keras", ours.moving_mean, layer.moving_mean.numpy(), TOL_EXACT
        )
        close(
            "batchnorm moving_variance vs Keras",
            ours.moving_variance,
            layer.moving_variance.numpy(),
            TOL_EXACT,
        )
    x = rng.normal(loc=2.0, scale=3.0, size=shape)
    before = ours.moving_mean.copy()
    out, _ = L.batchnorm_forward(x, gamma, beta, ours, False, momentum)
    close("batchnorm inference forward vs Keras", out, layer(x, training=False), TOL_EXACT)
    np.testing.assert_array_equal(ours.moving_mean, before)  # inference changes nothing


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 4, 2)])
def test_batchnorm_backward_matches_tape_and_finite_differences(shape, training):
    rng = rng_for("bn-grad", shape, training)
    c = shape[-1]
    x, gamma, beta = rng.normal(1.0, 2.0, size=shape), rng.normal(size=c), rng.normal(size=c)
    stats = L.BatchNormStats(rng.normal(size=c), rng.uniform(0.5, 2.0, size=c))
    layer = _bn_layer(x, gamma, beta, stats)
    out, cache = L.batchnorm_forward(
        x, gamma, beta, L.BatchNormStats(stats.moving_mean, stats.moving_variance), training
    )
    dout = rng.normal(size=out.shape)
    grads = L.batchnorm_backward(dout, cache)
    tape = tape_grads(layer, x, dout, [layer.gamma, layer.beta], training=training)
    for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), grads, tape):
        close(f"batchnorm {name} vs GradientTape", ours, theirs, TOL_EXACT)

    def fwd(_):
        fresh = L.BatchNormStats(stats.moving_mean, stats.moving_variance)
        return L.batchnorm_forward(x, gamma, beta, fresh, training)[0]

    close(
        "batchnorm dx vs finite differences",
        grads[0],
        L.numerical_gradient(fwd, x, dout=dout),
        TOL_FD,
    )
    close(
        "batchnorm dgamma vs finite differences",
        grads[1],
        L.numerical_gradient(fwd, gamma, dout=dout),
        TOL_FD,
    )


def test_batchnorm_stats_initial_state_is_keras_default():
    stats = L.BatchNormStats.initial(3)
    layer = keras.layers.BatchNormalization()
    layer.build((None, 3))
    np.testing.assert_array_equal(stats.moving_mean, layer.moving_mean.numpy())
    np.testing.assert_array_equal(stats.moving_variance, layer.moving_variance.numpy())


# --------------------------------------------------------------------------- gradient check helper


def test_numerical_gradient_is_central_and_restores_x():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    original = x.copy()
    grad = L.numerical_gradient(lambda v: float(np.sum(v**3)), x)
    close("numerical_gradient of sum(x^3)", grad, 3 * original**2, 1e-9)
    np.testing.assert_array_equal(x, original)
    with pytest.raises(TypeError, match="float"):
        L.numerical_gradient(lambda v: 0.0, np.arange(3))


def test_docstring_examples():
    failures, _ = doctest.testmod(L, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
