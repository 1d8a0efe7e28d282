"""The instructor notebooks' own functions, for unit tests that pin a lab's numbers.

``lab_code("01")`` returns a namespace holding every function and class the lab's instructor
notebook defines at the top level of a code cell (solutions included), with the notebook's
imports, and nothing else run: no setup call, no training, no plots. A syllabus test can then
check that the code a student reads reproduces the slide's number, next to an independent
reference (NumPy, SciPy, Keras)::

    from labcode import lab_code  # tests/syllabus/conftest.py puts this folder on sys.path

    def test_slide_example():
        lab = lab_code("01")
        assert lab.conv2d(...).tolist() == [[19, 25], [37, 43]]
"""

from __future__ import annotations

import ast
import functools
import json
import types
from pathlib import Path

LABS = Path(__file__).resolve().parents[2] / "labs"


def _notebook(prefix: str) -> Path:
    found = sorted(LABS.glob(f"{prefix}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one labs/{prefix}_*.ipynb, found {len(found)}")
    return found[0]


def _strip_magics(source: str) -> str:
    lines = source.split("\n")
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


@functools.lru_cache(maxsize=None)
def lab_code(prefix: str) -> types.SimpleNamespace:
    """The top-level functions and classes of ``labs/<prefix>_*.ipynb``, with its imports."""
    path = _notebook(prefix)
    cells = json.loads(path.read_text())["cells"]
    imports: list[ast.stmt] = []
    definitions: list[ast.stmt] = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.lstrip().startswith("# TEST"):
            continue
        try:
            tree = ast.parse(_strip_magics(source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                definitions.append(node)
    module = ast.Module(body=imports + definitions, type_ignores=[])
    namespace: dict = {"__name__": f"lab{prefix}"}
    exec(compile(module, str(path), "exec"), namespace)  # noqa: S102 - our own notebook
    return types.SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})
