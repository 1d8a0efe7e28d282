"""Throughput of the autograder: plain nbclient vs ``lablib grade`` with 1 and 2 workers.

Makes a class of ``--n`` submissions of one lab from its released notebook (half with the
solutions filled in, half blank stubs, two in fifty broken: a syntax error, an exception;
each file unique, so no two cache keys collide), then times the ways through the class:

a. **plain**: each submission as it is, in a fresh ``python3`` kernel driven by
   ``nbclient.NotebookClient`` (quick profile, offline, ``allow_errors``, the kernel shut
   down at once as the grader does), one after the other: the floor (no sandbox, no
   rebuild, no hidden tests, no reference run of the solution, no feedback);
b. **grade, 1 worker**: ``lablib.grading.grade`` on the folder, ``workers=1``, cache off;
c. **grade, N workers**: the same with ``--workers`` (default 2), cache off;
d. **cached**: (c) again into the same folder with the cache on: every row reused
   (what a re-run costs when nothing changed; needs (c)).

It prints seconds per submission for each and two ratios, grader overhead = b / a
(target <= 1.2) and speed-up = b / c (target >= 1.7 with 2 workers), plus the load
average around each phase (numbers from a busy machine say little), and writes
``build/grade_benchmark.json`` and ``build/grade_benchmark.csv``.

Usage (from the repository root):
    .venv/bin/python benchmarks/grade_benchmark.py                 # 100 x lab 01
    .venv/bin/python benchmarks/grade_benchmark.py --n 6           # a quick look
    .venv/bin/python benchmarks/grade_benchmark.py --lab 99 --n 20 # the autograder's test lab
    .venv/bin/python benchmarks/grade_benchmark.py --phases plain grade1
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat

from lablib.grading import GradeOptions, grade
from lablib.grading.markers import BEGIN_SOLUTION, END_SOLUTION
from lablib.grading.release import release_notebook

ROOT = Path(__file__).resolve().parents[1]
QUICK_ENV = dict(
    LABLIB_PROFILE="quick",
    LABLIB_OFFLINE="1",
    TF_CPP_MIN_LOG_LEVEL="2",
    MPLBACKEND="Agg",
    PYTHONDONTWRITEBYTECODE="1",
)  # what the grader gives its kernels (lablib.grading.execute.Sandbox.prepare)

PHASES = ("plain", "grade1", "gradeN", "cached")
LAB_FOLDERS = (ROOT / "labs", ROOT / "tests" / "fixtures" / "grading" / "labs")


def find_lab(name: str) -> Path:
    """``--lab``: a path, a lab's name, or its number (in labs/, then the grading fixtures)."""
    if Path(name).is_file():
        return Path(name)
    for folder in LAB_FOLDERS:
        found = sorted(
            p
            for p in folder.glob("[0-9][0-9]_*.ipynb")
            if p.stem == name or p.stem.startswith(f"{name}_") or p.stem.startswith(name)
        )
        if found:
            return found[0]
    raise SystemExit(f"no lab {name!r} in {', '.join(str(f) for f in LAB_FOLDERS)}")


def variants(instructor: nbformat.NotebookNode, n: int) -> list[tuple[str, Any]]:
    """``n`` submissions ``(kind, notebook)``: even ones solved, odd ones blank, and two in
    fifty (5, 7, 55, 57) solved but broken in their first exercise."""
    student, tests = release_notebook(instructor)
    test_cells = {t.cell for t in tests}
    exercises = [
        i
        for i, cell in enumerate(instructor.cells)
        if cell.cell_type == "code" and BEGIN_SOLUTION in cell.source and i not in test_cells
    ]
    solutions = {
        i: "\n".join(
            line
            for line in instructor.cells[i].source.split("\n")
            if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
        )
        for i in exercises
    }
    out = []
    for k in range(n):
        nb = nbformat.from_dict(json.loads(json.dumps(student)))
        kind = "solved" if k % 2 == 0 or k % 50 in (5, 7) else "blank"
        if kind == "solved":
            for i in exercises:
                nb.cells[i].source = solutions[i]
        if k % 50 == 5:  # 5, 55: solved, but a syntax error in the first exercise
            kind, first = "broken", exercises[0]
            nb.cells[first].source = solutions[first] + "\n\ndef oops(:\n    pass"
        elif k % 50 == 7:  # 7, 57: solved, but the first exercise raises
            kind, first = "broken", exercises[0]
            lines = solutions[first].split("\n")
            body = next(j for j, line in enumerate(lines) if line.startswith("    ") and j)
            lines.insert(body, "    raise ZeroDivisionError('a bug')")
            nb.cells[first].source = "\n".join(lines)
        nb.cells.append(nbformat.v4.new_markdown_cell(f"Submitted by student{k:03d} ({kind})."))
        out.append((kind, nb))
    return out


def run_plain(paths: list[Path], cell_timeout: float, scratch: Path) -> list[float]:
    """(a): each notebook in a fresh kernel with nbclient, sequentially; wall seconds each."""
    from nbclient import NotebookClient

    env = {**os.environ, **QUICK_ENV}
    seconds = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cwd = scratch / path.parent.name
        cwd.mkdir(parents=True, exist_ok=True)
        client = NotebookClient(
            nb,
            timeout=int(cell_timeout),
            kernel_name="python3",
            allow_errors=True,
            shutdown_kernel="immediate",  # as the grader; nbclient's graceful default adds ~3 s
            resources={"metadata": {"path": str(cwd)}},
        )
        start = time.perf_counter()
        client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; the summary that goes to ``--results``.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", default="01_convolution_filters", help="name, number or path")
    parser.add_argument("--n", type=int, default=100, help="submissions in the class")
    parser.add_argument("--workers", type=int, default=2, help="workers of phase (c)")
    parser.add_argument("--phases", nargs="*", choices=PHASES, default=list(PHASES))
    parser.add_argument("--cell-timeout", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--results", default="build/grade_benchmark", help="JSON/CSV prefix")
    parser.add_argument(
        "--twice",
        action="store_true",
        help="run the phases in order, then in reverse, and average each phase's totals "
        "(cancels a load that rises or falls steadily during the run)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the class and its grades")
    args = parser.parse_args(argv)
    os.environ.update(QUICK_ENV)

    source = find_lab(args.lab)
    base = Path(tempfile.mkdtemp(prefix="grade-benchmark-"))
    labs, subs = base / "labs", base / "submissions"
    labs.mkdir()
    shutil.copy(source, labs / source.name)
    kinds, paths = {}, []
    for k, (kind, nb) in enumerate(variants(nbformat.read(source, as_version=4), args.n)):
        path = subs / f"student{k:03d}" / f"Copy of {source.name}"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        kinds[path.parent.name], paths = kind, [*paths, path]
    print(f"{args.n} submissions of {source.stem} ({dict(Counter(kinds.values()))}) in {subs}")

    started = uptime()
    phases: list[dict[str, Any]] = []
    order = [p for p in PHASES if p in args.phases]
    for number, phase in enumerate(order + (order[::-1] if args.twice else [])):
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        record: dict[str, Any] = {"phase": phase, "run": number + 1, "reused": 0}
        if phase == "plain":
            each = run_plain(paths, args.cell_timeout, base / "plain")
            record.update(workers=1, in_kernel=statistics.mean(each), statuses="")
        else:
            workers = 1 if phase == "grade1" else args.workers
            report = grade(
                subs,
                base / f"out-{'gradeN' if phase == 'cached' else phase}",
                labs=labs,
                options=GradeOptions(
                    workers=workers,
                    timeout=args.timeout,
                    cell_timeout=args.cell_timeout,
                    progress=False,
                    cache=phase == "cached",
                ),
            )
            scores = Counter((kinds[r["student"]], r["score"], r["status"]) for r in report.rows)
            record.update(
                reused=len(report.cache.reused) if report.cache else 0,
                workers=workers,
                in_kernel=0.0  # the rows' seconds are those of the run that graded them
                if phase == "cached"
                else statistics.mean(float(r["seconds"] or 0) for r in report.rows),
                statuses=" ".join(f"{s}:{c}" for s, c in sorted(report.counts.items())),
                scores={f"{k}/{s}/{st}": c for (k, s, st), c in sorted(scores.items())},
            )
        total = time.perf_counter() - start
        record.update(
            total=total,
            per_submission=total / args.n,
            load_before=load_before,
            load_after=os.getloadavg()[0],
        )
        phases.append(record)
        print(
            f"  {phase:7s} {record['workers']} worker(s): {total:7.1f} s, "
            f"{record['per_submission']:5.2f} s/submission "
            f"(load {load_before:.1f} -> {record['load_after']:.1f})",
            flush=True,
        )

    by = {
        name: statistics.mean(p["total"] for p in phases if p["phase"] == name) for name in order
    }  # mean total per phase
    ratios = {}
    if "plain" in by and "grade1" in by:
        ratios["overhead"] = by["grade1"] / by["plain"]
    if "grade1" in by and "gradeN" in by:
        ratios["speedup"] = by["grade1"] / by["gradeN"]
    summary = {
        "lab": source.stem,
        "n": args.n,
        "workers": args.workers,
        "kinds": dict(Counter(kinds.values())),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "uptime_before": started,
        "uptime_after": uptime(),
        "phases": phases,
        "mean_total": by,
        "ratios": ratios,
        "targets": {"overhead": "<= 1.2", "speedup": f">= 1.7 (with {args.workers} workers)"},
    }

    print(f"\n{source.stem}, n={args.n}; {summary['machine']}")
    print(f"before: {started}\nafter:  {summary['uptime_after']}\n")
    print(f"{'phase':8s} {'workers':>7s} {'total s':>9s} {'s/sub':>7s} {'in kernel':>9s}  statuses")
    for p in phases:
        print(
            f"{p['phase']:8s} {p['workers']:7d} {p['total']:9.1f} {p['per_submission']:7.2f} "
            f"{p['in_kernel']:9.2f}  {p['statuses']}"
            + (f" ({p['reused']} reused)" if p["reused"] else "")
        )
    print("mean s/submission: " + ", ".join(f"{k} {v / args.n:.2f}" for k, v in by.items()))
    if "overhead" in ratios:
        print(f"grader overhead (b)/(a) = {ratios['overhead']:.2f}x (target <= 1.2x)")
    if "speedup" in ratios:
        print(
            f"speed-up (b)/(c)        = {ratios['speedup']:.2f}x "
            f"(target >= 1.7x with {args.workers} workers)"
        )
    for p in phases:
        if p.get("scores"):
            print(f"{p['phase']} scores (kind/score/status: count): {p['scores']}")

    prefix = ROOT / args.results if not Path(args.results).is_absolute() else Path(args.results)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    with open(prefix.with_suffix(".csv"), "w", newline="") as f:
        columns = ["lab", "n", "run", "phase", "workers", "total", "per_submission", "in_kernel"]
        columns += ["reused", "load_before", "load_after", "statuses"]
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for p in phases:
            writer.writerow({"lab": source.stem, "n": args.n, **p})
    print(f"wrote {prefix.with_suffix('.json')} and {prefix.with_suffix('.csv')}")
    if args.keep:
        print(f"class and grades kept in {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return summary


if __name__ == "__main__":
    main()
