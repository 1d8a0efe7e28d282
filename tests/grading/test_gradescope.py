"""Gradescope: results.json against Gradescope's schema, the autograder zip, run_autograder.

``tests/fixtures/gradescope/results.schema.json`` is Gradescope's documented results.json
(https://gradescope-autograders.readthedocs.io/en/latest/specs/) as a JSON Schema: every
documented key, nothing else (``max_score`` is a key of a test, not of the file). The old
writer's output (``old_results.json``, what ``write_results`` wrote before) fails it.

``run_autograder`` is run as Gradescope runs it, in a simulated ``/autograder``
(``$LABLIB_GRADESCOPE_ROOT``): the zip extracted to ``source/``, the submission in
``submission/``, Gradescope's ``submission_metadata.json``. Two kernels run (a solution,
one that fails a hidden check); a missing notebook and a broken install run none.
setup.sh cannot run here (no network): its text is checked and ``bash -n`` parses it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest

from lablib.cli import main
from lablib.grading import report
from lablib.grading.gradescope import (
    HIDDEN_VISIBILITY,
    PYTHON_ENV,
    ROOT_ENV,
    build_autograder,
    find_lab,
    outcomes_from_results,
    requirements,
    results_json,
    submitter,
)
from lablib.grading.publish import resolve_target
from lablib.grading.report import write_results

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "gradescope"
GRADING = ROOT / "tests" / "fixtures" / "grading"
LAB99 = "99_grading_fixture"
SCHEMA = json.loads((FIXTURES / "results.schema.json").read_text())
METADATA = {  # the shape of Gradescope's submission_metadata.json (docs: submission_metadata)
    "id": 123456,
    "created_at": "2026-09-01T14:22:32.365935-07:00",
    "assignment": {
        "due_date": "2026-09-08T23:00:00.000000-07:00",
        "group_size": None,
        "group_submission": False,
        "id": 25828,
        "course_id": 1234,
        "late_due_date": None,
        "release_date": "2026-09-01T00:00:00.000000-07:00",
        "title": "Lab 99",
        "total_points": "7.0",
    },
    "submission_method": "upload",
    "users": [{"email": "jane@example.edu", "id": 1234, "name": "Jane Doe", "sid": "S-1001"}],
    "previous_submissions": [],
}
HIDDEN_MESSAGE = "CheckError: add(-4, 10): expected 6, got 0. Hint: negative numbers?"
OUTCOMES = [
    report.TestOutcome("add", 0.0, 2.0, "failed", HIDDEN_MESSAGE, failed_hidden=True),
    report.TestOutcome("scale", 3.0, 3.0, "passed", "passed"),
    report.TestOutcome(
        "count_words", 0.0, 2.0, "failed", "CheckError: count_words('a b c'): 2 != 3"
    ),
]
REASON = f"1/3 tests passed; first failure: add: {HIDDEN_MESSAGE}"  # notebook_status's shape
sys.path.insert(0, str(GRADING))
import make_fixtures  # noqa: E402


def errors(data: dict) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)]


def shown_at_once(data: dict) -> str:
    """Everything a student sees before the due date."""
    visible = [t for t in data["tests"] if t.get("visibility", data["visibility"]) == "visible"]
    return data["output"] + "\n".join(t["name"] + t.get("output", "") for t in visible)


# ---------------------------------------------------------------- results.json


def test_the_schema_is_a_schema_and_refuses_the_old_output():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    old = json.loads((FIXTURES / "old_results.json").read_text())
    assert set(errors(old)) == {
        "Additional properties are not allowed ('failed_hidden' was unexpected)",
        "Additional properties are not allowed ('max_score' was unexpected)",
    }


@pytest.mark.parametrize("mode", HIDDEN_VISIBILITY)
def test_write_results_follows_gradescopes_schema(tmp_path, mode):
    extra = {"lab": LAB99, "student": "ana", "seconds": 12.34, "max_score": 7}
    path = tmp_path / "results.json"
    write_results(
        path, OUTCOMES, status="graded", reason=REASON, extra=extra, hidden_visibility=mode
    )
    data = json.loads(path.read_text())
    assert errors(data) == []
    assert data["score"] == 3.0 and data["execution_time"] == 12.3
    assert data["extra_data"]["max_score"] == 7 and data["extra_data"]["status"] == "graded"
    scored = [t for t in data["tests"] if "max_score" in t]
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in scored] == [
        ("add", 0.0, 2.0, "failed"),
        ("scale", 3.0, 3.0, "passed"),
        ("count_words", 0.0, 2.0, "failed"),
    ]
    assert sum(t["max_score"] for t in scored) == 7  # the total Gradescope shows
    assert all(t["visibility"] == "visible" for t in scored)  # points are seen at once
    assert "count_words('a b c'): 2 != 3" in shown_at_once(data)  # visible checks: as before
    if mode == "visible":
        assert len(data["tests"]) == 3 and HIDDEN_MESSAGE in shown_at_once(data)
    else:
        assert HIDDEN_MESSAGE not in shown_at_once(data)
        assert HIDDEN_MESSAGE not in json.dumps(data["extra_data"])
        assert "failed a hidden check" in scored[0]["output"]
        (detail,) = [t for t in data["tests"] if "max_score" not in t]
        assert detail["output"] == HIDDEN_MESSAGE and detail["visibility"] == mode
        assert "score" not in detail and detail["status"] == "failed"  # no points of its own
        assert [t["number"] for t in data["tests"]] == ["1", "1.1", "2", "3"]
    assert outcomes_from_results(data) == OUTCOMES  # what run_autograder reads back


def test_no_tests_still_give_a_valid_file_with_the_maximum_in_extra_data(tmp_path):
    write_results(
        tmp_path / "r.json",
        [],
        status="missing",
        reason="no notebook for 99_grading_fixture",
        extra={"max_score": 7},
    )
    data = json.loads((tmp_path / "r.json").read_text())
    assert errors(data) == [] and data["score"] == 0 and data["extra_data"]["max_score"] == 7
    assert data["output"] == "missing: no notebook for 99_grading_fixture"


def test_a_passing_or_visible_failure_is_never_withheld():
    outcomes = [report.TestOutcome("add", 2.0, 2.0, "passed", "passed", failed_hidden=True)]
    data = results_json(outcomes, status="graded", reason="1/1", extra={})
    assert len(data["tests"]) == 1 and data["tests"][0]["output"] == "passed"
    with pytest.raises(ValueError):
        results_json(outcomes, status="graded", reason="", extra={}, hidden_visibility="later")


def test_identity_from_submission_metadata():
    who = submitter(METADATA)
    assert (who.key, who.display) == ("S-1001", "Jane Doe")
    group = {"users": [{"name": "A", "email": "a@x"}, {"name": "B", "email": "b@x", "sid": "7"}]}
    assert (submitter(group).key, submitter(group).display) == ("a@x", "A & B")
    assert submitter({}).display == "an unknown student"


# ---------------------------------------------------------------- the zip


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    made = build_autograder(
        "99",
        out,
        labs=GRADING / "labs",
        root=ROOT,
        repo="jane/cnn-labs",
        ref="fall-2026",
        timeout=240,
        cell_timeout=30,
    )
    return made


def test_the_zip_has_what_gradescope_needs_at_its_root(autograder, tmp_path):
    with zipfile.ZipFile(autograder.path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        files = {name: archive.read(name) for name in infos}
    assert sorted(infos) == [
        "README.md",
        "lablib_gradescope.json",
        f"labs/{LAB99}.ipynb",
        "requirements.txt",
        "run_autograder",
        "setup.sh",
    ]
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & 0o777 == 0o755, script  # executable
        assert files[script].startswith(b"#!/usr/bin/env bash\n")
        (tmp_path / script).write_bytes(files[script])
        parsed = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True)
        assert parsed.returncode == 0, parsed.stderr
    assert files[f"labs/{LAB99}.ipynb"] == (GRADING / "labs" / f"{LAB99}.ipynb").read_bytes()
    config = json.loads(files["lablib_gradescope.json"])
    assert config["lab"] == LAB99 and config["max_score"] == 7
    assert config["tests"] == [
        {"name": "add", "points": 2},
        {"name": "scale", "points": 3},
        {"name": "count_words", "points": 2},
    ]
    assert config["hidden_visibility"] == "after_due_date" and config["timeout"] == 240
    target = resolve_target(ROOT, "jane/cnn-labs", "fall-2026")
    assert autograder.requirement == target.requirement == config["requirement"]
    setup = files["setup.sh"].decode()
    assert f'pip install --no-deps "{target.requirement}"' in setup
    assert (
        'pip install -r "$HERE/requirements.txt"' in setup
        and "python3 -m venv /opt/lablib" in setup
    )


def test_requirements_pin_cpu_tensorflow_and_the_grade_extra(autograder):
    with zipfile.ZipFile(autograder.path) as archive:
        lines = archive.read("requirements.txt").decode().splitlines()
    assert lines == requirements(ROOT)
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tensorflow = next(d for d in project["dependencies"] if d.startswith("tensorflow"))
    spec = tensorflow.removeprefix("tensorflow")
    assert (
        f'tensorflow-cpu{spec}; platform_system == "Linux" and platform_machine == "x86_64"'
        in lines
    )
    others = [d for d in project["dependencies"] if d != tensorflow]
    assert set(others + project["optional-dependencies"]["grade"]) <= set(lines)
    from packaging.requirements import Requirement

    linux = {"platform_system": "Linux", "platform_machine": "x86_64"}
    installed = {
        Requirement(line).name
        for line in lines
        if Requirement(line).marker is None or Requirement(line).marker.evaluate(linux)
    }
    assert "tensorflow-cpu" in installed and "tensorflow" not in installed


def test_the_zip_is_the_same_every_time(autograder, tmp_path):
    again = build_autograder(
        LAB99, tmp_path / "again.zip", labs=GRADING / "labs", root=ROOT,
        repo="jane/cnn-labs", ref="fall-2026", timeout=240, cell_timeout=30,
    )  # fmt: skip
    assert again.path.read_bytes() == autograder.path.read_bytes()


def test_labs_are_named_by_number_or_stem(tmp_path):
    assert find_lab(GRADING / "labs", "99").stem == LAB99
    assert find_lab(GRADING / "labs", LAB99).stem == LAB99
    with pytest.raises(FileNotFoundError, match="names 0 labs"):
        find_lab(GRADING / "labs", "42")


def test_gradescope_command(tmp_path, capsys):
    out = tmp_path / "ag.zip"
    args = ["gradescope", "99", "--labs", str(GRADING / "labs"), "--out", str(out)]
    assert (
        main([*args, "--repo", "jane/cnn-labs", "--ref", "v1", "--hidden-visibility", "hidden"])
        == 0
    )
    printed = capsys.readouterr()
    assert f"wrote {out}" in printed.out and "7 points" in printed.out
    assert "WARNING: ref 'v1' is neither a tag nor a branch" in printed.err
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("lablib_gradescope.json"))["hidden_visibility"] == "hidden"
    assert main(["gradescope", "42", "--labs", str(GRADING / "labs"), "--out", str(out)]) == 2


# ---------------------------------------------------------------- run_autograder


def simulate(
    autograder, root: Path, files: dict[str, bytes], python: str = sys.executable
) -> tuple[subprocess.CompletedProcess, dict]:
    """Lay out ``root`` as Gradescope's /autograder and run run_autograder there."""
    with zipfile.ZipFile(autograder.path) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, data in files.items():
        (root / "submission" / name).write_bytes(data)
    (root / "submission_metadata.json").write_text(json.dumps(METADATA))
    (root / "results").mkdir()
    env = {**os.environ, ROOT_ENV: str(root), PYTHON_ENV: python}
    run = subprocess.run(
        ["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=600
    )
    return run, json.loads((root / "results" / "results.json").read_text())


def notebook(bodies: dict[str, str]) -> bytes:
    return nbformat.writes(make_fixtures.student(bodies)).encode()


def test_run_autograder_grades_a_submission(autograder, tmp_path):
    run, data = simulate(
        autograder, tmp_path, {f"Copy of {LAB99}.ipynb": notebook(make_fixtures.solved())}
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert errors(data) == []
    assert data["score"] == 7 and data["extra_data"]["status"] == "graded", data["output"]
    assert [t["status"] for t in data["tests"]] == ["passed"] * 3
    assert data["output"].startswith(f"{LAB99}: graded for Jane Doe.")
    assert data["extra_data"]["student"] == "S-1001"
    assert data["extra_data"]["users"] == METADATA["users"]
    assert data["extra_data"]["submission"]["id"] == 123456
    assert data["extra_data"]["submission"]["after_due_date"] is False
    assert "Jane Doe (S-1001): graded, 7/7" in run.stdout  # for the instructor


def test_run_autograder_withholds_a_failed_hidden_check(autograder, tmp_path):
    wrong = make_fixtures.solved(add="return abs(a) + b")  # add(2, 3) passes, add(-4, 10) not
    run, data = simulate(autograder, tmp_path, {"lab99.ipynb": notebook(wrong)})
    assert run.returncode == 0 and errors(data) == [], run.stdout + run.stderr
    assert data["score"] == 5, data["output"]
    add = data["tests"][0]
    assert add["name"] == "add" and add["score"] == 0
    assert add["extra_data"]["failed_hidden"], "the grader marks a failed hidden check"
    assert "add(-4, 10)" not in shown_at_once(data)
    detail = data["tests"][1]
    assert detail["visibility"] == "after_due_date" and "add(-4, 10)" in detail["output"]


def test_run_autograder_without_a_notebook(autograder, tmp_path):
    run, data = simulate(autograder, tmp_path, {"notes.txt": b"I could not finish"})
    assert run.returncode == 0 and errors(data) == [], run.stdout + run.stderr
    assert data["score"] == 0 and data["extra_data"]["status"] == "missing"
    assert "No notebook for this lab was found in your submission" in data["output"]
    assert "notes.txt" in data["output"]
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [
        ("add", 0.0, 2.0),
        ("scale", 0.0, 3.0),
        ("count_words", 0.0, 2.0),
    ]  # Gradescope shows 0 / 7
    assert all(t["output"].startswith("not graded: no notebook") for t in data["tests"])


def test_run_autograder_when_lablib_is_not_installed(autograder, tmp_path):
    run, data = simulate(autograder, tmp_path, {"lab.ipynb": b"{}"}, python="/bin/false")
    assert run.returncode == 1 and "cannot import lablib" in run.stderr
    assert errors(data) == [] and data["score"] == 0 and "not installed correctly" in data["output"]


def test_the_reference_run_is_made_once_at_build_time_and_reused(autograder, tmp_path):
    """setup.sh runs the instructor's solution once; each submission then runs one notebook."""
    with zipfile.ZipFile(autograder.path) as archive:
        archive.extractall(tmp_path / "built" / "source")
        assert "gradescope reference" in archive.read("setup.sh").decode()
    env = {**os.environ, ROOT_ENV: str(tmp_path / "built")}
    build = subprocess.run(
        [sys.executable, "-m", "lablib.grading.gradescope", "reference"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    stored = sorted((tmp_path / "built" / "source" / "references").glob("*.json"))
    assert len(stored) == 1 and "reference run stored" in build.stdout
    before = stored[0].stat().st_mtime_ns
    shutil.copytree(tmp_path / "built" / "source", tmp_path / "run" / "source")
    (tmp_path / "run" / "source" / "run_autograder").unlink()  # simulate() copies it back
    run, data = simulate(
        autograder, tmp_path / "run", {"lab99.ipynb": notebook(make_fixtures.solved())}
    )
    assert run.returncode == 0 and data["score"] == 7, run.stdout + run.stderr
    again = sorted((tmp_path / "run" / "source" / "references").glob("*.json"))
    assert [p.name for p in again] == [stored[0].name]
    assert again[0].stat().st_mtime_ns == before  # found, not computed again
