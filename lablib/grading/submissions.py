"""Find and identify the notebooks in a folder of submissions.

Layout: one folder per student (any name: an LMS's ``Jane Doe_1234_assignsubmission``
is fine), holding that student's notebooks, at any depth; files directly in the
submissions folder are also accepted (Canvas-style ``doejane_1234_01_lab.ipynb``: the
student is the name without the lab). Hidden files and folders (``.ipynb_checkpoints``),
``__MACOSX`` and symbolic links are skipped.

A notebook's lab is read from its content, because Colab renames files to
``Copy of ...`` and LMS downloads add suffixes: first the setup call
(``lablib.setup("01_convolution_filters"``), then the file name, then the exercise
functions it defines. Every problem with a file (empty, malformed JSON, not a notebook)
is kept as a sentence for the gradebook, never raised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from lablib.course import LAB_NAME_PATTERN
from lablib.grading.plan import LabPlan, defined_names

__all__ = ["Candidate", "read_notebook", "find_candidates", "code_sources", "MAX_BYTES"]

MAX_BYTES = 50 * 2**20
SETUP_CALL = re.compile(rf"""\bsetup\s*\(\s*(?:lab\s*=\s*)?["']({LAB_NAME_PATTERN})["']""")
_SKIP = ("__MACOSX",)


@dataclass
class Candidate:
    """A file in a student's submission, and what it was found to be."""

    path: Path
    student: str
    lab: str | None = None  # the lab it holds (None: unknown)
    how: str = ""  # "setup call", "file name", "exercise names"
    named: str | None = None  # the lab its file name points to
    problem: str | None = None  # why it cannot be graded (None: a readable notebook)
    mtime: float = 0.0
    sources: list[str] = field(default_factory=list, repr=False)


def code_sources(raw: dict) -> list[str]:
    """The code cells' text of a notebook given as parsed JSON (tolerant of odd shapes)."""
    cells = raw.get("cells")
    if cells is None and raw.get("worksheets"):  # nbformat 3
        cells = [c for w in raw["worksheets"] for c in w.get("cells", [])]
        for c in cells:
            c.setdefault("source", c.get("input", ""))
    sources = []
    for cell in cells or []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


def read_notebook(path: Path) -> tuple[list[str] | None, str | None]:
    """``(code cell sources, None)`` for a readable notebook, else ``(None, what is wrong)``."""
    try:
        size = path.stat().st_size
        if size == 0:
            return None, "empty file (0 bytes)"
        if size > MAX_BYTES:
            return (
                None,
                f"file too large for a notebook ({size / 2**20:.0f} MB; "
                f"the limit is {MAX_BYTES // 2**20} MB)",
            )
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror or exc})"
    for magic, kind in [
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a zip archive (.zip/.docx)"),
        (b"\x89PNG", "a PNG image"),
    ]:
        if data.startswith(magic):
            return None, f"not a notebook: the file is {kind}"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not a notebook: the file is binary, not text"
    if not text.strip():
        return None, "empty file (only whitespace)"
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        if not text.lstrip().startswith(("{", "[")):
            return None, "not a notebook: the file is plain text or a script, not notebook JSON"
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        return None, f"malformed JSON{where}: the notebook file is damaged or was cut short"
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        return None, "not a notebook: valid JSON, but without notebook cells"
    try:
        nbformat.reads(text, as_version=4)
    except Exception:  # noqa: BLE001 - schema problems: still usable if the cells can be read
        pass
    try:
        return code_sources(raw), None
    except (TypeError, AttributeError) as exc:
        return None, f"not a notebook: its cells cannot be read ({exc})"


def _lab_from_name(name: str, plans: dict[str, LabPlan]) -> str | None:
    lowered = name.lower().replace(" ", "_").replace("-", "_")
    found = sorted((stem for stem in plans if stem in lowered), key=len, reverse=True)
    if found:
        return found[0]
    number = re.match(r"(?:copy_of_)?(?:lab_?)?(\d{2})(?:_|\.|\(|$)", lowered)
    matches = [stem for stem in plans if number and stem.startswith(number.group(1) + "_")]
    return matches[0] if len(matches) == 1 else None


def _lab_from_content(sources: list[str], plans: dict[str, LabPlan]) -> tuple[str | None, str]:
    for source in sources:
        found = SETUP_CALL.search(source)
        if found:
            return found.group(1), "setup call"
    names = frozenset().union(*(defined_names(s) for s in sources)) if sources else frozenset()
    best = max(
        plans.values(),
        key=lambda p: len(names & frozenset().union(*(e.names for e in p.exercises))),
        default=None,
    )
    if best is not None and best.exercises:
        wanted = frozenset().union(*(e.names for e in best.exercises))
        if len(names & wanted) * 2 >= len(wanted):
            return best.lab, "exercise names"
    return None, ""


def _candidate(path: Path, student: str, plans: dict[str, LabPlan]) -> Candidate:
    candidate = Candidate(path, student, named=_lab_from_name(path.name, plans))
    try:
        candidate.mtime = path.stat().st_mtime
    except OSError:
        pass
    sources, candidate.problem = read_notebook(path)
    if sources is not None:
        candidate.sources = sources
        candidate.lab, candidate.how = _lab_from_content(sources, plans)
        if candidate.lab is None and candidate.named:
            candidate.lab, candidate.how = candidate.named, "file name"
    else:
        candidate.lab, candidate.how = candidate.named, "file name"
    return candidate


def _files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p in _SKIP for p in parts) or not (
            path.is_file() or path.is_symlink()
        ):
            continue
        found.append(path)
    return found


def _student_from_file(path: Path, lab: str | None) -> str:
    stem = path.stem
    if lab:
        stem = re.sub(re.escape(lab), "", stem, flags=re.I)
    stem = re.sub(r"(?i)copy of|\(\d+\)", "", stem).strip(" _-.")
    return stem or path.stem


def find_candidates(root: Path, plans: dict[str, LabPlan]) -> dict[str, list[Candidate]]:
    """Every student (folder name) with the files found for them; students with no files too."""
    students: dict[str, list[Candidate]] = {}
    for entry in sorted(Path(root).iterdir()):
        if entry.name.startswith(".") or entry.name in _SKIP:
            continue
        if entry.is_symlink():
            continue
        if entry.is_dir():
            students.setdefault(entry.name, [])
            for path in _files(entry):
                if path.is_symlink():
                    students[entry.name].append(
                        Candidate(
                            path,
                            entry.name,
                            named=_lab_from_name(path.name, plans),
                            problem="a symbolic link, not a file: not graded",
                        )
                    )
                elif path.suffix.lower() == ".ipynb" or _lab_from_name(path.name, plans):
                    students[entry.name].append(_candidate(path, entry.name, plans))
                else:
                    students[entry.name].append(
                        Candidate(
                            path, entry.name, problem=f"not a notebook ({path.suffix or 'no'} file)"
                        )
                    )
        elif entry.is_file():
            candidate = _candidate(entry, "", plans)
            candidate.student = _student_from_file(entry, candidate.lab)
            students.setdefault(candidate.student, []).append(candidate)
    return students
