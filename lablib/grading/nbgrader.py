"""nbgrader: the course's labs in an nbgrader course (JupyterHub), unmodified.

nbgrader finds solutions and tests by cell *metadata*; lablib by *text* (Colab keeps text).
:func:`cell_metadata` derives nbgrader's metadata (schema version 3) from the text markers:

============================================  ==============================================
cell                                          ``metadata.nbgrader``
============================================  ==============================================
test cell (``# TEST name (N points)``)        grade, locked, ``points`` N, id ``test_<name>``
exercise cell (``### BEGIN SOLUTION``)        solution, id: the exercise's function name
every other markdown or non-empty code cell   locked (read-only), id: the cell's ``id``
============================================  ==============================================

Ids are unique in a notebook and match nbgrader's ``^[a-zA-Z0-9_-]+$`` (other characters of
a test name become ``_``; a clash gets ``_2``, ``_3``). Everything but the exercise cells is
locked because ``nbgrader autograde`` then does what ``lablib grade`` does: it takes only the
exercise cells from a submission and every other cell, hidden tests included, from the
instructor's version, so an edited setup, demo or test cell changes nothing.

Two notebooks carry the metadata:

* :func:`export_source` (``lablib nbgrader``) writes the instructor notebooks, solutions and
  hidden tests included, to ``<course>/source/<assignment>/<lab>.ipynb``: what
  ``nbgrader generate_assignment`` reads. It writes the student version to ``release/``
  (the same sources as ``lablib release``, up to the stub's message), records the tests
  in its database, and ``nbgrader autograde`` puts the hidden tests back.
* ``lablib release``'s student notebooks carry the same metadata
  (:func:`lablib.grading.release.release_notebook` calls :func:`cell_metadata`), so a
  notebook handed out by ``lablib release`` can be autograded by nbgrader too, if the
  platform the student used kept cell metadata (JupyterLab does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import nbformat

from lablib.course import find_labs
from lablib.grading.markers import MarkerError

__all__ = [
    "GRADE_ID",
    "SCHEMA_VERSION",
    "cell_metadata",
    "check_metadata",
    "export_source",
    "source_notebook",
]

SCHEMA_VERSION = 3
#: nbgrader's pattern for ``grade_id`` (nbgraderformat/v3.json; nbgrader refuses an empty one).
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_KEYS = {"schema_version", "grade", "locked", "solution", "task", "grade_id", "points"}
_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class _Test(Protocol):  # lablib.grading.release.TestSpec (not imported: release imports us)
    name: str
    points: int
    cell: int


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "cell"


def cell_metadata(
    nb: nbformat.NotebookNode, tests: Sequence[_Test], exercises: dict[int, str]
) -> list[dict[str, Any] | None]:
    """nbgrader's metadata for every cell of a lab, None for a cell nbgrader should ignore.

    Args:
        nb: the instructor notebook (or its student version: the same cells).
        tests: the test cells (:class:`lablib.grading.release.TestSpec`: name, points, cell).
        exercises: exercise cell index -> the function its solution is in ("" if none).

    Example:
        >>> from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
        >>> from types import SimpleNamespace as Test
        >>> nb = new_notebook(cells=[new_markdown_cell("# Lab"), new_code_cell("def f(): ..."),
        ...                          new_code_cell("# TEST f.a (2 points)"), new_code_cell("")])
        >>> meta = cell_metadata(nb, [Test(name="f.a", points=2, cell=2)], {1: "f"})
        >>> [m and (m["grade_id"], m["grade"], m["solution"], m["locked"]) for m in meta[1:]]
        [('f', False, True, False), ('test_f_a', True, False, True), None]
        >>> meta[0]["grade_id"] == nb.cells[0].id and meta[0]["locked"]
        True
    """
    taken: set[str] = set()

    def unique(base: str) -> str:
        grade_id, n = _clean(base), 2
        while grade_id in taken:
            grade_id, n = f"{_clean(base)}_{n}", n + 1
        taken.add(grade_id)
        return grade_id

    def meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
        out = {
            "grade": grade,
            "grade_id": grade_id,
            "locked": locked,
            "schema_version": SCHEMA_VERSION,
            "solution": solution,
            "task": False,
        }
        if grade:
            out["points"] = points
        return out

    result: list[dict[str, Any] | None] = [None] * len(nb.cells)
    # Tests first, then exercises: their ids read well, and the other cells give way to them.
    for test in sorted(tests, key=lambda t: t.cell):
        grade_id = unique(f"test_{test.name}")
        result[test.cell] = meta(grade_id, grade=True, locked=True, points=test.points)
    for index in sorted(exercises):
        name = exercises[index] or f"solution_{nb.cells[index].get('id') or index}"
        result[index] = meta(unique(name), solution=True)
    for index, cell in enumerate(nb.cells):
        if result[index] is None and cell.cell_type in ("markdown", "code") and cell.source.strip():
            result[index] = meta(unique(cell.get("id") or f"cell-{index}"), locked=True)
    return result


def check_metadata(nb: nbformat.NotebookNode, name: str = "notebook") -> None:
    """Check the nbgrader metadata of a notebook the way nbgrader 0.9 does (schema v3).

    Raises:
        MarkerError: a grade_id missing, empty, invalid or used twice, points missing or
            negative, an unknown key, or a markdown cell graded without being a solution.
    """
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        where = f"{name}: cell {index}"
        unknown = set(meta) - _KEYS - {"checksum", "cell_type"}
        if unknown or meta.get("schema_version") != SCHEMA_VERSION:
            raise MarkerError(f"{where}: nbgrader metadata {sorted(meta)} is not schema v3")
        if not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            continue
        grade_id = meta.get("grade_id", "")
        if not GRADE_ID.match(grade_id):
            raise MarkerError(f"{where}: invalid nbgrader grade_id {grade_id!r}")
        if grade_id in seen:
            raise MarkerError(f"{where}: grade_id {grade_id!r} is also cell {seen[grade_id]}'s")
        seen[grade_id] = index
        points = meta.get("points")
        if meta.get("grade") and not (isinstance(points, (int, float)) and points >= 0):
            raise MarkerError(f"{where}: grade cell {grade_id!r} needs points >= 0")
        if cell.cell_type == "markdown" and meta.get("grade") != meta.get("solution"):
            raise MarkerError(f"{where}: a markdown cell must be both grade and solution")


def _matches(stem: str, wanted: str) -> bool:
    """``"1"`` or ``"01"`` picks lab 01 by number; other text matches part of the name."""
    if wanted.isdigit():
        return stem.split("_", 1)[0] == wanted.zfill(2)
    return wanted in stem


def _check_autotest(nb: nbformat.NotebookNode, name: str) -> None:
    """nbgrader expands a comment line naming AUTOTEST into tests (from autotests.yml)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for number, line in enumerate(cell.source.split("\n"), start=1):
            if "AUTOTEST" in line and line.strip().startswith("#"):
                raise MarkerError(
                    f"{name}: cell {index}, line {number}: {line.strip()!r}: nbgrader would "
                    "expand this comment into tests from autotests.yml; reword it"
                )


def source_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The instructor notebook as nbgrader's ``source/`` wants it: every solution and hidden
    test kept, outputs cleared, nbgrader metadata on every cell.

    Raises:
        MarkerError: as :func:`lablib.grading.release.release_notebook`, or a comment that
            nbgrader would expand as an AUTOTEST.
    """
    from lablib.grading.release import release_notebook

    student, _ = release_notebook(nb, name)
    _check_autotest(nb, name)
    source = nbformat.from_dict(json.loads(json.dumps(nb)))
    source.metadata.setdefault("kernelspec", dict(_KERNELSPEC))
    source.metadata.setdefault("language_info", {"name": "python"})
    for cell, released in zip(source.cells, student.cells):
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        if "nbgrader" in released.metadata:
            cell.metadata["nbgrader"] = json.loads(json.dumps(released.metadata["nbgrader"]))
    check_metadata(source, name)
    return source


def export_source(
    labs: Path,
    course: Path,
    only: Iterable[str] | None = None,
    assignment: str | None = None,
) -> list[Path]:
    """Write nbgrader source notebooks: ``<course>/source/<assignment>/<lab>.ipynb``.

    Every notebook is checked before anything is written.

    Args:
        labs: the instructor notebooks.
        course: the nbgrader course directory (``CourseDirectory.root``).
        only: labs to export, by number (``"1"``, ``"01"``) or part of the name; default all.
        assignment: one nbgrader assignment holding every exported lab; default one
            assignment per lab, named like the lab (``01_convolution_filters``).

    Returns:
        The notebooks written.
    """
    wanted = list(only or [])
    paths = [p for p in find_labs(labs) if not wanted or any(_matches(p.stem, w) for w in wanted)]
    if not paths:
        raise FileNotFoundError(
            f"no lab notebooks (NN_name.ipynb) matching {wanted or '*'} in {labs}"
        )
    if assignment is not None and not GRADE_ID.match(assignment):
        raise ValueError(f"assignment name {assignment!r}: use letters, digits, '_' and '-'")
    sources = [(p, source_notebook(nbformat.read(p, as_version=4), p.name)) for p in paths]
    written = []
    for path, source in sources:
        folder = Path(course) / "source" / (assignment or path.stem)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source, folder / path.name)
        written.append(folder / path.name)
    return written
