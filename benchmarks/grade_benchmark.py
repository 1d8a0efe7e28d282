"""Time the autograder against plain nbclient on a class of lab 01 submissions.

Makes ``--n`` submissions of a lab (its solution, filled into the released notebook, as a
student hands it in), then:

1. **plain**: executes each submission file as it is with nbclient (``lablib.runner.
   execute_notebook``: one fresh kernel, quick profile, offline, ``allow_errors``), in
   ``--workers`` processes, no sandbox, no rebuild, no hidden tests, no feedback;
2. **grade**: ``lablib.grading.grade`` on the same folder with ``--workers`` workers:
   identify, rebuild with hidden tests, sandboxed kernel, per-test scoring, results.json,
   feedback.html, executed.ipynb, gradebook and plot.

It prints both totals and the grader's overhead per notebook,
``(grade total - plain total) * workers / n``, plus the mean time a job spends in its
kernel as each side measures it. Both runs share the machine's cores, so run it on a
quiet machine and compare numbers from the same run.

Usage:
    python benchmarks/grade_benchmark.py                    # 20 submissions of lab 01, 2 workers
    python benchmarks/grade_benchmark.py --n 6 --workers 2  # a quicker look
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
os.environ.update(
    LABLIB_PROFILE="quick", LABLIB_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg"
)  # as the grader

from lablib.grading import GradeOptions, grade  # noqa: E402
from lablib.grading.markers import BEGIN_SOLUTION, END_SOLUTION  # noqa: E402
from lablib.grading.release import release_notebook  # noqa: E402


def solved(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release of ``nb`` with the solutions filled in
    (what a student who solved it all submits)."""
    student, tests = release_notebook(nb)
    test_cells = {t.cell for t in tests}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and BEGIN_SOLUTION in cell.source and index not in test_cells:
            student.cells[index].source = "\n".join(
                line
                for line in cell.source.split("\n")
                if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
            )
    return student


def plain_run(path: str) -> tuple[float, str | None]:
    """One notebook through plain nbclient; (wall seconds, first error)."""
    from lablib.runner import execute_notebook

    _, seconds, error = execute_notebook(
        Path(path), timeout=600, profile="quick", allow_errors=True
    )
    return seconds, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", default="01_convolution_filters")
    parser.add_argument("--n", type=int, default=20, help="submissions")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--keep", action="store_true", help="keep the submissions and grades (printed path)"
    )
    args = parser.parse_args()

    source = ROOT / "labs" / f"{args.lab}.ipynb"
    base = Path(tempfile.mkdtemp(prefix="grade-benchmark-"))
    (base / "labs").mkdir()
    nbformat.write(nbformat.read(source, as_version=4), base / "labs" / source.name)
    notebook = solved(nbformat.read(source, as_version=4))
    paths = []
    for i in range(args.n):
        folder = base / "submissions" / f"student{i:02d}"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"Copy of {source.name}")
        paths.append(str(folder / f"Copy of {source.name}"))

    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        plain = list(pool.map(plain_run, paths))
    plain_total = time.perf_counter() - start
    errors = [e for _, e in plain if e]

    report = grade(
        base / "submissions",
        base / "out",
        labs=base / "labs",
        options=GradeOptions(workers=args.workers, progress=True),
    )
    rows = report.rows
    job_seconds = [float(r["seconds"]) for r in rows if r["seconds"]]
    overhead = (report.seconds - plain_total) * args.workers / args.n

    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; {args.n} submissions of {args.lab}, "
        f"{args.workers} workers"
    )
    print(
        f"plain nbclient : total {plain_total:6.1f} s, "
        f"per notebook {statistics.mean(s for s, _ in plain):5.1f} s "
        f"(errors: {len(errors)})"
    )
    print(
        f"lablib grade   : total {report.seconds:6.1f} s, "
        f"per notebook in its kernel {statistics.mean(job_seconds):5.1f} s; "
        f"statuses {dict(report.counts)}; "
        f"scores {sorted({r['score'] for r in rows})} / {rows[0]['max_score']}"
    )
    print(
        f"overhead       : {overhead:+.1f} s per notebook "
        f"((grade total - plain total) x workers / n), "
        f"{100 * (report.seconds / plain_total - 1):+.0f}% in total"
    )
    if args.keep:
        print(f"outputs in {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
