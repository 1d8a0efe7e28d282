"""pytest plugin (``-p lablib.pytest_plugin``): write each notebook's wall time to
``build/timings.csv`` (columns ``lab,profile,seconds,cells,failed``).

nbval runs a notebook as one test item per cell; the plugin sums the items' setup,
call and teardown durations per file, which includes the kernel start. Under
pytest-xdist every report reaches the controller, which alone writes the file (run with
``--dist loadfile`` so that a notebook's cells stay in one worker, in order).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

_seconds: dict[str, float] = defaultdict(float)
_cells: dict[str, set[str]] = defaultdict(set)
_failed: dict[str, int] = defaultdict(int)


def pytest_runtest_logreport(report) -> None:
    path = report.nodeid.split("::", 1)[0]
    if not path.endswith(".ipynb"):
        return
    _seconds[path] += report.duration
    _cells[path].add(report.nodeid)
    _failed[path] += int(report.failed)


def pytest_sessionfinish(session, exitstatus) -> None:
    if not _seconds or hasattr(session.config, "workerinput"):  # an xdist worker: not the writer
        return
    out = Path(session.config.rootpath) / "build" / "timings.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = os.environ.get("LABLIB_PROFILE", "auto")
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["lab", "profile", "seconds", "cells", "failed"])
        for path in sorted(_seconds):
            writer.writerow(
                [
                    Path(path).stem,
                    profile,
                    f"{_seconds[path]:.1f}",
                    len(_cells[path]),
                    _failed[path],
                ]
            )
