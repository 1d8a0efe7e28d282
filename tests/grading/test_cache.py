"""Re-grading with the cache (:mod:`lablib.grading.cache`): only what changed runs again.

A small class (three notebooks: the fixture lab's solution and blank release, and the
``other_lab`` submission, graded here against a lab 98 made from the fixture lab) is
graded twice (module fixture ``base``); each test copies that state (submissions,
labs, ``out`` with its ``.cache``), changes one thing and grades again. The tests that
need a real verdict run kernels (a few seconds per notebook); the others replace the
worker pool with a recorder (``fake_pool``), which shows what would have run.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from lablib.cli import build_parser
from lablib.grading import cache as cache_module
from lablib.grading import gradebook
from lablib.grading.cache import CACHE_DIR, CacheStats, GradeCache, verdict_options
from lablib.grading.gradebook import GradeOptions, grade

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
LAB99, LAB98 = "99_grading_fixture", "98_other_lab"
sys.path.insert(0, str(FIXTURES))
import make_fixtures  # noqa: E402

JOBS = {("renamed", LAB99), ("blank", LAB99), ("other_lab", LAB98)}  # the notebooks that run
OPTIONS = dict(workers=2, timeout=300, cell_timeout=10, progress=False)


def _outputs(out: Path) -> dict[str, bytes]:
    """Every file a run leaves for the students (the cache and the plot aside)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and CACHE_DIR not in p.parts and p.name != "scores.png"
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Grade the class, then grade it again (one feedback file deleted in between)."""
    root = tmp_path_factory.mktemp("cache")
    subs, labs = root / "submissions", root / "labs"
    for student in ("renamed", "blank", "other_lab"):
        shutil.copytree(FIXTURES / "submissions" / student, subs / student)
    labs.mkdir()
    shutil.copy(FIXTURES / "labs" / f"{LAB99}.ipynb", labs)
    text = (FIXTURES / "labs" / f"{LAB99}.ipynb").read_text()
    (labs / f"{LAB98}.ipynb").write_text(text.replace(LAB99, LAB98))
    first = grade(subs, root / "out", labs=labs, options=GradeOptions(**OPTIONS))
    before = _outputs(root / "out")
    (root / "out" / "renamed" / LAB99 / "feedback.html").unlink()
    second = grade(subs, root / "out", labs=labs, options=GradeOptions(**OPTIONS))
    return root, first, second, before


def _clone(base, tmp_path: Path) -> Path:
    root = tmp_path / "class"
    shutil.copytree(base[0], root)
    return root


def _grade(root: Path, **options):
    return grade(
        root / "submissions",
        root / "out",
        labs=root / "labs",
        options=GradeOptions(**{**OPTIONS, **options}),
    )


def _rows(report) -> dict[tuple[str, str], dict]:
    return {(r["student"], r["lab"]): r for r in report.rows}


@pytest.fixture
def fake_pool(monkeypatch):
    """Replace the worker pool: record the jobs, answer each with a row of a chosen status."""
    ran: list[dict] = []
    statuses: dict[tuple[str, str], str] = {}

    def run_jobs(jobs, handler, context, **kw):
        if any("student" not in job for job in jobs):  # the labs' reference runs
            return [{"lab": j["lab"], "recordings": {}, "problems": []} for j in jobs]
        ran.extend(jobs)
        return [
            {**job["error_row"], "status": statuses.get((job["student"], job["lab"]), "error")}
            for job in jobs
        ]

    monkeypatch.setattr(gradebook, "run_jobs", run_jobs)
    return ran, statuses


def _ran(ran: list[dict]) -> set[tuple[str, str]]:
    return {(job["student"], job["lab"]) for job in ran}


# ------------------------------------------------------------------ with kernels


def test_a_second_run_reuses_every_row_and_writes_the_same_gradebook(base):
    root, first, second, before = base
    assert set(first.cache.graded) == JOBS and set(first.cache.graded.values()) == {"new"}
    assert _rows(first)[("renamed", LAB99)]["score"] == "7"
    assert _rows(first)[("other_lab", LAB98)]["score"] == "7"
    assert second.cache.graded == {} and set(second.cache.reused) == JOBS
    assert second.rows == first.rows
    assert _outputs(root / "out") == before  # the deleted feedback.html came back, byte for byte
    assert "0 notebook(s) graded now, 3 reused from the cache" in second.summary()
    assert second.seconds < first.seconds


def test_a_changed_submission_and_a_corrupted_entry_are_graded_again(base, tmp_path):
    root = _clone(base, tmp_path)
    path = root / "submissions" / "blank" / f"{LAB99}.ipynb"
    nbformat.write(make_fixtures.student({"add": "return a + b"}), path)
    entry = root / "out" / CACHE_DIR / "renamed" / LAB99 / "entry.json"
    entry.write_text(entry.read_text()[:100])
    (root / "out" / "renamed" / LAB99 / "results.json").unlink()
    report = _grade(root)
    assert report.cache.graded == {
        ("blank", LAB99): "submission changed",
        ("renamed", LAB99): "unreadable cache entry",
    }
    rows, old = _rows(report), _rows(base[2])
    assert rows[("blank", LAB99)]["score"] == "2"
    assert json.loads((root / "out" / "blank" / LAB99 / "results.json").read_text())["score"] == 2
    assert rows[("renamed", LAB99)]["score"] == "7"
    assert (root / "out" / "renamed" / LAB99 / "results.json").is_file()
    assert json.loads(entry.read_text())["row"]["score"] == "7"  # the entry was written again
    assert all(rows[k] == old[k] for k in rows if k not in {("blank", LAB99), ("renamed", LAB99)})


# ------------------------------------------------------------------ the pool replaced


def test_a_changed_lab_grades_that_labs_rows_again(base, tmp_path, fake_pool):
    ran, _ = fake_pool
    root = _clone(base, tmp_path)
    path = root / "labs" / f"{LAB99}.ipynb"
    path.write_text(path.read_text().replace("# TEST add (2 points)", "# TEST add (4 points)"))
    report = _grade(root)
    assert _ran(ran) == {("renamed", LAB99), ("blank", LAB99)}
    assert set(report.cache.graded.values()) == {"lab changed"}
    assert report.cache.reused == [("other_lab", LAB98)]
    assert "graded because: lab changed 2" in report.summary()


def test_a_changed_limit_grades_everything_again(base, tmp_path, fake_pool):
    ran, _ = fake_pool
    root = _clone(base, tmp_path)
    report = _grade(root, workers=1, progress=True)  # not limits: everything reused
    assert ran == [] and set(report.cache.reused) == JOBS
    report = _grade(root, cell_timeout=11)
    assert _ran(ran) == JOBS and set(report.cache.graded.values()) == {"limits changed"}


def test_a_changed_grader_grades_everything_again(base, tmp_path, fake_pool, monkeypatch):
    ran, _ = fake_pool
    root = _clone(base, tmp_path)
    real = cache_module.grader_fingerprint()
    monkeypatch.setattr(cache_module, "grader_fingerprint", lambda: {**real, "sources": "edited"})
    report = _grade(root)
    assert _ran(ran) == JOBS and set(report.cache.graded.values()) == {"grader changed"}


def test_no_cache_grades_everything(base, tmp_path, fake_pool):
    ran, statuses = fake_pool
    root = _clone(base, tmp_path)
    statuses.update({job: "graded" for job in JOBS})
    report = _grade(root, cache=False)
    assert _ran(ran) == JOBS and report.cache.reused == []
    assert "3 notebook(s) graded now (cache off)" in report.summary()
    assert build_parser().parse_args(["grade", "subs", "--no-cache"]).no_cache is True
    assert build_parser().parse_args(["grade", "subs"]).no_cache is False


def test_timeouts_and_grader_errors_are_graded_again(base, tmp_path, fake_pool):
    ran, statuses = fake_pool
    root = _clone(base, tmp_path)
    statuses.update(
        {("renamed", LAB99): "timeout", ("blank", LAB99): "error", ("other_lab", LAB98): "crashed"}
    )
    _grade(root, cell_timeout=11)
    ran.clear()
    report = _grade(root, cell_timeout=11)
    assert report.cache.graded == {
        ("renamed", LAB99): "timed out last time",
        ("blank", LAB99): "grader error last time",
    }
    assert report.cache.reused == [("other_lab", LAB98)]


@pytest.mark.parametrize(
    "damage, why",
    [
        ("json", "unreadable cache entry"),
        ("not_a_dict", "unreadable cache entry"),
        ("row", "unreadable cache entry"),
        ("missing_file", "damaged cache entry"),
        ("altered_file", "damaged cache entry"),
        ("escaping_name", "damaged cache entry"),
        ("no_entry", "new"),
    ],
)
def test_damaged_entries_are_graded_again_never_a_crash(base, tmp_path, fake_pool, damage, why):
    ran, _ = fake_pool
    root = _clone(base, tmp_path)
    entry = root / "out" / CACHE_DIR / "blank" / LAB99
    record = json.loads((entry / "entry.json").read_text())
    if damage == "json":
        (entry / "entry.json").write_bytes(b"\xff{not json")
    elif damage == "not_a_dict":
        (entry / "entry.json").write_text("[1, 2]")
    elif damage == "row":
        (entry / "entry.json").write_text(json.dumps({**record, "row": "oops"}))
    elif damage == "missing_file":
        (entry / "files" / "feedback.html").unlink()
    elif damage == "altered_file":
        (entry / "files" / "results.json").write_text("{}")
    elif damage == "escaping_name":
        files = {**record["files"], "../../../../gradebook.csv": record["files"]["results.json"]}
        (entry / "entry.json").write_text(json.dumps({**record, "files": files}))
    elif damage == "no_entry":
        shutil.rmtree(entry)
    report = _grade(root)
    assert report.cache.graded == {("blank", LAB99): why} and _ran(ran) == {("blank", LAB99)}


# ------------------------------------------------------------------ pieces


def test_keys_ignore_workers_and_progress_but_not_limits(tmp_path):
    options = verdict_options(GradeOptions(workers=7, progress=False, cache=False))
    assert "workers" not in options and "progress" not in options and "cache" not in options
    assert {"timeout", "cell_timeout", "memory_gib", "output_limit", "landlock"} <= set(options)
    labs = FIXTURES / "labs"
    job = {
        "student": "ana",
        "lab": LAB99,
        "file": "ana/x.ipynb",
        "notes": [],
        "path": str(labs / f"{LAB99}.ipynb"),
        "out_dir": str(tmp_path / "ana" / LAB99),
    }

    def key(**kw):
        return GradeCache(tmp_path, labs, GradeOptions(**kw)).key(job)[0]

    assert key(workers=1) == key(workers=4, progress=False) != key(memory_gib=5)
    assert key() != key(landlock=False) != key(output_limit=10)
    assert GradeCache(tmp_path, labs, GradeOptions()).entry_dir(job) == (
        tmp_path / CACHE_DIR / "ana" / LAB99
    )


def test_the_summary_line_says_what_was_reused():
    stats = CacheStats(Path("out/.cache"), reused=[("a", "01")] * 88)
    stats.graded = {(f"s{i}", "01"): "lab changed" for i in range(10)}
    stats.graded.update({("x", "01"): "new", ("y", "01"): "new"})
    assert stats.line() == (
        "12 notebook(s) graded now, 88 reused from the cache (out/.cache); "
        "graded because: lab changed 10, new 2"
    )
