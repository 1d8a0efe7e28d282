"""Every lab follows the conventions; its release hides solutions and hidden tests and
runs until the first exercise; its setup cell installs lablib correctly on (simulated) Colab.

The labs themselves are executed by nbval (``make test`` runs ``pytest --nbval-lax labs``).
"""

import importlib.metadata
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

import lablib
from lablib.course import find_labs
from lablib.grading.markers import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    STUB,
)
from lablib.grading.release import release_notebook

LABS = find_labs(Path(__file__).resolve().parent.parent / "labs")
ids = [p.stem for p in LABS]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_labs():
    assert LABS, "no labs/NN_name.ipynb found"
    assert [p.stem[:2] for p in LABS] == sorted({p.stem[:2] for p in LABS}), (
        "two labs share a number"
    )


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    )


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_title_badge_and_setup_call(path):
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith(f"# Lab {path.stem[:2]}")
    assert (
        "colab.research.google.com/github/" in title.source and f"{path.stem}.ipynb" in title.source
    )
    assert re.search(r"\*\*Time:\*\*", title.source), "the title cell states the time on CPU"
    setup = code_cells(nb)[0].source
    assert f'lablib.setup("{path.stem}"' in setup, (
        "the first code cell calls lablib.setup with the lab's own name"
    )
    assert lablib.COLAB_REQUIREMENT in setup, (
        "the Colab install names the current release (lablib.COLAB_REQUIREMENT)"
    )
    assert "sys.path" not in "\n".join(c.source for c in nb.cells), "no sys.path tricks in labs"


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_has_at_least_four_graded_exercises(path):
    nb = nbformat.read(path, as_version=4)
    _, tests = release_notebook(nb, path.name)
    assert len(tests) >= 4, f"{path.name} has {len(tests)} graded tests; at least 4 expected"
    assert all(t.hidden.strip() for t in tests), "every graded test has hidden checks"
    source = "\n".join(c.source for c in code_cells(nb))
    assert source.count(BEGIN_SOLUTION) >= 4


def split_marked(source, begin, end):
    """(lines outside the markers, stripped lines inside them) of one cell."""
    inside, outside, marked = False, [], []
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            marked.append(line.strip())
        else:
            outside.append(line.strip())
    return outside, [m for m in marked if m and not m.startswith("#")]


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_release_has_no_solution_code_and_no_hidden_tests(path):
    nb = nbformat.read(path, as_version=4)
    student, _ = release_notebook(nb, path.name)
    released = "\n".join(c.source for c in student.cells)
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
        assert marker not in released
    for index, (cell, out) in enumerate(zip(nb.cells, student.cells)):
        if cell.cell_type != "code":
            continue
        released_lines = {line.strip() for line in out.source.splitlines()}
        for begin, end, what in (
            (BEGIN_HIDDEN, END_HIDDEN, "hidden test"),
            (BEGIN_SOLUTION, END_SOLUTION, "solution"),
        ):
            visible, marked = split_marked(cell.source, begin, end)
            leaked = [line for line in marked if line in released_lines and line not in visible]
            assert not leaked, f"cell {index}: {what} code still in the release: {leaked[:3]}"
    source = "\n".join(c.source for c in code_cells(nb))
    assert len(STUB.findall(released)) == source.count(BEGIN_SOLUTION)


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_release_runs_until_the_first_exercise(path, tmp_path, monkeypatch):
    """The student version raises NotImplementedError at the first exercise, nowhere before."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    student, _ = release_notebook(nbformat.read(path, as_version=4), path.name)
    first_stub = next(i for i, c in enumerate(student.cells) if STUB.search(c.source))
    monkeypatch.setenv("LABLIB_PROFILE", "quick")
    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    client = NotebookClient(
        student,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert err.value.ename == "NotImplementedError", (
        f"the release failed with {err.value.ename}: {err.value.evalue}"
    )
    failed = next(
        i
        for i, c in enumerate(student.cells)
        if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)
    )
    assert failed > first_stub, (
        f"cell {failed} failed before the first exercise (cell {first_stub})"
    )
    ran = [c for c in student.cells[:failed] if c.cell_type == "code"]
    assert all(c.execution_count for c in ran), "every cell before the failure ran"


def setup_cell_prelude(path):
    source = code_cells(nbformat.read(path, as_version=4))[0].source
    return source.split("import lablib\n", 1)[0]


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_colab_setup_installs_pinned_lablib_and_keeps_colab_tensorflow(path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(compile(setup_cell_prelude(path), f"{path.name}:setup", "exec"), {})
    assert len(calls) == 1
    cmd, kwargs = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"] and kwargs.get("check") is True
    assert lablib.COLAB_REQUIREMENT in cmd
    for package in ("tensorflow", "keras"):
        assert f"{package}=={importlib.metadata.version(package)}" in cmd, (
            f"{package} is not pinned to Colab's version"
        )
    assert not any(flag in cmd for flag in ("-U", "--upgrade", "--force-reinstall"))


@pytest.mark.parametrize("path", LABS, ids=ids)
def test_setup_installs_nothing_outside_colab(path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(setup_cell_prelude(path), f"{path.name}:setup", "exec"), {})
    assert calls == []
