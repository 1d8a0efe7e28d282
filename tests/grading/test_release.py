"""Release: solutions stubbed, hidden tests removed, bad markers stop with a location."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lablib.grading.markers import parse_test_header, solution_stub
from lablib.grading.release import MarkerError, release_all, release_notebook

SOLUTION_CELL = """def f(x):
    \"\"\"Double x.\"\"\"
    ### BEGIN SOLUTION
    secret_answer = 2 * x
    return secret_answer
    ### END SOLUTION"""
TEST_CELL = """# TEST double (2 points)
assert f(1) == 2
### BEGIN HIDDEN TESTS
assert f(21) == 42  # hidden_marker_text
### END HIDDEN TESTS"""


def make_nb(*sources):
    nb = new_notebook(cells=[new_markdown_cell("# Lab 99")] + [new_code_cell(s) for s in sources])
    for cell in nb.cells[1:]:
        cell.outputs = [new_output("stream", name="stdout", text="old output")]
        cell.execution_count = 3
    return nb


def test_parse_test_header():
    assert parse_test_header("# TEST conv_output_size (2 points)\nx") == ("conv_output_size", 2)
    assert parse_test_header("# TEST one (1 point)") == ("one", 1)
    assert parse_test_header("# test lower (2 points)") is None
    assert parse_test_header("x = 1\n# TEST late (2 points)") is None


def test_release_stubs_solutions_and_removes_hidden_tests():
    student, tests = release_notebook(make_nb(SOLUTION_CELL, TEST_CELL), "lab.ipynb")
    solution, test = student.cells[1].source, student.cells[2].source
    assert "secret_answer" not in solution and "BEGIN SOLUTION" not in solution
    assert f"    {solution_stub('f')}" in solution.splitlines()  # indented, names the function
    assert solution.startswith('def f(x):\n    """Double x."""')
    assert "hidden_marker_text" not in test and "HIDDEN" not in test
    assert test.startswith("# TEST double (2 points)\nassert f(1) == 2")
    assert all(c.outputs == [] and c.execution_count is None for c in student.cells[1:])
    assert student.metadata["kernelspec"]["name"] == "python3"  # JupyterLab asks no question
    assert [(t.name, t.points, t.cell) for t in tests] == [("double", 2, 2)]
    assert "hidden_marker_text" in tests[0].hidden


def test_release_writes_nbgrader_metadata():
    student, _ = release_notebook(make_nb(SOLUTION_CELL, TEST_CELL), "lab.ipynb")
    markdown, solution, test = (c.metadata["nbgrader"] for c in student.cells)
    assert (solution["grade_id"], solution["solution"], solution["grade"]) == ("f", True, False)
    assert (test["grade_id"], test["grade"], test["locked"], test["points"]) == (
        "test_double",
        True,
        True,
        2,
    )
    assert markdown["locked"] and not markdown["grade"] and markdown["schema_version"] == 3


def test_marker_error_is_one_class():
    from lablib.grading import markers, release

    assert release.MarkerError is markers.MarkerError


def test_release_does_not_modify_the_source():
    nb = make_nb(SOLUTION_CELL)
    release_notebook(nb)
    assert "secret_answer" in nb.cells[1].source


@pytest.mark.parametrize(
    "sources, message",
    [
        (
            ["x = 1\n### BEGIN SOLUTION\ny = 2"],
            "cell 1, line 2: '### BEGIN SOLUTION' is never closed",
        ),
        (["x = 1\n### END SOLUTION"], "cell 1, line 2: '### END SOLUTION' without a matching"),
        (["### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"], "cell 1, line 2"),
        (
            ["x = 1", "### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS"],
            "cell 2, line 1: hidden tests outside a test cell",
        ),
        (
            [
                "# TEST a (1 point)\n### BEGIN HIDDEN TESTS\n"
                "### BEGIN SOLUTION\n### END SOLUTION\n### END HIDDEN TESTS"
            ],
            "cannot nest",
        ),
        (["### BEGIN SOLUTIONS\n### END SOLUTION"], "unrecognized marker"),
        (
            ["def f():\n    # BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"],
            "cell 1, line 2: unrecognized marker '# BEGIN SOLUTION': nbgrader takes",
        ),
        (["x = 1  # END HIDDEN TESTS"], "cell 1, line 1: unrecognized marker"),
        (["### begin solution\ny = 2"], "cell 1, line 1: unrecognized marker"),
        (["# TEST a (1 point)\nx", "# TEST a (2 points)\ny"], "test name 'a' is used twice"),
    ],
)
def test_malformed_markers_name_notebook_cell_and_line(sources, message):
    with pytest.raises(MarkerError) as err:
        release_notebook(make_nb(*sources), "07_bad.ipynb")
    assert "07_bad.ipynb" in str(err.value)
    assert message in str(err.value)


def test_release_all_writes_student_and_grading_material(tmp_path):
    labs = tmp_path / "labs"
    labs.mkdir()
    nbformat.write(make_nb(SOLUTION_CELL, TEST_CELL), labs / "99_demo.ipynb")
    written = release_all(labs, tmp_path / "release", tmp_path / "autograder")
    assert [p.name for p in written] == ["99_demo.ipynb"]
    released = (tmp_path / "release" / "99_demo.ipynb").read_text()
    assert "secret_answer" not in released and "hidden_marker_text" not in released
    material = json.loads((tmp_path / "autograder" / "99_demo.json").read_text())
    assert material["max_score"] == 2 and material["tests"][0]["name"] == "double"


def test_release_all_writes_nothing_when_one_notebook_is_bad(tmp_path):
    labs = tmp_path / "labs"
    labs.mkdir()
    nbformat.write(make_nb(SOLUTION_CELL, TEST_CELL), labs / "01_good.ipynb")
    nbformat.write(make_nb("### BEGIN SOLUTION\nx = 1"), labs / "02_bad.ipynb")
    with pytest.raises(MarkerError, match="02_bad.ipynb: cell 1, line 1"):
        release_all(labs, tmp_path / "release", tmp_path / "autograder")
    assert not (tmp_path / "release").exists()


def test_cli_release_reports_bad_markers(tmp_path, capsys):
    from lablib.cli import main

    labs = tmp_path / "labs"
    labs.mkdir()
    nbformat.write(make_nb("### END SOLUTION"), labs / "03_bad.ipynb")
    code = main(
        [
            "release",
            "--labs",
            str(labs),
            "--out",
            str(tmp_path / "r"),
            "--autograder",
            str(tmp_path / "a"),
        ]
    )
    assert code == 2
    assert "03_bad.ipynb: cell 1, line 1" in capsys.readouterr().err
