"""Packaging: pyproject and environment.yml agree; the Makefile, README and CI entry keep
their contracts."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def parse_requirement(text):
    match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(.*)$", text)
    return match[1].lower().replace("_", "-"), match[2].replace(" ", "")


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(parse_requirement(r) for r in reqs), project["requires-python"]


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs = dict(parse_requirement(d) for d in env["dependencies"] if isinstance(d, str))
    return reqs


def test_environment_yml_matches_pyproject():
    pip, python = pyproject_requirements()
    conda = conda_requirements()
    assert conda.pop("python") == python
    conda.pop("pip")
    assert conda == pip, (
        f"only in pyproject: {sorted(set(pip.items()) - set(conda.items()))}; "
        f"only in environment.yml: {sorted(set(conda.items()) - set(pip.items()))}"
    )


def test_every_dependency_has_bounds():
    pip, _ = pyproject_requirements()
    for name, spec in pip.items():
        assert ">=" in spec and "<" in spec.replace("<=", ""), (
            f"{name}{spec}: give a lower and an upper bound"
        )


def test_makefile_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "lab", "run", "test", "release", "data", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target!r} target"
    test_recipe = makefile.split("\ntest: setup", 1)[1]
    assert "--nbval-lax" in test_recipe and "labs" in test_recipe
    assert "LABLIB_PROFILE = quick" in makefile and "LABLIB_OFFLINE = 1" in makefile


def test_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick_start, re.M)
    assert commands == ["make lab", "make test"]


def test_ci_entry_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash") and "make test" in ci


def test_console_script_lists_subcommands():
    from lablib.cli import build_parser

    help_text = build_parser().format_help()
    for verb in ("release", "data", "run", "info"):
        assert verb in help_text
