"""Exercise code must be the student's own work: find where it reaches into ``lablib``.

Students install ``lablib``, so the library must never be an answer key: no graded
exercise may be passed by calling into it. The library is kept free of exercise
solutions, and the grader enforces the rule on every submission: an exercise whose code
refers to ``lablib`` (an import, an attribute of a lablib module the notebook imported,
a name imported from lablib, or dynamic code or imports that could reach it, such as
``__import__``, ``importlib``, ``sys.modules``, ``exec`` or ``eval``) earns nothing for
the tests that use it, and the row is flagged.

A lab may name the helpers an exercise is meant to use, in the exercise's cell of the
instructor notebook, with one comment line (students see it too)::

    # lablib helpers you may use here: augment.compose, plot.image_grid

Constants (``ALL_CAPS`` names such as ``augment.IMAGENET_MEAN``) are data, not code, and
are always allowed.

Example:
    >>> bindings = lablib_bindings(["from lablib import checks, numpy_nn", "import numpy as np"])
    >>> lablib_references("def f(x):\\n    return numpy_nn.relu_forward(x)", bindings)
    ['lablib.numpy_nn.relu_forward']
    >>> lablib_references("def f(x):\\n    return np.maximum(x, 0)", bindings)
    []
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

__all__ = ["ALLOWED_HELPERS", "allowed_helpers", "lablib_bindings", "lablib_references"]

ALLOWED_HELPERS = re.compile(r"^\s*#\s*lablib helpers you may use here:\s*(?P<names>.+?)\s*$", re.M)
_DYNAMIC_NAMES = {"__import__", "importlib", "exec", "eval", "compile", "globals", "vars"}
_DYNAMIC_ATTRIBUTES = {"__import__", "import_module", "modules", "__dict__"}
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _parse(source: str) -> ast.AST | None:
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def _is_lablib(module: str | None) -> bool:
    return bool(module) and (module == "lablib" or module.startswith("lablib."))


def lablib_bindings(sources: Iterable[str]) -> dict[str, str]:
    """Names that the notebook's imports bind to lablib objects: ``{"checks": "lablib.checks"}``."""
    bindings: dict[str, str] = {}
    for source in sources:
        tree = _parse(source)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _is_lablib(alias.name):
                        local = alias.asname or alias.name.split(".")[0]
                        bindings[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and _is_lablib(node.module):
                for alias in node.names:
                    bindings[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bindings


def allowed_helpers(source: str) -> frozenset[str]:
    """The helpers an exercise cell may use, as full names (``lablib.augment.compose``)."""
    names = set()
    for match in ALLOWED_HELPERS.finditer(source):
        for name in match["names"].split(","):
            name = name.strip().strip("`")
            if name:
                names.add(name if name.startswith("lablib.") else f"lablib.{name}")
    return frozenset(names)


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` -> ``["a", "b", "c"]`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _allowed(full: str, allowed: frozenset[str]) -> bool:
    return _CONSTANT.match(full.rsplit(".", 1)[-1]) is not None or full in allowed


def _reference(node: ast.AST, bindings: Mapping[str, str]) -> str | None:
    """The lablib object ``node`` names, or a note on an import that could reach lablib."""
    if isinstance(node, ast.Import):
        return next((a.name for a in node.names if _is_lablib(a.name)), None)
    if isinstance(node, ast.ImportFrom):
        if not _is_lablib(node.module):
            return None
        return ", ".join(f"{node.module}.{alias.name}" for alias in node.names)
    if isinstance(node, ast.Name) and node.id in _DYNAMIC_NAMES:
        return f"dynamic code or imports ({node.id})"
    if isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_ATTRIBUTES:
        return f"dynamic code or imports (.{node.attr})"
    if isinstance(node, (ast.Attribute, ast.Name)):
        parts = _dotted(node)
        if parts and parts[0] in bindings:
            return ".".join([bindings[parts[0]], *parts[1:]])
    return None


def lablib_references(
    source: str, bindings: Mapping[str, str], allowed: frozenset[str] = frozenset()
) -> list[str]:
    """Where exercise code ``source`` reaches into lablib (sorted, without repeats).

    Args:
        source: the student's exercise cell.
        bindings: names the notebook binds to lablib (:func:`lablib_bindings`).
        allowed: helpers this exercise may use (:func:`allowed_helpers`).

    Returns:
        Full names such as ``"lablib.numpy_nn.conv2d_forward"``, or a description of an
        import that could reach lablib; empty when the code is the student's own. Code
        that does not parse returns ``[]`` (it fails its tests by itself).
    """
    tree = _parse(source)
    if tree is None:
        return []
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in inner and _dotted(node) is not None:
            continue  # a chain a.b.c is named by its outermost attribute, not by a or a.b
        ref = _reference(node, bindings)
        if ref and not _allowed(ref, allowed):
            found.add(ref)
    return sorted(found)
