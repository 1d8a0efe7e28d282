"""Grading: release student notebooks, and grade a class's submissions into a gradebook.

- :mod:`~lablib.grading.markers`: the solution / hidden-test / test-header markers and the
  grader's triggers, in one place.
- :mod:`~lablib.grading.release`: instructor notebook -> student notebook + hidden tests.
- :mod:`~lablib.grading.nbgrader`: nbgrader cell metadata and source notebooks for a course.
- :mod:`~lablib.grading.publish`: the repository and ref a release points at.
- :mod:`~lablib.grading.plan`: what the grader runs for one lab, and how a submission's
  cells are matched to its exercises.
- :mod:`~lablib.grading.verdict`: tests rewritten to record answers; the verdict decided
  in the grader against the instructor's run.
- :mod:`~lablib.grading.submissions`: finding, reading and attributing submission files
  (Canvas and Moodle download names included).
- :mod:`~lablib.grading.execute`: running one rebuilt notebook in a fresh, limited kernel.
- :mod:`~lablib.grading.sandbox`: what runs inside that kernel (limits, Landlock, guards).
- :mod:`~lablib.grading.report`: scores, statuses, ``results.json`` and ``feedback.html``.
- :mod:`~lablib.grading.gradebook`: the whole class, in parallel, into ``gradebook.csv``.
- :mod:`~lablib.grading.cache`: re-grading only what changed.
- :mod:`~lablib.grading.gradescope`: a Gradescope autograder zip and its ``run_autograder``.
- :mod:`~lablib.grading.roster`: grades a Canvas or Moodle gradebook imports.

Importing this package is cheap (the grading kernel imports :mod:`markers` through it);
``grade`` and its options load the heavy modules on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLUMNS", "GradeOptions", "GradeReport", "grade"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lablib.grading import gradebook

        return getattr(gradebook, name)
    raise AttributeError(f"module 'lablib.grading' has no attribute {name!r}")
