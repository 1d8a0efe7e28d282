"""Checks that notebook tests call: they tell a student what was expected, what came in,
and what to try, instead of a bare ``AssertionError`` or a traceback from inside NumPy.

Every check raises :class:`CheckError` (a subclass of ``AssertionError``, so graders and
nbval treat it as a failed test) and returns None when the answer is right.

Example:
    >>> check_array("conv1d", [15, 10, 65], [15, 10, 65])
    >>> check_value("mean", 5.3, 16 / 3, atol=0.05)
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

__all__ = [
    "CheckError",
    "check_array",
    "check_value",
    "check_shape",
    "check_equal",
    "check_true",
]


class CheckError(AssertionError):
    """A check failed; the message is written for the student."""


def _fail(name: str, problem: str, hint: str | None) -> None:
    message = f"{name}: {problem}"
    if hint:
        message += f"\nHint: {hint}"
    raise CheckError(message)


def _describe(value: Any) -> str:
    """A short, safe description of what a student passed in (never calls their __eq__)."""
    if value is None:
        return "None (did the function forget to `return` its result?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = object.__repr__(value) if type(value).__repr__ is object.__repr__ else repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _as_numeric_array(name: str, value: Any, hint: str | None) -> np.ndarray:
    """Turn a student's answer into a float64/complex array, or fail with a sentence."""
    if value is None or isinstance(value, (str, bytes, dict, set)):
        _fail(name, f"expected an array of numbers, got {_describe(value)}", hint)
    if hasattr(value, "numpy") and callable(value.numpy):  # a TensorFlow / Keras tensor
        value = value.numpy()
    try:
        array = np.asarray(value)
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == bool
        ):
            raise TypeError(array.dtype)
        return array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)
    except (TypeError, ValueError) as exc:
        _fail(
            name,
            f"expected an array of numbers, got {_describe(value)} ({type(exc).__name__})",
            hint,
        )
    raise AssertionError("unreachable")


def check_shape(
    name: str, got: Any, expected: Sequence[int | None], *, hint: str | None = None
) -> None:
    """Check that ``got`` (an array, a tensor or a shape tuple) has shape ``expected``.

    ``None`` in ``expected`` matches any size (a batch dimension, say).
    """
    if isinstance(got, (tuple, list)) and all(
        isinstance(d, (numbers.Integral, type(None))) for d in got
    ):
        shape = tuple(None if d is None else int(d) for d in got)
    elif hasattr(got, "shape"):
        try:
            shape = tuple(None if d is None else int(d) for d in got.shape)
        except (TypeError, ValueError):
            _fail(name, f"could not read a shape from {_describe(got)}", hint)
    else:
        _fail(name, f"expected something with shape {tuple(expected)}, got {_describe(got)}", hint)
    expected = tuple(expected)
    ok = len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))
    if not ok:
        _fail(name, f"expected shape {expected}, got shape {shape}", hint)


def check_array(
    name: str,
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    hint: str | None = None,
) -> None:
    """Check an array answer against the expected values, elementwise within tolerances.

    Args:
        name: what is being checked, as the student knows it (``"conv2d(image, kernel)"``).
        got: the student's answer: array, list, tensor.
        expected: the right answer.
        rtol, atol: tolerances as in ``np.allclose``.
        hint: what to try when the check fails.

    Raises:
        CheckError: wrong type, shape, NaNs, or values out of tolerance; the message shows
            the first wrong position with both values and the largest difference.
    """
    expected_arr = _as_numeric_array(f"{name} (expected)", expected, None)
    got_arr = _as_numeric_array(name, got, hint)
    if got_arr.shape != expected_arr.shape:
        _fail(name, f"expected shape {expected_arr.shape}, got shape {got_arr.shape}", hint)
    if np.isnan(got_arr).any() and not np.isnan(expected_arr).any():
        _fail(
            name, f"the answer contains NaN at {np.argwhere(np.isnan(got_arr))[0].tolist()}", hint
        )
    close = np.isclose(got_arr, expected_arr, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        where = tuple(int(i) for i in np.argwhere(~close)[0])
        worst = float(np.nanmax(np.abs(got_arr - expected_arr)))
        _fail(
            name,
            f"{int((~close).sum())} of {close.size} values are wrong; "
            f"first at index {list(where)}: expected {expected_arr[where]:.6g}, "
            f"got {got_arr[where]:.6g} (largest difference {worst:.3g}, "
            f"tolerance rtol={rtol:g}, atol={atol:g})",
            hint,
        )


def check_value(
    name: str,
    got: Any,
    expected: float,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hint: str | None = None,
) -> None:
    """Check a single number within tolerances (rejects strings, arrays of size > 1, None)."""
    got_arr = _as_numeric_array(name, got, hint)
    if got_arr.size != 1:
        _fail(name, f"expected a single number, got {_describe(got)}", hint)
    value, target = float(got_arr.reshape(()).real), float(expected)
    if not np.isclose(value, target, rtol=rtol, atol=atol):
        _fail(
            name,
            f"expected {target:.6g}, got {value:.6g} (tolerance rtol={rtol:g}, atol={atol:g})",
            hint,
        )


_PLAIN = (bool, int, float, str, bytes, type(None), np.integer, np.floating, np.bool_)


def _plain(value: Any) -> Any:
    """Rebuild ``value`` from plain built-in types, or raise TypeError.

    This keeps a student's object with a rigged ``__eq__`` out of the comparison.
    """
    if isinstance(value, _PLAIN):
        return value.item() if isinstance(value, np.generic) else value
    if type(value) in (tuple, list):
        return type(value)(_plain(v) for v in value)
    if type(value) is dict:
        return {_plain(k): _plain(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def check_equal(name: str, got: Any, expected: Any, *, hint: str | None = None) -> None:
    """Check an exact answer (int, str, tuple of ints, dict...) for equality.

    Only plain Python values are compared, so an object that claims to equal everything
    does not pass.
    """
    try:
        got_plain = _plain(got)
    except TypeError:
        _fail(name, f"expected {expected!r}, got {_describe(got)} (not a plain value)", hint)
    if type(got_plain) in (tuple, list) and type(expected) in (tuple, list):
        got_plain, target = tuple(got_plain), tuple(expected)
    else:
        target = expected
    if isinstance(target, bool) != isinstance(got_plain, bool) or got_plain != target:
        _fail(name, f"expected {expected!r}, got {_describe(got)}", hint)
    if _has_float(got_plain) and not _has_float(target):
        _fail(
            name,
            f"expected whole numbers {expected!r}, got floats {got_plain!r}",
            hint or "return ints: use // for division, or int(...)",
        )


def _has_float(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


def check_true(condition: Any, message: str, *, hint: str | None = None) -> None:
    """Fail with ``message`` (and ``hint``) unless ``condition`` is a plain bool that is True."""
    if not isinstance(condition, (bool, np.bool_)) or not bool(condition):
        _fail("check", message, hint)
