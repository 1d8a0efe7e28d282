"""Re-grading: reuse the verdicts of the submissions whose inputs did not change.

``lablib grade`` keeps one entry per (student, lab) in ``<out>/.cache/<student>/<lab>/``:
the gradebook row the job returned, a copy of the files it wrote (``results.json``,
``feedback.html``, ``executed.ipynb``, ...) and ``entry.json`` with the job's key. The key
is the SHA-256 of everything a verdict depends on:

* the submission file's bytes, and the path, student name and notes the row shows;
* the instructor notebook's bytes (setup, tests, hidden tests, solutions, points);
* the grading options that can change a verdict or the feedback: time limits, memory,
  output limit, Landlock, extra readable folders, showing hidden failures, and any option
  added later (all but :data:`NOT_VERDICT`: ``workers``, ``progress``, ``cache`` and
  ``references``, where the reference runs are kept);
* the grader: lablib's version, a hash of every ``.py`` file of the installed ``lablib``
  package (the grader, ``lablib.checks``, and the library code the labs' setup and demo
  cells run), ``data/MANIFEST.sha256``, and the versions of Python, NumPy, Keras,
  TensorFlow, ipykernel and nbclient.

When the key matches and every stored file still has its recorded hash, the files are
copied back into ``<out>/<student>/<lab>/`` and the row is reused; anything else (no
entry, another key, unreadable JSON, a missing or altered file) re-grades the notebook.

Not cached, so always re-graded: ``error`` rows (the grader failed; a re-run is the fix)
and ``timeout`` rows (a time limit depends on how busy the machine was, so a timeout is
the one verdict that is not the submission's alone; an endless loop costs at most one
``--cell-timeout`` per run). ``crashed`` and ``memory`` are cached: a segfault, ``exit()``
or a MemoryError under ``RLIMIT_AS`` come from the student's code, not from the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_DIR",
    "CACHED_STATUSES",
    "CacheStats",
    "GradeCache",
    "grader_fingerprint",
    "verdict_options",
]

CACHE_DIR = ".cache"  # under --out; student folders never start with a dot (see gradebook._slug)
CACHED_STATUSES = frozenset({"graded", "crashed", "memory", "invalid", "wrong_lab", "missing"})
#: GradeOptions fields left out of a key: how many at once, the display, the cache itself, and
#: where the reference runs are kept (those are keyed by the lab, the grader and the limits)
NOT_VERDICT = frozenset({"workers", "progress", "cache", "references"})
_ENTRY = "entry.json"
_FORMAT = 1  # bump when the layout of entry.json changes
_PACKAGES = ("numpy", "keras", "tensorflow", "ipykernel", "nbclient", "jupyter_client")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@lru_cache(maxsize=1)
def grader_fingerprint() -> dict[str, str]:
    """What identifies the grader and the code the labs run: changes with any lablib edit."""
    import lablib

    package = Path(lablib.__file__).resolve().parent
    sources = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        sources.update(str(path.relative_to(package)).encode() + b"\0")
        sources.update(path.read_bytes() + b"\0")
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "none"
    try:
        from lablib.datasets import fallback

        manifest = fallback.data_dir() / fallback.MANIFEST
        data = _sha256_file(manifest) if manifest.is_file() else "none"
    except Exception:  # noqa: BLE001 - no data folder is a state like any other
        data = "none"
    return {
        "lablib": lablib.__version__,
        "sources": sources.hexdigest(),
        "data": data,
        "versions": _sha256_json(versions),
    }


def verdict_options(options: Any) -> dict[str, Any]:
    """The grading options that can change a verdict (a dataclass such as ``GradeOptions``)."""
    if is_dataclass(options):
        values = {f.name: getattr(options, f.name) for f in fields(options)}
    else:
        values = dict(options)
    return {k: v for k, v in sorted(values.items()) if k not in NOT_VERDICT}


@dataclass
class CacheStats:
    """What the cache did in one run."""

    folder: Path | None  # None: the cache was off
    reused: list[tuple[str, str]] = field(default_factory=list)  # (student, lab) from the cache
    graded: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, lab) -> why run
    stored: int = 0

    def line(self) -> str:
        """``"12 notebook(s) graded now, 88 reused from the cache (out/.cache); ..."``."""
        if self.folder is None:
            return f"{len(self.graded)} notebook(s) graded now (cache off)"
        why = Counter(self.graded.values())
        because = ", ".join(f"{reason} {n}" for reason, n in why.most_common())
        return (
            f"{len(self.graded)} notebook(s) graded now, {len(self.reused)} reused from the "
            f"cache ({self.folder})" + (f"; graded because: {because}" if because else "")
        )


class GradeCache:
    """The cache of one ``--out`` folder.

    Args:
        out: the grading output folder; entries live in ``out/.cache``.
        labs: the instructor notebooks (``<labs>/<lab>.ipynb`` is part of each key).
        options: the grading options (a dataclass; see :func:`verdict_options`).
        enabled: False: look nothing up (every job is graded) but still store the results,
            so the next run can reuse them.
    """

    def __init__(self, out: Path, labs: Path, options: Any, *, enabled: bool = True) -> None:
        self.out, self.labs, self.enabled = Path(out), Path(labs), enabled
        self.folder = self.out / CACHE_DIR
        self.stats = CacheStats(self.folder if enabled else None)
        self._common = {
            "format": _FORMAT,
            "options": _sha256_json(verdict_options(options)),
            **grader_fingerprint(),
        }
        self._labs: dict[str, str] = {}
        self._keys: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}

    # ------------------------------------------------------------------ keys

    def _lab_hash(self, lab: str) -> str:
        if lab not in self._labs:
            self._labs[lab] = _sha256_file(self.labs / f"{lab}.ipynb")
        return self._labs[lab]

    def parts(self, job: dict[str, Any]) -> dict[str, str]:
        """The hashes that make up a job's key (each part named, so a miss can say why)."""
        return {
            **self._common,
            "submission": _sha256_file(Path(job["path"])),
            "lab": self._lab_hash(job["lab"]),
            "job": _sha256_json(
                [job["student"], job["lab"], job["file"], list(job.get("notes", []))]
            ),
        }

    def key(self, job: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """``(key, parts)`` for a job (computed once per job and run)."""
        ident = (job["student"], job["lab"])
        if ident not in self._keys:
            parts = self.parts(job)
            self._keys[ident] = (_sha256_json(parts), parts)
        return self._keys[ident]

    def entry_dir(self, job: dict[str, Any]) -> Path:
        """Where a job's entry lives: ``.cache/<student folder>/<lab>``, as in ``out``."""
        target = Path(job["out_dir"]).resolve()
        try:
            relative = target.relative_to(self.out.resolve())
        except ValueError:
            relative = Path(_sha256_json(str(target))[:16])
        return self.folder / relative

    # ------------------------------------------------------------------ look up

    def split(
        self, jobs: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``(rows reused from the cache, jobs to grade)``; reused files are copied back."""
        rows, todo = [], []
        for job in jobs:
            ident = (job["student"], job["lab"])
            if not self.enabled:
                self.stats.graded[ident] = "cache off"
                todo.append(job)
                continue
            try:
                row, why = self._lookup(job)
            except OSError as exc:  # an unreadable submission or lab: let the grader report it
                row, why = None, f"cache not usable ({type(exc).__name__})"
            if row is None:
                self.stats.graded[ident] = why
                todo.append(job)
            else:
                self.stats.reused.append(ident)
                rows.append(row)
        return rows, todo

    def _lookup(self, job: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """The cached row for ``job`` (its files restored) or ``(None, why it must be graded)``."""
        entry = self.entry_dir(job)
        key, parts = self.key(job)
        try:
            stored = json.loads((entry / _ENTRY).read_text())
        except FileNotFoundError:
            return None, "new"
        except (OSError, ValueError):
            return None, "unreadable cache entry"
        if not isinstance(stored, dict):
            return None, "unreadable cache entry"
        if stored.get("key") != key:
            old = stored.get("parts") if isinstance(stored.get("parts"), dict) else {}
            changed = [name for name in parts if old.get(name) != parts[name]]
            return None, _changed(changed)
        row, files = stored.get("row"), stored.get("files")
        if row is None and isinstance(stored.get("not_cached"), str):
            return None, f"{stored['not_cached']} last time"
        if (
            not isinstance(row, dict)
            or row.get("student") != job["student"]
            or row.get("lab") != job["lab"]
            or not isinstance(files, dict)
        ):
            return None, "unreadable cache entry"
        for name, digest in files.items():
            path = entry / "files" / name
            if (
                not _inside(path, entry / "files")
                or not path.is_file()
                or _sha256_file(path) != digest
            ):
                return None, "damaged cache entry"
        target = Path(job["out_dir"])
        for name in files:
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry / "files" / name, destination)
        return row, "reused"

    # ------------------------------------------------------------------ store

    def store(self, jobs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        """Save the rows just graded (and the files their jobs wrote) for the next run.

        ``error`` and ``timeout`` rows leave a marker instead, so the next run says why it
        grades them again. A failure to write the cache never fails the grading run.
        """
        by_ident = {(r.get("student"), r.get("lab")): r for r in rows}
        for job in jobs:
            row = by_ident.get((job["student"], job["lab"]))
            if row is None:
                continue
            try:
                self._store(job, row)
            except OSError:
                shutil.rmtree(self.entry_dir(job), ignore_errors=True)

    def _store(self, job: dict[str, Any], row: dict[str, Any]) -> None:
        key, parts = self.key(job)
        entry = self.entry_dir(job)
        temporary = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
        record: dict[str, Any] = {"key": key, "parts": parts}
        status = row.get("status")
        try:
            shutil.rmtree(temporary, ignore_errors=True)
            (temporary / "files").mkdir(parents=True)
            if status in CACHED_STATUSES:
                record.update(row=row, files=_copy_files(Path(job["out_dir"]), temporary / "files"))
            else:
                record.update(row=None, not_cached=_NOT_CACHED.get(status, f"status {status}"))
            (temporary / _ENTRY).write_text(json.dumps(record, indent=1, default=str) + "\n")
            shutil.rmtree(entry, ignore_errors=True)
            os.replace(temporary, entry)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        if record["row"] is not None:
            self.stats.stored += 1


def _copy_files(source: Path, target: Path) -> dict[str, str]:
    """Copy every plain file under ``source`` to ``target``; ``{relative name: sha256}``."""
    files = {}
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        if path.is_file() and not path.is_symlink():
            name = path.relative_to(source).as_posix()
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / name)
            files[name] = _sha256_file(target / name)
    return files


_NOT_CACHED = {"timeout": "timed out", "error": "grader error"}
_PART_NAMES = {
    "submission": "submission changed",
    "lab": "lab changed",
    "options": "limits changed",
    "job": "file or notes changed",
    "format": "grader changed",
    "lablib": "grader changed",
    "sources": "grader changed",
    "data": "grader changed",
    "versions": "grader changed",
}


def _changed(names: list[str]) -> str:
    """A miss's reason: the first changed part, most telling first."""
    for name in ("lablib", "sources", "versions", "data", "format", "options", "lab"):
        if name in names:
            return _PART_NAMES[name]
    for name in names:
        return _PART_NAMES.get(name, f"{name} changed")
    return "unreadable cache entry"


def _inside(path: Path, folder: Path) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)
