"""Where students open the labs: the repository and ref that a release points at.

The instructor notebooks name a placeholder (``lablib.SOURCE_REPO`` at
``lablib.SOURCE_REF``). ``lablib release`` rewrites every Colab badge and every install
line of the student notebooks to the repository and ref students really open, taken, in
order, from ``--repo`` / ``--ref``, from ``[tool.lablib]`` in ``pyproject.toml``
(``repository = "OWNER/NAME"``, ``ref = "TAG"``), or from the git remote ``origin``
(a GitHub URL) and the tag ``v<version>``.

A release that would still point at the placeholder, or at a ref that is neither a tag
nor a branch of the local repository, comes with a loud warning: students would get a
404 on Colab.

Example:
    >>> github_repo("git@github.com:jane/cnn-labs.git"), github_repo("https://example.org/x")
    ('jane/cnn-labs', None)
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import lablib

__all__ = ["Target", "github_repo", "resolve_target", "retarget"]

_GITHUB = re.compile(r"github\.com[:/]+(?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class Target:
    """The repository (``OWNER/NAME``) and ref a release points at, and what is wrong with it."""

    repo: str
    ref: str
    warnings: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        """The pip requirement a Colab setup cell installs."""
        return f"lablib @ git+https://github.com/{self.repo}@{self.ref}"


def github_repo(url: str) -> str | None:
    """``OWNER/NAME`` of a GitHub remote URL (https or ssh), else None."""
    match = _GITHUB.search(url.strip())
    return match["repo"] if match else None


def _git(root: Path, *args: str) -> str | None:
    try:
        run = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except OSError:
        return None
    return run.stdout.strip() if run.returncode == 0 else None


def _configured(root: Path) -> dict[str, str]:
    path = root / "pyproject.toml"
    try:
        import tomllib
    except ImportError:  # Python 3.10: no settings file support, the other sources still work
        return {}
    if not path.exists():
        return {}
    return tomllib.loads(path.read_text()).get("tool", {}).get("lablib", {})


def resolve_target(root: Path, repo: str | None = None, ref: str | None = None) -> Target:
    """Decide where the release points (see the module docstring); never raises."""
    settings = _configured(root)
    remote = _git(root, "remote", "get-url", "origin")
    repo = repo or settings.get("repository") or (github_repo(remote) if remote else None)
    ref = ref or settings.get("ref") or lablib.SOURCE_REF
    warnings = []
    if not repo or not _REPO.match(repo):
        warnings.append(
            f"no repository to publish to (got {repo!r}): the badges and install lines keep the "
            f"placeholder {lablib.SOURCE_REPO!r}, which students cannot open. Pass --repo "
            "OWNER/NAME, set [tool.lablib] repository in pyproject.toml, or add a GitHub remote."
        )
        repo = lablib.SOURCE_REPO
    elif repo == lablib.SOURCE_REPO:
        warnings.append(f"{repo!r} is the placeholder repository: pass your own with --repo")
    if _git(root, "rev-parse", "--git-dir") is not None and not (
        _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{ref}")
        or _git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{ref}")
    ):
        warnings.append(
            f"ref {ref!r} is neither a tag nor a branch of this repository: create it "
            f"(git tag {ref} && git push origin {ref}) before students open the labs"
        )
    return Target(repo, ref, tuple(warnings))


def retarget(source: str, target: Target) -> str:
    """Point the badges and install lines in a cell's source at ``target``."""
    old_repo, old_ref = lablib.SOURCE_REPO, lablib.SOURCE_REF
    new_repo, new_ref = target.repo, target.ref
    source = source.replace(f"github.com/{old_repo}@{old_ref}", f"github.com/{new_repo}@{new_ref}")
    return source.replace(
        f"/github/{old_repo}/blob/{old_ref}/", f"/github/{new_repo}/blob/{new_ref}/"
    )
