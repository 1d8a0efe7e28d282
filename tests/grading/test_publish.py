"""lablib.grading.publish: a release points every badge and install line where students go."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

import lablib
from lablib.cli import main
from lablib.grading.publish import Target, github_repo, resolve_target, retarget

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "url, repo",
    [
        ("https://github.com/jane/cnn-labs.git", "jane/cnn-labs"),
        ("https://github.com/jane/cnn-labs", "jane/cnn-labs"),
        ("git@github.com:jane/cnn.labs.git", "jane/cnn.labs"),
        ("ssh://git@github.com/jane/cnn-labs/", "jane/cnn-labs"),
        ("https://gitlab.com/jane/cnn-labs.git", None),
        ("/srv/git/cnn-labs", None),
    ],
)
def test_github_repo_from_a_remote_url(url, repo):
    assert github_repo(url) == repo


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def course(tmp_path):
    """A course repository with a GitHub remote, one commit and the tag v-this-version."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(
        tmp_path,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    git(tmp_path, "remote", "add", "origin", "git@github.com:uni-x/cnn-course.git")
    return tmp_path


def test_the_target_comes_from_the_remote_and_the_version_tag(course):
    git(course, "tag", lablib.SOURCE_REF)
    target = resolve_target(course)
    assert (target.repo, target.ref, target.warnings) == ("uni-x/cnn-course", lablib.SOURCE_REF, ())
    assert (
        target.requirement
        == f"lablib @ git+https://github.com/uni-x/cnn-course@{lablib.SOURCE_REF}"
    )


def test_arguments_beat_settings_beat_the_remote(course):
    (course / "pyproject.toml").write_text(
        '[tool.lablib]\nrepository = "dept/labs"\nref = "main"\n'
    )
    assert (resolve_target(course).repo, resolve_target(course).ref) == ("dept/labs", "main")
    target = resolve_target(course, "me/fork", "main")
    assert (target.repo, target.ref, target.warnings) == ("me/fork", "main", ())


def test_a_missing_ref_or_the_placeholder_is_loudly_warned(course, tmp_path_factory):
    target = resolve_target(course, ref="v9.9")
    assert len(target.warnings) == 1 and "neither a tag nor a branch" in target.warnings[0]
    target = resolve_target(course, repo=lablib.SOURCE_REPO, ref="main")
    assert "placeholder" in target.warnings[0]
    nowhere = resolve_target(tmp_path_factory.mktemp("no-git"))  # no remote, no settings
    assert (
        nowhere.repo == lablib.SOURCE_REPO and "no repository to publish to" in nowhere.warnings[0]
    )


def test_retarget_rewrites_the_badge_and_the_install_line_of_every_lab():
    target = Target("uni-x/cnn-course", "fall-2026")
    for path in sorted((ROOT / "labs").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title, setup = retarget(nb.cells[0].source, target), retarget(nb.cells[1].source, target)
        badge = (
            f"colab.research.google.com/github/uni-x/cnn-course/blob/fall-2026/release/{path.name}"
        )
        assert badge in title, path.name
        assert target.requirement in setup, path.name
        assert lablib.SOURCE_REPO not in title + setup, path.name


def test_lablib_release_writes_the_target_everywhere(course, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(course)
    out, material = tmp_path / "release", tmp_path / "autograder"
    code = main(
        [
            "release",
            "--labs",
            str(ROOT / "labs"),
            "--out",
            str(out),
            "--autograder",
            str(material),
            "--repo",
            "uni-x/cnn-course",
            "--ref",
            "main",
        ]
    )
    assert code == 0 and "WARNING" not in capsys.readouterr().err
    released = sorted(out.glob("*.ipynb"))
    assert len(released) == len(list((ROOT / "labs").glob("[0-9][0-9]_*.ipynb")))
    for path in released:
        text = path.read_text()
        assert lablib.SOURCE_REPO not in text and "uni-x/cnn-course" in text, path.name
    readme = (out / "README.md").read_text()
    assert "lablib @ git+https://github.com/uni-x/cnn-course@main" in readme
    assert all(f"blob/main/release/{p.name}" in readme for p in released)


def test_releasing_to_the_placeholder_warns_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no git, no settings
    code = main(
        [
            "release",
            "--labs",
            str(ROOT / "labs"),
            "--out",
            str(tmp_path / "r"),
            "--autograder",
            str(tmp_path / "a"),
        ]
    )
    assert code == 0
    assert "WARNING: no repository to publish to" in capsys.readouterr().err
