"""Verdicts the student's code cannot reach: answers out of the kernel, comparisons in the grader.

The problem. A test cell runs in the student's kernel, and a student's function runs inside
it: while it runs it can rewrite ``lablib.checks``, NumPy, builtins or the test's globals,
by any route (``__import__('lab' + 'lib.checks')``, ``setattr``, ``sys.modules``), or start
a thread that does so a moment later. Anything the kernel *decides* can be forged.

The design. The kernel decides nothing:

1. **The test is rewritten before it leaves the grader** (:func:`instrument`): every call
   ``checks.check_xxx(name, got, expected, ...)`` becomes ``__lablib_record__(SITE, name, got,
   expected, ...)``, where ``__lablib_record__`` is a local of the test's function, not a
   global. All arguments are still evaluated in the same order (so random generators and
   inputs are the same as in the instructor's run), but ``lablib.checks`` is never called in
   the kernel, so patching it changes nothing.
2. **Only the answers leave the kernel.** The recorder serializes the ``got`` argument of each
   check (and ``check_true``'s message, for display), with a small encoder that uses only
   functions captured before the test started: numbers, strings, tuples, lists, dicts,
   NumPy arrays (numeric dtypes) and tensors, else the object's type name and shape. Each
   record is signed (BLAKE2b keyed with a per-kernel secret the grader wrote for the kernel,
   which the guard read and deleted before any student code ran, and which lives only in the
   kernel's audit hook) and appended to a file the grader reads as soon as the test ends.
3. **The expected values come from the instructor's solution**, run once per lab in a clean
   grading kernel (:mod:`lablib.grading.gradebook`), where the recorder serializes *every*
   argument of every check. They never enter the student's kernel.
4. **The grader judges** (:func:`judge`): for each check of the instructor's run, the
   student's recorded answer is compared, in the grader's own process, by the real
   :mod:`lablib.checks` function, with the instructor's expected value, tolerances and hint.
   A missing, extra, unsigned or conflicting record fails the test.

What protects the plumbing (the signing function, the recorder, the test's locals) inside
the kernel is :mod:`lablib.grading.sandbox`'s audit hook, which Python code cannot remove:
the test runs from inside the hook (``sys.audit("lablib.test", payload, mac)``: the payload
must carry the grader's signature, so a student cannot run code of their own as a test);
code the hook compiled is the only code that may sign; frames (``sys._getframe``,
``sys._current_frames``, ``tb_frame``, ``gi_frame``, ...) are refused to notebook code,
directly or through the standard library's frame helpers (``inspect``, ``traceback``,
``logging.currentframe``); ``gc`` walks and ``ctypes`` are refused. **Threads**: a test
fails when a thread started by notebook code is running when the test starts or is still
running when it ends (Python 3.11 cannot refuse a new thread, and a thread cannot be
stopped, so the rule is on the verdict: a thread cannot outlive the call and keep a pass).

What it does not do: it cannot stop a student from *returning* a hard-coded answer (the
hidden tests, whose expected values the kernel never sees, are there for that), and a
``check_true`` condition is computed in the kernel from the student's objects, like any
answer.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CHECK_ARGS",
    "as_answers",
    "reference_problems",
    "Instrumented",
    "Opaque",
    "Record",
    "Recording",
    "Site",
    "TestVerdict",
    "decode",
    "instrument",
    "judge",
    "payload",
    "read_records",
    "sign",
]

#: check function -> position of the student's answer among its positional arguments
CHECK_ARGS = {
    "check_equal": 1,
    "check_array": 1,
    "check_value": 1,
    "check_shape": 1,
    "check_true": 0,
}
RECORDER = "__lablib_record__"
_MAX_BYTES = 64 * 2**20  # largest array recorded per answer


@dataclass(frozen=True)
class Site:
    """One ``checks.check_xxx(...)`` call in a test's source."""

    id: int
    kind: str  # a key of CHECK_ARGS
    line: int  # 1-based, in the test's code
    hidden: bool  # between BEGIN and END HIDDEN TESTS


@dataclass(frozen=True)
class Instrumented:
    """A test, rewritten: the body of ``def __lablib_test__(__lablib_record__)``."""

    source: str
    sites: tuple[Site, ...]


def _check_call(node: ast.Call, direct: dict[str, str]) -> str | None:
    """``check_equal`` for ``checks.check_equal(...)``/``lablib.checks.check_equal(...)``."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in CHECK_ARGS:
        owner = func.value
        if isinstance(owner, ast.Name) and owner.id == "checks":
            return func.attr
        if (
            isinstance(owner, ast.Attribute)
            and owner.attr == "checks"
            and isinstance(owner.value, ast.Name)
            and owner.value.id == "lablib"
        ):
            return func.attr
    if isinstance(func, ast.Name) and func.id in direct:
        return direct[func.id]
    return None


def instrument(code: str, hidden_lines: frozenset[int] = frozenset()) -> Instrumented:
    """Rewrite a test's code so that its checks record instead of deciding.

    Args:
        code: the test cell's code (instructor imports first, hidden tests included).
        hidden_lines: 1-based line numbers of ``code`` that are hidden tests.

    Raises:
        SyntaxError: the test does not parse.

    Example:
        >>> t = instrument('checks.check_equal("add(2, 3)", add(2, 3), 5)')
        >>> t.sites
        (Site(id=0, kind='check_equal', line=1, hidden=False),)
        >>> print(t.source.splitlines()[-1])
            __lablib_record__(0, 'add(2, 3)', add(2, 3), 5)
    """
    tree = ast.parse(code)
    direct = {  # from lablib.checks import check_equal [as eq]
        (alias.asname or alias.name): alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "lablib.checks"
        for alias in node.names
        if alias.name in CHECK_ARGS
    }
    sites: list[Site] = []

    class Rewrite(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            kind = _check_call(node, direct)
            if kind is None:
                return node
            site = Site(len(sites), kind, node.lineno, node.lineno in hidden_lines)
            sites.append(site)
            return ast.copy_location(
                ast.Call(
                    func=ast.Name(RECORDER, ast.Load()),
                    args=[ast.Constant(site.id), *node.args],
                    keywords=node.keywords,
                ),
                node,
            )

    tree = Rewrite().visit(tree)
    star = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.names[0].name == "*"]
    body = [n for n in tree.body if n not in star] or [ast.Pass()]
    function = ast.FunctionDef(
        name="__lablib_test__",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(RECORDER)],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=body,
        decorator_list=[],
        returns=None,
        type_params=[],
    )
    module = ast.Module(body=[*star, function], type_ignores=[])
    ast.fix_missing_locations(module)
    return Instrumented(ast.unparse(module), tuple(sites))


# ---------------------------------------------------------------- in the kernel: the driver

#: Runs in the kernel, compiled by the sandbox's audit hook in a private namespace that holds
#: ``__lablib_user__`` (the notebook's namespace), ``__lablib_emit__`` (sign and append one
#: line), ``__lablib_threads__`` (a function listing foreign threads), NumPy's ``asarray``,
#: ``ndarray`` and ``generic``, base64, and a copy of the builtins: all captured by the hook
#: before any student code ran, so patching a module later changes nothing here.
DRIVER = r'''
def __lablib_drive__(test, sites, mode):
    _type, _len, _repr, _str, _int, _float, _bool = type, len, repr, str, int, float, bool
    _tuple, _list, _dict, _hasattr, _getattr = tuple, list, dict, hasattr, getattr
    _isinstance, _range, _bytes, _bex = isinstance, range, bytes, BaseException
    _emit, _threads, _user = __lablib_emit__, __lablib_threads__, __lablib_user__
    _asarray, _ndarray, _generic = __lablib_asarray__, __lablib_ndarray__, __lablib_generic__
    _b64 = __lablib_b64__
    _FunctionType = _type(__lablib_drive__)
    _numeric = frozenset("biufc")
    limit = __lablib_max_bytes__

    def s(text):
        return '"' + _b64(text.encode("utf-8", "replace")) + '"'

    def shape_of(v):
        try:
            dims = _getattr(v, "shape")
            return "[" + ",".join("null" if d is None else _str(_int(d)) for d in dims) + "]"
        except _bex:
            return "null"

    def opaque(v):
        return '["o",' + s(_type(v).__qualname__) + "," + shape_of(v) + "]"

    def array(v):
        a = _asarray(v)
        if a.dtype.kind not in _numeric or a.nbytes > limit:
            return None
        shape = "[" + ",".join(_str(d) for d in a.shape) + "]"
        return '["a",' + s(a.dtype.str) + "," + shape + ',"' + _b64(a.tobytes()) + '"]'

    def enc(v, depth=0):
        t = _type(v)
        if v is None:
            return '["n"]'
        if v is True or v is False:
            return '["b",' + ("true" if v else "false") + "]"
        if t is _int:
            try:
                return '["i",' + s(_str(v)) + "]"
            except _bex:
                return opaque(v)
        if t is _float:
            return '["f",' + s(_repr(v)) + "]"
        if t is _str:
            return '["s",' + s(v[:20000]) + "]"
        if t is _tuple or t is _list or t is _dict:
            if depth > 20 or _len(v) > 100000:
                return opaque(v)
            items = _list(v.items()) if t is _dict else v
            if t is _dict:
                inner = ",".join("[" + enc(k, depth + 1) + "," + enc(x, depth + 1) + "]"
                                 for k, x in items)
            else:
                inner = ",".join(enc(x, depth + 1) for x in items)
            tag = "t" if t is _tuple else "l" if t is _list else "d"
            return '["' + tag + '",[' + inner + "]]"
        if _isinstance(v, _generic) and t.__module__ == "numpy":
            got = array(v)
            return ('["g"' + got[4:]) if got else opaque(v)
        try:
            if _isinstance(v, _ndarray) or _hasattr(v, "__array__") or _hasattr(v, "numpy"):
                got = array(v)
                if got:
                    return got
        except _bex:
            pass
        return opaque(v)

    counts = {}
    lines = []

    def record(site, *args, **kwargs):
        where = sites.get(site)
        if where is None:
            return None
        occurrence = counts.get(site, 0)
        counts[site] = occurrence + 1
        head = "[" + _str(site) + "," + _str(occurrence) + ","
        try:
            if mode == "reference":
                named = ",".join("[" + s(k) + "," + enc(x) + "]" for k, x in kwargs.items())
                body = "[" + ",".join(enc(a) for a in args) + "],[" + named + "]"
            else:
                name = "condition" if where == 0 else "got"
                got = args[where] if _len(args) > where else kwargs.get(name)
                message = ""
                if where == 0:
                    shown = args[1] if _len(args) > 1 else kwargs.get("message", "")
                    message = shown if _type(shown) is _str else ""
                body = "[" + enc(got) + "]," + s(message[:2000])
        except _bex as exc:
            body = '["x"],' + s(_type(exc).__name__)
        lines.append(head + body + "]")
        _emit(lines[-1])
        return None

    before = _threads()
    error = None
    try:
        body = _FunctionType(test.__code__, _user, "__lablib_test__")
        if before:
            raise RuntimeError(
                "a thread your code started is still running ("
                + ", ".join(before)
                + "): the tests run only when your code's threads have ended"
            )
        body(record)
    except _bex as exc:
        error = exc
    after = [t for t in _threads() if t not in before]
    why = "" if error is None else _type(error).__name__
    _emit('["end",' + _str(_len(lines)) + "," + s(why) + "," + s(", ".join(before + after)) + "]")
    if error is not None:
        raise error
'''


def payload(test: Instrumented, token: str, mode: str) -> bytes:
    """What the sandbox's hook runs for one test: the token, the mode and the code, one per line.

    ``mode`` is ``"reference"`` (record every argument: the instructor's run) or ``"student"``
    (record the answers only).
    """
    if mode not in ("reference", "student") or not token.isalnum():
        raise ValueError(f"bad mode {mode!r} or token {token!r}")
    sites = {s.id: CHECK_ARGS[s.kind] for s in test.sites}
    code = f"{DRIVER}\n{test.source}\n__lablib_drive__(__lablib_test__, {sites!r}, {mode!r})\n"
    return f"{token}\n{mode}\n{code}".encode()


def sign(secret: bytes, data: bytes) -> str:
    """The MAC the grader and the kernel's hook agree on."""
    return hashlib.blake2b(data, key=secret, digest_size=32).hexdigest()


# ---------------------------------------------------------------- in the grader


class Opaque:
    """A student's answer the recorder could not serialize: its type name and shape."""

    def __init__(self, type_name: str, shape: tuple | None) -> None:
        self.type_name = type_name
        if shape is not None:
            self.shape = shape

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


_DTYPE_KINDS = frozenset("biufc")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected base64 text")
    return base64.b64decode(value, validate=True).decode("utf-8", "replace")


def decode(tree: Any) -> Any:
    """Rebuild an answer the kernel's encoder wrote (no pickle: plain values and arrays).

    Raises:
        ValueError: the record is malformed.
    """
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise ValueError("malformed value")
    tag = tree[0]
    if tag == "n":
        return None
    if tag == "b" and isinstance(tree[1], bool):
        return tree[1]
    if tag == "i":
        return int(_text(tree[1]))
    if tag == "f":
        text = _text(tree[1])
        return float(text) if text not in ("nan", "inf", "-inf") else float(text)
    if tag == "s":
        return _text(tree[1])
    if tag in ("t", "l"):
        items = [decode(x) for x in tree[1]]
        return tuple(items) if tag == "t" else items
    if tag == "d":
        return {_hashable(decode(k)): decode(v) for k, v in tree[1]}
    if tag in ("a", "g"):
        dtype = np.dtype(_text(tree[1]))
        if dtype.kind not in _DTYPE_KINDS or dtype.hasobject:
            raise ValueError(f"refused dtype {dtype}")
        shape = tuple(int(d) for d in tree[2])
        raw = base64.b64decode(tree[3], validate=True)
        if math.prod(shape) * dtype.itemsize != len(raw):
            raise ValueError("array size does not match its shape")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return array[()] if tag == "g" else array
    if tag == "o":
        shape = None if tree[2] is None else tuple(None if d is None else int(d) for d in tree[2])
        return Opaque(_text(tree[1]), shape)
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


@dataclass
class Record:
    """One check call as the kernel recorded it."""

    site: int
    occurrence: int
    args: list = field(default_factory=list)  # reference: every positional argument
    kwargs: dict = field(default_factory=dict)  # reference: the keyword arguments
    got: Any = None  # student: the answer
    message: str = ""  # student: check_true's message, for display
    problem: str = ""  # the answer could not be recorded (its exception's name)


@dataclass
class Recording:
    """What one test's run sent out of the kernel."""

    records: dict[tuple[int, int], Record] = field(default_factory=dict)
    ended: bool = False
    error: str = ""  # the exception that ended the test's code
    threads: str = ""  # foreign threads seen at its start or end
    conflicts: int = 0  # signed records that disagree with each other
    unsigned: int = 0  # lines without a valid signature (ignored)
    lines: list[str] = field(default_factory=list)  # the verified lines, as the kernel wrote

    def to_json(self) -> list[str]:
        """The verified lines (to store an instructor's run and load it later)."""
        return list(self.lines)

    @classmethod
    def from_json(cls, lines: list[str], mode: str = "reference") -> Recording:
        """A recording from :meth:`to_json`'s lines (a file the grader wrote: no signatures)."""
        recording = cls()
        for body in lines:
            _take(recording, body, mode, {})
        return recording


def read_records(path: Path, token: str, secret: bytes, mode: str) -> Recording:
    """The signed records of one test run (a missing file is an empty recording)."""
    recording = Recording()
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return recording
    seen: dict[tuple[int, int], str] = {}
    for line in text.splitlines():
        body, _, mac = line.rpartition(" ")
        if not body or sign(secret, f"{token}\n{body}".encode()) != mac:
            recording.unsigned += 1 if line.strip() else 0
            continue
        _take(recording, body, mode, seen)
    return recording


def _take(recording: Recording, body: str, mode: str, seen: dict[tuple[int, int], str]) -> None:
    """Add one verified line to ``recording``."""
    try:
        item = json.loads(body)
        if item[0] == "end":
            recording.ended = True
            recording.error, recording.threads = _text(item[2]), _text(item[3])
            recording.lines.append(body)
            return
        key = (int(item[0]), int(item[1]))
        if key in seen:
            recording.conflicts += seen[key] != body
            return
        seen[key] = body
        recording.records[key] = _record(key, item, mode)
        recording.lines.append(body)
    except (ValueError, TypeError, IndexError, KeyError):
        recording.unsigned += 1


def _record(key: tuple[int, int], item: list, mode: str) -> Record:
    record = Record(*key)
    if item[2] == ["x"]:
        record.problem = _text(item[3])
    elif mode == "reference":
        record.args = [decode(a) for a in item[2]]
        record.kwargs = {_text(k): decode(v) for k, v in item[3]}
    else:
        record.got, record.message = decode(item[2][0]), _text(item[3])
    return record


def reference_problems(recording: Recording) -> list[str]:
    """Why an instructor's run cannot serve as the reference (empty when it can)."""
    problems = []
    if not recording.ended:
        problems.append("it did not run to its end")
    if recording.error:
        problems.append(f"it raised {recording.error}")
    if recording.threads:
        problems.append(f"threads were running: {recording.threads}")
    problems += [f"a check at site {r.site} could not be recorded ({r.problem})"
                 for r in recording.records.values() if r.problem]
    return problems


def as_answers(reference: Recording, sites: tuple[Site, ...] | list[Site]) -> Recording:
    """The instructor's recording seen as a student's: the answers only (a self-check)."""
    kinds = {s.id: s.kind for s in sites}
    answers = Recording(ended=reference.ended, error=reference.error, threads=reference.threads)
    for key, record in reference.records.items():
        position = CHECK_ARGS.get(kinds.get(record.site, ""), 1)
        args = record.args
        got = args[position] if position < len(args) else None
        message = args[1] if kinds.get(record.site) == "check_true" and len(args) > 1 else ""
        answers.records[key] = Record(
            *key, got=got, message=message if isinstance(message, str) else "",
            problem=record.problem,
        )
    return answers


@dataclass
class TestVerdict:
    """The grader's decision on one test."""

    passed: bool
    message: str
    failed_hidden: bool = False
    checks: int = 0  # how many checks were compared


def _sentence(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def judge(
    sites: tuple[Site, ...] | list[Site],
    reference: Recording,
    student: Recording,
    *,
    cell_error: str = "",
) -> TestVerdict:
    """Compare a student's recorded answers with the instructor's run, check by check.

    Args:
        sites: the test's check calls (from :func:`instrument`).
        reference: the instructor's recording (every argument of every check).
        student: the student's recording (the answers).
        cell_error: the error the test cell showed, if any (``"NameError: ..."``).

    Returns:
        The first failing check's sentence, or ``passed``.
    """
    from lablib import checks

    by_id = {s.id: s for s in sites}
    if student.threads:
        return TestVerdict(False, f"a thread your code started was running during the test "
                           f"({student.threads}); threads must end before the test starts "
                           "and may not outlive it", False)
    if student.conflicts:
        return TestVerdict(False, "the test's answers were recorded twice with different "
                           "values: was the test's code run twice or interfered with?", False)
    compared = 0
    for key in sorted(reference.records):
        expected = reference.records[key]
        site = by_id.get(expected.site)
        if site is None:
            continue
        mine = student.records.get(key)
        if mine is None:
            if cell_error:
                message = cell_error
            elif not student.ended:
                message = ("the test did not run to its end (its checks never reported): "
                           "were its checks skipped or silenced?")
            else:
                message = (f"the test ran fewer checks than expected (check at line {site.line} "
                           "never ran)")
            return TestVerdict(False, message, site.hidden, compared)
        if mine.problem:
            return TestVerdict(False, f"your answer could not be read ({mine.problem})",
                               site.hidden, compared)
        check = getattr(checks, site.kind)
        args = list(expected.args)
        position = CHECK_ARGS[site.kind]
        if position < len(args):
            args[position] = mine.got
        kwargs = dict(expected.kwargs)
        if site.kind == "check_true" and mine.message and len(args) > 1:
            args[1] = mine.message
        try:
            check(*args, **kwargs)
        except checks.CheckError as exc:
            return TestVerdict(False, f"CheckError: {_sentence(exc)}", site.hidden, compared)
        except Exception as exc:  # noqa: BLE001 - a malformed answer is the student's failure
            return TestVerdict(False, f"{type(exc).__name__}: {_sentence(exc)}", site.hidden,
                               compared)
        compared += 1
    extra = sorted(set(student.records) - set(reference.records))
    if extra:
        site = by_id.get(extra[0][0])
        line = f" at line {site.line}" if site else ""
        return TestVerdict(False, f"the test ran more checks{line} than the instructor's "
                           "solution: did your answer change how many checks run?",
                           bool(site and site.hidden), compared)
    if cell_error:
        return TestVerdict(False, cell_error, False, compared)
    if not student.ended:
        return TestVerdict(False, "the test did not run to its end: were its checks skipped "
                           "or silenced?", False, compared)
    return TestVerdict(True, "passed", False, compared)
