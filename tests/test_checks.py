"""lablib.checks: right answers pass silently; wrong ones get a sentence, not a NumPy traceback."""

import numpy as np
import pytest
import tensorflow as tf

from lablib.checks import (
    CheckError,
    check_array,
    check_equal,
    check_shape,
    check_true,
    check_value,
)


def test_right_answers_pass():
    check_array("a", [1, 2, 3], np.array([1.0, 2.0, 3.0]))
    check_array("tensor", tf.constant([[1.0, 2.0]]), [[1, 2]])
    check_value("v", np.float32(16 / 3), 16 / 3, rtol=1e-6)
    check_shape("s", np.zeros((2, 3)), (2, 3))
    check_shape("batch", (None, 28, 28, 1), (None, 28, 28, 1))
    check_equal("t", (254, 254, 10), (254, 254, 10))
    check_equal("list vs tuple", [1, 2], (1, 2))
    check_true(np.bool_(True), "fine")


@pytest.mark.parametrize(
    "call, expected_words",
    [
        (lambda: check_array("conv", None, [1, 2]), ["conv", "None", "return"]),
        (
            lambda: check_array("conv", [[1, 2]], [1, 2]),
            ["expected shape (2,)", "got shape (1, 2)"],
        ),
        (
            lambda: check_array("conv", [1, 3], [1, 2], hint="flip it"),
            ["1 of 2", "index [1]", "expected 2", "got 3", "Hint: flip it"],
        ),
        (lambda: check_array("conv", "abc", [1, 2]), ["array of numbers", "str"]),
        (lambda: check_array("conv", [1, np.nan], [1, 2]), ["NaN"]),
        (lambda: check_array("conv", {"a": 1}, [1]), ["array of numbers", "dict"]),
        (lambda: check_value("m", [1, 2], 3), ["single number"]),
        (lambda: check_value("m", 3.5, 3), ["expected 3", "got 3.5"]),
        (
            lambda: check_shape("s", np.zeros((2, 3)), (2, 4)),
            ["expected shape (2, 4)", "got shape (2, 3)"],
        ),
        (lambda: check_shape("s", 5, (2, 4)), ["expected something with shape"]),
        (lambda: check_equal("size", 224.0, 224), ["whole numbers", "//"]),
        (lambda: check_equal("size", 223, 224), ["expected 224", "got int 223"]),
        (lambda: check_equal("flag", 1, True), ["expected True"]),
        (lambda: check_true(1, "must be a bool"), ["must be a bool"]),
    ],
)
def test_wrong_answers_explain_themselves(call, expected_words):
    with pytest.raises(CheckError) as err:
        call()
    for word in expected_words:
        assert word in str(err.value), f"{word!r} not in {str(err.value)!r}"


def test_check_error_is_an_assertion_error():
    assert issubclass(CheckError, AssertionError)


def test_object_claiming_to_equal_everything_fails():
    class Liar:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    with pytest.raises(CheckError, match="not a plain value"):
        check_equal("answer", Liar(), 5)
    with pytest.raises(CheckError, match="not a plain value"):
        check_equal("answer", (Liar(), 2), (1, 2))
    with pytest.raises(CheckError):
        check_array("answer", Liar(), [1, 2])


def test_checks_hold_no_exercise():
    """Lab 04 asks students to write the relative error of a gradient check: no helper for it."""
    import lablib.checks as module

    assert not {name for name in vars(module) if "rel" in name.lower() and "error" in name.lower()}
