"""Scores and feedback from an executed submission.

A test earns its points only on positive evidence: its cell ran to the end (the grader's
per-test token was printed by the cell's last line), raised nothing, and the kernel was
alive afterwards. Anything else, including a test that never ran, scores zero with a
sentence saying why. Output on stderr (TensorFlow's start-up noise) never matters.

Writes, per submission: ``results.json`` (Gradescope's schema), ``feedback.html`` (for
the student: each test's outcome, visible test code, hidden tests redacted) and
``executed.ipynb`` (for the instructor: the rebuilt notebook with its outputs, hidden
tests redacted, tracebacks of test cells cut to their last line).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

import nbformat

from lablib.grading.execute import CellResult
from lablib.grading.plan import LabPlan, RunCell
from lablib.grading.verdict import Recording, judge

__all__ = [
    "TestOutcome",
    "score_tests",
    "notebook_status",
    "write_results",
    "write_feedback",
    "write_executed",
    "plot_scores",
    "STATUSES",
]

STATUSES = {
    "graded": "the notebook ran within its limits; the score is the sum of the tests it passed",
    "timeout": "a cell or the whole notebook hit its time limit; tests that finished still count",
    "crashed": (
        "the kernel died (exit, os._exit, a crash, the memory limit); "
        "tests that finished still count"
    ),
    "memory": (
        "a cell ran out of the memory the grader allows (MemoryError); other tests still count"
    ),
    "invalid": (
        "the file is not a readable notebook (malformed JSON, empty, not a notebook): 0 points"
    ),
    "wrong_lab": "the file named for this lab holds another lab's notebook: 0 points for this lab",
    "missing": "no notebook for this lab in the student's folder: 0 points",
    "error": (
        "the grader itself failed on this submission (a bug or the machine): "
        "re-run it (0 until then)"
    ),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class TestOutcome:
    """One graded test, as Gradescope shows it."""

    name: str
    score: float
    max_score: float
    status: str  # "passed" | "failed"
    output: str
    #: the test failed on a check between BEGIN/END HIDDEN TESTS (its message may be withheld
    #: from the student until the due date: see the Gradescope export)
    failed_hidden: bool = False


def clean(text: str, limit: int = 1500) -> str:
    """Strip terminal colours and cut to ``limit`` characters."""
    text = _ANSI.sub("", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failure(result: CellResult, memory_gib: float) -> str:
    if result.status == "timeout":
        return f"stopped: the test took too long ({result.evalue}); is there an endless loop?"
    if result.status == "died":
        return f"the kernel died while this test ran: {result.evalue}"
    if result.status == "not_run":
        return result.note or "not run"
    if result.ename == "NotImplementedError":
        return "not attempted: the exercise still raises NotImplementedError()"
    if result.ename in ("MemoryError", "_ArrayMemoryError"):
        return (
            "MemoryError: the code needs more memory than the grader allows "
            f"({memory_gib:g} GiB). {clean(result.evalue, 300)}"
        )
    if result.ename:
        return f"{result.ename}: {clean(result.evalue)}"
    return (
        "the test did not run to its end (its last line never ran): "
        "were its checks skipped or silenced?"
    )


def score_tests(
    cells: Sequence[RunCell],
    results: Sequence[CellResult],
    memory_gib: float = 6,
    reference: Mapping[str, Recording] | None = None,
) -> list[TestOutcome]:
    """Score every test cell independently, in the grader's process.

    A test earns its points when its cell ran within its limits and every answer the
    kernel recorded passes the real check against the instructor's run (``reference``:
    test name -> recording; :func:`lablib.grading.verdict.judge`), else 0.
    """
    reference = reference or {}
    outcomes = []
    for cell, result in zip(cells, results):
        if cell.test is None:
            continue
        hidden = False
        if result.status not in ("ok", "error"):
            passed, message = False, _failure(result, memory_gib)
        elif cell.test.name not in reference:
            passed, message = False, "the grader has no reference run for this test (its error)"
        else:
            verdict = judge(
                cell.sites,
                reference[cell.test.name],
                result.recording or Recording(),
                cell_error=_failure(result, memory_gib) if result.ename else "",
            )
            passed, message, hidden = verdict.passed, verdict.message, verdict.failed_hidden
        outcomes.append(
            TestOutcome(
                cell.test.name,
                float(cell.test.points if passed else 0),
                float(cell.test.points),
                "passed" if passed else "failed",
                message,
                hidden,
            )
        )
    return outcomes


def _where(cell: RunCell) -> str:
    if cell.test is not None:
        return f"test {cell.test.name}"
    return f"{'exercise' if cell.kind == 'exercise' else 'instructor'} cell {cell.cell}"


def notebook_status(
    cells: Sequence[RunCell], results: Sequence[CellResult], outcomes: Sequence[TestOutcome]
) -> tuple[str, str]:
    """``(status, reason)`` for a notebook that was executed (see :data:`STATUSES`)."""

    def first(predicate):
        return next(((c, r) for c, r in zip(cells, results) if predicate(r)), None)

    passed = sum(o.status == "passed" for o in outcomes)
    summary = f"{passed}/{len(outcomes)} tests passed"
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        summary += "; first failure: " + clean(f"{failed[0].name}: {failed[0].output}", 160)
    for status, predicate in [
        ("crashed", lambda r: r.status == "died"),
        ("timeout", lambda r: r.status == "timeout" or "time limit ran out" in r.note),
        ("memory", lambda r: r.ename in ("MemoryError", "_ArrayMemoryError")),
    ]:
        found = first(predicate)
        if found:
            cell, result = found
            what = (
                f"{result.ename}: {result.evalue}"
                if status == "memory"
                else result.evalue or result.note or result.ename
            )
            return status, f"{_where(cell)}: {clean(what, 160)}; {summary}"
    return "graded", summary


def write_results(
    path: Path,
    outcomes: Sequence[TestOutcome],
    *,
    status: str,
    reason: str,
    extra: dict,
    hidden_visibility: str = "after_due_date",
) -> None:
    """``results.json`` in Gradescope's autograder schema: only the specification's keys
    (``max_score``, status and reason go to ``extra_data``); a test that failed a hidden
    check shows its message per ``hidden_visibility``
    (:func:`lablib.grading.gradescope.results_json`)."""
    from lablib.grading.gradescope import results_json

    data = results_json(
        outcomes, status=status, reason=reason, extra=extra, hidden_visibility=hidden_visibility
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
    "color:#222}\n"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
    "padding:.4em;text-align:left;vertical-align:top}\n"
    ".passed{color:#17692f;font-weight:bold}.failed{color:#a31515;font-weight:bold}"
    "pre{background:#f6f8fa;padding:.7em;\n"
    "overflow-x:auto;font-size:.9em}td pre{white-space:pre-wrap;word-break:break-word}"
    ".note{color:#555}h2{margin-top:1.6em}"
)


def _esc(text: str) -> str:
    return html.escape(str(text))


HIDDEN_FAILURE = (
    "passed its visible checks but failed a hidden check (the details are the instructor's "
    "to share, after the due date); test your function on more inputs, edge cases included"
)


def write_feedback(
    path: Path,
    *,
    student: str,
    lab: str,
    status: str,
    reason: str,
    outcomes: Sequence[TestOutcome],
    cells: Sequence[RunCell] = (),
    notes: dict[int, str] | None = None,
    show_hidden: bool = False,
) -> None:
    """``feedback.html`` for the student: score, each test's outcome, the graded code;
    no hidden tests. A test that failed a hidden check says so without the check's message
    (which names the hidden inputs and expected values) unless ``show_hidden``."""
    if not show_hidden and any(o.failed_hidden for o in outcomes):
        outcomes = [
            replace(o, output=HIDDEN_FAILURE) if o.failed_hidden else o for o in outcomes
        ]
        reason = reason.split("; first failure:")[0]
    score, total = sum(o.score for o in outcomes), sum(o.max_score for o in outcomes)
    rows = "".join(
        f"<tr><td>{_esc(o.name)}</td><td class='{o.status}'>{o.status}</td>"
        f"<td>{o.score:g} / {o.max_score:g}</td>"
        f"<td><pre>{_esc(o.output)}</pre></td></tr>"
        for o in outcomes
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{_esc(lab)}: feedback</title><style>{_CSS}</style>"
        f"</head><body><h1>{_esc(lab)}</h1><p>Student: <b>{_esc(student)}</b>"
        f"<br>Score: <b>{score:g} / {total:g}</b>"
        f"<br>Status: <b>{_esc(status)}</b> &mdash; {_esc(reason)}</p>",
        f"<h2>Tests</h2><table><tr><th>test</th><th>result</th><th>points</th><th>message</th></tr>{rows}</table>"
        if outcomes
        else "",
    ]
    for cell in cells:
        if cell.kind == "exercise":
            note = (notes or {}).get(cell.cell, "")
            parts.append(
                f"<h2>Your code (exercise cell {cell.cell})</h2>"
                f"<p class='note'>{_esc(note)}</p><pre>{_esc(cell.shown)}</pre>"
            )
        elif cell.test is not None:
            parts.append(
                f"<h2>Test {_esc(cell.test.name)} ({cell.test.points} points)</h2>"
                f"<pre>{_esc(cell.shown)}</pre>"
            )
    parts.append(
        "<p class='note'>Graded in the quick profile. "
        "Only the code of the exercise cells is taken from your "
        "notebook; every other cell comes from the course's version.</p></body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts))


def write_executed(
    path: Path,
    plan: LabPlan,
    cells: Sequence[RunCell],
    results: Sequence[CellResult],
    outcomes: Sequence[TestOutcome] = (),
) -> None:
    """The rebuilt notebook with outputs, for the instructor: hidden tests redacted; a
    failed test shows the grader's sentence."""
    nb = nbformat.v4.new_notebook(metadata=plan.notebook.metadata)
    verdicts = {o.name: o for o in outcomes}
    for cell, result in zip(cells, results):
        if cell.kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.shown))
            continue
        node = nbformat.v4.new_code_cell(cell.shown)
        outputs = (
            [o for o in result.outputs if o.get("output_type") != "error"]
            if cell.test
            else list(result.outputs)
        )
        if (
            cell.test is not None
            and result.status != "not_run"
            and (result.ename or result.status != "ok")
        ):
            outputs.append(
                nbformat.v4.new_output(
                    "error",
                    ename=result.ename or result.status,  # no traceback:
                    evalue=clean(result.evalue, 2000),
                    traceback=[],
                )
            )  # it quotes hidden lines
        elif cell.test is not None and cell.test.name in verdicts:
            outcome = verdicts[cell.test.name]
            if outcome.status == "failed":
                outputs.append(
                    nbformat.v4.new_output(
                        "error", ename="failed", evalue=clean(outcome.output, 2000), traceback=[]
                    )
                )
        elif cell.test is None and result.status in ("died", "timeout"):
            outputs.append(
                nbformat.v4.new_output("stream", name="stderr", text=f"[grader: {result.evalue}]\n")
            )
        if result.truncated:
            outputs.append(
                nbformat.v4.new_output(
                    "stream",
                    name="stderr",
                    text=f"[grader: {result.truncated / 1e6:.1f} MB of output not kept]\n",
                )
            )
        if result.status == "not_run" and result.note:
            outputs.append(
                nbformat.v4.new_output("stream", name="stderr", text=f"[grader: {result.note}]\n")
            )
        node.outputs = outputs
        nb.cells.append(node)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def plot_scores(rows: Sequence[dict], path: Path) -> Path:
    """Histogram of scores (percent of the maximum) per lab, and the count of each status."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labs = sorted({r["lab"] for r in rows})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    bins = [i * 10 for i in range(11)]
    values = [
        [
            100 * float(r["score"]) / float(r["max_score"])
            for r in rows
            if r["lab"] == lab and r["status"] != "missing" and float(r["max_score"] or 0)
        ]
        for lab in labs
    ]
    left.hist(
        values,
        bins=bins,
        label=[f"{lab} (n={len(v)})" for lab, v in zip(labs, values)],
        stacked=True,
        edgecolor="white",
    )
    left.set(
        xlabel="score (% of the lab's maximum; 100 falls in the last bar)",
        ylabel="submissions",
        title="Scores of the submitted notebooks (missing ones left out)",
        xticks=bins,
    )
    left.legend(fontsize=8)
    statuses = [s for s in STATUSES if any(r["status"] == s for r in rows)]
    counts = [sum(r["status"] == s for r in rows) for s in statuses]
    bars = right.barh(statuses[::-1], counts[::-1], color="tab:gray")
    right.bar_label(bars, padding=2)
    right.set(xlabel="rows in the gradebook", title="Status")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
