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
    extras = project["optional-dependencies"]
    reqs = project["dependencies"] + [r for e in ("grade", "lab", "dev") for r in extras[e]]
    reqs = [r for r in reqs if not r.startswith("lablib[")]  # dev names the other extras
    return dict(parse_requirement(r) for r in reqs), project["requires-python"]


def test_a_lab_needs_only_the_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {parse_requirement(r)[0] for r in project["dependencies"]}
    tools = {"jupyterlab", "jupyter-server", "nbval", "nbconvert", "nbclient", "nbformat", "pytest"}
    assert not core & tools, f"the install a student gets pulls in {sorted(core & tools)}"
    assert "lablib[grade,lab]" in project["optional-dependencies"]["dev"]


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
    targets = set(re.findall(r"^([a-z]+):", makefile, re.M))
    assert {
        "help",
        "setup",
        "lab",
        "run",
        "test",
        "lint",
        "release",
        "grade",
        "data",
        "clean",
    } <= targets
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M)[1].split())
    assert phony <= targets, f".PHONY names targets that do not exist: {sorted(phony - targets)}"
    test_recipe = re.search(r"^test: setup.*\n((?:\t.*\n)+)", makefile, re.M)[1]
    assert (
        "--nbval-lax" in test_recipe and "labs" in test_recipe and "--dist loadfile" in test_recipe
    )
    assert re.search(r"^test: setup lint", makefile, re.M), "make test runs ruff first"
    assert "LABLIB_PROFILE = quick" in makefile and "LABLIB_OFFLINE = 1" in makefile


def test_make_help_lists_every_documented_target():
    import subprocess

    out = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert {"setup", "lab", "run", "test", "release", "grade", "data", "clean"} <= listed


def test_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick_start, re.M)
    assert commands == ["make lab", "make test"]


def test_ci_entry_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash") and "make test" in ci


def test_console_script_has_the_makefiles_verbs():
    import argparse

    from lablib.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {
        "release",
        "data",
        "run",
        "info",
        "grade",
        "gradescope",
        "export",
        "nbgrader",
    }
    args = parser.parse_args(["run", "03", "--profile", "quick"])
    assert args.only == ["03"] and args.profile == "quick" and callable(args.func)
    makefile = (ROOT / "Makefile").read_text()
    for verb in ("release", "run", "grade", "data"):
        assert f"$(BIN)/lablib {verb}" in makefile, f"make {verb} calls `lablib {verb}`"


def test_license_and_contributing_guide_exist():
    license_text = (ROOT / "LICENSE").read_text()
    assert "MIT License" in license_text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    assert "## Writing a lab" in (ROOT / "CONTRIBUTING.md").read_text()


def test_the_contributing_tour_names_every_module():
    tour = (ROOT / "CONTRIBUTING.md").read_text().split("## A tour of `lablib`", 1)[1]
    tour = tour.split("\n## ", 1)[0]
    package = ROOT / "lablib"
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py" and path.parent != package:
            continue  # a subpackage is named by its folder
        rel = path.relative_to(package)
        named = rel.name in tour or f"`{rel.parts[0]}/`" in tour
        assert named, f"lablib/{rel} is not in CONTRIBUTING.md's tour of lablib"


def test_lab_modules_import_without_the_grading_tools():
    """What a lab imports works in a student's install, which has no nbformat or nbclient."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('nbformat', 'nbclient', 'nbconvert', 'jupyter_client', 'nbval'):\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        "import lablib, lablib.checks, lablib.feedback, lablib.plot, lablib.datasets\n"
        "import lablib.augment, lablib.numpy_nn, lablib.architectures, lablib.grading.markers\n"
        "from lablib import cli\n"
        "sys.exit(cli.main(['release', '--labs', 'nowhere']))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2, run.stderr
    assert "pip install 'lablib[grade]'" in run.stderr, run.stderr
