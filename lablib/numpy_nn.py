"""NumPy helpers for training and checking a network written in NumPy (lab 04).

Two pieces that no lab asks a student to write:

* :func:`softmax_cross_entropy`: the loss at the end of a classifier, with its gradient
  with respect to the logits (what ``keras.losses.SparseCategoricalCrossentropy(
  from_logits=True)`` computes, and what ``tf.GradientTape`` returns for it);
* :func:`numerical_gradient`: central finite differences, the independent witness of a
  gradient check.

The layers themselves (convolution, pooling, ReLU, batch normalization and their backward
passes) are the labs' exercises: they live in the notebooks, written by the student, and
never here (the library must not hand out answers).

Example:
    >>> loss, dlogits = softmax_cross_entropy(np.array([[2.0, 0.0]]), np.array([0]))
    >>> round(loss, 4), np.round(dlogits, 4).tolist()
    (0.1269, [[-0.1192, 0.1192]])
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["softmax_cross_entropy", "numerical_gradient"]


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    Matches ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.

    Args:
        logits: ``(N, K)`` unnormalized scores.
        y: ``(N,)`` integer labels in ``0..K-1``.

    Returns:
        ``(loss, dlogits)``: a float, and ``(softmax(logits) - one_hot(y)) / N`` ``(N, K)``.
    """
    logits, y = np.asarray(logits), np.asarray(y).astype(int).reshape(-1)
    shifted = logits - logits.max(axis=1, keepdims=True)  # same softmax, no overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -float(log_probs[np.arange(n), y].mean())
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1
    return loss, dlogits / n


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-5, dout: np.ndarray | None = None
) -> np.ndarray:
    """Central-difference gradient ``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every entry of x.

    ``x`` is changed in place one entry at a time and restored, so ``f`` may read ``x``
    through a closure. Use float64: in float32 the rounding error ``~1e-7 / h`` swamps
    the answer.

    Args:
        f: called as ``f(x)``; returns a number, or an array when ``dout`` is given.
        x: the point, any shape, float array (modified temporarily).
        h: the step.
        dout: for an array-valued ``f``, the upstream gradient: the result is then the
            gradient of ``sum(f(x) * dout)``, i.e. what a layer's backward returns.

    Returns:
        An array of ``x``'s shape.

    Example:
        >>> x = np.array([1.0, 2.0])
        >>> np.round(numerical_gradient(lambda v: float((v ** 2).sum()), x), 6)
        array([2., 4.])
    """
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise TypeError(
            f"numerical_gradient needs a float array to perturb, got dtype {np.asarray(x).dtype}"
        )
    weight = 1.0 if dout is None else np.asarray(dout)
    grad = np.zeros(x.shape, np.float64)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.sum(np.asarray(f(x), np.float64) * weight)
        x[index] = old - h
        minus = np.sum(np.asarray(f(x), np.float64) * weight)
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad
