"""Grades an LMS imports as they are: ``gradebook.csv`` + the LMS's roster -> an import file.

``lablib export build/grades --roster roster.csv --lms canvas --out canvas_import.csv``
reads the gradebook ``lablib grade`` wrote (one row per student and lab) and the roster
the LMS exported, matches every graded student to a roster row, and writes one row per
roster student with one column per lab, in the shape the LMS's own importer reads:

* **Canvas** (Grades > Import; the shape of Grades > Export): ``Student, ID, [SIS User ID,
  SIS Login ID,] Section``, then one column per lab, then a ``Points Possible`` row. Canvas's
  importer (``GradebookImporter`` in canvas-lms) needs ``Student`` and ``ID`` first and
  ``Section`` last among the student columns; ``SIS User ID`` is only recognized when
  ``SIS Login ID`` follows it, so both are written when the roster has them. It finds the
  student by ``ID`` (the Canvas user id), then SIS ids, then name; an assignment column
  ``Title (12345)`` updates assignment 12345, any other title updates the assignment of that
  name or creates one (its points from the ``Points Possible`` row).
* **Moodle** (Grades > Import > CSV file; the roster is Grades > Export > Plain text file):
  one identifier column (``Email address`` by default, or ``ID number`` / ``Username``: the
  import form maps a column of exactly that name to the user field by itself), ``First name``,
  ``Last name`` (ignored by the import), then one column per lab. A column named like the
  export's ``Assignment: Lab 01 (Real)`` is mapped to that grade item by itself; another one
  is mapped by hand (to an item or a new one). Moodle stops the whole import at a row whose
  user it cannot find, so students with an empty identifier are left out (and listed).

A lab's column is the roster's column for it when exactly one matches (``Lab 01 ...``,
``Lab 1``, or the lab's title words; ``--column 01="Quiz 3 (4567)"`` chooses), else a new
one named ``Lab 01: Convolution filters``.

Students on the roster without a submission: ``--missing zero`` (default) writes 0, which is
what the gradebook gives a ``missing`` lab; ``--missing blank`` leaves the cell empty, so a
column that has no grade yet stays ungraded and the LMS's own missing/late policy applies.
Careful: where the LMS already holds a grade, both importers take an empty cell as a change
to "no grade" (Canvas posts an empty grade, Moodle stores none). ``error`` rows (the grader
failed) are always left empty and listed: re-grade them first. Submissions that match no one
on the roster, or several, are printed and written to ``OUT.unmatched.csv``; the roster's
missing cells to ``OUT.missing.csv``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

__all__ = [
    "LMS",
    "MISSING",
    "Roster",
    "RosterStudent",
    "Export",
    "read_roster",
    "match_students",
    "lab_columns",
    "export_grades",
]

LMS = ("canvas", "moodle")
MISSING = ("zero", "blank")
POINTS_POSSIBLE = "    Points Possible"  # as Canvas's export writes it
CANVAS_TEST_STUDENT = "Student, Test"
_SCORED = ("graded", "timeout", "crashed", "memory")  # the score is what the tests earned
_ZERO = ("invalid", "wrong_lab")  # something was handed in; it earns 0
_CANVAS_INFO = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
_CANVAS_TOTALS = re.compile(
    r"(Current|Final|Unposted Current|Unposted Final|Override) (Score|Points|Grade|Status)"
)
_MOODLE_IDS = ("Email address", "ID number", "Username")
_MOODLE_INFO = (
    "First name",
    "Last name",
    "ID number",
    "Institution",
    "Department",
    "Email address",
    "Username",
    "Last downloaded from this course",
)


@dataclass
class RosterStudent:
    """One student of the roster."""

    name: str  # as the LMS writes it: "Doe, Jane" (Canvas), "Jane Doe" (Moodle)
    row: dict[str, str]  # the roster's cells
    ids: frozenset[str] = frozenset()  # identifiers a submission may carry, case-folded
    names: frozenset[str] = frozenset()  # normalized forms of the name


@dataclass
class Roster:
    """An LMS's class list, as exported."""

    lms: str
    header: list[str]
    students: list[RosterStudent]
    points: dict[str, str] = field(default_factory=dict)  # Canvas: column -> points possible
    skipped: list[str] = field(default_factory=list)  # rows that are not students, and why

    @property
    def assignments(self) -> list[str]:
        """The roster's assignment (grade item) columns."""
        if self.lms == "canvas":
            return [
                h for h in self.header if h not in _CANVAS_INFO and not _CANVAS_TOTALS.search(h)
            ]
        return [
            h
            for h in self.header
            if h not in _MOODLE_INFO and re.search(r"\(\w+\)$", h) and "total" not in h.lower()
        ]


# ---------------------------------------------------------------- names and ids


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", _fold(text))


def _name_forms(tokens: list[str], natural: list[str]) -> frozenset[str]:
    """``tokens`` in the LMS's order and in natural order: sorted, squashed both ways."""
    if not tokens:
        return frozenset()
    return frozenset({" ".join(sorted(tokens)), "".join(tokens), "".join(natural)})


def _ids(*values: str) -> frozenset[str]:
    found = set()
    for value in values:
        value = _fold(value).strip()
        if value:
            found.add(value)
            if "@" in value:
                found.add(value.split("@", 1)[0])
    return frozenset(found)


def _canvas_student(row: dict[str, str]) -> RosterStudent:
    name = row.get("Student", "").strip()
    last, _, first = name.partition(",")
    sortable = _tokens(last) + _tokens(first)
    return RosterStudent(
        name,
        row,
        _ids(*(row.get(k, "") for k in ("ID", "SIS User ID", "SIS Login ID", "Integration ID"))),
        _name_forms(sortable, _tokens(first) + _tokens(last) if first else sortable),
    )


def _moodle_student(row: dict[str, str]) -> RosterStudent:
    first, last = row.get("First name", "").strip(), row.get("Last name", "").strip()
    return RosterStudent(
        f"{first} {last}".strip(),
        row,
        _ids(*(row.get(k, "") for k in _MOODLE_IDS)),
        _name_forms(_tokens(last) + _tokens(first), _tokens(first) + _tokens(last)),
    )


# ---------------------------------------------------------------- reading


def _table(path: Path) -> list[list[str]]:
    text = Path(path).read_text(encoding="utf-8-sig")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max(",;\t", key=first.count) if first else ","
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def read_roster(path: Path, lms: str | None = None) -> Roster:
    """Read a Canvas gradebook export or a Moodle grades export (CSV, comma, semicolon or
    tab separated); ``lms`` None: tell them apart by the header.

    Raises:
        ValueError: an empty file, or a header that is neither LMS's.
    """
    rows = _table(path)
    if not rows:
        raise ValueError(f"{path}: the roster is empty")
    header = [h.strip() for h in rows[0]]
    canvas = len(header) > 1 and "Student" in header[0] and "ID" in header[1]
    moodle = "First name" in header and "Last name" in header
    found = "canvas" if canvas else "moodle" if moodle else None
    lms = lms or found
    if lms not in LMS or found != lms:
        raise ValueError(
            f"{path}: not a {lms or 'Canvas or Moodle'} roster (header: {', '.join(header[:6])}). "
            "Canvas: Grades > Export (Student, ID, SIS User ID, SIS Login ID, Section, ...); "
            "Moodle: Grades > Export > Plain text file (First name, Last name, ID number, "
            "Institution, Department, Email address, ...)"
        )
    roster = Roster(lms, header, [])
    for cells in rows[1:]:
        if not any(c.strip() for c in cells):
            continue
        row = dict(zip(header, (c.strip() for c in cells)))
        first = cells[0] if cells else ""
        if lms == "canvas":
            if "Points Possible" in first:
                roster.points = {h: v for h, v in row.items() if v and h not in _CANVAS_INFO}
                continue
            if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in cells):
                continue  # Canvas's row of posting policies
            if row.get("Student") == CANVAS_TEST_STUDENT:
                roster.skipped.append(f"{CANVAS_TEST_STUDENT!r}: Canvas's test student")
                continue
            roster.students.append(_canvas_student(row))
        else:
            roster.students.append(_moodle_student(row))
    return roster


# ---------------------------------------------------------------- matching


def _key_forms(key: str) -> tuple[str, frozenset[str]]:
    key = re.sub(r"\s*\(\d+\)$", "", key.strip())  # "Jane Doe (4711)": two Moodle homonyms
    tokens = _tokens(key)
    forms = {" ".join(sorted(tokens)), "".join(tokens)} if tokens else set()
    return _fold(key).strip(), frozenset(forms)


def match_students(keys: Iterable[str], roster: Roster) -> dict[str, RosterStudent | str]:
    """Each gradebook student key -> its roster student, or a sentence saying why none.

    Tried in order: an identifier (Canvas ID, SIS User/Login ID, e-mail or its local part,
    Moodle ID number, username), then the name (any order of its words, with or without
    spaces: ``doejane``, ``jane_doe``, ``Jane Doe``). A tier that matches several
    students matches none."""
    found: dict[str, RosterStudent | str] = {}
    for key in keys:
        folded, forms = _key_forms(key)
        for tier in (
            [s for s in roster.students if folded in s.ids],
            [s for s in roster.students if forms & s.names],
        ):
            if len(tier) == 1:
                found[key] = tier[0]
                break
            if len(tier) > 1:
                found[key] = "matches several roster students: " + "; ".join(
                    s.name for s in tier[:4]
                )
                break
        else:
            found[key] = (
                "anonymous grading: Canvas's anon_ id names no student"
                if key.startswith("anon_")
                else "on no roster row (by id or by name)"
            )
    return found


def _lab_title(lab: str) -> tuple[str, str]:
    number, _, words = lab.partition("_")
    return number, words.replace("_", " ")


def default_column(lab: str) -> str:
    """The column a lab gets when the roster has none for it: ``Lab 01: Convolution filters``."""
    number, words = _lab_title(lab)
    return f"Lab {number}: {words[:1].upper()}{words[1:]}" if words else f"Lab {number}"


def _bare(title: str) -> str:
    title = re.sub(r"\s*\((\d+|\w+)\)\s*$", "", title)  # "(12345)", "(Real)"
    return _fold(re.sub(r"^[^:]{1,30}:\s*(?=lab)", "", title, flags=re.I))  # "Assignment: "


def lab_columns(
    labs: Iterable[str], roster: Roster, chosen: dict[str, str] | None = None
) -> dict[str, str]:
    """Each lab -> its column header: ``chosen`` (keyed by lab number or stem), else the one
    roster column that names it (``Lab 01``, ``Lab 1``, its title words), else
    :func:`default_column`.

    Raises:
        ValueError: several roster columns match a lab (choose with ``chosen``).
    """
    chosen = chosen or {}
    columns = {}
    for lab in labs:
        number, words = _lab_title(lab)
        pick = chosen.get(lab) or chosen.get(number) or chosen.get(str(int(number)))
        if pick:
            columns[lab] = pick
            continue
        pattern = re.compile(rf"\blab(?:orat\w*)?\s*[-_#:.]?\s*0*{int(number)}\b")
        wanted = set(_tokens(words))
        found = [
            c
            for c in roster.assignments
            if pattern.search(_bare(c)) or (wanted and wanted <= set(_tokens(_bare(c))))
        ]
        if len(found) > 1:
            raise ValueError(
                f"{len(found)} roster columns could be lab {lab}: {'; '.join(found)}. "
                f'Choose one: --column {number}="{found[0]}"'
            )
        columns[lab] = found[0] if found else default_column(lab)
    return columns


# ---------------------------------------------------------------- the export


@dataclass
class Export:
    """What :func:`export_grades` wrote and found."""

    out: Path
    lms: str
    columns: dict[str, str]  # lab -> column header
    written: int  # student rows written
    missing: list[dict[str, str]]  # roster student x lab without a submission
    unmatched: list[dict[str, str]]  # gradebook rows of students on no roster row
    left_out: list[str] = field(default_factory=list)  # roster students not written, and why
    warnings: list[str] = field(default_factory=list)
    missing_path: Path | None = None
    unmatched_path: Path | None = None

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"wrote {self.out}: {self.written} student(s) x {len(self.columns)} lab(s) for "
            f"{self.lms} ({'; '.join(f'{lab} -> {col!r}' for lab, col in self.columns.items())})"
        ]
        if self.missing:
            who = sorted({m["roster_name"] for m in self.missing})
            value = self.missing[0]["written"] or "empty"
            lines.append(
                f"missing: {len(self.missing)} lab(s) of {len(who)} roster student(s) with no "
                f"submission, written as {value}: {', '.join(who[:8])}"
                + (" ..." if len(who) > 8 else "")
                + f" (all in {self.missing_path})"
            )
        if self.unmatched:
            keys = sorted({u["student"] for u in self.unmatched})
            lines.append(
                f"NOT ON THE ROSTER: {len(keys)} submitter(s), not exported: "
                + ", ".join(keys[:8])
                + (" ..." if len(keys) > 8 else "")
                + f" (why, in {self.unmatched_path})"
            )
        lines += [f"left out: {why}" for why in self.left_out]
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


def _gradebook(path: Path) -> list[dict[str, str]]:
    path = Path(path)
    if path.is_dir():
        path = path / "gradebook.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no gradebook at {path} (run lablib grade first)")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"student", "lab", "score", "status"} <= set(rows[0]):
        raise ValueError(f"{path} is not a lablib gradebook (columns: {', '.join(rows[0])})")
    return rows


def _rank(row: dict[str, str]) -> tuple:
    status = row.get("status", "")
    tier = 3 if status in _SCORED else 2 if status in _ZERO else 1 if status == "error" else 0
    return tier, float(row.get("score") or 0)


def _number(value: str | float) -> str:
    return f"{float(value or 0):g}"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _report(path: Path, rows: list[dict[str, str]], header: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def export_grades(
    grades: Path,
    roster_path: Path,
    out: Path,
    *,
    lms: str | None = None,
    missing: str = "zero",
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    labs: Iterable[str] | None = None,
) -> Export:
    """Write the LMS import file for a gradebook (see the module docstring).

    Args:
        grades: ``gradebook.csv`` or the folder holding it (``lablib grade --out``).
        roster_path: the LMS's export (Canvas gradebook / Moodle grades, CSV).
        out: the import file to write; ``OUT.missing.csv`` and ``OUT.unmatched.csv`` go
            next to it.
        lms: ``canvas`` or ``moodle``; None: read from the roster's header.
        missing: ``zero`` or ``blank``, for roster students without a submission.
        columns: lab number or stem -> column header (else found in the roster or new).
        id_column: Moodle's identifier column (``Email address``, ``ID number``,
            ``Username``); default the first of those the roster fills for every student.
        labs: only these labs (numbers or stems) of the gradebook.

    Raises:
        ValueError: a roster of neither LMS, a bad option, an ambiguous lab column.
        FileNotFoundError: no gradebook.
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}")
    roster = read_roster(roster_path, lms)
    rows = _gradebook(grades)
    all_labs = sorted({r["lab"] for r in rows})
    if labs:
        wanted = list(labs)
        all_labs = [
            lab for lab in all_labs if any(lab == w or lab.startswith(f"{w}_") for w in wanted)
        ]
        if not all_labs:
            raise ValueError(f"--labs {' '.join(wanted)} names no lab of the gradebook")
    rows = [r for r in rows if r["lab"] in all_labs]
    header_of = lab_columns(all_labs, roster, columns)
    matched = match_students(sorted({r["student"] for r in rows}), roster)
    export = Export(Path(out), roster.lms, header_of, 0, [], [])
    by_student: dict[int, dict[str, list[dict[str, str]]]] = {}
    for row in rows:
        who = matched[row["student"]]
        if isinstance(who, str):
            export.unmatched.append({**row, "why": who})
            continue
        by_student.setdefault(id(who), {}).setdefault(row["lab"], []).append(row)
    max_score = {
        lab: max(float(r.get("max_score") or 0) for r in rows if r["lab"] == lab)
        for lab in all_labs
    }
    # who is the identifier column (Moodle)
    if roster.lms == "moodle":
        if id_column is None:
            filled = [
                c
                for c in _MOODLE_IDS
                if c in roster.header and all(s.row.get(c) for s in roster.students)
            ]
            present = [c for c in _MOODLE_IDS if c in roster.header]
            id_column = (filled or present or [None])[0]
        if id_column not in _MOODLE_IDS or id_column not in roster.header:
            raise ValueError(
                f"Moodle needs an identifier column, one of {', '.join(_MOODLE_IDS)} "
                f"that the roster has (got {id_column!r}; roster: {', '.join(roster.header[:8])})"
            )
    out_rows = []
    for student in roster.students:
        if roster.lms == "moodle" and not student.row.get(id_column):
            export.left_out.append(
                f"{student.name}: no {id_column} in the roster (Moodle's import stops at a "
                "row whose user it cannot find)"
            )
            continue
        cells = []
        for lab in all_labs:
            found = sorted(by_student.get(id(student), {}).get(lab, []), key=_rank)
            best = found[-1] if found else None
            handed_in = [r for r in reversed(found) if r["status"] != "missing"]
            if len(handed_in) > 1:
                export.warnings.append(
                    f"{student.name}, {lab}: {len(handed_in)} submitters match "
                    f"({', '.join(r['student'] for r in handed_in)}); exported "
                    f"{best['student']}'s {best['status']} {_number(best['score'])}"
                )
            if best is not None and best["status"] in _SCORED + _ZERO:
                cells.append(_number(best["score"]))
            elif best is not None and best["status"] == "error":
                cells.append("")
                export.warnings.append(
                    f"{student.name}, {lab}: the grader failed ({best.get('reason', '')}); "
                    "left empty: re-grade it, then export again"
                )
            else:
                value = "0" if missing == "zero" else ""
                cells.append(value)
                export.missing.append(
                    {
                        "roster_name": student.name,
                        "id": student.row.get("ID") or student.row.get(id_column or "", ""),
                        "lab": lab,
                        "written": value,
                        "why": best.get("reason", "") if best else "no submission found",
                    }
                )
        out_rows.append((student, cells))
    if roster.lms == "canvas":
        info = ["Student", "ID"]
        if "SIS User ID" in roster.header:
            info += ["SIS User ID", "SIS Login ID"]
            info += ["Integration ID"] if "Integration ID" in roster.header else []
        elif "SIS Login ID" in roster.header:
            info.append("SIS Login ID")
        info.append("Section")
        header = info + [header_of[lab] for lab in all_labs]
        points = [POINTS_POSSIBLE] + [""] * (len(info) - 1)
        for lab in all_labs:
            listed = roster.points.get(header_of[lab], "")
            if listed and listed.replace(".", "", 1).isdigit():
                if abs(float(listed) - max_score[lab]) > 1e-9:
                    export.warnings.append(
                        f"{header_of[lab]!r} is worth {listed} points in Canvas, lab {lab} "
                        f"{max_score[lab]:g}: the raw scores are exported, not rescaled"
                    )
                points.append(listed)
            else:
                points.append(_number(max_score[lab]))
        table = [points] + [[s.row.get(c, "") for c in info] + cells for s, cells in out_rows]
    else:
        header = [id_column, "First name", "Last name"] + [header_of[lab] for lab in all_labs]
        table = [
            [s.row.get(id_column, ""), s.row.get("First name", ""), s.row.get("Last name", "")]
            + cells
            for s, cells in out_rows
        ]
    _write_csv(export.out, header, table)
    export.written = len(out_rows)
    stem = export.out.with_suffix("")
    export.missing_path = _report(
        stem.with_name(stem.name + ".missing.csv"),
        export.missing,
        ["roster_name", "id", "lab", "written", "why"],
    )
    export.unmatched_path = _report(
        stem.with_name(stem.name + ".unmatched.csv"),
        export.unmatched,
        ["student", "lab", "score", "max_score", "status", "file", "why"],
    )
    export.left_out += roster.skipped
    return export
