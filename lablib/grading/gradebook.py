"""Autograder: a class's submitted notebooks -> gradebook, Gradescope results, feedback.

``lablib grade SUBMISSIONS --out DIR`` (or ``make grade SUBMISSIONS=dir``) grades every
student's notebook of every lab in ``labs/`` (or ``--expect``):

1. find each student's notebooks and tell which lab each one is by its content
   (:mod:`lablib.grading.submissions`);
2. rebuild the notebook from the instructor's version with only the student's exercise
   cells, hidden tests put back (:mod:`lablib.grading.plan`);
3. run it in its own sandboxed kernel, quick profile, offline, with time and memory
   limits (:mod:`lablib.grading.execute`, :mod:`lablib.grading.sandbox`), in parallel
   worker processes;
4. score each ``# TEST name (N points)`` cell on its own and write ``results.json``,
   ``feedback.html`` and ``executed.ipynb`` per submission, ``gradebook.csv`` (one row
   per student and expected lab) and ``scores.png`` (:mod:`lablib.grading.report`).

Statuses (the ``status`` column):

* ``graded``: ran within its limits; the score is the sum of the passed tests.
* ``timeout``: a cell or the notebook hit its time limit; finished tests still count.
* ``crashed``: the kernel died (exit(), os._exit, a segfault); finished tests count.
* ``memory``: a cell hit the memory limit (MemoryError); the other tests count.
* ``invalid``: not a readable notebook (malformed JSON, empty, not a notebook): 0.
* ``wrong_lab``: the file named for this lab is another lab's notebook: 0.
* ``missing``: no notebook for this lab: 0.
* ``error``: the grader failed on this submission (never the student's fault): re-run.

The grader never stops on a bad submission: every (student, lab) gets a row.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import statistics
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lablib.course import find_labs
from lablib.grading.cache import (
    CACHE_DIR,
    CacheStats,
    GradeCache,
    _sha256_file,
    _sha256_json,
    grader_fingerprint,
    verdict_options,
)
from lablib.grading.execute import ExecOptions, Sandbox, readable_paths, run_sync
from lablib.grading.own_work import lablib_references
from lablib.grading.plan import LabPlan, load_plan, match_exercises, rebuild
from lablib.grading.pool import run_jobs
from lablib.grading.report import (
    STATUSES,
    TestOutcome,
    notebook_status,
    plot_scores,
    score_tests,
    write_executed,
    write_feedback,
    write_results,
)
from lablib.grading.submissions import Candidate, find_candidates, read_notebook
from lablib.grading.verdict import Recording, as_answers, judge, reference_problems

__all__ = [
    "GradeOptions",
    "GradeReport",
    "grade",
    "grade_one",
    "flag_code",
    "reference_run",
    "write_references",
    "STATUSES",
    "COLUMNS",
]

COLUMNS = [
    "student",
    "lab",
    "score",
    "max_score",
    "status",
    "reason",
    "tests_passed",
    "tests_total",
    "flags",
    "file",
    "seconds",
]
_FLAGS = [  # (pattern in a student's exercise code, what the instructor may want to look at)
    (r"\bget_ipython\b|\bIPython\b|input_transformers|set_custom_exc", "IPython internals"),
    (r"\bbuiltins\b|__builtins__|sys\.modules|importlib", "builtins/imports"),
    (
        r"\bchecks\s*\.\s*\w+\s*=|\bdef\s+check_\w+|\bcheck_\w+\s*=|lablib\.checks\s*=",
        "redefines checks",
    ),
    (r"_getframe|\binspect\b|f_back|f_locals|settrace|linecache|\bgc\.", "introspection"),
    (
        r"\bctypes\b|\bsubprocess\b|os\.system|os\.popen|os\.fork|os\.kill|os\._exit|sys\.exit|\bexit\(|\bquit\(",
        "process control",
    ),
    (
        r"\bopen\(|\.read_text\(|\.read_bytes\(|os\.listdir|os\.walk|scandir|\bglob\b|tf\.io|gfile",
        "file access",
    ),
    (r"def\s+__eq__|def\s+__ne__|__class__\s*=", "custom equality"),
    (r"\b(?:np|numpy)(?:\.\w+)+\s*=(?!=)", "patches NumPy"),
]


@dataclass
class GradeOptions:
    """How to grade: workers and the per-notebook limits."""

    workers: int = 2
    timeout: float = 600.0  # seconds per notebook, kernel start-ups and re-runs included
    cell_timeout: float = 120.0  # seconds per cell (cells from the first exercise on)
    memory_gib: float = 6.0  # the kernel's address-space limit
    output_limit: int = 200_000  # characters of output kept per cell
    landlock: bool = True  # restrict the kernel's file access where Linux offers it
    progress: bool = True
    extra_read: list[str] = field(default_factory=list)  # more folders the kernels may read
    cache: bool = True  # reuse out/.cache for unchanged inputs (lablib.grading.cache)
    #: where the instructor's reference runs are kept (default: out/.cache/reference when the
    #: cache is on); a Gradescope image computes them once at build time
    references: Path | None = None
    show_hidden: bool = False  # feedback.html shows a failed hidden check's message

    def exec_options(self) -> ExecOptions:
        return ExecOptions(
            timeout=self.timeout,
            cell_timeout=self.cell_timeout,
            memory=int(self.memory_gib * 2**30),
            output_limit=self.output_limit,
            landlock=self.landlock,
        )


@dataclass
class GradeReport:
    """What :func:`grade` did."""

    rows: list[dict[str, Any]]
    out: Path
    gradebook: Path
    plot: Path | None
    seconds: float
    cache: CacheStats | None = None  # which rows were reused, why the others were graded

    @property
    def counts(self) -> Counter:
        return Counter(r["status"] for r in self.rows)

    def summary(self) -> str:
        """A few lines for the terminal: counts per status and the scores per lab."""
        lines = [
            f"{len(self.rows)} row(s) in {self.gradebook} ({self.seconds:.0f} s): "
            + ", ".join(f"{s} {self.counts[s]}" for s in STATUSES if self.counts[s])
        ]
        for lab in sorted({r["lab"] for r in self.rows}):
            scores = [float(r["score"]) for r in self.rows if r["lab"] == lab]
            top = max(float(r["max_score"] or 0) for r in self.rows if r["lab"] == lab)
            lines.append(
                f"  {lab}: mean {statistics.mean(scores):.1f} / {top:g}, "
                f"median {statistics.median(scores):g}, "
                f"min {min(scores):g}, max {max(scores):g} (n={len(scores)})"
            )
        if self.cache is not None and (self.cache.graded or self.cache.reused):
            lines.append(self.cache.line())
        lines.append(f"feedback: {self.out}/<student>/<lab>/feedback.html; plot: {self.plot}")
        return "\n".join(lines)


def flag_code(sources: list[str]) -> list[str]:
    """Things in a student's exercise code an instructor may want to look at
    (never changes a score)."""
    text = "\n".join(sources)
    return [label for pattern, label in _FLAGS if re.search(pattern, text)]


def own_work_only(
    plan: LabPlan, outcomes: list[TestOutcome], reaching: dict[int, list[str]]
) -> list[TestOutcome]:
    """Zero the tests whose exercises call into lablib (see :mod:`lablib.grading.own_work`)."""
    by_name = {t.name: t for t in plan.tests}
    kept = []
    for outcome in outcomes:
        test = by_name.get(outcome.name)
        refs = sorted({r for cell in (test.uses if test else ()) for r in reaching.get(cell, [])})
        if refs and outcome.score:
            outcome = replace(
                outcome,
                score=0.0,
                status="failed",
                output=(
                    f"expected: the exercise written in your own code; got: a call into lablib "
                    f"({', '.join(refs)}). Hint: lablib is the course's helper library, not an "
                    "answer key; write the function yourself (NumPy, Keras) and run the test again."
                ),
            )
        kept.append(outcome)
    return kept


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "student"


def _row(
    student: str, lab: str, plan: LabPlan, status: str, reason: str, **more: Any
) -> dict[str, Any]:
    row = {
        "student": student,
        "lab": lab,
        "score": 0,
        "max_score": plan.max_score,
        "status": status,
        "reason": reason,
        "tests_passed": 0,
        "tests_total": len(plan.tests),
        "flags": "",
        "file": "",
        "seconds": "",
    }
    row.update(more)
    return row


# ---------------------------------------------------------------- one submission (in a worker)

_PLANS: dict[str, LabPlan] = {}


def grade_one(job: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Grade one notebook: rebuild, run in its own kernel, score, write the feedback;
    a gradebook row."""
    path, lab = Path(job["path"]), job["lab"]
    plan = _PLANS.get(lab) or _PLANS.setdefault(
        lab, load_plan(Path(context["labs"]) / f"{lab}.ipynb")
    )
    reference = context.get("references", {}).get(lab)
    if reference is None or reference["problems"]:
        why = "; ".join(reference["problems"]) if reference else "no reference run"
        return _row(
            job["student"],
            lab,
            plan,
            "error",
            f"the instructor's solution could not be run as the reference: {why}",
            file=job["file"],
        )
    sources, problem = read_notebook(path)
    if sources is None:
        return _row(
            job["student"], lab, plan, "invalid", f"'{job['file']}': {problem}", file=job["file"]
        )
    matched, notes = match_exercises(plan, sources)
    cells = rebuild(plan, matched, {t.name: secrets.token_hex(16) for t in plan.tests})
    options: ExecOptions = context["options"]
    sandbox = Sandbox(Path(job["job_dir"]), context["protected"], context["read"])
    start = time.monotonic()
    try:
        results = run_sync(cells, sandbox, options)
    finally:
        shutil.rmtree(sandbox.job, ignore_errors=True)
    seconds = time.monotonic() - start
    outcomes = score_tests(cells, results, options.memory / 2**30, reference["recordings"])
    reaching = {
        e.cell: lablib_references(matched[e.cell], plan.bindings, e.allowed) for e in plan.exercises
    }
    outcomes = own_work_only(plan, outcomes, reaching)
    status, reason = notebook_status(cells, results, outcomes)
    flags = flag_code([matched[e.cell] for e in plan.exercises])
    flags += [f"calls lablib: {', '.join(refs)}" for refs in reaching.values() if refs]
    notes_text = "; ".join(job.get("notes", []))
    out = Path(job["out_dir"])
    extra = {
        "lab": lab,
        "student": job["student"],
        "file": job["file"],
        "flags": flags,
        "seconds": seconds,
        "max_score": plan.max_score,
        "exercises": {str(k): v for k, v in notes.items()},
        "notes": notes_text,
    }
    write_results(out / "results.json", outcomes, status=status, reason=reason, extra=extra)
    write_feedback(
        out / "feedback.html",
        student=job["student"],
        lab=lab,
        status=status,
        reason=reason,
        outcomes=outcomes,
        cells=cells,
        notes=notes,
        show_hidden=context.get("show_hidden", False),
    )
    write_executed(out / "executed.ipynb", plan, cells, results, outcomes)
    score = sum(o.score for o in outcomes)
    return _row(
        job["student"],
        lab,
        plan,
        status,
        reason + (f" ({notes_text})" if notes_text else ""),
        score=f"{score:g}",
        tests_passed=sum(o.status == "passed" for o in outcomes),
        flags="; ".join(flags),
        file=job["file"],
        seconds=f"{seconds:.1f}",
    )


def reference_run(job: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Run the instructor's solution of one lab in a grading kernel, as the tests' reference.

    Returns ``{"lab", "recordings": {test: Recording}, "problems": [sentences]}``: every
    test must run to its end and pass its own checks, or the lab cannot be graded.
    """
    lab = job["lab"]
    plan = _PLANS.get(lab) or _PLANS.setdefault(
        lab, load_plan(Path(context["labs"]) / f"{lab}.ipynb")
    )
    solutions = {e.cell: plan.notebook.cells[e.cell].source for e in plan.exercises}
    tokens = {t.name: secrets.token_hex(16) for t in plan.tests}
    cells = rebuild(plan, solutions, tokens, "reference")
    sandbox = Sandbox(Path(job["job_dir"]), context["protected"], context["read"])
    try:
        results = run_sync(cells, sandbox, context["options"])
    finally:
        shutil.rmtree(sandbox.job, ignore_errors=True)
    recordings, problems = {}, []
    for cell, result in zip(cells, results):
        if cell.test is None:
            continue
        recording = result.recording or Recording()
        why = reference_problems(recording)
        if result.status != "ok":
            why.insert(0, f"the cell ended with {result.status} {result.ename} {result.evalue}")
        if not why:
            verdict = judge(cell.sites, recording, as_answers(recording, cell.sites))
            if not verdict.passed:
                why.append(f"the solution fails its own test: {verdict.message}")
        if why:
            problems.append(f"test {cell.test.name}: {'; '.join(why)}")
        recordings[cell.test.name] = recording
    return {"lab": lab, "status": "reference", "recordings": recordings, "problems": problems}


def _reference_file(folder: Path, labs: Path, lab: str, options: GradeOptions) -> Path:
    """Where lab's reference run is stored: keyed by the lab notebook, the grader, the limits."""
    key = _sha256_json(
        {
            "lab": _sha256_file(labs / f"{lab}.ipynb"),
            "grader": grader_fingerprint(),
            "options": verdict_options(options),
        }
    )
    return Path(folder) / f"{lab}-{key[:20]}.json"


def _stored_references(
    folder: Path | None, labs: Path, needed: list[str], options: GradeOptions
) -> dict[str, dict[str, Any]]:
    """The reference runs already computed for these exact inputs (a bad file is ignored)."""
    found: dict[str, dict[str, Any]] = {}
    if folder is None:
        return found
    for lab in needed:
        path = _reference_file(folder, labs, lab, options)
        try:
            data = json.loads(path.read_text())
            recordings = {t: Recording.from_json(lines) for t, lines in data["tests"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        found[lab] = {"lab": lab, "status": "reference", "recordings": recordings, "problems": []}
    return found


def _store_references(
    folder: Path | None, labs: Path, references: list[dict[str, Any]], options: GradeOptions
) -> None:
    if folder is None:
        return
    for reference in references:
        if reference.get("problems") or not reference.get("recordings"):
            continue  # only a clean run is worth keeping
        path = _reference_file(folder, labs, reference["lab"], options)
        path.parent.mkdir(parents=True, exist_ok=True)
        tests = {t: r.to_json() for t, r in reference["recordings"].items()}
        path.write_text(json.dumps({"lab": reference["lab"], "tests": tests}))


def write_references(
    labs: Path,
    folder: Path,
    *,
    expect: list[str] | None = None,
    options: GradeOptions | None = None,
) -> dict[str, list[str]]:
    """Run the instructor's solutions once and keep them in ``folder`` (for a Gradescope image).

    Returns:
        lab -> the problems of its run (empty when it can serve as the reference).
    """
    options = options or GradeOptions(progress=False)
    labs = Path(labs)
    plans = {p.stem: load_plan(p) for p in find_labs(labs)}
    wanted = _expected(plans, expect)
    work = Path(tempfile.mkdtemp(prefix="lablib-reference-"))
    try:
        protected = _protected(labs, Path(folder), Path(folder), work)
        context = {
            "labs": str(labs.resolve()),
            "options": options.exec_options(),
            "protected": protected,
            "read": readable_paths(protected, options.extra_read),
        }
        results = run_jobs(
            [_reference_job(lab, work) for lab in wanted],
            _reference_safely,
            context,
            workers=options.workers,
            progress=False,
            hard_limit=options.timeout + 120,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _store_references(Path(folder), labs, results, options)
    return {r["lab"]: list(r.get("problems", [])) for r in results}


def _reference_job(lab: str, work: Path) -> dict[str, Any]:
    return {
        "lab": lab,
        "job_dir": str(work / f"reference-{lab}"),
        "error_row": {
            "lab": lab,
            "status": "error",
            "recordings": {},
            "problems": ["the reference run failed (its worker died or overran)"],
        },
    }


def _reference_safely(job: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    try:
        return reference_run(job, context)
    except Exception as exc:  # noqa: BLE001 - reported on every row of the lab
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {**job["error_row"], "problems": [f"grader error: {last}"]}


def _grade_safely(job: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    try:
        return grade_one(job, context)
    except Exception as exc:  # noqa: BLE001 - the grader reports, it never stops
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {**job["error_row"], "reason": f"grader error: {last}"}


# ---------------------------------------------------------------- the class


def _choose(
    student: str, lab: str, candidates: list[Candidate], root: Path
) -> tuple[Candidate | None, str, str, list[str]]:
    """Which file to grade for (student, lab): ``(candidate, status, reason, notes)``."""

    def rel(c: Candidate) -> str:
        return str(c.path.relative_to(root)) if c.path.is_relative_to(root) else c.path.name

    mine = [c for c in candidates if c.lab == lab]
    good = sorted(
        (c for c in mine if c.problem is None),
        key=lambda c: (c.how != "file name", c.mtime, c.path.name),
        reverse=True,
    )
    if good:
        notes = [
            f"also found '{rel(c)}' (older or less clearly this lab; not graded)" for c in good[1:]
        ]
        how = "" if good[0].how == "setup call" else f"recognized by its {good[0].how}"
        return good[0], "graded", "", ([how] if how else []) + notes
    if mine:
        newest = max(mine, key=lambda c: c.mtime)
        return None, "invalid", f"'{rel(newest)}': {newest.problem}", []
    wrong = [
        c for c in candidates if c.named == lab and c.lab and c.lab != lab and c.problem is None
    ]
    if wrong:
        c = wrong[0]
        return (
            None,
            "wrong_lab",
            f"'{rel(c)}' is a notebook for lab {c.lab} (its {c.how}), not {lab}",
            [],
        )
    unknown = [rel(c) for c in candidates if c.lab is None]
    extra = f"; files not recognized as a lab: {', '.join(unknown[:5])}" if unknown else ""
    return None, "missing", f"no notebook for {lab}{extra}", []


def _expected(plans: dict[str, LabPlan], expect: list[str] | None) -> list[str]:
    if not expect:
        return sorted(plans)
    labs = []
    for name in expect:
        found = [
            stem for stem in plans if stem == name or stem.startswith(f"{name}_") or name in stem
        ]
        if len(found) != 1:
            raise ValueError(
                f"--expect {name!r} names {len(found)} labs in labs/ "
                f"(have: {', '.join(sorted(plans))})"
            )
        labs.append(found[0])
    return sorted(set(labs))


def _protected(
    labs: Path, submissions: Path, out: Path, work: Path, *more: Path | None
) -> list[str]:
    """Folders no kernel may read: the labs, the submissions, the grades, the work folders,
    the repository, and ``more`` (the stored reference runs hold the hidden expected values)."""
    paths = [labs, submissions, out, work, *(m for m in more if m is not None)]
    for folder in [labs.resolve(), *labs.resolve().parents]:
        if (folder / ".git").exists() or (folder / "pyproject.toml").exists():
            paths.append(
                folder
            )  # the repository: build/autograder, release/, .git (its objects hold the labs too)
            break
    return sorted({os.path.realpath(p) for p in paths})


def grade(
    submissions: Path,
    out: Path,
    *,
    labs: Path = Path("labs"),
    expect: list[str] | None = None,
    options: GradeOptions | None = None,
) -> GradeReport:
    """Grade every student's notebooks into ``out``.

    Args:
        submissions: one folder per student (or loose files, see :mod:`lablib.grading.submissions`).
        out: where ``gradebook.csv``, ``scores.png`` and ``<student>/<lab>/`` go.
        labs: the instructor notebooks (with solutions and hidden tests).
        expect: the labs every student should have submitted (default: all in ``labs``).
        options: workers and limits.

    Returns:
        The :class:`GradeReport`; the gradebook has one row per student and expected lab.

    Raises:
        FileNotFoundError: no submissions folder or no lab notebooks.
        ValueError: ``expect`` names an unknown lab.
        lablib.grading.release.MarkerError: an instructor notebook has malformed markers.
    """
    options, start = options or GradeOptions(), time.monotonic()
    submissions, out, labs = Path(submissions), Path(out), Path(labs)
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    plans = {p.stem: load_plan(p) for p in find_labs(labs)}
    if not plans:
        raise FileNotFoundError(f"no lab notebooks (NN_name.ipynb) in {labs}")
    expected = _expected(plans, expect)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lablib-grade-"))
    try:
        protected = _protected(labs, submissions, out, work, options.references)
        context = {
            "labs": str(labs.resolve()),
            "options": options.exec_options(),
            "protected": protected,
            "read": readable_paths(protected, options.extra_read),
            "show_hidden": options.show_hidden,
        }
        rows, jobs = _plan_rows(
            find_candidates(submissions, plans), expected, plans, submissions, out, work
        )
        cache = GradeCache(out, labs, options, enabled=options.cache)
        reused, jobs = cache.split(jobs)
        needed = sorted({j["lab"] for j in jobs})
        folder = options.references or (out / CACHE_DIR / "reference" if options.cache else None)
        stored = _stored_references(folder, labs, needed, options)
        needed = [lab for lab in needed if lab not in stored]
        references = run_jobs(
            [_reference_job(lab, work) for lab in needed],
            _reference_safely,
            context,
            workers=min(options.workers, max(1, len(needed))),
            progress=False,
            hard_limit=options.timeout + 120,
        )
        _store_references(folder, labs, references, options)
        context["references"] = {**stored, **{r["lab"]: r for r in references if "lab" in r}}
        graded = run_jobs(
            jobs,
            _grade_safely,
            context,
            workers=options.workers,
            progress=options.progress,
            hard_limit=options.timeout + 120,
        )
        cache.store(jobs, graded)
        rows += reused + graded
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows.sort(key=lambda r: (r["student"], r["lab"]))
    gradebook = out / "gradebook.csv"
    with open(gradebook, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    plot = plot_scores(rows, out / "scores.png") if rows else None
    return GradeReport(rows, out, gradebook, plot, time.monotonic() - start, cache.stats)


def _plan_rows(
    students: dict[str, list[Candidate]],
    expected: list[str],
    plans: dict[str, LabPlan],
    root: Path,
    out: Path,
    work: Path,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows decided without running anything (missing, invalid, wrong lab) and the jobs to run."""
    rows, jobs, slugs = [], [], {}
    for student, candidates in sorted(students.items()):
        slug = _slug(student)
        slug = slugs.setdefault(
            student, slug if slug not in slugs.values() else f"{slug}-{len(slugs)}"
        )
        for lab in expected:
            chosen, status, reason, notes = _choose(student, lab, candidates, root)
            target = out / slug / lab
            if chosen is None:
                rows.append(_row(student, lab, plans[lab], status, reason))
                write_results(  # a missing notebook gets its results.json too (score 0)
                    target / "results.json",
                    [],
                    status=status,
                    reason=reason,
                    extra={"lab": lab, "student": student, "max_score": plans[lab].max_score},
                )
                write_feedback(
                    target / "feedback.html",
                    student=student,
                    lab=lab,
                    status=status,
                    reason=reason,
                    outcomes=[],
                )
                continue
            file = (
                str(chosen.path.relative_to(root))
                if chosen.path.is_relative_to(root)
                else chosen.path.name
            )
            error_row = _row(student, lab, plans[lab], "error", "", file=file)
            jobs.append(
                {
                    "student": student,
                    "lab": lab,
                    "path": str(chosen.path),
                    "file": file,
                    "notes": notes,
                    "out_dir": str(target),
                    "job_dir": str(work / f"job-{len(jobs):04d}"),
                    "error_row": error_row,
                }
            )
    return rows, jobs
