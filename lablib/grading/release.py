"""Release: instructor notebooks (with solutions) -> student notebooks + grading material.

Markers, keyed by text because Colab keeps text, not cell metadata (nbgrader-compatible):

* ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` in a code cell: the lines between are
  replaced by ``raise NotImplementedError("<exercise>: write your code here, ...")`` at
  the marker's indentation.
* A test cell's first line is ``# TEST name (N points)``; instructor-only checks sit
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` and are removed.

Each marker has exactly one spelling (:func:`lablib.grading.markers.find_marker`): a line
nbgrader would take for a marker in another spelling (``# BEGIN SOLUTION``, the phrase after
code or in a markdown cell) is refused, never released as it stands.

``release_notebook`` returns the student notebook and the hidden tests keyed by test name;
``release_all`` writes ``release/NN_lab.ipynb`` and ``build/autograder/NN_lab.json``.
Malformed markers raise :class:`MarkerError` naming the notebook, cell and line.

The student notebook's cells carry nbgrader's cell metadata
(:func:`lablib.grading.nbgrader.cell_metadata`: test cells are graded and locked, exercise
cells are solution cells, the rest is locked), so a course that grades with ``nbgrader
autograde`` finds every test in a notebook released here.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from lablib.course import find_labs
from lablib.grading.markers import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MarkerError,
    find_marker,
    parse_test_header,
    solution_stub,
)
from lablib.grading.nbgrader import cell_metadata
from lablib.grading.publish import Target, retarget

__all__ = ["MarkerError", "TestSpec", "release_all", "release_notebook"]

_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@dataclass(frozen=True)
class TestSpec:
    """One graded test: its name, points, cell index in the source, and hidden code."""

    name: str
    points: int
    cell: int
    hidden: str


def _enclosing_def(lines: list[str], number: int) -> str | None:
    """The function whose body holds line ``number`` (1-based), if any."""
    depth = len(lines[number - 1]) - len(lines[number - 1].lstrip())
    for line in reversed(lines[: number - 1]):
        match = re.match(r"^(\s*)(?:async\s+)?def\s+(\w+)", line)
        if match and len(match[1]) < depth:
            return match[2]
    return None


def _split(source: str, where: str, is_test: bool) -> tuple[str, str, str | None]:
    """Return (student source, hidden code, exercise) for one code cell, or raise MarkerError.

    ``exercise`` is None when the cell has no solution region, else the function whose
    body holds the first one ("" when it is at the top level).
    """
    out, hidden, block, start, exercise = [], [], None, 0, None
    lines = source.split("\n")
    for number, line in enumerate(lines, start=1):
        at = f"{where}, line {number}"
        try:
            marker = find_marker(line)
        except MarkerError as exc:
            raise MarkerError(f"{at}: {exc}") from None
        if marker in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if block:
                raise MarkerError(
                    f"{at}: {marker!r} inside the {block!r} block opened at line {start}: "
                    "markers cannot nest"
                )
            if marker == BEGIN_HIDDEN and not is_test:
                raise MarkerError(
                    f"{at}: hidden tests outside a test cell "
                    "(a test cell starts with '# TEST name (N points)')"
                )
            if marker == BEGIN_SOLUTION and is_test:
                raise MarkerError(
                    f"{at}: a solution region in a test cell: the exercise goes in its own "
                    "cell above the test (nbgrader would make this a manually graded answer)"
                )
            block, start = marker, number
            if marker == BEGIN_SOLUTION:
                name = _enclosing_def(lines, number)
                if exercise is None:
                    exercise = name or ""
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}# YOUR CODE HERE")
                out.append(f"{indent}{solution_stub(name)}")
            continue
        if marker in (END_SOLUTION, END_HIDDEN):
            expected = BEGIN_SOLUTION if marker == END_SOLUTION else BEGIN_HIDDEN
            if block != expected:
                raise MarkerError(f"{at}: {marker!r} without a matching {expected!r}")
            block = None
            continue
        if block == BEGIN_HIDDEN:
            hidden.append(line)
        elif block is None:
            out.append(line)
    if block:
        raise MarkerError(f"{where}, line {start}: {block!r} is never closed")
    return "\n".join(out), "\n".join(hidden), exercise


def _check_text_cell(source: str, where: str) -> None:
    """A markdown or raw cell holds no marker: nbgrader would act on it, lablib does not."""
    for number, line in enumerate(source.split("\n"), start=1):
        try:
            marker = find_marker(line, code=False)
        except MarkerError as exc:
            raise MarkerError(f"{where}, line {number}: {exc} (in a text cell)") from None
        if marker:
            raise MarkerError(
                f"{where}, line {number}: {marker!r} in a text cell: markers go in code "
                "cells (nbgrader would replace a text region by 'YOUR ANSWER HERE'; to "
                "mention a marker in prose, do not write the phrase itself)"
            )


def release_notebook(
    nb: nbformat.NotebookNode, name: str = "notebook"
) -> tuple[nbformat.NotebookNode, list[TestSpec]]:
    """Make the student version of an instructor notebook.

    Args:
        nb: the instructor notebook (not modified).
        name: how to name the notebook in error messages.

    Returns:
        ``(student notebook, tests)``: solutions stubbed, hidden tests removed, outputs
        and execution counts cleared, nbgrader cell metadata set; one :class:`TestSpec`
        per ``# TEST`` cell.

    Raises:
        MarkerError: unbalanced, nested, unknown or misplaced markers (also a marker nbgrader
            would act on in another spelling), or a test name used twice.
    """
    student = nbformat.from_dict(json.loads(json.dumps(nb)))
    # Without a kernel spec JupyterLab greets the student with a "Select Kernel" dialog.
    student.metadata.setdefault("kernelspec", dict(_KERNELSPEC))
    student.metadata.setdefault("language_info", {"name": "python"})
    tests: list[TestSpec] = []
    exercises: dict[int, str] = {}
    for index, cell in enumerate(student.cells):
        where = f"{name}: cell {index}"
        if cell.cell_type != "code":
            _check_text_cell(cell.source, where)
            continue
        header = parse_test_header(cell.source)
        cell.source, hidden, exercise = _split(cell.source, where, header is not None)
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        if exercise is not None:
            exercises[index] = exercise
        if header:
            if any(t.name == header[0] for t in tests):
                raise MarkerError(f"{where}, line 1: test name {header[0]!r} is used twice")
            tests.append(TestSpec(header[0], header[1], index, hidden))
    for cell, meta in zip(student.cells, cell_metadata(nb, tests, exercises)):
        cell.metadata.pop("nbgrader", None)
        if meta:
            cell.metadata["nbgrader"] = meta
    return student, tests


def release_all(
    labs: Path, out: Path, autograder: Path, target: Target | None = None
) -> list[Path]:
    """Release every ``labs/*.ipynb`` into ``out`` and write grading material to ``autograder``.

    Every notebook is checked before anything is written, so a bad marker leaves no half
    release behind.

    Args:
        labs, out, autograder: the instructor notebooks, where the student notebooks go, and
            where the grading material goes.
        target: the repository and ref students open (:mod:`lablib.grading.publish`); the
            badges, install lines and ``out/README.md`` point there. None: keep the links of
            the instructor notebooks.

    Returns:
        The student notebooks written.
    """
    sources = find_labs(labs)
    if not sources:
        raise FileNotFoundError(f"no lab notebooks (NN_name.ipynb) in {labs}")
    released = []
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        released.append((path, nb, *release_notebook(nb, path.name)))
    out, autograder = Path(out), Path(autograder)
    out.mkdir(parents=True, exist_ok=True)
    autograder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, _source, student, tests in released:
        if target is not None:
            for cell in student.cells:
                cell.source = retarget(cell.source, target)
        nbformat.write(student, out / path.name)
        material = {
            "lab": path.stem,
            "source": path.name,
            "tests": [asdict(t) for t in tests],
            "max_score": sum(t.points for t in tests),
        }
        (autograder / f"{path.stem}.json").write_text(json.dumps(material, indent=1) + "\n")
        written.append(out / path.name)
    if target is not None:
        (out / "README.md").write_text(student_readme(sources, target), encoding="utf-8")
    return written


def student_readme(labs: list[Path], target: Target) -> str:
    """The README of the published ``release/`` folder: what to open, where, how to submit."""
    base = f"https://colab.research.google.com/github/{target.repo}/blob/{target.ref}/release"
    rows = "\n".join(
        f"| {p.stem[:2]} | [{p.stem[3:].replace('_', ' ')}]({base}/{p.name}) |" for p in labs
    )
    return f"""# CNN labs: the student notebooks

Start with lab 01 and go in order: each lab builds on the ones before it.

## On Google Colab (nothing to install)

Click a lab below. Its first cell installs the course helpers (`{target.requirement}`)
and keeps Colab's own TensorFlow and Keras. Use *Runtime → Change runtime type → GPU* for the
`full` profile; on a CPU runtime the labs pick the smaller `standard` profile by themselves.
Save your own copy (*File → Save a copy in Drive*) before you start writing.

| lab | open in Colab |
|---|---|
{rows}

## On your own computer

```bash
git clone https://github.com/{target.repo} && cd {target.repo.split("/")[1]}
git checkout {target.ref}
python -m venv .venv && . .venv/bin/activate
pip install -e ".[lab]"
jupyter lab release/
```

## Working on a lab

Run the cells from the top. Each exercise is a function whose body says
`raise NotImplementedError(...)`: replace that line with your code, then run the test cell
under it. A passing test prints `✔ test <name> passed (N points)`; a failing one tells you
what was expected, what your code returned, and a hint. The hidden tests your instructor runs
check the same functions on more cases.

## Handing in

Hand in the `.ipynb` file of each lab (on Colab: *File → Download → Download .ipynb*), with
its name unchanged, the way your instructor asks (an LMS assignment or Gradescope). Only your
exercise cells are graded; everything else comes from the course's own copy of the lab.
"""
