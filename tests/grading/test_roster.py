"""LMS grade files: who submitted (Canvas / Moodle download names), roster matching, exports.

The fixtures in ``tests/fixtures/roster/`` have the shapes the LMSs export: a Canvas
gradebook export (``Student, ID, SIS User ID, SIS Login ID, Section``, assignment columns
``Title (id)``, a *Manual Posting* row, the ``Points Possible`` row, the test student, the
total columns) and a Moodle grades export (``First name, Last name, ID number, Institution,
Department, Email address``, ``Assignment: NAME (Real)`` columns, ``Course total``,
``Last downloaded from this course``). The gradebooks are what ``lablib grade`` writes.
The import rules checked below are the ones the LMSs' importers apply (Canvas:
``GradebookImporter`` in canvas-lms; Moodle: ``grade/import/csv``), restated in the tests.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import nbformat
import pytest

from lablib.cli import main
from lablib.grading.plan import load_plan
from lablib.grading.roster import (
    POINTS_POSSIBLE,
    default_column,
    export_grades,
    lab_columns,
    match_students,
    read_roster,
)
from lablib.grading.submissions import find_candidates, parse_lms_name

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "roster"
GRADING = ROOT / "tests" / "fixtures" / "grading"
LAB99 = "99_grading_fixture"
LAB01, LAB02 = "01_convolution_filters", "02_conv2d_layers"
sys.path.insert(0, str(GRADING))
import make_fixtures  # noqa: E402


def read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def canvas_importer_columns(header: list[str]) -> tuple[int, dict[str, str | None]]:
    """What Canvas's GradebookImporter reads from a header row (``header?``,
    ``update_column_count``, ``Assignment.title_and_id``): the number of student columns,
    and each assignment column's (title -> id or None). Raises on a header it refuses."""
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], header
    columns = 3
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        columns += 1
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        columns += 2 + (1 if re.search(r"Integration\s+ID", header[4]) else 0)
    assert "Section" in header[columns - 1], f"InvalidHeaderRow: {header[:columns]}"
    found = {}
    for title in header[columns:]:
        match = re.fullmatch(r"(.*)\s\((\d+)\)", title)
        found[match[1] if match else title] = match[2] if match else None
    return columns, found


# ---------------------------------------------------------------- who submitted


@pytest.mark.parametrize(
    "name, lms, key, display, rest, late",
    [
        ("doejane_1234_5678_lab01.ipynb", "canvas", "1234", "doejane", "lab01.ipynb", False),
        ("doejane_LATE_1234_5678_lab01.ipynb", "canvas", "1234", "doejane", "lab01.ipynb", True),
        (
            "garcíajosé_1303_99887766_01_convolution_filters-1.ipynb",
            "canvas",
            "1303",
            "garcíajosé",
            "01_convolution_filters-1.ipynb",
            False,
        ),
        (
            "anon_x7Kq2_5678_lab01.ipynb",
            "canvas",
            "anon_x7Kq2",
            "anonymous x7Kq2",
            "lab01.ipynb",
            False,
        ),
        (
            "LATE_anon_x7Kq2_5678_lab01.ipynb",
            "canvas",
            "anon_x7Kq2",
            "anonymous x7Kq2",
            "lab01.ipynb",
            True,
        ),
        ("Jane Doe_4711_assignsubmission_file", "moodle", "Jane Doe", "Jane Doe", "", False),
        ("Jane Doe_4711_assignsubmission_file_", "moodle", "Jane Doe", "Jane Doe", "", False),
        (
            "Jane Doe_4711_assignsubmission_file_lab01.ipynb",
            "moodle",
            "Jane Doe",
            "Jane Doe",
            "lab01.ipynb",
            False,
        ),
        (
            "José García_12_assignsubmission_onlinetext",
            "moodle",
            "José García",
            "José García",
            "",
            False,
        ),
        (
            "Participant_4716_assignsubmission_file",
            "moodle",
            "Participant 4716",
            "Participant 4716",
            "",
            False,
        ),
    ],
)
def test_lms_download_names_give_the_student(name, lms, key, display, rest, late):
    who = parse_lms_name(name)
    assert (who.lms, who.key, who.display, who.rest, who.late) == (lms, key, display, rest, late)


@pytest.mark.parametrize(
    "name", ["ana_lima", "Copy of 01_convolution_filters (1).ipynb", "lab01.ipynb", "jane_doe_2"]
)
def test_other_names_are_no_lms_download(name):
    assert parse_lms_name(name) is None


def test_a_lab_number_is_not_taken_for_a_canvas_file_id():
    assert parse_lms_name(f"bo_123_{LAB99}.ipynb").key == "123"  # reads as Canvas's ...
    assert parse_lms_name(f"bo_123_{LAB99}.ipynb", [LAB99]) is None  # ... unless 99 is the lab


def test_canvas_and_moodle_downloads_are_grouped_by_student(tmp_path):
    plans = {LAB99: load_plan(GRADING / "labs" / f"{LAB99}.ipynb")}
    subs = tmp_path / "subs"
    subs.mkdir()
    solved = nbformat.writes(make_fixtures.student(make_fixtures.solved()))
    (subs / "doejane_1234_5678_lab99.ipynb").write_text(solved)  # Canvas: loose files
    (subs / "doejane_LATE_1234_5690_lab99-1.ipynb").write_text(solved)
    (subs / "chenbo_1302_5700_notes.txt").write_text("my notes")
    for folder, files in {
        "Ana Lima_4711_assignsubmission_file": {"lab99.ipynb": solved},  # Moodle folders,
        "Ana Lima_5120_assignsubmission_file": {"readme.txt": "x"},  # two assignments
        "Bo Chen_4712_assignsubmission_file": {"lab99.ipynb": solved},  # two homonyms,
        "Bo Chen_4713_assignsubmission_file": {"mine.ipynb": solved},  # same lab
        "Participant_4716_assignsubmission_file": {"lab99.ipynb": solved},  # blind marking
        "plain folder": {"x.ipynb": solved},
    }.items():
        (subs / folder).mkdir()
        for name, text in files.items():
            (subs / folder / name).write_text(text)
    (subs / "Rui Ochoa_4714_assignsubmission_file_lab99.ipynb").write_text(solved)  # flat
    found = find_candidates(subs, plans)
    assert sorted(found) == [
        "1234",
        "1302",
        "Ana Lima",
        "Bo Chen (4712)",
        "Bo Chen (4713)",
        "Participant 4716",
        "Rui Ochoa",
        "plain folder",
    ]
    jane = found["1234"]
    assert {(c.path.name, c.lab, c.display, c.lms_id, c.late) for c in jane} == {
        ("doejane_1234_5678_lab99.ipynb", LAB99, "doejane", "1234", False),
        ("doejane_LATE_1234_5690_lab99-1.ipynb", LAB99, "doejane", "1234", True),
    }
    assert all(c.student == "1234" for c in jane)
    assert [c.problem for c in found["1302"]] == [
        "not a notebook: the file is plain text or a script, not notebook JSON"
    ]
    assert {c.lms_id for c in found["Ana Lima"]} == {"4711", "5120"}
    assert [c.lab for c in found["Rui Ochoa"]] == [LAB99] and found["Rui Ochoa"][
        0
    ].display == "Rui Ochoa"
    assert found["plain folder"][0].display == "" and found["plain folder"][0].lms_id is None


# ---------------------------------------------------------------- rosters


def test_rosters_are_read_in_both_shapes():
    canvas = read_roster(FIXTURES / "canvas_roster.csv")
    assert canvas.lms == "canvas"
    assert [s.name for s in canvas.students] == [
        "Doe, Jane",
        "Lima, Ana",
        "Chen, Bo",
        "García, José",
        "Ochoa, Rui",
    ]
    assert canvas.points["Lab 01: Convolution filters (1001)"] == "16.00"
    assert canvas.assignments == [
        "Lab 01: Convolution filters (1001)",
        "Lab 2 - Conv2D layers (1002)",
        "Quiz 1 (2001)",
    ]
    assert "Canvas's test student" in canvas.skipped[0]
    moodle = read_roster(FIXTURES / "moodle_roster.csv")
    assert moodle.lms == "moodle" and [s.name for s in moodle.students][:2] == [
        "Jane Doe",
        "Ana Lima",
    ]
    assert moodle.assignments == [
        "Assignment: Lab 01 (Real)",
        "Assignment: Lab 2 - Conv2D layers (Real)",
        "Quiz: Quiz 1 (Real)",
    ]
    with pytest.raises(ValueError, match="not a moodle roster"):
        read_roster(FIXTURES / "canvas_roster.csv", "moodle")
    with pytest.raises(ValueError, match="not a Canvas or Moodle roster"):
        read_roster(FIXTURES / "canvas_gradebook.csv")


def test_a_semicolon_roster_with_a_bom_is_read(tmp_path):
    text = (FIXTURES / "moodle_roster.csv").read_text(encoding="utf-8").replace(",", ";")
    (tmp_path / "r.csv").write_text("\ufeff" + text, encoding="utf-8")
    roster = read_roster(tmp_path / "r.csv")
    assert (
        roster.lms == "moodle"
        and roster.students[3].row["Email address"] == "jose.garcia@school.edu"
    )


def test_submitters_are_matched_by_id_then_by_name():
    roster = read_roster(FIXTURES / "canvas_roster.csv")
    keys = [
        "1234",
        "Jane Doe",
        "doejane",
        "jane_doe",
        "jdoe",
        "bchen",
        "bchen@school.edu",
        "garciajose",
        "GARCÍA JOSÉ",
        "S-1005",
        "nothing",
        "anon_x7Kq2",
        "Jane Doe (4711)",
    ]
    found = match_students(keys, roster)
    names = {k: v if isinstance(v, str) else v.name for k, v in found.items()}
    assert names == {
        "1234": "Doe, Jane",
        "Jane Doe": "Doe, Jane",
        "doejane": "Doe, Jane",
        "jane_doe": "Doe, Jane",
        "jdoe": "Doe, Jane",
        "bchen": "Chen, Bo",
        "bchen@school.edu": "Chen, Bo",
        "garciajose": "García, José",
        "GARCÍA JOSÉ": "García, José",
        "S-1005": "Ochoa, Rui",
        "nothing": "on no roster row (by id or by name)",
        "anon_x7Kq2": "anonymous grading: Canvas's anon_ id names no student",
        "Jane Doe (4711)": "Doe, Jane",
    }


def test_homonyms_match_nobody(tmp_path):
    text = (FIXTURES / "moodle_roster.csv").read_text(encoding="utf-8")
    (tmp_path / "r.csv").write_text(text + "Jane,Doe,S-2001,Uni,EE,jd2@school.edu,-,-,-,-,1\n")
    found = match_students(["Jane Doe", "jane.doe@school.edu"], read_roster(tmp_path / "r.csv"))
    assert found["Jane Doe"].startswith("matches several roster students: Jane Doe; Jane Doe")
    assert found["jane.doe@school.edu"].row["ID number"] == "S-1001"  # an id still decides


def test_lab_columns_come_from_the_roster_or_are_new():
    roster = read_roster(FIXTURES / "canvas_roster.csv")
    assert lab_columns([LAB01, LAB02, "03_padding_stride"], roster) == {
        LAB01: "Lab 01: Convolution filters (1001)",
        LAB02: "Lab 2 - Conv2D layers (1002)",
        "03_padding_stride": "Lab 03: Padding stride",
    }
    assert lab_columns([LAB01], roster, {"01": "Quiz 1 (2001)"}) == {LAB01: "Quiz 1 (2001)"}
    assert default_column(LAB01) == "Lab 01: Convolution filters"
    roster.header.append("Lab 1 redo (1009)")
    with pytest.raises(ValueError, match='--column 01="Lab 01: Convolution filters'):
        lab_columns([LAB01], roster)


# ---------------------------------------------------------------- exports


def test_canvas_export_imports_as_it_is(tmp_path):
    out = tmp_path / "canvas.csv"
    export = export_grades(FIXTURES / "canvas_gradebook.csv", FIXTURES / "canvas_roster.csv", out)
    rows = read(out)
    header, points, students = rows[0], rows[1], rows[2:]
    assert header == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Lab 01: Convolution filters (1001)",
        "Lab 2 - Conv2D layers (1002)",
    ]
    columns, assignments = canvas_importer_columns(header)
    assert columns == 5 and assignments == {
        "Lab 01: Convolution filters": "1001",
        "Lab 2 - Conv2D layers": "1002",
    }
    assert points == [POINTS_POSSIBLE, "", "", "", "", "16.00", "20.00"]
    assert "Points Possible" in points[0]  # the importer's test for this row
    assert students == [
        ["Doe, Jane", "1234", "S-1001", "jdoe", "CNN 2026", "16", "12.5"],  # best of two folders
        ["Lima, Ana", "1301", "S-1002", "alima", "CNN 2026", "10", "0"],  # 02 missing: 0
        ["Chen, Bo", "1302", "S-1003", "bchen@school.edu", "CNN 2026", "4", "0"],  # invalid: 0
        ["García, José", "1303", "S-1004", "jgarcia", "CNN 2026", "", "20"],  # error: empty
        ["Ochoa, Rui", "1304", "S-1005", "rochoa", "CNN 2026", "0", "0"],  # nothing handed in
    ]
    assert {(m["roster_name"], m["lab"], m["written"]) for m in export.missing} == {
        ("Lima, Ana", LAB02, "0"),
        ("Ochoa, Rui", LAB01, "0"),
        ("Ochoa, Rui", LAB02, "0"),
    }
    assert [r[:3] for r in read(export.missing_path)[1:]] == [
        ["Lima, Ana", "1301", LAB02],
        ["Ochoa, Rui", "1304", LAB01],
        ["Ochoa, Rui", "1304", LAB02],
    ]
    unmatched = read(export.unmatched_path)
    assert unmatched[0] == ["student", "lab", "score", "max_score", "status", "file", "why"]
    assert {r[0] for r in unmatched[1:]} == {"nothing"} and len(unmatched) == 3
    warnings = "\n".join(export.warnings)
    assert "García, José, 01_convolution_filters: the grader failed" in warnings
    assert "2 submitters match (1234, Jane Doe)" in warnings
    summary = export.summary()
    assert "NOT ON THE ROSTER: 1 submitter(s), not exported: nothing" in summary
    assert "Ochoa, Rui" in summary and "written as 0" in summary


def test_canvas_export_without_sis_columns_and_blank_missing(tmp_path):
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="") as f:
        writer = csv.writer(f)
        for row in read(FIXTURES / "canvas_roster.csv"):
            writer.writerow(row[:2] + row[4:7])
    out = tmp_path / "canvas.csv"
    export_grades(FIXTURES / "canvas_gradebook.csv", roster, out, missing="blank")
    rows = read(out)
    assert rows[0][:3] == ["Student", "ID", "Section"]
    assert canvas_importer_columns(rows[0])[0] == 3
    assert rows[3] == ["Lima, Ana", "1301", "CNN 2026", "10", ""]
    assert rows[6] == ["Ochoa, Rui", "1304", "CNN 2026", "", ""]


def test_a_sis_user_id_alone_still_gets_its_login_column(tmp_path):
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="") as f:
        writer = csv.writer(f)
        for row in read(FIXTURES / "canvas_roster.csv"):
            writer.writerow(row[:3] + row[4:7])  # no SIS Login ID
    out = tmp_path / "canvas.csv"
    export_grades(FIXTURES / "canvas_gradebook.csv", roster, out)
    header = read(out)[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas_importer_columns(header)[0] == 5  # else Canvas refuses the header


def test_moodle_export_imports_as_it_is(tmp_path):
    out = tmp_path / "moodle.csv"
    export = export_grades(FIXTURES / "moodle_gradebook.csv", FIXTURES / "moodle_roster.csv", out)
    rows = read(out)
    header = rows[0]
    assert header == [
        "Email address",
        "First name",
        "Last name",
        "Assignment: Lab 01 (Real)",
        "Assignment: Lab 2 - Conv2D layers (Real)",
    ]
    # Moodle's import form: the identifier is the first of its user fields whose name is a
    # column ("User ID", "Username", "ID number", "Email address"); one only, so no doubt.
    assert [h for h in header if h in ("User ID", "Username", "ID number", "Email address")] == [
        "Email address"
    ]
    # grade columns "NAME (Real)" map to the grade item NAME by themselves
    roster_items = {
        h.split(" (Real)")[0] for h in read_roster(FIXTURES / "moodle_roster.csv").assignments
    }
    assert {h.split(" (Real)")[0] for h in header[3:]} <= roster_items
    assert "Last downloaded from this course" not in header  # would trigger its date check
    assert rows[1:] == [
        ["jane.doe@school.edu", "Jane", "Doe", "16", "12.5"],
        ["ana.lima@school.edu", "Ana", "Lima", "10", "0"],
        ["bchen@school.edu", "Bo", "Chen", "4", "0"],
        ["jose.garcia@school.edu", "José", "García", "11", "20"],
    ]
    assert export.left_out[0].startswith("Rui Ochoa: no Email address in the roster")
    assert {u["student"] for u in export.unmatched} == {"Participant 4716"}  # blind marking
    ids = export_grades(
        FIXTURES / "moodle_gradebook.csv",
        FIXTURES / "moodle_roster.csv",
        tmp_path / "by_id.csv",
        id_column="ID number",
    )
    assert read(tmp_path / "by_id.csv")[0][0] == "ID number" and "Ana Lima" in ids.left_out[0]
    with pytest.raises(ValueError, match="identifier column"):
        export_grades(
            FIXTURES / "moodle_gradebook.csv",
            FIXTURES / "moodle_roster.csv",
            tmp_path / "x.csv",
            id_column="Username",
        )


def test_export_command(tmp_path, capsys):
    grades = tmp_path / "grades"
    grades.mkdir()
    (grades / "gradebook.csv").write_text((FIXTURES / "canvas_gradebook.csv").read_text())
    code = main(
        [
            "export",
            str(grades),
            "--roster",
            str(FIXTURES / "canvas_roster.csv"),
            "--lms",
            "canvas",
            "--labs",
            "01",
            "--column",
            "01=Lab One",
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    rows = read(grades / "lms_import.csv")
    assert rows[0][-1] == "Lab One" and rows[1][-1] == "16" and len(rows[0]) == 6
    assert "NOT ON THE ROSTER" in printed.out and (grades / "lms_import.unmatched.csv").is_file()
    assert main(["export", str(grades), "--roster", str(FIXTURES / "canvas_gradebook.csv")]) == 2
    assert "not a Canvas or Moodle roster" in capsys.readouterr().err
    assert (
        main(["export", str(tmp_path / "none"), "--roster", str(FIXTURES / "canvas_roster.csv")])
        == 2
    )
