"""The grader's verdicts, without a kernel: rewriting a test, decoding answers, judging them.

The end-to-end attacks (patching the checks, NumPy, the test's globals, threads, frames,
forged records) are hostile submissions in ``tests/fixtures/grading``, graded in
``test_gradebook.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lablib.grading.verdict import (
    DRIVER,
    Record,
    Recording,
    as_answers,
    decode,
    instrument,
    judge,
    payload,
    read_records,
    sign,
)

TEST = """import numpy as np
checks.check_equal("add(2, 3)", add(2, 3), 5, hint="a + b")
for _a in range(2):
    checks.check_array("scale", scale([1, 2], _a), [_a, 2 * _a])
checks.check_true(isinstance(add(1, 1), int), "add returns an int")
lablib.checks.check_shape("shape", np.zeros((2, 3)), (None, 3))"""


def test_instrument_replaces_every_check_and_marks_the_hidden_ones():
    rewritten = instrument(TEST, frozenset({5, 6}))
    assert [(s.kind, s.line, s.hidden) for s in rewritten.sites] == [
        ("check_equal", 2, False),
        ("check_array", 4, False),
        ("check_true", 5, True),
        ("check_shape", 6, True),
    ]
    assert "checks." not in rewritten.source and rewritten.source.count("__lablib_record__(") == 4
    assert rewritten.source.startswith("def __lablib_test__(__lablib_record__):")
    compile(rewritten.source, "<test>", "exec")
    direct = instrument("from lablib.checks import check_value as cv\ncv('x', f(), 1.0)")
    assert [s.kind for s in direct.sites] == ["check_value"]


def _run(source: str, namespace: dict, mode: str) -> list[str]:
    """The driver outside a kernel: what it would emit, and the answers it records."""
    lines = []
    code = payload(instrument(source), "tok", mode).decode().split("\n", 2)[2]
    private = {
        "__builtins__": __builtins__,
        "__lablib_user__": namespace,
        "__lablib_emit__": lines.append,
        "__lablib_threads__": lambda: [],
        "__lablib_asarray__": np.asarray,
        "__lablib_ndarray__": np.ndarray,
        "__lablib_generic__": np.generic,
        "__lablib_b64__": lambda raw: __import__("base64").b64encode(raw).decode(),
        "__lablib_max_bytes__": 2**20,
    }
    exec(compile(code, "<lablib-test>", "exec"), private)
    return lines


def _recording(lines: list[str], mode: str, tmp_path, secret=b"k" * 32) -> Recording:
    path = tmp_path / f"{mode}.jsonl"
    signed = [f"{line} {sign(secret, ('tok' + chr(10) + line).encode())}" for line in lines]
    path.write_text("".join(line + "\n" for line in signed))
    return read_records(path, "tok", secret, mode)


def _namespace(add, scale):
    import lablib
    import lablib.checks

    return {"add": add, "scale": scale, "checks": lablib.checks, "lablib": lablib, "np": np}


def test_a_right_answer_passes_and_a_wrong_one_fails_with_the_checks_sentence(tmp_path):
    rewritten = instrument(TEST, frozenset({5, 6}))
    right = _namespace(lambda a, b: a + b, lambda x, k: np.asarray(x, float) * k)
    reference = _recording(_run(TEST, right, "reference"), "reference", tmp_path)
    assert reference.ended and len(reference.records) == 5
    assert judge(rewritten.sites, reference, as_answers(reference, rewritten.sites)).passed

    mine = _recording(_run(TEST, right, "student"), "student", tmp_path)
    verdict = judge(rewritten.sites, reference, mine)
    assert verdict.passed and verdict.checks == 5

    wrong = _namespace(lambda a, b: a - b, lambda x, k: np.asarray(x, float) * k)
    answers = _recording(_run(TEST, wrong, "student"), "s", tmp_path)
    verdict = judge(rewritten.sites, reference, answers)
    assert not verdict.passed and "add(2, 3): expected 5, got int -1" in verdict.message
    assert not verdict.failed_hidden

    floats = _namespace(lambda a, b: float(a + b), lambda x, k: np.asarray(x, float) * k)
    answers = _recording(_run(TEST, floats, "student"), "f", tmp_path)
    verdict = judge(rewritten.sites, reference, answers)
    assert not verdict.passed and "expected whole numbers" in verdict.message


def test_a_failing_hidden_check_is_marked_hidden(tmp_path):
    rewritten = instrument(TEST, frozenset({5, 6}))
    right = _namespace(lambda a, b: a + b, lambda x, k: np.asarray(x, float) * k)
    reference = _recording(_run(TEST, right, "reference"), "reference", tmp_path)
    recording = _recording(_run(TEST, right, "student"), "student", tmp_path)
    recording.records[(2, 0)].got = False  # check_true at line 5 (hidden)
    verdict = judge(rewritten.sites, reference, recording)
    assert not verdict.passed and verdict.failed_hidden and "add returns an int" in verdict.message


def test_missing_extra_unsigned_and_conflicting_records_fail(tmp_path):
    rewritten = instrument(TEST)
    right = _namespace(lambda a, b: a + b, lambda x, k: np.asarray(x, float) * k)
    reference = _recording(_run(TEST, right, "reference"), "reference", tmp_path)
    lines = _run(TEST, right, "student")

    stopped = _recording(lines[:2], "student", tmp_path)
    assert "did not run to its end" in judge(rewritten.sites, reference, stopped).message
    crashed = judge(rewritten.sites, reference, stopped, cell_error="ValueError: boom")
    assert crashed.message == "ValueError: boom"

    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(f"{line} {'0' * 64}\n" for line in lines))
    unsigned = read_records(forged, "tok", b"k" * 32, "student")
    assert unsigned.unsigned == len(lines)
    assert not judge(rewritten.sites, reference, unsigned).passed

    other = _recording(lines, "student", tmp_path, secret=b"x" * 32)
    assert read_records(tmp_path / "student.jsonl", "tok", b"k" * 32, "student").unsigned

    twice = lines[:1] + [lines[0].replace('"NQ=="', '"Ng=="')] + lines[1:]
    conflict = _recording(twice, "student", tmp_path)
    assert conflict.conflicts
    assert "recorded twice" in judge(rewritten.sites, reference, conflict).message

    extra = _recording(lines, "student", tmp_path)
    extra.records[(0, 5)] = Record(0, 5, got=5)
    assert "more checks" in judge(rewritten.sites, reference, extra).message
    assert other.ended


def test_decode_rebuilds_plain_values_and_arrays_and_refuses_the_rest():
    import base64

    def b64(text):
        return base64.b64encode(text.encode()).decode()

    assert decode(["t", [["i", b64("3")], ["f", b64("nan")], ["s", b64("é")], ["n"]]])[0] == 3
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    tree = ["a", b64(array.dtype.str), [2, 3], base64.b64encode(array.tobytes()).decode()]
    np.testing.assert_array_equal(decode(tree), array)
    with pytest.raises(ValueError):
        decode(["a", b64("|O"), [1], base64.b64encode(b"\0" * 8).decode()])  # object dtype
    with pytest.raises(ValueError):
        decode(["a", b64("<i4"), [5], base64.b64encode(b"\0" * 8).decode()])  # wrong size
    with pytest.raises(ValueError):
        decode(["pickle", "..."])
    opaque = decode(["o", b64("KerasTensor"), [None, 10]])
    assert opaque.shape == (None, 10) and "KerasTensor" in repr(opaque)


def test_the_driver_uses_only_what_it_was_given():
    # no name the driver needs is looked up in a module a student could patch
    assert "import " not in DRIVER and "lablib.checks" not in DRIVER
    json.dumps(DRIVER)


def _names(tree, kind):
    import ast

    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, kind)}


LABS = Path(__file__).resolve().parents[2] / "labs"


@pytest.mark.parametrize("lab", sorted(p.stem for p in LABS.glob("[0-9][0-9]_*.ipynb")))
def test_every_lab_test_records_its_checks_and_needs_no_other_test(lab):
    """The grader runs each test alone, inside a function: a name one test defines is not there
    for another (it used to be, as a notebook global)."""
    import ast
    import builtins

    from lablib.grading.plan import load_plan

    plan = load_plan(LABS / f"{lab}.ipynb")
    tests = {t.cell: t for t in plan.tests}
    elsewhere: set[str] = set(dir(builtins)) | {"get_ipython", "display", "In", "Out"}
    for index, cell in enumerate(plan.notebook.cells):
        if cell.cell_type == "code" and index not in tests:
            source = "\n".join(
                "" if line.lstrip().startswith(("%", "!")) else line
                for line in cell.source.split("\n")
            )
            tree = ast.parse(source)
            elsewhere |= _names(tree, ast.Store)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                    elsewhere.add(node.name)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    elsewhere |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for test in plan.tests:
        rewritten = instrument(test.code)
        assert rewritten.sites, f"{lab}: test {test.name} calls no lablib.checks function"
        tree = ast.parse(test.code)
        own = (
            _names(tree, ast.Store)
            | {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            | {
                (a.asname or a.name).split(".")[0]
                for n in ast.walk(tree)
                if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names
            }
        )
        own |= {
            a.arg
            for n in ast.walk(tree)
            if isinstance(n, ast.arguments)
            for a in n.args + n.kwonlyargs
        }
        missing = sorted(_names(tree, ast.Load) - own - elsewhere)
        assert not missing, (
            f"{lab}: test {test.name} uses {missing}, defined only in another test cell: "
            "define them in the test itself (or in an instructor cell before it)"
        )
