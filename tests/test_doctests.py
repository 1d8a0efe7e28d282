"""Every docstring example in lablib runs, and says what it claims."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import lablib

ROOT = Path(lablib.__file__).resolve().parent
MODULES = sorted(
    ".".join(("lablib", *p.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
    for p in ROOT.rglob("*.py")
    if ">>>" in p.read_text(encoding="utf-8")
)


def test_the_modules_with_examples_are_found():
    assert "lablib.grading.own_work" in MODULES and "lablib.course" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} shows examples that doctest did not find"
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see above)"
