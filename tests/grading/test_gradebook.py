"""Autograder: one end-to-end grading run of a class of broken and hostile submissions.

The class (``tests/fixtures/grading/``, written by ``make_fixtures.py``) uses a tiny lab
(``99_grading_fixture``: add 2 points, scale 3, count_words 2) for the bad inputs, plus
lab 01's solution and blank release: the solution must earn full marks, the blank zero,
and every bad submission exactly what it deserves, with a row, a status and a reason.
Everything is graded once, with 2 workers (module fixture ``graded``); the tests read
the result. Unit tests at the end cover the pieces without a kernel.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from lablib.grading.execute import carve, readable_paths
from lablib.grading.gradebook import COLUMNS, GradeOptions, _choose, flag_code, grade
from lablib.grading.markers import BEGIN_SOLUTION, END_SOLUTION
from lablib.grading.plan import load_plan, match_exercises, rebuild
from lablib.grading.release import release_all, release_notebook
from lablib.grading.report import STATUSES
from lablib.grading.submissions import Candidate, find_candidates, read_notebook

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
LAB99, LAB01 = "99_grading_fixture", "01_convolution_filters"
SENTINEL = "HIDDEN-SENTINEL"
sys.path.insert(0, str(FIXTURES))
import make_fixtures  # noqa: E402

# student -> (lab, score, status, words the reason must contain)
EXPECTED = {
    "renamed": (LAB99, 7, "graded", "3/3 tests passed"),
    "renamed_again": (LAB99, 7, "graded", "3/3 tests passed"),
    "blank": (LAB99, 0, "graded", "NotImplementedError"),
    "restructured": (LAB99, 4, "graded", "2/3 tests passed"),
    "edited_tests": (LAB99, 5, "graded", "add: CheckError"),
    "infinite_loop": (LAB99, 4, "timeout", "test scale"),
    "exits": (LAB99, 2, "crashed", "exited with code 1"),
    "crash": (LAB99, 5, "crashed", "SIGSEGV"),
    "huge_output": (LAB99, 7, "graded", "3/3 tests passed"),
    "memory_hog": (LAB99, 4, "memory", "MemoryError"),
    "monkeypatch": (LAB99, 0, "graded", "0/3 tests passed"),
    "rigged_eq": (LAB99, 5, "graded", "not a plain value"),
    "hostile_reader": (LAB99, 5, "graded", "count_words"),
    "answer_key": (LAB99, 2, "graded", "a call into lablib (lablib.checks)"),
    # attacks while the test runs (the verdict is decided in the grader: lablib.grading.verdict)
    "patch_checks": (LAB99, 5, "graded", "add: CheckError: add(2, 3): expected 5, got int -1"),
    "patch_numpy": (LAB99, 4, "graded", "scale: CheckError"),
    "thread_later": (LAB99, 0, "graded", "a thread your code started was running"),
    "raw_thread": (LAB99, 2, "graded", "scale: a thread your code started"),
    "timer_cell": (LAB99, 5, "graded", "count_words: a thread your code started"),
    "frame_walker": (LAB99, 5, "graded", "add: CheckError"),
    "forged_records": (LAB99, 5, "graded", "add: CheckError"),
    "malformed": (LAB99, 0, "invalid", "malformed JSON"),
    "empty": (LAB99, 0, "invalid", "empty file"),
    "not_a_notebook": (LAB99, 0, "invalid", "not a notebook"),
    "other_lab": (LAB99, 0, "wrong_lab", "98_other_lab"),
    "nothing": (LAB99, 0, "missing", "README.txt"),
    "lab01_solution": (LAB01, 16, "graded", "6/6 tests passed"),
    "lab01_blank": (LAB01, 0, "graded", "NotImplementedError"),
}


def solution_submission(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What a student who solved everything hands in: the release with the solutions filled in."""
    student, tests = release_notebook(nb)
    for index, cell in enumerate(nb.cells):
        if (
            cell.cell_type == "code"
            and BEGIN_SOLUTION in cell.source
            and index not in {t.cell for t in tests}
        ):
            student.cells[index].source = "\n".join(
                line
                for line in cell.source.split("\n")
                if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
            )
    return student


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole class once
    (2 workers, a 10 s cell limit so the endless loop ends quickly)."""
    base = tmp_path_factory.mktemp("grading")
    subs, labs = base / "submissions", base / "labs"
    shutil.copytree(FIXTURES / "submissions", subs)
    shutil.copytree(subs / "renamed", subs / "renamed_again")
    labs.mkdir()
    shutil.copy(FIXTURES / "labs" / f"{LAB99}.ipynb", labs)
    source = ROOT / "labs" / f"{LAB01}.ipynb"
    if source.exists():
        shutil.copy(source, labs)
        nb = nbformat.read(source, as_version=4)
        for student, notebook in [
            ("lab01_solution", solution_submission(nb)),
            ("lab01_blank", release_notebook(nb)[0]),
        ]:
            (subs / student).mkdir()
            nbformat.write(notebook, subs / student / f"Copy of {LAB01}.ipynb")
    before = set(Path(tempfile.gettempdir()).glob("lablib-grade-*"))
    report = grade(
        subs,
        base / "out",
        labs=labs,
        options=GradeOptions(workers=2, timeout=300, cell_timeout=10, progress=False),
    )
    leftovers = set(Path(tempfile.gettempdir()).glob("lablib-grade-*")) - before
    rows = {(r["student"], r["lab"]): r for r in report.rows}
    return report, rows, leftovers, sorted(p.stem for p in labs.glob("*.ipynb"))


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_earns_what_it_deserves(graded, student):
    report, rows, _, labs = graded
    lab, score, status, words = EXPECTED[student]
    assert lab in labs, f"{lab} is missing from the labs the grader saw: {labs}"
    row = rows[(student, lab)]
    assert (float(row["score"]), row["status"]) == (score, status), row
    assert words in row["reason"], row
    assert float(row["max_score"]) == {LAB99: 7, LAB01: 16}[lab]


def test_one_row_per_student_and_lab_and_a_clean_gradebook(graded):
    report, rows, _, labs = graded
    students = set(EXPECTED) - ({"lab01_solution", "lab01_blank"} if LAB01 not in labs else set())
    assert set(rows) == {(s, lab) for s in students for lab in labs}
    assert all(
        rows[(s, lab)]["status"] == "missing"
        for s in students
        for lab in labs
        if EXPECTED[s][0] != lab
    )
    with open(report.gradebook) as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        assert all(r["status"] in STATUSES and r["reason"] for r in reader)
    assert (report.out / "scores.png").stat().st_size > 10_000
    assert "graded" in report.summary() and "crashed 2" in report.summary()


def test_results_json_follow_gradescope_and_feedback_shows_every_test(graded):
    report = graded[0]
    results = json.loads((report.out / "exits" / LAB99 / "results.json").read_text())
    assert results["score"] == 2 and results["extra_data"]["max_score"] == 7
    assert [(t["name"], t["score"], t["max_score"]) for t in results["tests"]] == [
        ("add", 0, 2),
        ("scale", 0, 3),
        ("count_words", 2, 2),
    ]
    assert all(isinstance(t["output"], str) and t["output"] for t in results["tests"])
    assert (
        "SystemExit" in results["tests"][0]["output"]
        and "kernel died" in results["tests"][1]["output"]
    )
    html = (report.out / "exits" / LAB99 / "feedback.html").read_text()
    assert (
        all(name in html for name in ("add", "scale", "count_words"))
        and "lines of hidden tests, not shown" in html
    )
    assert json.loads((report.out / "malformed" / LAB99 / "results.json").read_text())["score"] == 0


def test_hidden_tests_never_reach_a_student_or_a_kernel(graded, tmp_path):
    report, rows, leftovers, _ = graded
    for path in report.out.rglob("*"):
        if path.is_file():
            assert SENTINEL not in path.read_text(errors="replace"), path
    executed = nbformat.read(report.out / "hostile_reader" / LAB99 / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert (
        "found: []" in printed and "LEAKED" not in printed
    )  # every read of labs/, build/, /tmp, other students failed
    assert leftovers == set(), (
        "the grader's work folder (rebuilt notebooks, kernel files) must be removed"
    )
    release_all(FIXTURES / "labs", tmp_path / "release", tmp_path / "autograder")
    assert SENTINEL not in (tmp_path / "release" / f"{LAB99}.ipynb").read_text()


def test_limits_and_defences_show_in_the_outputs(graded):
    report, rows, _, _ = graded
    huge = report.out / "huge_output" / LAB99 / "executed.ipynb"
    assert huge.stat().st_size < 2_000_000 and "of output not kept" in huge.read_text()
    assert "IPython internals" in rows[("monkeypatch", LAB99)]["flags"]
    assert (
        rows[("renamed", LAB99)]["score"] == rows[("renamed_again", LAB99)]["score"]
    )  # same notebook, same score
    printed = {
        student: "".join(
            "".join(o.get("text", ""))
            for c in nbformat.read(
                report.out / student / LAB99 / "executed.ipynb", as_version=4
            ).cells
            for o in c.get("outputs", [])
        )
        for student in ("frame_walker", "forged_records")
    }
    walker = printed["frame_walker"]
    assert "refused: 7 of 7" in walker and "GOT A FRAME" not in walker
    assert "a test the grader did not sign" in printed["forged_records"]
    loop = json.loads((report.out / "infinite_loop" / LAB99 / "results.json").read_text())
    assert "time limit" in loop["tests"][1]["output"] and loop["tests"][2]["score"] == 2


# ------------------------------------------------------------------ pieces, no kernel


def test_fixtures_are_what_make_fixtures_writes(tmp_path):
    for path in make_fixtures.write_all(tmp_path):
        assert path.read_bytes() == (FIXTURES / path.relative_to(tmp_path)).read_bytes(), path


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b"%PDF-1.7 ...", "a PDF"),
        (b"PK\x03\x04rest", "zip"),
        (b"\xff\xfe\x00binary", "binary"),
        (b"def f():\n    pass\n", "plain text or a script"),
        (b'{"cells": [', "malformed JSON at line 1"),
        (b'{"a": 1}', "without notebook cells"),
        (b"[1, 2]", "without notebook"),
    ],
)
def test_read_notebook_names_the_problem(tmp_path, content, words):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    sources, problem = read_notebook(path)
    assert sources is None and words in problem


def test_labs_are_recognized_by_content_then_by_name(tmp_path):
    plans = {LAB99: load_plan(FIXTURES / "labs" / f"{LAB99}.ipynb")}
    student = tmp_path / "subs" / "ana"
    student.mkdir(parents=True)
    nb = make_fixtures.student(make_fixtures.solved())
    nbformat.write(nb, student / "Untitled3.ipynb")  # setup call
    nb.cells = [c for c in nb.cells if "lablib.setup(" not in c.source]
    nbformat.write(nb, student / "my work.ipynb")  # exercise names only
    (student / f"{LAB99}-late (1).ipynb").write_text("oops")  # file name, unreadable
    (tmp_path / "subs" / f"bo_123_{LAB99}.ipynb").write_text(
        nbformat.writes(nb)
    )  # a loose file: student "bo_123"
    found = find_candidates(tmp_path / "subs", plans)
    assert {(c.path.name, c.lab, c.how) for c in found["ana"]} == {
        ("Untitled3.ipynb", LAB99, "setup call"),
        ("my work.ipynb", LAB99, "exercise names"),
        (f"{LAB99}-late (1).ipynb", LAB99, "file name"),
    }
    assert [c.lab for c in found["bo_123"]] == [LAB99]


def test_choose_prefers_a_readable_newest_notebook(tmp_path):
    def candidate(name, mtime, problem=None, how="setup call", lab=LAB99):
        return Candidate(tmp_path / name, "s", lab, how, None, problem, mtime)

    chosen, status, _, notes = _choose(
        "s",
        LAB99,
        [
            candidate("old.ipynb", 1),
            candidate("new.ipynb", 2),
            candidate("broken.ipynb", 3, "malformed JSON"),
        ],
        tmp_path,
    )
    assert chosen.path.name == "new.ipynb" and status == "graded" and "old.ipynb" in notes[0]
    assert _choose("s", LAB99, [candidate("broken.ipynb", 3, "empty file")], tmp_path)[1:3] == (
        "invalid",
        "'broken.ipynb': empty file",
    )
    assert _choose("s", LAB99, [], tmp_path)[1] == "missing"


def test_exercise_cells_are_matched_by_content_not_position():
    plan = load_plan(FIXTURES / "labs" / f"{LAB99}.ipynb")
    sources = [c.source for c in make_fixtures.restructured().cells if c.cell_type == "code"]
    matched, notes = match_exercises(plan, sources)
    by_name = {next(iter(e.names)): e.cell for e in plan.exercises}
    assert "return a + b" in matched[by_name["add"]] and "split" in matched[by_name["count_words"]]
    assert (
        matched[by_name["scale"]] == plan.released[by_name["scale"]]
        and "not found" in notes[by_name["scale"]]
    )
    cells = rebuild(plan, matched, {t.name: "tok" for t in plan.tests})
    tests = [c for c in cells if c.kind == "test"]
    assert all(
        SENTINEL not in c.source and SENTINEL not in c.shown for c in tests
    )  # encoded for the kernel
    assert [c.cell for c in cells if c.kind != "markdown" and not c.timed] == [
        1,
        2,
    ]  # setup cells: no per-cell limit


def test_kernel_may_read_python_and_lablib_but_not_the_labs():
    repo = str(ROOT)
    paths = readable_paths([repo, str(ROOT / "labs")])
    assert str(ROOT / "lablib") in paths and not any(
        p == repo or str(ROOT / "labs").startswith(p + "/") for p in paths
    )
    assert carve("/x", ["/x"]) == [] and carve(repo, ["/elsewhere/labs"]) == [repo]
    parts = carve(repo, [str(ROOT / "labs")])
    assert str(ROOT / "lablib") in parts and str(ROOT / "labs") not in parts


def test_flags_point_at_suspicious_code():
    assert flag_code([make_fixtures.MONKEYPATCH]) == [
        "IPython internals",
        "redefines checks",
        "patches NumPy",
    ]
    assert flag_code(["def add(a, b):\n    return a + b"]) == []


def test_a_kernel_that_cannot_start_is_the_graders_error_not_a_zero(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(FIXTURES / "submissions" / "renamed", subs / "renamed")
    report = grade(
        subs,
        tmp_path / "out",
        labs=FIXTURES / "labs",
        options=GradeOptions(memory_gib=0.1, progress=False),
    )
    (row,) = report.rows
    assert row["status"] == "error" and "did not start" in row["reason"]


def test_grade_stops_on_an_unknown_expected_lab(tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(ValueError, match="names 0 labs"):
        grade(tmp_path / "subs", tmp_path / "out", labs=FIXTURES / "labs", expect=["42_nope"])
    with pytest.raises(FileNotFoundError):
        grade(tmp_path / "missing", tmp_path / "out", labs=FIXTURES / "labs")


if __name__ == "__main__":
    os.execv(sys.executable, [sys.executable, "-m", "pytest", __file__, "-q"])
