"""NumPy reference layers: every forward next to its backward (labs 04 and 05).

The layers use Keras's conventions so that their numbers can be compared with Keras's
one for one: images are NHWC ``(N, H, W, C)``, a convolution kernel is
``(kh, kw, C_in, C_out)`` as in ``keras.layers.Conv2D``, a dense kernel is
``(D_in, D_out)`` as in ``keras.layers.Dense``, ``padding="same"`` pads exactly as
TensorFlow does, and batch normalization has ``keras.layers.BatchNormalization``'s
defaults (``momentum=0.99``, ``epsilon=1e-3``, biased batch variance).

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward(dout, cache)``
returns the gradients of the loss with respect to the forward's array inputs, in the
forward's argument order. ``conv2d_forward``/``conv2d_backward`` loop over output
positions so that the arithmetic can be read; ``conv2d_forward_fast``/
``conv2d_backward_fast`` compute the same numbers with im2col (a strided window view and
one matrix product) and are what a training loop uses.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x, w, b = rng.normal(size=(2, 5, 5, 3)), rng.normal(size=(3, 3, 3, 4)), np.zeros(4)
    >>> out, cache = conv2d_forward(x, w, b, stride=2, padding="same")
    >>> out.shape
    (2, 3, 3, 4)
    >>> dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    >>> dx.shape, dw.shape, db.shape
    ((2, 5, 5, 3), (3, 3, 3, 4), (4,))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lablib.shapes import same_padding

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "conv2d_forward_fast",
    "conv2d_backward_fast",
    "maxpool_forward",
    "maxpool_backward",
    "relu_forward",
    "relu_backward",
    "dense_forward",
    "dense_backward",
    "softmax_cross_entropy",
    "BatchNormStats",
    "batchnorm_forward",
    "batchnorm_backward",
    "numerical_gradient",
]

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))


# --------------------------------------------------------------------------- padding


def _pads(x_shape: tuple[int, ...], kh: int, kw: int, stride: int, padding: str) -> Pads:
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return same_padding(x_shape[1], kh, stride), same_padding(x_shape[2], kw, stride)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def _check_conv_args(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"conv2d needs x (N, H, W, C_in) and w (kh, kw, C_in, C_out), got shapes {x.shape} and {w.shape}"
        )
    if x.shape[3] != w.shape[2]:
        raise ValueError(
            f"x has {x.shape[3]} channels but the kernel expects C_in={w.shape[2]} (w shape {w.shape})"
        )
    if b.shape != (w.shape[3],):
        raise ValueError(f"bias must have shape ({w.shape[3]},), got {b.shape}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")


def _pad_input(
    x: np.ndarray, w: np.ndarray, stride: int, padding: str
) -> tuple[np.ndarray, Pads, int, int]:
    """Zero-pad ``x`` for the convolution; return ``(x_padded, pads, H_out, W_out)``."""
    kh, kw = w.shape[:2]
    pads = _pads(x.shape, kh, kw, stride, padding)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    h_out, w_out = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(
            f"kernel {kh}x{kw} is larger than the (padded) input {xp.shape[1]}x{xp.shape[2]}"
        )
    return xp, pads, h_out, w_out


def _crop(dxp: np.ndarray, pads: Pads) -> np.ndarray:
    """Undo the zero padding: the gradient of the padded input, cut back to ``x``'s size."""
    (top, bottom), (left, right) = pads
    return dxp[:, top : dxp.shape[1] - bottom, left : dxp.shape[2] - right, :]


# --------------------------------------------------------------------------- convolution, loops


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, padding: str = "valid"
) -> tuple[np.ndarray, tuple]:
    """2D convolution (cross-correlation, as in Keras), one output position at a time.

    Args:
        x: input, ``(N, H, W, C_in)``.
        w: kernel, ``(kh, kw, C_in, C_out)`` (Keras's ``Conv2D`` layout).
        b: bias, ``(C_out,)``.
        stride: the same stride along height and width.
        padding: ``"valid"`` (no padding) or ``"same"`` (TensorFlow's rule: output
            ``ceil(H / stride)``, an odd total padding puts the extra row/column at the
            bottom/right; see :func:`lablib.shapes.same_padding`).

    Returns:
        ``(out, cache)``: ``out`` is ``(N, H_out, W_out, C_out)`` with
        ``H_out = (H + pad_top + pad_bottom - kh) // stride + 1``; ``cache`` is what
        :func:`conv2d_backward` needs.
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    _check_conv_args(x, w, b, stride)
    xp, pads, h_out, w_out = _pad_input(x, w, stride, padding)
    kh, kw, _, c_out = w.shape
    out = np.empty((x.shape[0], h_out, w_out, c_out), dtype=np.result_type(x, w, b))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[
                :, i * stride : i * stride + kh, j * stride : j * stride + kw, :
            ]  # (N, kh, kw, C_in)
            out[:, i, j, :] = np.tensordot(window, w, axes=3) + b  # (N, C_out)
    return out, (xp, w, pads, stride)


def conv2d_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward`, one output position at a time.

    Every output ``out[:, i, j, :]`` saw one window of the input through the kernel; its
    gradient ``dout[:, i, j, :]`` flows back to that window (through ``w``) and to ``w``
    (through that window).

    Args:
        dout: upstream gradient ``dL/dout``, ``(N, H_out, W_out, C_out)``.
        cache: from :func:`conv2d_forward`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x`` ``(N, H, W, C_in)``, ``w``
        ``(kh, kw, C_in, C_out)`` and ``b`` ``(C_out,)``.
    """
    xp, w, pads, stride = cache
    kh, kw = w.shape[:2]
    dxp, dw = (
        np.zeros(xp.shape, np.result_type(dout, w)),
        np.zeros(w.shape, np.result_type(dout, xp)),
    )
    for i in range(dout.shape[1]):
        for j in range(dout.shape[2]):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            g = dout[:, i, j, :]  # (N, C_out)
            dw += np.tensordot(xp[:, rows, cols, :], g, axes=([0], [0]))  # (kh, kw, C_in, C_out)
            dxp[:, rows, cols, :] += np.tensordot(g, w, axes=([1], [3]))  # (N, kh, kw, C_in)
    return _crop(dxp, pads), dw, dout.sum(axis=(0, 1, 2))


# --------------------------------------------------------------------------- convolution, vectorized


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """A read-only strided view ``(N, H_out, W_out, kh, kw, C)`` of every kernel window.

    Channels stay last, so that copying the view into the im2col matrix moves
    contiguous runs of ``C`` values.
    """
    return sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride].transpose(
        0, 1, 2, 4, 5, 3
    )


def conv2d_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, padding: str = "valid"
) -> tuple[np.ndarray, tuple]:
    """Same result as :func:`conv2d_forward`, vectorized with im2col.

    The windows come from ``sliding_window_view`` (no copy); ``np.tensordot`` then lays
    them out as a ``(N*H_out*W_out, kh*kw*C_in)`` matrix (the im2col matrix) and
    multiplies it by the kernel, reshaped to ``(kh*kw*C_in, C_out)``, in one BLAS call.

    Args, Returns: as :func:`conv2d_forward`; the cache is for :func:`conv2d_backward_fast`.
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    _check_conv_args(x, w, b, stride)
    xp, pads, _, _ = _pad_input(x, w, stride, padding)
    windows = _windows(xp, w.shape[0], w.shape[1], stride)  # (N, H_out, W_out, kh, kw, C_in)
    out = np.tensordot(windows, w, axes=3) + b  # (N, H_out, W_out, C_out)
    return out, (xp, w, pads, stride)


def conv2d_backward_fast(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same result as :func:`conv2d_backward`, vectorized; the two formulas of the slides.

    * ``dL/dw = conv(x, dL/dout)``: correlate the padded input with the upstream
      gradient (one tensordot over the im2col windows).
    * ``dL/dx = full_conv(rot180(w), dL/dout)``: spread ``dout`` back to stride 1 by
      inserting ``stride - 1`` zeros between its rows/columns, pad it by ``k - 1`` on
      every side, and correlate it with the kernel rotated by 180 degrees (input and
      output channels swapped).

    Args, Returns: as :func:`conv2d_backward`.
    """
    xp, w, pads, stride = cache
    n, h_out, w_out, c_out = dout.shape
    kh, kw = w.shape[:2]
    windows = _windows(xp, kh, kw, stride)  # (N, H_out, W_out, kh, kw, C_in)
    dw = np.tensordot(windows, dout, axes=([0, 1, 2], [0, 1, 2]))  # (kh, kw, C_in, C_out)
    dilated = np.zeros((n, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1, c_out), dout.dtype)
    dilated[:, ::stride, ::stride, :] = dout
    full = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    w_rot = w[::-1, ::-1].transpose(0, 1, 3, 2)  # rot180, channels swapped: (kh, kw, C_out, C_in)
    core = np.tensordot(_windows(full, kh, kw, 1), w_rot, axes=3)  # (N, (H_out-1)*s+kh, ..., C_in)
    dxp = np.zeros(xp.shape, core.dtype)  # rows/cols no window reached keep a zero gradient
    dxp[:, : core.shape[1], : core.shape[2], :] = core
    return _crop(dxp, pads), dw, dout.sum(axis=(0, 1, 2))


# --------------------------------------------------------------------------- max pooling


def maxpool_forward(x: np.ndarray, pool: int = 2, stride: int = 2) -> tuple[np.ndarray, tuple]:
    """Max pooling with ``padding="valid"``, as ``keras.layers.MaxPooling2D(pool, stride)``.

    Args:
        x: ``(N, H, W, C)``.
        pool: window size (square).
        stride: step between windows (``stride < pool`` gives overlapping windows).

    Returns:
        ``(out, cache)``: ``out`` is ``(N, (H - pool) // stride + 1, (W - pool) // stride + 1, C)``.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"maxpool needs x of shape (N, H, W, C), got {x.shape}")
    windows = sliding_window_view(x, (pool, pool), axis=(1, 2))[
        :, ::stride, ::stride
    ]  # (N, H_out, W_out, C, p, p)
    return windows.max(axis=(4, 5)), (x, pool, stride)


def maxpool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Route each upstream gradient to the position that won its window (the arg-max).

    Max pooling has no parameters; the other positions of a window get zero gradient.
    On a tie the first maximum in row-major order wins (what ``np.argmax`` picks), and
    overlapping windows add their contributions.

    Args:
        dout: ``(N, H_out, W_out, C)``.
        cache: from :func:`maxpool_forward`.

    Returns:
        ``dx``, ``(N, H, W, C)``.
    """
    x, pool, stride = cache
    n, _, _, c = x.shape
    dx = np.zeros(x.shape, np.result_type(dout, x))
    for i in range(dout.shape[1]):
        for j in range(dout.shape[2]):
            rows, cols = slice(i * stride, i * stride + pool), slice(j * stride, j * stride + pool)
            window = x[:, rows, cols, :].reshape(n, pool * pool, c)
            winner = window.argmax(axis=1)[:, None, :]  # (N, 1, C): flat index inside the window
            routed = np.zeros(window.shape, dx.dtype)
            np.put_along_axis(routed, winner, dout[:, i : i + 1, j, :], axis=1)
            dx[:, rows, cols, :] += routed.reshape(n, pool, pool, c)
    return dx


# --------------------------------------------------------------------------- relu, dense, softmax


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``max(x, 0)`` elementwise; any shape. Returns ``(out, cache)``."""
    x = np.asarray(x)
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """``dout`` where the input was positive, 0 elsewhere (the derivative at 0 is taken as 0)."""
    return dout * (cache > 0)


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """``x @ w + b`` with ``x`` ``(N, D_in)``, ``w`` ``(D_in, D_out)``, ``b`` ``(D_out,)``.

    Returns:
        ``(out, cache)`` with ``out`` ``(N, D_out)``.
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    return x @ w + b, (x, w)


def dense_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`dense_forward`: ``(dx (N, D_in), dw (D_in, D_out), db (D_out,))``."""
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


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


# --------------------------------------------------------------------------- batch normalization


@dataclass
class BatchNormStats:
    """The moving statistics of a batch-norm layer (Keras's non-trainable weights).

    ``batchnorm_forward(..., training=True)`` updates them in place, as Keras assigns
    its ``moving_mean`` and ``moving_variance`` variables.

    Attributes:
        moving_mean: ``(C,)``, Keras initializes it to zeros.
        moving_variance: ``(C,)``, Keras initializes it to ones.
    """

    moving_mean: np.ndarray
    moving_variance: np.ndarray

    @classmethod
    def initial(cls, channels: int, dtype: Any = np.float64) -> "BatchNormStats":
        """Keras's initial state: mean 0, variance 1 for each of ``channels`` channels."""
        return cls(np.zeros(channels, dtype), np.ones(channels, dtype))


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running: BatchNormStats,
    training: bool,
    momentum: float = 0.99,
    eps: float = 1e-3,
) -> tuple[np.ndarray, tuple]:
    """Batch normalization over every axis but the last, as ``keras.layers.BatchNormalization``.

    ``out = gamma * (x - mean) / sqrt(var + eps) + beta``. In training, ``mean`` and
    ``var`` are the batch's (biased variance, over N, H, W for an image batch) and the
    moving statistics move towards them:
    ``moving = momentum * moving + (1 - momentum) * batch_stat``. In inference the moving
    statistics are used and nothing changes.

    Args:
        x: ``(N, C)`` or ``(N, H, W, C)``.
        gamma, beta: scale and offset, ``(C,)``.
        running: the moving statistics, updated in place when ``training``.
        training: batch statistics (True) or moving statistics (False).
        momentum, eps: Keras's defaults.

    Returns:
        ``(out, cache)``: ``out`` has ``x``'s shape.
    """
    x = np.asarray(x)
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        running.moving_mean = momentum * running.moving_mean + (1 - momentum) * mean
        running.moving_variance = momentum * running.moving_variance + (1 - momentum) * var
    else:
        mean, var = running.moving_mean, running.moving_variance
    inv_std = 1.0 / np.sqrt(var + eps)  # (C,)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, np.asarray(gamma), inv_std, bool(training))


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`batchnorm_forward`.

    In training the batch mean and variance depend on every input, which adds the two
    correction terms: ``dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))``.
    In inference the statistics are constants and ``dx = dx_hat * inv_std``.

    Args:
        dout: ``(N, C)`` or ``(N, H, W, C)``.
        cache: from :func:`batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)``: ``x``'s shape, ``(C,)``, ``(C,)``.
    """
    x_hat, gamma, inv_std, training = cache
    axes = tuple(range(dout.ndim - 1))
    dbeta, dgamma = dout.sum(axis=axes), (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma
    if not training:
        return dx_hat * inv_std, dgamma, dbeta
    dx = inv_std * (dx_hat - dx_hat.mean(axis=axes) - x_hat * (dx_hat * x_hat).mean(axis=axes))
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------- gradient check


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
