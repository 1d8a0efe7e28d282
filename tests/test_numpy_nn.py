"""Tests for lablib.numpy_nn against Keras, tf.GradientTape and closed-form gradients.

Everything runs in float64 with fixed seeds. Tolerances, as the largest elementwise
relative error ``|a - b| / max(1e-8, |a| + |b|)``:

* against Keras / GradientTape: ``TOL_EXACT = 1e-9`` (the same sums in a different order;
  float64 rounding is ~1e-16);
* central finite differences (h = 1e-5) against exact gradients: ``TOL_FD = 1e-5``.
"""

from __future__ import annotations

import doctest
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from lablib import numpy_nn as L  # noqa: E402

TOL_EXACT = 1e-9
TOL_FD = 1e-5


def rel_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def close(kind: str, got, expected, tol: float) -> None:
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{kind}: shape {got.shape} != {expected.shape}"
    err = rel_error(got, expected)
    assert err < tol, f"{kind}: relative error {err:.3g} >= {tol:g}"


# --------------------------------------------------------------------------- softmax cross-entropy


@pytest.mark.parametrize("n, k, scale", [(5, 4, 3.0), (1, 10, 1.0), (8, 2, 10.0)])
def test_softmax_cross_entropy_matches_keras_and_gradient_tape(n, k, scale):
    rng = np.random.default_rng(n * 100 + k)
    logits, y = rng.normal(size=(n, k)) * scale, rng.integers(0, k, size=n)
    loss, dlogits = L.softmax_cross_entropy(logits, y)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    close("softmax CE loss vs Keras", loss, keras_loss(y, logits), TOL_EXACT)
    lt = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(lt)
        value = keras_loss(y, lt)
    close("softmax CE dlogits vs GradientTape", dlogits, tape.gradient(value, lt), TOL_EXACT)
    assert isinstance(loss, float)


def test_softmax_cross_entropy_gradient_rows_sum_to_zero_and_no_overflow():
    logits = np.array([[1000.0, 0.0, -1000.0], [3.0, 3.0, 3.0]])
    loss, dlogits = L.softmax_cross_entropy(logits, np.array([1, 2]))
    # row 1: -log softmax = 1000; row 2: uniform, -log(1/3)
    assert np.isclose(loss, (1000.0 + np.log(3.0)) / 2)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(dlogits[1], np.array([1, 1, -2]) / 3 / 2)


# --------------------------------------------------------------------------- finite differences


def test_numerical_gradient_is_central_and_restores_x():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    original = x.copy()
    grad = L.numerical_gradient(lambda v: float(np.sum(v**3)), x)
    # central differences of a cubic are exact up to h^2 = 1e-10 (and float rounding)
    close("numerical_gradient of sum(x^3)", grad, 3 * original**2, 1e-9)
    np.testing.assert_array_equal(x, original)
    # a one-sided difference would be off by 3 x h = 3e-5 on d/dx x^3: far outside 1e-9
    one_sided = (np.sum((original + 1e-5) ** 3) - np.sum(original**3)) / 1e-5
    assert abs(one_sided - 3 * np.sum(original**2)) > 1e-5


def test_numerical_gradient_with_dout_is_a_vector_jacobian_product():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 3))
    x, dout = rng.normal(size=3), rng.normal(size=4)
    # f(x) = a @ x is linear: the gradient of sum(f(x) * dout) is a.T @ dout
    grad = L.numerical_gradient(lambda v: a @ v, x, dout=dout)
    close("numerical_gradient of a linear map", grad, a.T @ dout, TOL_FD)
    # against tf.GradientTape on a non-linear layer: tanh(x @ w)
    w = rng.normal(size=(3, 5))
    xs, d5 = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    xt = tf.constant(xs)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        value = tf.reduce_sum(tf.tanh(xt @ w) * d5)
    grad = L.numerical_gradient(lambda v: np.tanh(v @ w), xs, dout=d5)
    close(
        "numerical_gradient of tanh(x @ w) vs GradientTape", grad, tape.gradient(value, xt), TOL_FD
    )


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="float"):
        L.numerical_gradient(lambda v: 0.0, np.arange(3))


def test_module_holds_no_layers():
    """The layers are lab exercises; only the loss and the gradient check live here."""
    assert set(L.__all__) == {"softmax_cross_entropy", "numerical_gradient"}
    public = {name for name in vars(L) if not name.startswith("_") and callable(vars(L)[name])}
    assert not {n for n in public if "forward" in n or "backward" in n or "conv" in n}


def test_docstring_examples():
    failures, _ = doctest.testmod(L, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
