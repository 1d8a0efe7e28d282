"""Execute lab notebooks with nbclient (``lablib run``): one fresh kernel per lab, outputs
kept in ``build/executed/``, wall time per lab in ``build/run_timings.csv``."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from lablib.course import find_labs

__all__ = ["execute_notebook", "run_labs"]


def execute_notebook(
    path: Path,
    out: Path | None = None,
    *,
    timeout: int = 600,
    profile: str | None = None,
    allow_errors: bool = False,
) -> tuple[nbformat.NotebookNode, float, str | None]:
    """Run one notebook top to bottom in a fresh kernel.

    Args:
        path: the notebook.
        out: where to write the executed notebook (None: don't write).
        timeout: seconds per cell.
        profile: sets ``LABLIB_PROFILE`` for the kernel (None: inherit).
        allow_errors: keep going past failing cells.

    Returns:
        ``(executed notebook, wall seconds, error or None)``; the error is the first
        failing cell's exception name and message.
    """
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, **({"LABLIB_PROFILE": profile} if profile else {}))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    start, error = time.perf_counter(), None
    try:
        client.execute(env=env)  # passed on to the kernel manager's start_kernel(env=...)
    except CellExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    elapsed = time.perf_counter() - start
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return nb, elapsed, error


def _matches(stem: str, wanted: str) -> bool:
    """``"10"`` or ``"1"`` picks lab 10 / 01 by number; other text matches part of the name."""
    if wanted.isdigit():
        return stem.split("_", 1)[0] == wanted.zfill(2)
    return wanted in stem


def run_labs(
    labs: Path,
    out: Path,
    *,
    only: list[str] | None = None,
    timeout: int = 600,
    profile: str | None = None,
) -> list[tuple[str, float, str | None]]:
    """Execute every lab (or those ``only`` names: by number, or by part of the name)
    into ``out``."""
    from tqdm.auto import tqdm

    paths = [p for p in find_labs(labs) if not only or any(_matches(p.stem, o) for o in only)]
    if not paths:
        raise FileNotFoundError(f"no lab notebooks matching {only or '*'} in {labs}")
    results = []
    for path in tqdm(paths, desc="labs", unit="lab"):
        _, seconds, error = execute_notebook(
            path, Path(out) / path.name, timeout=timeout, profile=profile
        )
        results.append((path.stem, seconds, error))
        tqdm.write(
            f"{path.stem}: {seconds:.1f} s"
            + (f"  FAILED {error.splitlines()[0][:200]}" if error else "")
        )
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out).parent / "run_timings.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [
                ("lab", "profile", "seconds", "status"),
                *[
                    (
                        lab,
                        profile or os.environ.get("LABLIB_PROFILE", "auto"),
                        f"{s:.1f}",
                        "error" if e else "ok",
                    )
                    for lab, s, e in results
                ],
            ]
        )
    return results
