"""Rebuild a student's submission from the instructor's notebook.

Only the student's *exercise cells* (the cells whose instructor version holds a
``### BEGIN SOLUTION`` region) are taken from the submission; every other cell (setup,
explanations, demos, tests) comes from the instructor's notebook in ``labs/``, so
edited, deleted or reordered test and setup cells do not matter, and the hidden tests go
back in. Colab keeps a cell's text but not its metadata, so a student's cell is matched
to an exercise by content: the functions it defines (``def conv1d``) first, then the
lines it shares with the released cell (signature, docstring), never by position alone.

The markers are parsed by :mod:`lablib.grading.release`
(:func:`~lablib.grading.release.release_notebook`), the one place that knows them.
"""

from __future__ import annotations

import ast
import base64
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from lablib.grading.markers import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    STUB,
    TEST_TRIGGER,
    TOKEN_PREFIX,
    parse_test_header,
)
from lablib.grading.own_work import allowed_helpers, lablib_bindings
from lablib.grading.release import release_notebook
from lablib.grading.verdict import instrument, payload

__all__ = [
    "Exercise",
    "Test",
    "LabPlan",
    "RunCell",
    "load_plan",
    "match_exercises",
    "rebuild",
    "TOKEN_PREFIX",
]

_STUB_LINES = {"# YOUR CODE HERE"}
_DEF = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.M)


@dataclass(frozen=True)
class Exercise:
    """An exercise cell of the instructor notebook."""

    cell: int  # index in the instructor notebook
    released: str  # the student version (solution stubbed)
    names: frozenset[str]  # the functions / classes (else variables) it defines
    context: frozenset[str]  # its stripped non-solution lines
    allowed: frozenset[str] = frozenset()  # lablib helpers it may use (own_work.allowed_helpers)


@dataclass(frozen=True)
class Test:
    """A ``# TEST name (N points)`` cell: what students see and what the grader runs."""

    name: str
    points: int
    cell: int
    visible: str  # the released cell: hidden tests removed
    code: str  # visible and hidden tests, markers removed
    hidden_lines: int
    uses: frozenset[int] = frozenset()  # the exercise cells whose functions it calls
    hidden: frozenset[int] = frozenset()  # 1-based lines of ``code`` that are hidden tests


@dataclass
class LabPlan:
    """Everything the grader needs from one instructor notebook
    (hidden tests included: keep it in memory)."""

    lab: str
    path: Path
    notebook: nbformat.NotebookNode
    released: list[str]
    exercises: list[Exercise]
    tests: list[Test]
    imports: dict[int, list[str]] = field(default_factory=dict)  # cell -> earlier import lines
    bindings: dict[str, str] = field(default_factory=dict)  # names the lab binds to lablib

    @property
    def max_score(self) -> int:
        return sum(t.points for t in self.tests)

    @property
    def first_exercise(self) -> int:
        return min((e.cell for e in self.exercises), default=len(self.notebook.cells))


@dataclass
class RunCell:
    """One cell of the rebuilt notebook."""

    cell: int  # index in the instructor notebook
    kind: str  # "markdown", "code" (instructor), "exercise" or "test"
    source: str  # what the kernel runs
    shown: str  # what the executed notebook and the feedback show
    timed: bool = True  # student code can run here, so the per-cell time limit applies
    test: Test | None = None
    token: str | None = None
    payload: bytes | None = None  # a test's signed request (see lablib.grading.verdict)
    sites: tuple = ()  # a test's check calls (verdict.Site)


def _strip_magics(source: str) -> str:
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")
    )


def defined_names(source: str) -> frozenset[str]:
    """Top-level functions and classes a cell defines (else its assigned names);
    tolerant of syntax errors."""
    try:
        tree = ast.parse(_strip_magics(source))
    except (SyntaxError, ValueError):
        return frozenset(_DEF.findall(source))
    defs = {
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    if defs:
        return frozenset(defs)
    return frozenset(
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    )


def _lines(source: str) -> frozenset[str]:
    return frozenset(
        s
        for s in (line.strip() for line in source.split("\n"))
        if s and s not in _STUB_LINES and not STUB.fullmatch(s)
    )


def _import_lines(source: str) -> list[str]:
    try:
        tree = ast.parse(_strip_magics(source))
    except (SyntaxError, ValueError):
        return []
    return [
        ast.unparse(n)
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        and getattr(n, "module", None) != "__future__"
    ]


def load_plan(path: Path) -> LabPlan:
    """Read an instructor notebook and work out its exercises, tests and imports.

    Raises:
        lablib.grading.release.MarkerError: the notebook's markers are malformed.
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    student, specs = release_notebook(notebook, path.name)
    released = [c.source for c in student.cells]
    tests = []
    for spec in specs:
        kept, hidden, inside = [], set(), False
        for line in notebook.cells[spec.cell].source.split("\n"):
            if line.strip().startswith(BEGIN_HIDDEN):
                inside = True
            elif line.strip().startswith(END_HIDDEN):
                inside = False
            else:
                kept.append(line)
                if inside:
                    hidden.add(len(kept))
        code = "\n".join(kept)
        tests.append(
            Test(
                spec.name,
                spec.points,
                spec.cell,
                released[spec.cell],
                code,
                len([h for h in spec.hidden.split("\n") if h.strip()]),
                hidden=frozenset(hidden),
            )
        )
    exercises, imports, seen = [], {}, []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        imports[index] = list(dict.fromkeys(seen))
        seen += _import_lines(released[index])
        if any(line.strip().startswith(BEGIN_SOLUTION) for line in cell.source.split("\n")):
            exercises.append(
                Exercise(
                    index,
                    released[index],
                    defined_names(released[index]),
                    _lines(released[index]),
                    allowed_helpers(cell.source),
                )
            )
    tests = [replace(t, uses=_exercises_used(t, exercises)) for t in tests]
    bindings = lablib_bindings(s for s, c in zip(released, notebook.cells) if c.cell_type == "code")
    return LabPlan(path.stem, path, notebook, released, exercises, tests, imports, bindings)


def _exercises_used(test: Test, exercises: list[Exercise]) -> frozenset[int]:
    """The exercise cells whose names the test's code refers to (else the one just above it)."""
    try:
        names = {
            n.id for n in ast.walk(ast.parse(_strip_magics(test.code))) if isinstance(n, ast.Name)
        }
    except (SyntaxError, ValueError):
        names = set()
    used = frozenset(e.cell for e in exercises if e.names & names)
    earlier = [e.cell for e in exercises if e.cell < test.cell]
    return used or frozenset(earlier[-1:])


def _similarity(exercise: Exercise, names: frozenset[str], lines: frozenset[str]) -> float:
    by_name = len(exercise.names & names) / len(exercise.names) if exercise.names else 0.0
    by_lines = len(exercise.context & lines) / len(exercise.context) if exercise.context else 0.0
    return 2 * by_name + by_lines if by_name or by_lines >= 0.5 else 0.0


def match_exercises(
    plan: LabPlan, student_sources: list[str]
) -> tuple[dict[int, str], dict[int, str]]:
    """Find the student's version of every exercise cell.

    Args:
        plan: the lab.
        student_sources: the submission's code cells, in its order.

    Returns:
        ``(sources, notes)``: for each exercise (by instructor cell index) the student's
        cell, or the released stub where none matches; ``notes`` says how each was found.
    """
    candidates = [
        (j, s, defined_names(s), _lines(s))
        for j, s in enumerate(student_sources)
        if s.strip() and not parse_test_header(s)
    ]
    ranked = []
    for exercise in plan.exercises:
        for j, source, names, lines in candidates:
            score = _similarity(exercise, names, lines)
            if score:
                attempted = not STUB.search(source)
                ranked.append((score >= 2, attempted, score, j, exercise.cell, source))
    ranked.sort(
        key=lambda r: r[:4], reverse=True
    )  # all names defined, then attempted, then similar, then later
    sources, notes, used = {}, {}, set()
    for all_names, attempted, _, j, cell, source in ranked:
        if cell in sources or (j in used and not all_names):
            continue  # one cell per exercise; a cell serves two exercises only if it defines both
        sources[cell], notes[cell] = (
            source,
            ("attempted" if attempted else "not attempted (still raises NotImplementedError)"),
        )
        used.add(j)
    for exercise in plan.exercises:
        if exercise.cell not in sources:
            sources[exercise.cell] = exercise.released
            notes[exercise.cell] = (
                "not found in the submission (deleted or renamed?): graded as not attempted"
            )
    return sources, notes


#: The cell the kernel runs for a test; ``{mac}`` is filled in per kernel with the grader's
#: signature of the payload (:mod:`lablib.grading.execute`).
TEST_CELL = (
    "__lablib_grading__ = {trigger!r}\n"
    '__import__("sys").audit("lablib.test", {data!r}, "{{mac}}")'
)


def _test_cell(plan: LabPlan, test: Test, token: str, mode: str) -> tuple[str, bytes, tuple]:
    """The test cell the kernel runs, its payload and its check sites.

    The test (the instructor's imports again, every check) is rewritten so that its checks
    record the answers instead of deciding (:func:`lablib.grading.verdict.instrument`), and
    travels base64-encoded to the kernel's audit hook, which runs it only with the grader's
    signature; IPython's input and AST transformers never see its code.
    """
    imports = plan.imports.get(test.cell, [])
    code = "\n".join([*imports, test.code])
    hidden = frozenset(line + len(imports) for line in test.hidden)
    instrumented = instrument(code, hidden)
    data = payload(instrumented, token, mode)
    encoded = base64.b64encode(data).decode()
    return TEST_CELL.format(trigger=TEST_TRIGGER, data=encoded), data, instrumented.sites


def rebuild(
    plan: LabPlan, sources: dict[int, str], tokens: dict[str, str], mode: str = "student"
) -> list[RunCell]:
    """The rebuilt notebook: the instructor's cells with the student's exercise cells.

    Args:
        plan: the lab.
        sources: the student's exercise cells from :func:`match_exercises`.
        tokens: a fresh random token (letters and digits) per test name: it names the
            test's records.
        mode: ``"student"`` (the tests record the answers) or ``"reference"`` (the
            instructor's run: they record every argument of every check).
    """
    by_cell = {t.cell: t for t in plan.tests}
    cells, placed = [], set()
    for index, cell in enumerate(plan.notebook.cells):
        timed = index >= plan.first_exercise
        if cell.cell_type != "code":
            cells.append(RunCell(index, "markdown", "", cell.source, timed=False))
        elif index in by_cell:
            test = by_cell[index]
            hidden = (
                f"\n# ({test.hidden_lines} lines of hidden tests, not shown)"
                if test.hidden_lines
                else ""
            )
            source, data, sites = _test_cell(plan, test, tokens[test.name], mode)
            cells.append(
                RunCell(
                    index,
                    "test",
                    source,
                    test.visible + hidden,
                    True,
                    test,
                    tokens[test.name],
                    data,
                    sites,
                )
            )
        elif index in sources:
            source = sources[index]
            duplicate = source in placed and source.strip() != plan.released[index].strip()
            placed.add(source)
            source = (
                "# (this exercise's code is in an earlier cell of the submission)"
                if duplicate
                else source
            )
            cells.append(RunCell(index, "exercise", source, source, True))
        else:
            cells.append(RunCell(index, "code", plan.released[index], plan.released[index], timed))
    return cells
