"""lablib.feedback, in a real kernel: what a student sees after a test cell passes or fails."""

from __future__ import annotations

import re

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from lablib.feedback import passed_line

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_passed_line_names_the_test_and_its_points():
    assert passed_line("# TEST conv1d (2 points)\nx = 1") == "✔ test conv1d passed (2 points)"
    assert passed_line("# TEST one (1 point)") == "✔ test one passed (1 point)"
    assert passed_line("print('# TEST conv1d (2 points)')") is None


@pytest.fixture(scope="module")
def executed():
    cells = [
        "from lablib import checks, feedback\nfeedback.install()\nfeedback.install()  # idempotent",
        "# TEST double (2 points)\nchecks.check_equal('double(2)', 2 * 2, 4)",
        "# TEST wrong (3 points)\nchecks.check_equal('double(2)', 5, 4, hint='multiply by two')",
        "def mine(x):\n    return x[5]\n\nmine([1, 2])",
        "print('an ordinary cell')",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    return nb


def _text(cell):
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return ANSI.sub("", "".join(parts))


def test_a_passing_test_cell_says_so_once(executed):
    assert _text(executed.cells[1]).strip() == "✔ test double passed (2 points)"
    assert _text(executed.cells[4]).strip() == "an ordinary cell"


def test_a_failing_check_shows_its_sentence_without_library_frames(executed):
    cell = executed.cells[2]
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert error.ename == "CheckError" and "expected" in error.evalue  # what graders read
    text = _text(cell)
    assert "double(2)" in text and "Hint: multiply by two" in text
    assert "checks.py" not in text and "_fail" not in text and "passed" not in text
    assert len(text.strip().splitlines()) <= 4, text


def test_errors_in_the_students_own_code_keep_their_traceback(executed):
    text = _text(executed.cells[3])
    assert "IndexError" in text and "return x[5]" in text and "mine([1, 2])" in text
