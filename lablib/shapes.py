"""Shape and parameter arithmetic for convolution, pooling and dense layers.

Small pure functions (plain ints in, plain ints out) that the labs and their tests use
as the reference for the formulas of the slides:

* convolution: ``W_out = (W_in - F + 2P) / S + 1``, with dilation ``D`` the kernel
  covers ``D (F - 1) + 1`` pixels (:func:`effective_kernel_size`);
* pooling: ``W_out = (W_in - F) / S + 1``;
* TensorFlow / Keras ``padding="same"``: ``W_out = ceil(W_in / S)``, with the padding
  split so that the bottom / right side gets the extra pixel when the total is odd
  (:func:`same_padding`);
* parameters: ``F_h F_w C_in C_out + C_out`` for a convolution, ``n_in n_out + n_out``
  for a dense layer.

When ``(W_in - F + 2P)`` is not a multiple of ``S`` the last windows do not fit; like
Keras (and PyTorch) these functions round down, i.e. they drop the incomplete window.

Example:
    >>> conv_output_size(224, 3, s=1, p=1)
    224
    >>> conv_output_size(224, 7, s=7)
    32
    >>> conv_params(3, 3, 10)
    280
    >>> dense_params(640 * 480 * 3, 20)
    18432020
"""

from __future__ import annotations

import numbers

__all__ = [
    "effective_kernel_size",
    "conv_output_size",
    "same_padding",
    "pool_output_size",
    "conv_params",
    "dense_params",
]


def _positive_int(name: str, value: object, smallest: int = 1) -> int:
    """Return ``value`` as an int, or raise a ValueError that names the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < smallest:
        raise ValueError(f"{name} must be an integer >= {smallest}, got {value!r}")
    return int(value)


def effective_kernel_size(f: int, d: int = 1) -> int:
    """How many input pixels a kernel of size ``f`` spans with dilation ``d``.

    A dilated kernel puts ``d - 1`` gaps between its taps: ``D (F - 1) + 1``.

    Args:
        f: kernel size along one axis.
        d: dilation rate (1: an ordinary convolution).

    Returns:
        The span in pixels, e.g. ``effective_kernel_size(3, 2) == 5``.
    """
    f, d = _positive_int("f", f), _positive_int("d", d)
    return d * (f - 1) + 1


def conv_output_size(w_in: int, f: int, s: int = 1, p: int | str = 0, d: int = 1) -> int:
    """Output size of a convolution along one axis: ``(W_in - F_eff + 2P) // S + 1``.

    Args:
        w_in: input size (width or height) in pixels.
        f: kernel size (field of view) ``F``.
        s: stride ``S``.
        p: zero padding ``P`` on EACH side, or Keras' ``"valid"`` (``P = 0``) or
            ``"same"`` (output ``ceil(W_in / S)``, see :func:`same_padding`).
        d: dilation rate; the kernel spans :func:`effective_kernel_size` pixels.

    Returns:
        The output size (an int, rounded down like Keras when the windows do not fit exactly).

    Raises:
        ValueError: a non-integer or negative argument, an unknown padding string, or a
            kernel larger than the padded input.
    """
    w_in, s = _positive_int("w_in", w_in), _positive_int("s", s)
    f_eff = effective_kernel_size(f, d)
    if isinstance(p, str):
        if p not in ("valid", "same"):
            raise ValueError(f"padding must be an int, 'valid' or 'same', got {p!r}")
        if p == "same":
            return -(-w_in // s)  # ceil(w_in / s)
        p = 0
    p = _positive_int("p", p, smallest=0)
    if w_in + 2 * p < f_eff:
        raise ValueError(
            f"the kernel spans {f_eff} pixels but the padded input has only {w_in + 2 * p}"
        )
    return (w_in - f_eff + 2 * p) // s + 1


def same_padding(w_in: int, f: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """Zero padding ``(before, after)`` that Keras / TensorFlow add for ``padding="same"``.

    The output has ``ceil(W_in / S)`` positions; the total padding is
    ``max((W_out - 1) S + F_eff - W_in, 0)`` and, when it is odd, the extra pixel goes
    after (bottom / right): ``before = total // 2``, ``after = total - before``.

    Args:
        w_in: input size along one axis.
        f: kernel size.
        s: stride.
        d: dilation rate.

    Returns:
        ``(pad_before, pad_after)``, e.g. ``same_padding(6, 3, s=2) == (0, 1)``.
    """
    w_out = conv_output_size(w_in, f, s, "same", d)
    total = max((w_out - 1) * s + effective_kernel_size(f, d) - w_in, 0)
    return total // 2, total - total // 2


def pool_output_size(w_in: int, f: int, s: int | None = None, padding: str = "valid") -> int:
    """Output size of a pooling layer along one axis: ``(W_in - F) // S + 1``.

    Args:
        w_in: input size in pixels.
        f: pool size (field of view) ``F``.
        s: stride ``S``; None means ``S = F`` (Keras' default: windows that do not overlap).
        padding: ``"valid"`` (no padding, the formula above) or ``"same"`` (``ceil(W_in / S)``).

    Returns:
        The output size, e.g. ``pool_output_size(3, 2, 1) == 2``.
    """
    return conv_output_size(w_in, f, f if s is None else s, padding)


def conv_params(f: int | tuple[int, int], c_in: int, c_out: int, bias: bool = True) -> int:
    """Trainable parameters of a Conv2D layer: ``F_h F_w C_in C_out (+ C_out biases)``.

    Each of the ``C_out`` filters is a ``F_h x F_w x C_in`` block of weights plus one bias.
    The count does not depend on the image size.

    Args:
        f: kernel size, an int for square kernels or ``(f_h, f_w)``.
        c_in: input channels (3 for RGB).
        c_out: number of filters = output channels.
        bias: whether each filter has a bias (Keras' ``use_bias``).

    Returns:
        The parameter count, e.g. ``conv_params(3, 3, 10) == 280``.
    """
    f_h, f_w = (f, f) if isinstance(f, numbers.Integral) else f
    f_h, f_w = _positive_int("f_h", f_h), _positive_int("f_w", f_w)
    c_in, c_out = _positive_int("c_in", c_in), _positive_int("c_out", c_out)
    return f_h * f_w * c_in * c_out + (c_out if bias else 0)


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Trainable parameters of a Dense layer: ``n_in n_out`` weights plus ``n_out`` biases.

    Args:
        n_in: inputs (for an image: height x width x channels, 921,600 for 640x480 RGB).
        n_out: neurons; each has ONE bias, so there are ``n_out`` biases, not ``n_in``.
        bias: whether the layer has biases.

    Returns:
        The parameter count, e.g. ``dense_params(921_600, 20) == 18_432_020``.
    """
    n_in, n_out = _positive_int("n_in", n_in), _positive_int("n_out", n_out)
    return n_in * n_out + (n_out if bias else 0)
