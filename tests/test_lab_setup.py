"""The notebook setup call: one status line, seeds, profile, bad names."""

import numpy as np
import pytest

import lablib


def test_setup_prints_one_line_with_everything(monkeypatch, capsys):
    monkeypatch.setenv("LABLIB_PROFILE", "quick")
    monkeypatch.setenv("LABLIB_OFFLINE", "1")
    cfg = lablib.setup(
        "01_convolution_filters", quick=dict(n=1), standard=dict(n=2), full=dict(n=3)
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1
    line = lines[0]
    for part in (
        "01_convolution_filters",
        "profile quick",
        "tensorflow backend",
        "device CPU",
        "data offline",
    ):
        assert part in line, f"{part!r} missing from {line!r}"
    assert cfg.n == 1 and cfg.lab == "01_convolution_filters"


def test_setup_fixes_seeds(monkeypatch):
    monkeypatch.setenv("LABLIB_PROFILE", "quick")
    lablib.setup("01_x", verbose=False, seed=7)
    a = np.random.rand(3)
    lablib.setup("01_x", verbose=False, seed=7)
    assert np.array_equal(a, np.random.rand(3))


@pytest.mark.parametrize("bad", ["lab1", "1_x", "01-Conv", "", None])
def test_setup_rejects_bad_lab_names(bad):
    with pytest.raises(ValueError, match="01_convolution_filters"):
        lablib.setup(bad)


def test_setup_rejects_unknown_profile(monkeypatch):
    monkeypatch.setenv("LABLIB_PROFILE", "turbo")
    with pytest.raises(lablib.ProfileError, match="quick, standard, full"):
        lablib.setup("01_x")
