"""Every marker the course's notebooks and the grader agree on, in one place.

Notebook markers, keyed by text because Colab keeps text, not cell metadata
(nbgrader-compatible spellings):

* ``### BEGIN SOLUTION`` ... ``### END SOLUTION``: solution code, replaced on release by
  ``# YOUR CODE HERE`` and :func:`solution_stub` at the marker's indentation: a
  ``raise NotImplementedError(...)`` whose message names the exercise.
* ``# TEST name (N points)`` as a test cell's first line (:data:`TEST_HEADER`);
  instructor-only checks sit between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

Each marker has exactly one spelling, alone on its line (any indentation, trailing spaces
allowed). nbgrader is far looser: every line that *contains* ``BEGIN SOLUTION`` (``# BEGIN
SOLUTION``, ``x = 1  # BEGIN SOLUTION``, ``print("BEGIN SOLUTION")``, in any cell, markdown
included) is a marker to it and is removed with what follows. :func:`find_marker` therefore
refuses (:class:`MarkerError`) every line nbgrader would take for a marker but lablib would
not, and every comment that looks like a marker in another case or spacing: such a line is
never released as it stands, so no solution or hidden test leaks through a misspelt marker.

Grader markers: the strings the grading kernel and the grader use to recognise test cells,
purge requests and completed tests (:data:`TEST_TRIGGER`, :data:`PURGE_TRIGGER`,
:data:`TOKEN_PREFIX`).
"""

from __future__ import annotations

import re

__all__ = [
    "NBGRADER_DELIMITERS",
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "END_HIDDEN",
    "END_SOLUTION",
    "MARKERS",
    "MarkerError",
    "PURGE_TRIGGER",
    "SOLUTION_STUB",
    "STUB",
    "TEST_HEADER",
    "TEST_TRIGGER",
    "TOKEN_PREFIX",
    "find_marker",
    "parse_test_header",
    "solution_stub",
]

TEST_HEADER = re.compile(r"^# TEST (?P<name>[A-Za-z_][\w.-]*) \((?P<points>\d+) points?\)\s*$")
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
#: What nbgrader 0.9 (``ClearSolutions``, ``ClearHiddenTests``, ``ClearMarkScheme``) takes for a
#: marker: any line that contains one of these, case-sensitive, in any cell.
NBGRADER_DELIMITERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)
# A comment that reads like a marker in another case, spacing or number ("# begin solution",
# "### END HIDDEN TEST", "### BEGIN  SOLUTION"): neither nbgrader nor lablib would act on it.
_LOOKALIKE = re.compile(
    r"(?i)\b(?:begin|end)[\s_-]*(?:solutions?|hidden[\s_-]*tests?|mark(?:ing)?[\s_-]*schemes?)\b"
)
SOLUTION_STUB = "raise NotImplementedError"  # how every released stub starts
#: A released stub, with or without its message (nbgrader's plain ``raise NotImplementedError()``).
STUB = re.compile(r"raise NotImplementedError\((?:\"[^\"\n]*\")?\)")

TEST_TRIGGER = "__lablib_grading_test_cell__"
PURGE_TRIGGER = "__lablib_grading_purge__"
TOKEN_PREFIX = "__lablib_test_completed__ "


class MarkerError(ValueError):
    """A malformed marker; the message names notebook, cell (0-based index) and line (1-based)."""


def find_marker(line: str, *, code: bool = True) -> str | None:
    """The marker ``line`` is (one of :data:`MARKERS`), or None for an ordinary line.

    Args:
        line: one line of a cell.
        code: the line is in a code cell; in a markdown or raw cell only what nbgrader
            would act on is refused (prose may say "begin", "solution").

    Raises:
        MarkerError: nbgrader would take the line for a marker but lablib would not (the
            phrase elsewhere on the line, another number of ``#``), or a comment looks
            like a marker in another case or spacing. The message has no location: the
            caller adds notebook, cell and line.

    Example:
        >>> find_marker("    ### BEGIN SOLUTION  ")
        '### BEGIN SOLUTION'
        >>> find_marker("x = 1  # a comment") is None
        True
        >>> find_marker("# BEGIN SOLUTION")
        Traceback (most recent call last):
        ...
        lablib.grading.markers.MarkerError: unrecognized marker '# BEGIN SOLUTION': ...
    """
    stripped = line.strip()
    if stripped in MARKERS:
        return stripped
    found = next((d for d in NBGRADER_DELIMITERS if d in line), None)
    if found is not None:
        if "MARK SCHEME" in found:
            fix = "lablib has no mark schemes: remove the line"
        else:
            fix = f"write the marker alone on its line, exactly {'### ' + found!r}"
        raise MarkerError(
            f"unrecognized marker {stripped!r}: nbgrader takes every line that contains "
            f"{found!r} for a marker and removes what follows it, lablib only the exact "
            f"line; {fix}"
        )
    comment = stripped.startswith("#")
    if (
        code
        and comment
        and (
            _LOOKALIKE.search(stripped)
            or (stripped.startswith("###") and ("SOLUTION" in stripped or "HIDDEN" in stripped))
        )
    ):
        raise MarkerError(
            f"unrecognized marker {stripped!r}: it looks like a marker, but markers are "
            "case- and space-sensitive, and neither lablib nor nbgrader would remove the code "
            f"after it; use one of {', '.join(MARKERS)} (or reword the comment)"
        )
    return None


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
