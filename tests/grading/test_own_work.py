"""lablib.grading.own_work: exercise code that reaches into lablib earns nothing, in every lab.

The end-to-end case (a graded submission whose right answers come through lablib) is the
``answer_key`` fixture in ``test_gradebook.py``; here the rule is checked on every lab's
own plan, which needs no kernel: the instructor's solutions must not reach into lablib
(they would be zeroed), and the release with a call into lablib in any exercise loses
every test that uses that exercise.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import lablib
from lablib.course import find_labs
from lablib.grading.gradebook import own_work_only
from lablib.grading.markers import STUB
from lablib.grading.own_work import allowed_helpers, lablib_bindings, lablib_references
from lablib.grading.plan import load_plan
from lablib.grading.report import TestOutcome as Outcome

LABS = find_labs(Path(__file__).resolve().parents[2] / "labs")
BINDINGS = lablib_bindings(["import lablib\nfrom lablib import checks, numpy_nn as nn, augment"])


@pytest.mark.parametrize(
    "code, expected",
    [
        ("return nn.relu_forward(x)", ["lablib.numpy_nn.relu_forward"]),
        ("import lablib.numpy_nn\nreturn 1", ["lablib.numpy_nn"]),
        (
            "from lablib.architectures import lenet5\nreturn lenet5()",
            ["lablib.architectures.lenet5"],
        ),
        ("m = __import__('lab' + 'lib')\nreturn m", ["dynamic code or imports (__import__)"]),
        ("import importlib\nreturn importlib", ["dynamic code or imports (importlib)"]),
        ("import sys\nreturn sys.modules['lablib']", ["dynamic code or imports (.modules)"]),
        ("return eval('1')", ["dynamic code or imports (eval)"]),
        ("f = lablib.setup\nreturn f", ["lablib.setup"]),
        ("return checks.check_true", ["lablib.checks.check_true"]),
        ("return augment.compose([])", []),  # allowed below
        ("return augment.IMAGENET_MEAN", []),  # constants are data
        ("model.compile('adam')\nreturn np.maximum(x, 0)", []),
        ("def broken(:", []),  # does not parse: fails its tests by itself
    ],
)
def test_references_are_found(code, expected):
    source = "def exercise(x):\n" + "\n".join("    " + line for line in code.split("\n"))
    allowed = allowed_helpers("# lablib helpers you may use here: augment.compose")
    assert lablib_references(source, BINDINGS, allowed) == expected


def test_allowed_helpers_read_the_comment_line():
    cell = "# lablib helpers you may use here: augment.compose, `plot.image_grid`\ndef f(): pass"
    assert allowed_helpers(cell) == {"lablib.augment.compose", "lablib.plot.image_grid"}
    assert allowed_helpers("def f(): pass") == frozenset()


def test_bindings_follow_every_import_form():
    bindings = lablib_bindings(
        [
            "import lablib.checks as c\nimport lablib.datasets\n"
            "from lablib.augment import compose as k"
        ]
    )
    assert bindings == {"c": "lablib.checks", "lablib": "lablib", "k": "lablib.augment.compose"}


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_the_solutions_are_the_instructors_own_code(path):
    plan = load_plan(path)
    for exercise in plan.exercises:
        solution = plan.notebook.cells[exercise.cell].source
        refs = lablib_references(solution, plan.bindings, exercise.allowed)
        assert not refs, (
            f"{path.stem}, exercise cell {exercise.cell} ({', '.join(sorted(exercise.names))}) "
            f"calls {refs}: the grader would zero it. Write it without lablib, or name the helper "
            "in a '# lablib helpers you may use here: ...' line"
        )


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_release_plus_a_call_into_lablib_earns_nothing(path):
    plan = load_plan(path)
    assert all(t.uses for t in plan.tests), "every test is tied to the exercise(s) it grades"
    module = next((n for n, full in plan.bindings.items() if full.count(".") == 1), "lablib")
    passing = [Outcome(t.name, t.points, t.points, "passed", "passed") for t in plan.tests]
    for exercise in plan.exercises:
        assert STUB.search(exercise.released), f"exercise cell {exercise.cell} has no stub to fill"
        call = f"return {module}.__name__  # an answer looked up in lablib"
        cheat = STUB.sub(call, exercise.released, count=1)
        reaching = {exercise.cell: lablib_references(cheat, plan.bindings, exercise.allowed)}
        assert reaching[exercise.cell], f"a call into lablib in cell {exercise.cell} went unseen"
        scored = own_work_only(plan, passing, reaching)
        for test, outcome in zip(plan.tests, scored):
            if exercise.cell in test.uses:
                assert outcome.score == 0 and "a call into lablib" in outcome.output, test.name
            else:
                assert outcome.score == test.points, f"{test.name} lost points it did not owe"


def test_no_exercise_shares_a_name_with_anything_in_lablib():
    """The static half of the rule: no function a student writes is defined in lablib."""
    library = set()
    for py in Path(lablib.__file__).parent.rglob("*.py"):
        library |= {n.lstrip("_") for n in re.findall(r"^\s*def\s+(\w+)", py.read_text(), re.M)}
    for path in LABS:
        for exercise in load_plan(path).exercises:
            shared = {n.lstrip("_") for n in exercise.names} & library
            assert not shared, f"{path.stem}: lablib defines {sorted(shared)}, a graded exercise"
