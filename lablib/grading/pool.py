"""A small process pool for grading: one job at a time per worker, killed when it overruns.

``multiprocessing.Pool`` and ``concurrent.futures`` cannot kill one stuck job without
losing the pool; here each worker is a spawned process with its own pipe, a job whose
worker dies is retried once, and a job past its hard limit is killed with the kernels it
started.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter, deque
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable

__all__ = ["run_jobs"]

Handler = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def _worker_main(conn: Any, handler: Handler, context: dict[str, Any]) -> None:
    """A worker process: run ``handler`` on the jobs it is sent until it gets None."""
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        conn.send(handler(job, context))


class _Worker:
    def __init__(self, ctx: Any, handler: Handler, context: dict[str, Any]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, handler, context), daemon=True)
        self.process.start()
        child.close()
        self.job: dict[str, Any] | None = None
        self.started = 0.0

    def submit(self, job: dict[str, Any]) -> None:
        self.job, self.started = job, time.monotonic()
        self.conn.send(job)

    def kill(self) -> None:
        """Stop this worker and the kernels it started (they run in their own sessions)."""
        import signal

        for pid_file in Path(self.job["job_dir"]).glob("kernel-*.pid") if self.job else []:
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        self.process.kill()
        self.process.join(5)


def run_jobs(
    jobs: list[dict[str, Any]],
    handler: Handler,
    context: dict[str, Any],
    *,
    workers: int,
    progress: bool,
    hard_limit: float,
) -> list[dict[str, Any]]:
    """Run ``handler(job, context)`` on ``jobs`` in ``workers`` processes; one row per job.

    ``handler`` must be a module-level function (the workers are spawned) that returns a
    row and never raises. Each job carries an ``error_row`` (the row to report if its
    worker dies twice or overruns ``hard_limit`` seconds) and its ``job_dir`` (where the
    kernels it starts leave ``kernel-*.pid`` files, so a killed worker's kernels die too).
    """
    if not jobs:  # e.g. every row came from the cache: start no worker
        return []
    from tqdm.auto import tqdm

    ctx = multiprocessing.get_context("spawn")
    pending, rows, pool = deque(jobs), [], []
    bar = tqdm(total=len(jobs), desc="grading", unit="notebook", disable=not progress)
    try:
        pool = [_Worker(ctx, handler, context) for _ in range(max(1, min(workers, len(jobs))))]
        while pending or any(w.job for w in pool):
            for worker in pool:
                if worker.job is None and pending:
                    worker.submit(pending.popleft())
            busy = [w for w in pool if w.job]
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0)
            for i, worker in enumerate(pool):
                row = _collect(worker, pending, hard_limit)
                if row is not None:
                    rows.append(row)
                    bar.update(1)
                    bar.set_postfix_str(
                        ", ".join(f"{k} {v}" for k, v in Counter(r["status"] for r in rows).items())
                    )
                if worker.job is None and pending and not worker.process.is_alive():
                    pool[i] = _Worker(ctx, handler, context)
    finally:
        bar.close()
        for worker in pool:
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.process.join(5)
            if worker.process.is_alive():
                worker.kill()
    return rows


def _collect(worker: _Worker, pending: deque, hard_limit: float) -> dict[str, Any] | None:
    """The row ``worker`` finished, if any; handles a dead or overrunning worker."""
    job = worker.job
    if job is None:
        return None
    if worker.conn.poll():
        try:
            row = worker.conn.recv()
            worker.job = None
            return row
        except (EOFError, OSError):
            pass
    overrun = time.monotonic() - worker.started > hard_limit
    if worker.process.is_alive() and not overrun:
        return None
    worker.kill()
    worker.job = None
    if overrun:
        return {
            **job["error_row"],
            "status": "timeout",
            "reason": f"grading took longer than {hard_limit:.0f} s; stopped",
        }
    if not job.get("retried"):
        pending.appendleft({**job, "retried": True})
        return None
    return {
        **job["error_row"],
        "reason": (
            f"grader error: the worker process died twice (exit code {worker.process.exitcode})"
        ),
    }
