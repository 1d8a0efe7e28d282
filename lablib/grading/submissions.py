"""Find and identify the notebooks in a folder of submissions.

Layout: one folder per student (any name), holding that student's notebooks, at any
depth; files directly in the submissions folder are also accepted. Hidden files and
folders (``.ipynb_checkpoints``), ``__MACOSX`` and symbolic links are skipped.

Who submitted is read from the LMS's download names (:func:`parse_lms_name`):

* Canvas ("Download Submissions", loose files): ``doejane_1234_5678_lab01.ipynb`` or
  ``doejane_LATE_1234_5678_lab01.ipynb`` is sortable name, ``LATE``, Canvas user id,
  file id, the student's own file name (``ContentZipper#get_filename`` in canvas-lms).
  The student key is the user id ``1234``, the same in every assignment and the ``ID``
  column of Canvas's gradebook export; ``anon_<id>`` with anonymous grading.
* Moodle ("Download all submissions"): folders ``Jane Doe_4711_assignsubmission_file``
  (Moodle 3.1+) or flat ``Jane Doe_4711_assignsubmission_file_lab01.ipynb``. The number
  is the assignment's *participant* id (``assign_user_mapping``), different in every
  assignment and in no grade export, so the key is the full name ``Jane Doe``; two
  same-named participants of one lab stay apart as ``Jane Doe (4711)``.
* Anything else: the folder name, or for a loose file its name without the lab.

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
from typing import Iterable

import nbformat

from lablib.course import LAB_NAME_PATTERN
from lablib.grading.plan import LabPlan, defined_names

__all__ = [
    "Candidate",
    "LmsName",
    "read_notebook",
    "find_candidates",
    "code_sources",
    "parse_lms_name",
    "MAX_BYTES",
]

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
    display: str = ""  # the student's name as the LMS download wrote it ("" if none)
    lms_id: str | None = None  # Canvas user id / Moodle participant id from the name
    late: bool = False  # Canvas marked the file LATE


@dataclass(frozen=True)
class LmsName:
    """Who an LMS download's file or folder name says submitted it."""

    lms: str  # "canvas" | "moodle"
    key: str  # the student key for the gradebook
    display: str  # the name as the LMS wrote it ("doejane", "Jane Doe")
    lms_id: str | None  # Canvas user id, Moodle participant id, Canvas anonymous id
    rest: str = ""  # the student's own file name ("lab01.ipynb"); "" for a folder
    late: bool = False


_CANVAS = re.compile(r"^(?P<name>.+?)_(?:(?P<late>LATE)_)?(?P<uid>\d+)_(?P<fid>\d+)_(?P<rest>.+)$")
_CANVAS_ANON = re.compile(
    r"^(?:(?P<late>LATE)_)?anon_(?P<anon>[A-Za-z0-9]+)_(?P<fid>\d+)_(?P<rest>.+)$"
)
_MOODLE = re.compile(
    r"^(?P<name>[^_]+)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<rest>.*))?$"
)
_MOODLE_BLIND = "Participant"  # Moodle's name for a student under blind marking


def parse_lms_name(name: str, labs: Iterable[str] = ()) -> LmsName | None:
    """The student a Canvas or Moodle download name points to, else None.

    ``labs``: lab stems; a name whose lab stem starts inside the would-be ids
    (``bo_123_99_grading_fixture.ipynb`` with lab ``99_grading_fixture``) is not read as
    Canvas's (the ``99`` is the lab's number, not a file id).

    Example:
        >>> who = parse_lms_name("doejane_LATE_1234_5678_lab01.ipynb")
        >>> who.lms, who.key, who.display, who.rest, who.late
        ('canvas', '1234', 'doejane', 'lab01.ipynb', True)
        >>> parse_lms_name("Jane Doe_4711_assignsubmission_file").key
        'Jane Doe'
        >>> parse_lms_name("ana_lima") is None
        True
    """
    found = _MOODLE.match(name)
    if found and found["name"].strip():
        display = found["name"].strip()
        if display == _MOODLE_BLIND:  # blind marking: the participant id is all there is
            display = f"{display} {found['pid']}"
        return LmsName("moodle", display, display, found["pid"], found["rest"] or "")
    found = _CANVAS_ANON.match(name) or _CANVAS.match(name)
    if not found:
        return None
    lowered = name.lower()
    for stem in labs:
        at = lowered.find(stem.lower())
        if 0 <= at < found.start("rest"):
            return None
    late = bool(found["late"])
    if "anon" in found.groupdict():
        key = f"anon_{found['anon']}"
        return LmsName("canvas", key, f"anonymous {found['anon']}", key, found["rest"], late)
    return LmsName("canvas", found["uid"], found["name"], found["uid"], found["rest"], late)


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


def _folder(entry: Path, key: str, plans: dict[str, LabPlan]) -> list[Candidate]:
    found = []
    for path in _files(entry):
        if path.is_symlink():
            found.append(
                Candidate(
                    path,
                    key,
                    named=_lab_from_name(path.name, plans),
                    problem="a symbolic link, not a file: not graded",
                )
            )
        elif path.suffix.lower() == ".ipynb" or _lab_from_name(path.name, plans):
            found.append(_candidate(path, key, plans))
        else:
            found.append(
                Candidate(path, key, problem=f"not a notebook ({path.suffix or 'no'} file)")
            )
    return found


def _identify(candidates: list[Candidate], ident: LmsName | None) -> list[Candidate]:
    for candidate in candidates:
        if ident is not None:
            candidate.display, candidate.lms_id = ident.display, ident.lms_id
            candidate.late = candidate.late or ident.late
    return candidates


def find_candidates(root: Path, plans: dict[str, LabPlan]) -> dict[str, list[Candidate]]:
    """Every student with the files found for them; students with no files too.

    The key is the LMS's student key when the folder or file name is a Canvas or Moodle
    download's (see :func:`parse_lms_name`), else the folder name (loose files: the file
    name without the lab)."""
    students: dict[str, list[Candidate]] = {}
    moodle: dict[str, dict[str, list[Candidate]]] = {}  # full name -> participant id -> files
    for entry in sorted(Path(root).iterdir()):
        if entry.name.startswith(".") or entry.name in _SKIP or entry.is_symlink():
            continue
        ident = parse_lms_name(entry.name, plans)
        if entry.is_dir():
            key = ident.key if ident else entry.name
            found = _identify(_folder(entry, key, plans), ident)
        elif entry.is_file():
            candidate = _candidate(entry, "", plans)
            named = _lab_from_name(ident.rest, plans) if ident is not None else None
            if candidate.named is None and named:
                candidate.named = named
                if candidate.lab is None:
                    candidate.lab, candidate.how = named, "file name"
            key = ident.key if ident else _student_from_file(entry, candidate.lab)
            candidate.student = key
            found = _identify([candidate], ident)
        else:
            continue
        if ident is not None and ident.lms == "moodle":
            moodle.setdefault(ident.key, {}).setdefault(ident.lms_id or "", []).extend(found)
        else:
            students.setdefault(key, []).extend(found)
    for name, by_participant in moodle.items():
        labs = [{c.lab for c in found if c.lab} for found in by_participant.values()]
        clash = len(labs) > 1 and sum(len(s) for s in labs) > len(set().union(*labs))
        for participant, found in by_participant.items():
            key = f"{name} ({participant})" if clash else name
            for candidate in found:
                candidate.student = key
            students.setdefault(key, []).extend(found)
    return students
