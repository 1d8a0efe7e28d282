"""benchmarks/grade_benchmark.py: the class it makes, its ratios and files, one real run.

The pieces run without a kernel (``grade`` and the plain runner replaced); one smoke test
executes a single submission of the fixture lab through plain nbclient (a few seconds).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from lablib.grading.cache import CacheStats
from lablib.grading.plan import load_plan, match_exercises

ROOT = Path(__file__).resolve().parents[2]
LAB99 = ROOT / "tests" / "fixtures" / "grading" / "labs" / "99_grading_fixture.ipynb"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "grade_benchmark", ROOT / "benchmarks" / "grade_benchmark.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_class_is_half_solved_half_blank_with_two_broken_in_fifty(bench):
    assert bench.find_lab("99") == LAB99 and bench.find_lab(str(LAB99)) == LAB99
    made = bench.variants(nbformat.read(LAB99, as_version=4), 100)
    kinds = [kind for kind, _ in made]
    assert kinds.count("broken") == 4 and kinds.count("solved") == 50 and len(kinds) == 100
    texts = [nbformat.writes(nb) for _, nb in made]
    assert len(set(texts)) == 100  # every file unique: no two cache keys alike
    plan = load_plan(LAB99)
    for kind, nb in made[:8]:
        sources = [c.source for c in nb.cells if c.cell_type == "code"]
        matched, _ = match_exercises(plan, sources)
        bodies = "\n".join(matched.values())
        assert ("NotImplementedError" in bodies) == (kind == "blank"), kind
    assert "def oops(:" in texts[5] and "ZeroDivisionError" in texts[7]


def test_ratios_table_and_files(bench, tmp_path, monkeypatch, capsys):
    def fake_grade(subs, out, *, labs, options):
        rows = [
            {
                "student": p.name,
                "lab": "99_grading_fixture",
                "score": "7",
                "status": "graded",
                "seconds": "1.0",
            }
            for p in sorted(Path(subs).iterdir())
        ]
        stats = CacheStats(Path(out) / ".cache")
        if options.cache:
            stats.reused = [(r["student"], r["lab"]) for r in rows]
        return SimpleNamespace(rows=rows, counts={"graded": len(rows)}, cache=stats)

    monkeypatch.setattr(bench, "grade", fake_grade)
    monkeypatch.setattr(bench, "run_plain", lambda paths, timeout, scratch: [1.0] * len(paths))
    clock = iter(range(0, 10_000, 10))  # every phase takes 10 "seconds"
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    summary = bench.main(["--lab", "99", "--n", "4", "--twice", "--results", str(tmp_path / "b")])
    assert [p["phase"] for p in summary["phases"]] == [
        *bench.PHASES,
        *reversed(bench.PHASES),
    ]
    assert summary["ratios"] == {"overhead": 1.0, "speedup": 1.0}
    assert [p["reused"] for p in summary["phases"]][3:5] == [4, 4]
    assert json.loads((tmp_path / "b.json").read_text())["n"] == 4
    with open(tmp_path / "b.csv") as f:
        assert len(list(csv.DictReader(f))) == 8
    printed = capsys.readouterr().out
    assert "grader overhead (b)/(a) = 1.00x" in printed and "load average" in printed


def test_a_real_plain_run_of_one_submission(bench, tmp_path):
    summary = bench.main(
        ["--lab", "99", "--n", "1", "--phases", "plain", "--results", str(tmp_path / "b")]
    )
    (plain,) = summary["phases"]
    assert plain["phase"] == "plain" and 0 < plain["total"] < 300
    assert (tmp_path / "b.csv").is_file()
