"""Every marker the course's notebooks and the grader agree on, in one place.

Notebook markers, keyed by text because Colab keeps text, not cell metadata
(nbgrader-compatible spellings):

* ``### BEGIN SOLUTION`` ... ``### END SOLUTION``: solution code, replaced on release by
  ``# YOUR CODE HERE`` and :func:`solution_stub` at the marker's indentation: a
  ``raise NotImplementedError(...)`` whose message names the exercise.
* ``# TEST name (N points)`` as a test cell's first line (:data:`TEST_HEADER`);
  instructor-only checks sit between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

Grader markers: the strings the grading kernel and the grader use to recognise test cells,
purge requests and completed tests (:data:`TEST_TRIGGER`, :data:`PURGE_TRIGGER`,
:data:`TOKEN_PREFIX`).
"""

from __future__ import annotations

import re

__all__ = [
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "END_HIDDEN",
    "END_SOLUTION",
    "MARKERS",
    "PURGE_TRIGGER",
    "SOLUTION_STUB",
    "STUB",
    "TEST_HEADER",
    "TEST_TRIGGER",
    "TOKEN_PREFIX",
    "parse_test_header",
    "solution_stub",
]

TEST_HEADER = re.compile(r"^# TEST (?P<name>[A-Za-z_][\w.-]*) \((?P<points>\d+) points?\)\s*$")
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
SOLUTION_STUB = "raise NotImplementedError"  # how every released stub starts
#: A released stub, with or without its message (nbgrader's plain ``raise NotImplementedError()``).
STUB = re.compile(r"raise NotImplementedError\((?:\"[^\"\n]*\")?\)")

TEST_TRIGGER = "__lablib_grading_test_cell__"
PURGE_TRIGGER = "__lablib_grading_purge__"
TOKEN_PREFIX = "__lablib_test_completed__ "


def solution_stub(exercise: str | None) -> str:
    """The line that replaces a solution in the student notebook.

    Example:
        >>> solution_stub("conv1d")
        'raise NotImplementedError("conv1d: write your code here, in place of this line")'
        >>> bool(STUB.fullmatch(solution_stub(None)))
        True
    """
    what = exercise or "this exercise"
    return f'raise NotImplementedError("{what}: write your code here, in place of this line")'


def parse_test_header(source: str) -> tuple[str, int] | None:
    """``("conv_output_size", 2)`` for a cell starting ``# TEST conv_output_size (2 points)``.

    Example:
        >>> parse_test_header("# TEST conv1d (2 points)\\ncheck(...)")
        ('conv1d', 2)
        >>> parse_test_header("print('not a test')") is None
        True
    """
    first = source.lstrip("\n").split("\n", 1)[0]
    match = TEST_HEADER.match(first.strip())
    return (match["name"], int(match["points"])) if match else None
