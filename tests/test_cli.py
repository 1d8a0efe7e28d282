"""The ``lablib`` command: data check, run, info."""

import csv
import shutil

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from lablib.cli import main
from lablib.datasets import fallback as datafiles


def test_data_check_passes_then_reports_corruption(tmp_path, capsys):
    assert main(["data", "--check"]) == 0
    for p in datafiles.data_dir().iterdir():
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "digits28.npz").write_bytes(b"garbage")
    assert main(["data", "--check", "--out", str(tmp_path)]) == 1
    assert "digits28.npz is corrupted or stale" in capsys.readouterr().out


def test_run_executes_labs_and_records_times(tmp_path, capsys):
    labs = tmp_path / "labs"
    labs.mkdir()
    nbformat.write(
        new_notebook(cells=[new_code_cell("import os\nprint(os.environ['LABLIB_PROFILE'])")]),
        labs / "01_ok.ipynb",
    )
    nbformat.write(new_notebook(cells=[new_code_cell("1 / 0")]), labs / "02_fails.ipynb")
    code = main(
        [
            "run",
            "--labs",
            str(labs),
            "--out",
            str(tmp_path / "build" / "executed"),
            "--profile",
            "quick",
        ]
    )
    assert code == 1
    executed = nbformat.read(tmp_path / "build" / "executed" / "01_ok.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "quick"
    rows = list(csv.DictReader(open(tmp_path / "build" / "run_timings.csv")))
    assert [(r["lab"], r["status"]) for r in rows] == [("01_ok", "ok"), ("02_fails", "error")]
    assert "1 lab(s) ran, 1 failed: 02_fails" in capsys.readouterr().out


def test_run_picks_labs_by_number(tmp_path):
    from lablib.runner import _matches

    assert _matches("10_data_augmentation", "10") and not _matches(
        "08_cifar10_regularization", "10"
    )
    assert _matches("01_convolution_filters", "1") and _matches(
        "08_cifar10_regularization", "cifar"
    )


def test_run_with_no_labs_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--labs", str(tmp_path)]) == 2
    assert "no lab notebooks" in capsys.readouterr().err


def test_info(monkeypatch, capsys):
    monkeypatch.setenv("LABLIB_PROFILE", "quick")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "profile  quick" in out and "device   CPU" in out
