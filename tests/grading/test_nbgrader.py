"""nbgrader: the labs work in an nbgrader course unmodified, and no marker spelling nbgrader
acts on leaks a solution or a hidden test through ``lablib release``.

The end-to-end test builds a course directory, exports the grading fixture lab with
``lablib nbgrader``, runs nbgrader's own generate_assignment and autograde (nbgrader's Python
API, one process), and checks the scores. It needs nbgrader (the dev extra) and skips without.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lablib.course import find_labs
from lablib.grading.markers import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    NBGRADER_DELIMITERS,
    STUB,
    MarkerError,
    find_marker,
    parse_test_header,
)
from lablib.grading.nbgrader import GRADE_ID, check_metadata, source_notebook
from lablib.grading.release import release_notebook

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "grading" / "labs" / "99_grading_fixture.ipynb"
LABS = find_labs(ROOT / "labs")

try:
    import nbgrader  # noqa: F401

    HAVE_NBGRADER = True
except ImportError:  # the dev extra installs it: CI must not skip these tests
    if os.environ.get("CI"):
        raise
    HAVE_NBGRADER = False
needs_nbgrader = pytest.mark.skipif(not HAVE_NBGRADER, reason="nbgrader is not installed")


def read(path):
    return nbformat.read(path, as_version=4)


def roles(nb):
    """Per cell: ("grade", id, points) / ("solution", id) / ("locked", id) / None."""
    out = []
    for cell in nb.cells:
        m = cell.metadata.get("nbgrader")
        if m is None:
            out.append(None)
        elif m["grade"]:
            out.append(("grade", m["grade_id"], m["points"]))
        else:
            out.append(("solution" if m["solution"] else "locked", m["grade_id"]))
    return out


def normalized(source):
    """A cell's source with the solution stub's message dropped: lablib's stub names the
    exercise, nbgrader's is a plain ``raise NotImplementedError()``."""
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + "raise NotImplementedError()"
        if STUB.fullmatch(line.strip())
        else line
        for line in source.split("\n")
    )


def nbgrader_clear(source_nb):
    """What ``nbgrader generate_assignment`` does to the sources (ClearSolutions, then
    ClearHiddenTests), with nbgrader's default enforce_metadata=True."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = copy.deepcopy(source_nb)
    nb, resources = ClearSolutions().preprocess(nb, {})
    nb, _ = ClearHiddenTests().preprocess(nb, resources)
    return nb


# ----------------------------------------------------------------------------- metadata


def test_fixture_lab_metadata_roles_ids_and_points():
    source = source_notebook(read(FIXTURE), FIXTURE.name)
    assert roles(source) == [
        ("locked", "cell-000"),
        ("locked", "cell-001"),
        ("locked", "cell-002"),
        ("locked", "cell-003"),
        ("solution", "add"),
        ("grade", "test_add", 2),
        ("locked", "cell-006"),
        ("solution", "scale"),
        ("grade", "test_scale", 3),
        ("locked", "cell-009"),
        ("locked", "cell-010"),
        ("solution", "count_words"),
        ("grade", "test_count_words", 2),
        ("locked", "cell-013"),
    ]
    meta = source.cells[5].metadata["nbgrader"]
    assert meta == {
        "grade": True,
        "grade_id": "test_add",
        "locked": True,
        "points": 2,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    # the source keeps the solutions and the hidden tests, without outputs
    assert "return a + b" in source.cells[4].source
    assert "HIDDEN-SENTINEL-add" in source.cells[5].source
    assert all(c.get("outputs", []) == [] for c in source.cells)


def test_release_carries_the_same_metadata_as_the_source():
    nb = read(FIXTURE)
    student, tests = release_notebook(nb, FIXTURE.name)
    assert [c.metadata.get("nbgrader") for c in student.cells] == [
        c.metadata.get("nbgrader") for c in source_notebook(nb).cells
    ]
    assert "nbgrader" not in nb.cells[4].metadata  # the instructor notebook is not modified
    assert sum(t.points for t in tests) == 7


def test_grade_ids_are_unique_and_valid_when_names_clash():
    nb = new_notebook(
        cells=[
            new_code_cell(
                "def test_a():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
            ),
            new_code_cell("# TEST a (1 point)\nassert test_a() == 1"),
            new_code_cell("# TEST a.b (2 points)\nassert 1"),
            new_code_cell("# TEST a_b (2 points)\nassert 1"),
            new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
            new_code_cell("   \n"),
            new_markdown_cell("text"),
        ]
    )
    nb.cells[6].id = "test_a"  # a cell id that clashes with a test's grade_id
    student, _ = release_notebook(nb)
    assert roles(student) == [
        ("solution", "test_a_2"),  # tests take their ids first
        ("grade", "test_a", 1),
        ("grade", "test_a_b", 2),
        ("grade", "test_a_b_2", 2),
        ("solution", f"solution_{nb.cells[4].id}"),  # a solution outside any function
        None,  # an empty cell: nbgrader leaves it alone
        ("locked", "test_a_3"),
    ]
    assert all(GRADE_ID.match(r[1]) for r in roles(student) if r)
    check_metadata(student)


def test_check_metadata_refuses_what_nbgrader_refuses():
    nb = source_notebook(read(FIXTURE))
    nb.cells[7].metadata["nbgrader"]["grade_id"] = "test_add"
    with pytest.raises(MarkerError, match="cell 7: grade_id 'test_add' is also cell 5's"):
        check_metadata(nb)
    nb.cells[7].metadata["nbgrader"]["grade_id"] = "has space"
    with pytest.raises(MarkerError, match="invalid nbgrader grade_id"):
        check_metadata(nb)


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_every_lab_gets_nbgrader_metadata_that_nbgrader_accepts(path):
    """Without executing anything: every test cell is graded with its header's points,
    every exercise cell is a solution cell, ids are unique, nbgrader's validator accepts the
    source, and nbgrader's clearing (metadata enforced) gives lablib release's sources."""
    nb = read(path)
    source = source_notebook(nb, path.name)
    student, tests = release_notebook(nb, path.name)
    for index, (cell, role) in enumerate(zip(nb.cells, roles(source))):
        header = parse_test_header(cell.source) if cell.cell_type == "code" else None
        if header:
            assert role == ("grade", f"test_{header[0]}".replace(".", "_"), header[1]), index
        elif BEGIN_SOLUTION in cell.source:
            assert role[0] == "solution", index
        else:
            assert role is None or role[0] == "locked", index
    ids = [r[1] for r in roles(source) if r]
    assert len(ids) == len(set(ids))
    assert sum(r[2] for r in roles(source) if r and r[0] == "grade") == sum(t.points for t in tests)
    if not HAVE_NBGRADER:
        pytest.skip("nbgrader is not installed: its validator and preprocessors not run")
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(source)
    MetadataValidator().validate_nb(student)
    cleared = nbgrader_clear(source)
    assert [normalized(c.source) for c in cleared.cells] == [
        normalized(c.source) for c in student.cells
    ]


@needs_nbgrader
def test_nbgrader_refuses_the_instructor_notebook_and_takes_the_export():
    """The filer's "Solution region detected in a non-solution cell" (and its hidden-test
    twin) for a notebook without metadata; none for the exported source."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    raw = read(FIXTURE)
    with pytest.raises(RuntimeError, match="Solution region detected in a non-solution cell"):
        ClearSolutions().preprocess(copy.deepcopy(raw), {})
    with pytest.raises(RuntimeError, match="Hidden test region detected in a non-grade cell"):
        ClearHiddenTests().preprocess(copy.deepcopy(raw), {})
    cleared = nbgrader_clear(source_notebook(raw))
    assert "return a + b" not in json.dumps(cleared) and "HIDDEN-SENTINEL" not in json.dumps(
        cleared
    )


def test_cli_export_writes_the_course_layout(tmp_path, capsys):
    from lablib.cli import main

    labs = FIXTURE.parent
    assert main(["nbgrader", "--labs", str(labs), "--course", str(tmp_path / "c")]) == 0
    written = tmp_path / "c" / "source" / "99_grading_fixture" / "99_grading_fixture.ipynb"
    assert written.exists() and "generate_assignment" in capsys.readouterr().out
    assert read(written).cells[5].metadata["nbgrader"]["grade_id"] == "test_add"
    assert (
        main(
            [
                "nbgrader",
                "99",
                "--labs",
                str(labs),
                "--course",
                str(tmp_path / "d"),
                "--assignment",
                "week1",
            ]
        )
        == 0
    )
    assert (tmp_path / "d" / "source" / "week1" / "99_grading_fixture.ipynb").exists()
    assert main(["nbgrader", "42", "--labs", str(labs), "--course", str(tmp_path / "e")]) == 2
    assert "no lab notebooks" in capsys.readouterr().err


def test_cli_export_stops_on_a_bad_marker_and_writes_nothing(tmp_path, capsys):
    from lablib.cli import main

    labs = tmp_path / "labs"
    labs.mkdir()
    nbformat.write(read(FIXTURE), labs / "01_good.ipynb")
    bad = read(FIXTURE)
    bad.cells[4].source = bad.cells[4].source.replace("### BEGIN SOLUTION", "# BEGIN SOLUTION")
    nbformat.write(bad, labs / "02_bad.ipynb")
    assert main(["nbgrader", "--labs", str(labs), "--course", str(tmp_path / "c")]) == 2
    assert "02_bad.ipynb: cell 4, line 3" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_export_refuses_an_autotest_comment():
    nb = read(FIXTURE)
    nb.cells[5].source += "\n### AUTOTEST add(1, 2)"
    with pytest.raises(MarkerError, match="cell 5, line 8: .*autotests.yml"):
        source_notebook(nb, "lab.ipynb")


# ----------------------------------------------------------------------------- markers

SECRET = "secret_solution_body"
HIDDEN_SECRET = "hidden_test_body"


def solution_cell(begin=BEGIN_SOLUTION, end=END_SOLUTION):
    return f"def f(x):\n    {begin}\n    {SECRET} = 2 * x\n    return {SECRET}\n    {end}"


def hidden_test_cell(begin=BEGIN_HIDDEN, end=END_HIDDEN):
    return (
        f"# TEST f (1 point)\nassert f(1) == 2\n{begin}\nassert f(2) == 4  # {HIDDEN_SECRET}\n{end}"
    )


def outcome(cells):
    """("handled", released JSON) or ("refused", message); "handled" asserts no leak."""
    nb = new_notebook(
        cells=[new_markdown_cell("# Lab")]
        + [c if not isinstance(c, str) else new_code_cell(c) for c in cells]
    )
    try:
        student, _ = release_notebook(nb, "07_lab.ipynb")
    except MarkerError as exc:
        return "refused", str(exc)
    return "handled", json.dumps(student)


# Every spelling of a marker line, and what lablib does with it. nbgrader acts on every line
# containing the phrase (case-sensitive): those must be handled or refused, never released.
SOLUTION_SPELLINGS = {
    "### BEGIN SOLUTION": "handled",
    "### BEGIN SOLUTION   ": "handled",  # trailing spaces
    "\t### BEGIN SOLUTION": "handled",  # the cell's indentation is the marker's
    "# BEGIN SOLUTION": "refused",
    "## BEGIN SOLUTION": "refused",
    "#### BEGIN SOLUTION": "refused",
    "###BEGIN SOLUTION": "refused",
    "###  BEGIN SOLUTION": "refused",
    "#   BEGIN SOLUTION": "refused",
    "### BEGIN SOLUTION ###": "refused",
    "### BEGIN SOLUTIONS": "refused",
    "BEGIN SOLUTION": "refused",
    "x = 0  # BEGIN SOLUTION": "refused",  # in a comment after code
    "print('BEGIN SOLUTION')": "refused",  # in a string
    "### begin solution": "refused",  # nbgrader ignores it; so would lablib, and leak
    "# Begin Solution": "refused",
    "### BEGIN  SOLUTION": "refused",
    "### BEGIN_SOLUTION": "refused",
    "### BEGIN MARK SCHEME": "refused",
}


@pytest.mark.parametrize("spelling", SOLUTION_SPELLINGS)
def test_begin_solution_spellings_are_handled_or_refused(spelling):
    kind, text = outcome([solution_cell(begin=spelling)])
    assert kind == SOLUTION_SPELLINGS[spelling], text
    if kind == "refused":
        assert "07_lab.ipynb: cell 1, line 2" in text and "unrecognized marker" in text
    else:
        assert SECRET not in text and "BEGIN SOLUTION" not in text


@pytest.mark.parametrize(
    "spelling",
    [
        "# END SOLUTION",
        "#### END SOLUTION",
        "###END SOLUTION",
        "return 0  # END SOLUTION",
        "### end solution",
        "### END  SOLUTION",
    ],
)
def test_end_solution_spellings_are_refused(spelling):
    kind, text = outcome([solution_cell(end=spelling)])
    assert kind == "refused" and "cell 1, line 5" in text, text


@pytest.mark.parametrize(
    "begin, end",
    [
        ("# BEGIN HIDDEN TESTS", END_HIDDEN),
        ("## BEGIN HIDDEN TESTS", END_HIDDEN),
        ("#### BEGIN HIDDEN TESTS", END_HIDDEN),
        ("###BEGIN HIDDEN TESTS", END_HIDDEN),
        ("assert True  # BEGIN HIDDEN TESTS", END_HIDDEN),
        ("### begin hidden tests", END_HIDDEN),
        ("### BEGIN HIDDEN TEST", END_HIDDEN),
        ("### BEGIN HIDDEN", END_HIDDEN),
        (BEGIN_HIDDEN, "# END HIDDEN TESTS"),
        (BEGIN_HIDDEN, "### END HIDDEN TESTS ###"),
        (BEGIN_HIDDEN, "### End Hidden Tests"),
    ],
)
def test_hidden_test_spellings_are_refused(begin, end):
    kind, text = outcome([solution_cell(), hidden_test_cell(begin, end)])
    line = 3 if begin != BEGIN_HIDDEN else 5
    assert kind == "refused" and f"cell 2, line {line}" in text, text


@pytest.mark.parametrize(
    "text",
    [
        "Write your code between `### BEGIN SOLUTION` and the end.",
        "### BEGIN SOLUTION\nThe answer.\n### END SOLUTION",
        "Hidden tests sit after BEGIN HIDDEN TESTS.",
    ],
)
def test_a_marker_in_a_markdown_cell_is_refused(text):
    # nbgrader would replace the region by "YOUR ANSWER HERE" or stop generate_assignment
    kind, message = outcome([new_markdown_cell(text)])
    assert kind == "refused" and "07_lab.ipynb: cell 1, line 1" in message, message
    assert "text cell" in message


def test_a_solution_region_in_a_test_cell_is_refused():
    kind, message = outcome(["# TEST f (1 point)\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"])
    assert kind == "refused" and "cell 1, line 2: a solution region in a test cell" in message


def test_prose_that_is_not_a_marker_is_left_alone():
    assert find_marker("# the solution begins here") is None
    assert find_marker("# hidden layer, end of block") is None
    assert find_marker("    return end_solution  # nothing special", code=True) is None
    assert find_marker("We begin: the solution is short.", code=False) is None


def test_no_spelling_releases_the_solution_or_the_hidden_tests():
    """Property over a grid of spellings: a marker line in any case, spacing, number of '#',
    indentation or suffix is handled or refused; the solution body and the hidden test line
    never reach a released notebook. Where nbgrader is installed, the grid is also checked
    against nbgrader's own ClearSolutions: every line it acts on is handled or refused."""
    hashes = ["", "#", "##", "###", "####"]
    gaps = ["", " ", "  "]
    phrases = ["BEGIN SOLUTION", "begin solution", "Begin Solution", "BEGIN  SOLUTION"]
    suffixes = ["", "  ", " ###", " here"]
    if HAVE_NBGRADER:
        from nbgrader.preprocessors import ClearSolutions

        clear = ClearSolutions(enforce_metadata=False)
    checked = 0
    for mark, gap, phrase, suffix in itertools.product(hashes, gaps, phrases, suffixes):
        line = f"{mark}{gap}{phrase}{suffix}"
        kind, text = outcome([solution_cell(begin=line)])
        nbgrader_acts = any(d in line for d in NBGRADER_DELIMITERS)
        if mark or nbgrader_acts:  # a comment, or a line nbgrader takes for a marker
            assert SECRET not in text, f"{line!r} released the solution"
            checked += 1
        if HAVE_NBGRADER:
            cell = new_code_cell(solution_cell(begin=line))
            assert clear._replace_solution_region(cell, "python") == nbgrader_acts, line
    assert checked > 150
    for begin in ("# BEGIN HIDDEN TESTS", "#BEGIN HIDDEN TESTS", "#### begin hidden tests"):
        kind, text = outcome([solution_cell(), hidden_test_cell(begin=begin)])
        assert HIDDEN_SECRET not in text


# ----------------------------------------------------------------------------- end to end


def _solved(nb, solutions):
    """A copy of a student notebook with every exercise cell replaced by the instructor's."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = solutions[meta["grade_id"]]
    return nb


@needs_nbgrader
@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore:Object of type")  # nbgrader's own SQLAlchemy warnings
def test_nbgrader_course_generates_and_autogrades_our_lab(tmp_path, monkeypatch):
    """generate_assignment takes the exported source as it is; its student notebook has
    lablib release's sources; autograde gives the instructor's solution full points and a
    stub 0, without "needs manual grade", for nbgrader's and lablib's student notebooks."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from lablib.cli import main

    monkeypatch.setenv("LABLIB_PROFILE", "quick")
    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    # nbgrader creates its database by running the `alembic` command: it must be on PATH
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "exchange").mkdir()
    course = tmp_path / "course"
    course.mkdir()
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {db!r}\n"
        "c.CourseDirectory.course_id = 'cnn'\n"
        f"c.Exchange.root = {str(tmp_path / 'exchange')!r}\n"
        "c.Execute.timeout = 240\n"
    )
    monkeypatch.chdir(course)
    lab = "99_grading_fixture"
    labs = FIXTURE.parent
    assert main(["nbgrader", "--labs", str(labs), "--course", str(course)]) == 0
    real = LABS[0]  # a real lab: generated (nothing executed), compared, not autograded
    assert (
        main(["nbgrader", real.stem[:2], "--labs", str(real.parent), "--course", str(course)]) == 0
    )

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    api = NbGraderAPI(config=config)
    # The instructor's command once (it reads nbgrader_config.py from the course directory and
    # creates the database); the rest through the same Gradebook calls, without 5 s start-ups.
    command = [str(Path(sys.executable).parent / "nbgrader"), "db", "assignment", "add", lab]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    with Gradebook(db, "cnn") as gb:  # `nbgrader db assignment add`, `nbgrader db student add`
        assert [a.name for a in gb.assignments] == [lab]
        gb.update_or_create_assignment(real.stem)
        for student in ("nb_solved", "nb_visible_only", "lablib_solved", "lablib_stub"):
            gb.update_or_create_student(student)
    for assignment in (lab, real.stem):
        result = api.generate_assignment(assignment)
        assert result["success"], result.get("error", "") + result.get("log", "")
        generated = read(course / "release" / assignment / f"{assignment}.ipynb")
        source = read(course / "source" / assignment / f"{assignment}.ipynb")
        ours, _ = release_notebook(read(labs / f"{lab}.ipynb") if assignment == lab else read(real))
        assert [normalized(c.source) for c in generated.cells] == [
            normalized(c.source) for c in ours.cells
        ]
        for theirs, mine in zip(generated.cells, ours.cells):
            kept = {
                k: v
                for k, v in theirs.metadata.get("nbgrader", {}).items()
                if k not in ("checksum", "cell_type")
            }
            assert kept == mine.metadata.get("nbgrader", {})
        assert not re.search(r"HIDDEN-SENTINEL|return a \+ b", json.dumps(generated))
        assert len(source.cells) == len(generated.cells)

    generated = read(course / "release" / lab / f"{lab}.ipynb")
    source = read(course / "source" / lab / f"{lab}.ipynb")
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata["nbgrader"]["solution"]
    }
    released, _ = release_notebook(read(FIXTURE), FIXTURE.name)
    visible_only = _solved(generated, solutions)  # passes the visible test of add only
    visible_only.cells[4].source = 'def add(a, b):\n    """Return a + b."""\n    return 5'
    submissions = {
        "nb_solved": _solved(generated, solutions),
        "nb_visible_only": visible_only,
        "lablib_solved": _solved(released, solutions),
        "lablib_stub": released,
    }
    for student, nb in submissions.items():
        folder = course / "submitted" / student / lab
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{lab}.ipynb")
    result = api.autograde(lab, "*")
    assert result["success"], result.get("error", "") + result.get("log", "")

    expected = {"nb_solved": 7, "nb_visible_only": 5, "lablib_solved": 7, "lablib_stub": 0}
    with Gradebook(db, "cnn") as gb:
        for student, score in expected.items():
            submission = gb.find_submission(lab, student)
            grades = {g.name: g for g in submission.notebooks[0].grades}
            assert set(grades) == {"test_add", "test_scale", "test_count_words"}
            assert (submission.score, submission.max_score) == (score, 7), (
                student,
                {n: g.auto_score for n, g in grades.items()},
            )
            assert not submission.needs_manual_grade, student
            assert not any(g.needs_manual_grade for g in grades.values()), student
    # autograde put the hidden tests back (that is how add() returning 5 lost its points)
    graded = (course / "autograded" / "lablib_solved" / lab / f"{lab}.ipynb").read_text()
    assert "HIDDEN-SENTINEL-add" in graded
