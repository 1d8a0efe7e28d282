"""What a student sees when a test cell runs in Jupyter or Colab.

:func:`install` (called by ``lablib.setup``) teaches IPython two things:

* a test cell (its first line is ``# TEST name (N points)``) that runs to its end says so
  in one line: ``✔ test conv1d passed (2 points)``; silence looked like "did not run";
* a failing check shows its sentence (what was expected, what came in, a hint) without
  the library frames of a traceback. Every other error, in particular one raised by the
  student's own code, keeps IPython's full traceback.

The grader does not depend on any of this: it reads each test's outcome itself.
"""

from __future__ import annotations

from typing import Any

from lablib.checks import CheckError
from lablib.grading.markers import parse_test_header

__all__ = ["install", "passed_line"]

_RED, _GREEN, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[0m"


def passed_line(cell_source: str) -> str | None:
    """The line a test cell prints when it passes, or None for any other cell.

    Example:
        >>> passed_line("# TEST conv1d (2 points)\\ncheck_array(...)")
        '✔ test conv1d passed (2 points)'
        >>> passed_line("x = 1") is None
        True
    """
    header = parse_test_header(cell_source)
    if header is None:
        return None
    name, points = header
    return f"✔ test {name} passed ({points} point{'' if points == 1 else 's'})"


def _after_cell(result: Any) -> None:
    line = passed_line(getattr(result.info, "raw_cell", "") or "")
    if line and result.success:
        print(f"{_GREEN}{line}{_RESET}")


def _check_failed(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset=None):
    """IPython custom exception handler: the check's sentence, no library frames.

    IPython leaves the display to the handler; ``_showtraceback`` is the shell's own
    display hook (ipykernel sends it to the notebook as an ``error`` output, with the
    exception's name and message, which nbval and the grader read).
    """
    stb = [f"{_RED}✘ {etype.__name__}{_RESET}: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def install(shell: Any | None = None) -> bool:
    """Install the pass line and the short check failures in the running IPython shell.

    Args:
        shell: the IPython shell; default: the current one.

    Returns:
        True when installed, False outside IPython (a plain Python script). Calling it again
        replaces the earlier hooks instead of adding more.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    events = shell.events
    for callback in list(events.callbacks.get("post_run_cell", [])):
        if getattr(callback, "__qualname__", "") == _after_cell.__qualname__:
            events.unregister("post_run_cell", callback)
    events.register("post_run_cell", _after_cell)
    shell.set_custom_exc((CheckError,), _check_failed)
    return True
