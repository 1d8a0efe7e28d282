"""Gradescope: the autograder zip of one lab, and the ``results.json`` Gradescope reads.

``lablib gradescope 01 --out autograder.zip`` writes a zip in Gradescope's autograder format
(https://gradescope-autograders.readthedocs.io/en/latest/specs/), everything at its root:

* ``setup.sh``: run once by Gradescope when it builds the image (Ubuntu, as root). It creates
  a virtual environment in ``/opt/lablib`` (the system ``python3`` is Gradescope's own),
  installs ``requirements.txt`` (lablib's dependencies and its ``grade`` extra, TensorFlow as
  ``tensorflow-cpu`` on x86_64 Linux) and then lablib itself, ``--no-deps``, pinned to the
  release the students' notebooks install (:class:`lablib.grading.publish.Target`);
* ``run_autograder``: run for every submission. It grades ``/autograder/submission`` with
  :func:`lablib.grading.gradebook.grade` (the same grader as ``lablib grade``: one sandboxed
  kernel, quick profile, offline) and writes ``/autograder/results/results.json``, with the
  student's identity from ``/autograder/submission_metadata.json``.
  ``$LABLIB_GRADESCOPE_ROOT`` moves ``/autograder`` and ``$LABLIB_GRADESCOPE_PYTHON`` names
  the Python to use (the tests run it in a temporary folder);
* ``labs/NN_name.ipynb``: the instructor notebook (solutions and hidden tests: the grader
  rebuilds each submission from it), ``lablib_gradescope.json`` (the lab, its tests, the
  limits, the visibility of hidden checks, the pinned requirement) and a ``README.md``.

``results.json`` (:func:`results_json`, also what ``lablib grade`` writes per submission)
holds only the keys of Gradescope's schema; ``max_score``, the status and the reason go to
``extra_data``. A test that failed on a hidden check (``TestOutcome.failed_hidden``) is shown
at once as *failed a hidden check*, with its points, and its full message goes in a separate
entry without points whose ``visibility`` is the ``--hidden-visibility`` option:
``after_due_date`` (default), ``hidden`` (instructors only) or ``visible`` (one entry, the
message shown at once, as before). Gradescope's spec: "If test cases are hidden, students will
not be able to see their total score" while such an entry is still hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "HIDDEN_VISIBILITY",
    "ROOT_ENV",
    "PYTHON_ENV",
    "AutograderZip",
    "Submitter",
    "build_autograder",
    "find_lab",
    "outcomes_from_results",
    "requirements",
    "results_json",
    "run",
    "submitter",
]

#: Where a failing hidden check's message may be seen (Gradescope's per-test ``visibility``).
HIDDEN_VISIBILITY = ("after_due_date", "hidden", "visible")
ROOT_ENV = "LABLIB_GRADESCOPE_ROOT"
PYTHON_ENV = "LABLIB_GRADESCOPE_PYTHON"
VENV = "/opt/lablib"
CONFIG = "lablib_gradescope.json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_WITHHELD = {
    "after_due_date": "passed its visible checks but failed a hidden check: "
    "the details are shown after the due date",
    "hidden": "passed its visible checks but failed a hidden check "
    "(your instructor keeps the hidden checks' details private)",
}
_STUDENT = {  # what each status means, said to the student
    "graded": "Your notebook ran; the score is the sum of the tests it passed.",
    "timeout": "A cell or the whole notebook ran out of time (an endless loop?); "
    "the tests that finished still count.",
    "crashed": "The Python kernel died while your notebook ran (exit(), a crash); "
    "the tests that finished still count.",
    "memory": "A cell needed more memory than the grader allows; the other tests still count.",
    "invalid": "The file you submitted is not a readable notebook: 0 points. Upload the .ipynb "
    "file again (on Colab: File > Download > Download .ipynb).",
    "wrong_lab": "The notebook you submitted is another lab's: 0 points for this one.",
    "missing": "No notebook for this lab was found in your submission: 0 points. "
    "Upload the lab's .ipynb file.",
    "error": "The autograder itself failed on your submission (not your fault): "
    "0 points until your instructor re-runs it.",
}


# ---------------------------------------------------------------- results.json


def _text(text: Any) -> str:
    return _ANSI.sub("", str(text)).strip()


def _redact(text: str, withheld: Sequence[Any]) -> str:
    """``text`` cut where it starts quoting a withheld hidden check's message."""
    for outcome in withheld:
        message = _text(outcome.output)
        bare = message[:30] if len(message) >= 12 else ""
        for probe in (f"{outcome.name}: {message[:30]}", bare):
            if probe and probe in text:
                text = text[: text.index(probe)] + f"{outcome.name}: failed a hidden check"
                break
    return text


def results_json(
    outcomes: Sequence[Any],
    *,
    status: str,
    reason: str,
    extra: dict,
    hidden_visibility: str = "after_due_date",
    preamble: str = "",
) -> dict:
    """``results.json`` in Gradescope's schema for one graded notebook.

    Args:
        outcomes: :class:`lablib.grading.report.TestOutcome` per test, in notebook order.
        status, reason: the notebook's status and its one-sentence reason (the gradebook's).
        extra: more for ``extra_data`` (``seconds`` also sets ``execution_time``;
            ``max_score`` is used when there are no outcomes).
        hidden_visibility: one of :data:`HIDDEN_VISIBILITY`, for failing hidden checks.
        preamble: lines put before the status line of the top-level ``output``.

    Returns:
        The dict to dump as JSON: only keys of Gradescope's specification.
    """
    if hidden_visibility not in HIDDEN_VISIBILITY:
        raise ValueError(f"hidden_visibility must be one of {HIDDEN_VISIBILITY}")
    withheld = [
        o
        for o in outcomes
        if getattr(o, "failed_hidden", False)
        and o.status != "passed"
        and hidden_visibility != "visible"
    ]
    withheld_ids = {id(o) for o in withheld}
    tests = []
    for number, outcome in enumerate(outcomes, start=1):
        hidden_failure = id(outcome) in withheld_ids
        tests.append(
            {
                "name": outcome.name,
                "number": str(number),
                "score": float(outcome.score),
                "max_score": float(outcome.max_score),
                "status": "passed" if outcome.status == "passed" else "failed",
                "output": _WITHHELD[hidden_visibility] if hidden_failure else str(outcome.output),
                "visibility": "visible",
                "extra_data": {"failed_hidden": bool(getattr(outcome, "failed_hidden", False))},
            }
        )
        if hidden_failure:
            tests.append(
                {
                    "name": f"{outcome.name}: the hidden check it failed",
                    "number": f"{number}.1",
                    "status": "failed",
                    "output": str(outcome.output),
                    "visibility": hidden_visibility,
                    "extra_data": {"detail_of": outcome.name},
                }
            )
    reason = _redact(str(reason), withheld)
    max_score = sum(float(o.max_score) for o in outcomes) or float(extra.get("max_score") or 0)
    lines = [preamble.strip(), f"{status}: {reason}"]
    if withheld and hidden_visibility == "after_due_date":
        lines.append("The messages of failed hidden checks are shown after the due date.")
    return {
        "score": float(sum(float(o.score) for o in outcomes)),
        "execution_time": round(float(extra.get("seconds") or 0.0), 1),
        "output": "\n".join(line for line in lines if line),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "status": status,
            "reason": reason,
            **extra,
            "max_score": max_score,
            "hidden_visibility": hidden_visibility,
        },
    }


def outcomes_from_results(data: dict) -> list:
    """The :class:`~lablib.grading.report.TestOutcome` list a :func:`results_json` dict holds
    (the inverse of :func:`results_json`: withheld messages are read from their entries)."""
    from lablib.grading.report import TestOutcome

    tests = [t for t in data.get("tests", []) if isinstance(t, dict)]
    details = {
        (t.get("extra_data") or {}).get("detail_of"): t.get("output", "")
        for t in tests
        if (t.get("extra_data") or {}).get("detail_of")
    }
    outcomes = []
    for test in tests:
        info = test.get("extra_data") or {}
        if info.get("detail_of"):
            continue
        hidden = bool(info.get("failed_hidden", False))
        name = str(test.get("name", ""))
        output = test.get("output", "")
        outcomes.append(
            TestOutcome(
                name=name,
                score=float(test.get("score", 0) or 0),
                max_score=float(test.get("max_score", 0) or 0),
                status=test.get("status") or "failed",
                output=details.get(name, output) if hidden else output,
                failed_hidden=hidden,
            )
        )
    return outcomes


# ---------------------------------------------------------------- the zip


@dataclass
class AutograderZip:
    """What :func:`build_autograder` wrote."""

    path: Path
    lab: str
    requirement: str  # the pinned pip requirement of lablib that setup.sh installs
    warnings: tuple[str, ...]  # from resolve_target: placeholder repository, unknown ref
    max_score: float


def find_lab(labs: Path, name: str) -> Path:
    """The instructor notebook in ``labs`` that ``name`` (``01``, ``01_convolution_filters``)
    means; ``FileNotFoundError`` when none or several do."""
    from lablib.course import find_labs

    paths = find_labs(labs)
    found = [p for p in paths if p.stem == name or p.stem.startswith(f"{name}_")] or [
        p for p in paths if name in p.stem
    ]
    if len(found) != 1:
        raise FileNotFoundError(
            f"{name!r} names {len(found)} labs in {labs} "
            f"(have: {', '.join(p.stem for p in paths) or 'none'})"
        )
    return found[0]


def _declared(root: Path) -> tuple[list[str], list[str]]:
    """lablib's dependencies and its ``grade`` extra: from ``root/pyproject.toml`` where
    Python can read it, else from the installed lablib's metadata."""
    pyproject = Path(root) / "pyproject.toml"
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = None
    if tomllib is not None and pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == "lablib":
            extras = project.get("optional-dependencies", {})
            return list(project.get("dependencies", [])), list(extras.get("grade", []))
    from importlib.metadata import requires

    base, grade = [], []
    for line in requires("lablib") or []:
        requirement, _, marker = line.partition(";")
        if not marker.strip():
            base.append(requirement.strip())
        elif re.search(r"""extra\s*==\s*["']grade["']""", marker):
            grade.append(requirement.strip())
    return base, grade


def requirements(root: Path) -> list[str]:
    """The lines of the zip's ``requirements.txt``: lablib's dependencies and ``grade`` extra,
    with TensorFlow as ``tensorflow-cpu`` on x86_64 Linux (same version range)."""
    base, grade = _declared(root)
    cpu = 'platform_system == "Linux" and platform_machine == "x86_64"'
    other = 'platform_machine != "x86_64"'  # PEP 508 markers have no "not"
    lines = []
    for requirement in [*base, *grade]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        if name and name[0].lower() == "tensorflow":
            spec = requirement[name.end() :].strip()
            lines.append(f"tensorflow-cpu{spec}; {cpu}")
            lines.append(f'tensorflow{spec}; platform_system != "Linux" or {other}')
        else:
            lines.append(requirement)
    return lines


def _setup_sh(lab: str, requirement: str) -> str:
    python = f"{VENV}/bin/python"
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# Written by `lablib gradescope` for {lab}: it installs lablib, pinned to the release the
# students' notebooks install, with CPU-only TensorFlow, into the virtual environment
# {VENV} (the system python3 belongs to Gradescope's harness: leave it alone).
set -euxo pipefail
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip git ca-certificates
python3 -m venv {VENV}
{python} -m pip install --upgrade pip
# lablib's dependencies and its grade extra; TensorFlow as tensorflow-cpu (no CUDA wheels)
{python} -m pip install -r "$HERE/requirements.txt"
# lablib itself, pinned; --no-deps: its "tensorflow" requirement is met by tensorflow-cpu
{python} -m pip install --no-deps "{requirement}"
# fail the build now, not at the first submission; build matplotlib's font list once
MPLBACKEND=Agg {python} -c "import lablib.grading.gradescope, nbclient, tensorflow, \\
matplotlib.pyplot; print('lablib', lablib.__version__, 'tensorflow', tensorflow.__version__)"
# the instructor's solution, run once as every submission's reference (else each run does it)
LABLIB_PROFILE=quick LABLIB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 \\
  {python} -m lablib.grading.gradescope reference --root "$HERE/.." \\
  || echo "setup.sh: the reference run failed (see above); each submission will retry it" >&2
"""


_NOT_INSTALLED = {
    "score": 0.0,
    "output": "The autograder is not installed correctly (lablib cannot be imported): "
    "this is not your fault; please tell your instructor.",
    "output_format": "text",
    "visibility": "visible",
    "stdout_visibility": "hidden",
    "extra_data": {"status": "error"},
}


def _run_autograder(lab: str) -> str:
    return f"""#!/usr/bin/env bash
# Gradescope runs this, as root in /autograder, for every submission of {lab}.
# Written by `lablib gradescope`. It grades /autograder/submission into
# /autograder/results/results.json. For a dry run elsewhere:
#   LABLIB_GRADESCOPE_ROOT=/tmp/autograder LABLIB_GRADESCOPE_PYTHON=.venv/bin/python \\
#     bash run_autograder
set -u
ROOT="${{{ROOT_ENV}:-/autograder}}"
PYTHON="${{{PYTHON_ENV}:-{VENV}/bin/python}}"
cd "$ROOT" || exit 1
export LABLIB_PROFILE=quick LABLIB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2
if ! "$PYTHON" -c "import lablib.grading.gradescope" >/dev/null 2>&1; then
  mkdir -p "$ROOT/results"
  cat > "$ROOT/results/results.json" <<'JSON'
{json.dumps(_NOT_INSTALLED, indent=1)}
JSON
  echo "run_autograder: $PYTHON cannot import lablib: see setup.sh in the build log" >&2
  exit 1
fi
exec "$PYTHON" -m lablib.grading.gradescope run --root "$ROOT"
"""


def _readme(lab: str, requirement: str, visibility: str) -> str:
    return f"""# Gradescope autograder for {lab}

Written by `lablib gradescope`. Upload this zip as the autograder of a Gradescope
*Programming Assignment* (Settings: Ubuntu base image; raise the memory above the default
768 MB and the timeout to fit the grader's limits in `{CONFIG}`).

- `setup.sh` installs `{requirement}` with CPU TensorFlow into `{VENV}`.
- `run_autograder` grades the uploaded notebook with the instructor notebook in `labs/`.
- Failing hidden checks: their messages are `{visibility}` (see `{CONFIG}`).

This zip holds the lab's solutions and hidden tests: do not share it with students.
"""


def _zip_add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same bytes every build
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(
    lab: str,
    out: Path,
    *,
    labs: Path = Path("labs"),
    root: Path | None = None,
    repo: str | None = None,
    ref: str | None = None,
    hidden_visibility: str = "after_due_date",
    timeout: float = 480.0,
    cell_timeout: float = 120.0,
    memory_gib: float = 6.0,
) -> AutograderZip:
    """Write the Gradescope autograder zip of one lab.

    Args:
        lab: the lab (``01`` or ``01_convolution_filters``) in ``labs``.
        out: the zip to write.
        labs: the instructor notebooks.
        root: the repository (``pyproject.toml``, git remote and tags); default: the cwd.
        repo, ref: where lablib is installed from (as ``lablib release``; see
            :func:`lablib.grading.publish.resolve_target`).
        hidden_visibility: one of :data:`HIDDEN_VISIBILITY`.
        timeout, cell_timeout, memory_gib: the grader's limits per submission (seconds, GiB
            of address space); keep ``timeout`` a few minutes under Gradescope's own limit.

    Raises:
        FileNotFoundError: no such lab. lablib.grading.release.MarkerError: bad markers.
    """
    import lablib
    from lablib.grading.plan import load_plan
    from lablib.grading.publish import resolve_target

    if hidden_visibility not in HIDDEN_VISIBILITY:
        raise ValueError(f"--hidden-visibility must be one of {', '.join(HIDDEN_VISIBILITY)}")
    root = Path(root or Path.cwd())
    source = find_lab(Path(labs), lab)
    plan = load_plan(source)  # checks the markers before anything is written
    target = resolve_target(root, repo, ref)
    config = {
        "lab": plan.lab,
        "max_score": plan.max_score,
        "tests": [{"name": t.name, "points": t.points} for t in plan.tests],
        "hidden_visibility": hidden_visibility,
        "timeout": timeout,
        "cell_timeout": cell_timeout,
        "memory_gib": memory_gib,
        "requirement": target.requirement,
        "repository": target.repo,
        "ref": target.ref,
        "lablib_version": lablib.__version__,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        _zip_add(archive, "setup.sh", _setup_sh(plan.lab, target.requirement).encode(), 0o755)
        _zip_add(archive, "run_autograder", _run_autograder(plan.lab).encode(), 0o755)
        _zip_add(archive, "requirements.txt", ("\n".join(requirements(root)) + "\n").encode())
        _zip_add(archive, CONFIG, (json.dumps(config, indent=1) + "\n").encode())
        _zip_add(archive, f"labs/{source.name}", source.read_bytes())
        _zip_add(
            archive,
            "README.md",
            _readme(plan.lab, target.requirement, hidden_visibility).encode(),
        )
    partial.replace(out)
    return AutograderZip(out, plan.lab, target.requirement, target.warnings, plan.max_score)


# ---------------------------------------------------------------- run_autograder


@dataclass
class Submitter:
    """Who submitted, from Gradescope's ``submission_metadata.json``."""

    key: str  # sid, else email, else Gradescope's user id of the first user
    display: str  # the names, "A & B" for a group
    users: list[dict]  # name, email, sid, id of every user, as Gradescope gave them


def submitter(metadata: dict) -> Submitter:
    """The :class:`Submitter` of a submission (``users`` of the metadata; groups too)."""
    users = [u for u in (metadata.get("users") or []) if isinstance(u, dict)]
    names = [str(u.get("name") or u.get("email") or u.get("sid") or "") for u in users]
    first = users[0] if users else {}
    key = str(first.get("sid") or first.get("email") or first.get("id") or "unknown")
    kept = [{k: u[k] for k in ("name", "email", "sid", "id") if k in u} for u in users]
    return Submitter(key, " & ".join(n for n in names if n) or "an unknown student", kept)


def _metadata(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def _submission_info(metadata: dict) -> dict:
    assignment = metadata.get("assignment") or {}
    info = {
        "id": metadata.get("id"),
        "created_at": metadata.get("created_at"),
        "assignment": {k: assignment.get(k) for k in ("id", "title", "due_date", "late_due_date")},
    }
    created, due = _when(metadata.get("created_at")), _when(assignment.get("due_date"))
    if created and due:
        try:
            info["after_due_date"] = created > due
        except TypeError:  # one has a time zone, the other not
            pass
    return info


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1) + "\n")
    partial.replace(path)


def _options(root: Path, config: dict) -> Any:
    """The grading options of this autograder (the same at build time and per submission, so
    the reference run that setup.sh stored is found again)."""
    from lablib.grading.gradebook import GradeOptions

    return GradeOptions(
        workers=1,
        timeout=float(config.get("timeout", 480)),
        cell_timeout=float(config.get("cell_timeout", 120)),
        memory_gib=float(config.get("memory_gib", 6)),
        progress=False,
        references=root / "source" / "references",
    )


def write_reference(root: Path | str | None = None) -> int:
    """Run the instructor's solution once (setup.sh, at image build time) and keep it in
    ``ROOT/source/references``: each submission then runs one notebook, not two."""
    from lablib.grading.gradebook import write_references

    root = Path(root or os.environ.get(ROOT_ENV) or "/autograder")
    config = json.loads((root / "source" / CONFIG).read_text())
    problems = write_references(
        root / "source" / "labs",
        root / "source" / "references",
        expect=[config["lab"]],
        options=_options(root, config),
    )
    for lab, why in problems.items():
        print(f"{lab}: " + ("; ".join(why) if why else "reference run stored"))
    return 1 if any(problems.values()) else 0


def _grade_folder(root: Path, config: dict) -> tuple[str, str, list, dict]:
    """Grade ``root/submission`` with :func:`lablib.grading.gradebook.grade`:
    ``(status, reason, outcomes, gradebook row)``."""
    from lablib.grading.gradebook import grade

    work = Path(tempfile.mkdtemp(prefix="lablib-gradescope-"))
    try:
        folder = work / "submissions" / "student"  # a name no LMS parser reads as an id
        if (root / "submission").is_dir():
            shutil.copytree(root / "submission", folder, symlinks=True)
        else:
            folder.mkdir(parents=True)
        options = _options(root, config)
        report = grade(
            work / "submissions",
            work / "out",
            labs=root / "source" / "labs",
            expect=[config["lab"]],
            options=options,
        )
        row = next(r for r in report.rows if r["lab"] == config["lab"])
        found = sorted((work / "out").glob(f"*/{config['lab']}/results.json"))
        outcomes = outcomes_from_results(json.loads(found[0].read_text())) if found else []
        return row["status"], row["reason"], outcomes, row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _zero(config: dict, why: str) -> list:
    from lablib.grading.report import TestOutcome

    return [
        TestOutcome(t["name"], 0.0, float(t["points"]), "failed", f"not graded: {why}")
        for t in config.get("tests", [])
    ]


def run(root: Path | str | None = None) -> int:
    """Grade ``ROOT/submission`` into ``ROOT/results/results.json`` (``ROOT``: the argument,
    else ``$LABLIB_GRADESCOPE_ROOT``, else ``/autograder``); always writes a valid file."""
    start = time.monotonic()
    root = Path(root or os.environ.get(ROOT_ENV) or "/autograder")
    results = root / "results" / "results.json"
    config = json.loads((root / "source" / CONFIG).read_text())
    mode = config.get("hidden_visibility", "after_due_date")
    metadata = _metadata(root / "submission_metadata.json")
    who = submitter(metadata)
    extra: dict[str, Any] = {
        "lab": config["lab"],
        "student": who.key,
        "users": who.users,
        "submission": _submission_info(metadata),
        "max_score": config.get("max_score", 0),
    }
    heading = f"{config['lab']}: graded for {who.display}."
    stopped = "the autograder stopped before it finished (Gradescope's time or memory limit?)"
    _write(  # in place until grading ends, so a crash still leaves a valid file
        results,
        results_json(
            _zero(config, stopped),
            status="error",
            reason=stopped,
            extra=extra,
            hidden_visibility=mode,
            preamble=heading,
        ),
    )
    try:
        status, reason, outcomes, row = _grade_folder(root, config)
    except Exception as exc:  # noqa: BLE001 - the student always gets a results.json
        traceback.print_exc()
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        status, reason, outcomes, row = "error", f"grader error: {last}", [], {}
    if not outcomes:
        outcomes = _zero(config, reason)
    extra.update(
        seconds=time.monotonic() - start,
        file=row.get("file", ""),
        flags=row.get("flags", ""),
    )
    data = results_json(
        outcomes,
        status=status,
        reason=reason,
        extra=extra,
        hidden_visibility=mode,
        preamble=f"{heading}\n{_STUDENT.get(status, '')}",
    )
    _write(results, data)
    print(  # stdout: shown to the instructor only (stdout_visibility hidden)
        f"{config['lab']} for {who.display} ({who.key}): {status}, "
        f"{data['score']:g}/{data['extra_data']['max_score']:g} ({reason}) "
        f"in {time.monotonic() - start:.0f} s; lablib {_version()} "
        f"(zip built with {config.get('lablib_version')})"
    )
    return 0


def _version() -> str:
    import lablib

    return lablib.__version__


def main(argv: list[str] | None = None) -> int:
    """``python -m lablib.grading.gradescope run [--root DIR]`` (what run_autograder calls)."""
    parser = argparse.ArgumentParser(prog="python -m lablib.grading.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    p.add_argument("--root", default=None, help=f"default: ${ROOT_ENV} or /autograder")
    p = sub.add_parser("reference", help="run the instructor's solution once, for every run")
    p.add_argument("--root", default=None, help=f"default: ${ROOT_ENV} or /autograder")
    args = parser.parse_args(argv)
    return write_reference(args.root) if args.command == "reference" else run(args.root)


if __name__ == "__main__":
    sys.exit(main())
