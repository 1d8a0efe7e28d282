"""Run a rebuilt notebook in a sandboxed kernel and record what each cell did.

One job = one fresh kernel process (:mod:`lablib.grading.sandbox` starts it inside its
sandbox), driven cell by cell with nbclient, ``allow_errors`` on, so a failing cell
never stops the notebook. Limits: a per-cell time limit on every cell from the first
exercise on (student code can run there; the setup and the cells before it are the
instructor's), a per-notebook limit over everything, a memory limit (``RLIMIT_AS``) and
a cap on the output kept per cell.

When the kernel dies (``os._exit``, a segfault, the memory limit) or stops answering
after a timeout, the cell is charged with it and, while later tests remain and time is
left, a fresh kernel re-runs the cells before it (not the culprit) and carries on, so a
crash in exercise 2 still lets exercise 3 earn its points.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets
import shutil
import site
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from lablib.grading.markers import PURGE_TRIGGER, TOKEN_PREFIX
from lablib.grading.plan import RunCell, defined_names
from lablib.grading.verdict import Recording, read_records, sign

__all__ = ["ExecOptions", "ExecutionError", "CellResult", "Sandbox", "execute", "run_sync"]

_TIMEOUT = "LablibCellTimeout"
_TOKEN_LINE = re.compile(re.escape(TOKEN_PREFIX) + r"\S*\n?")
_ENV_KEEP = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONPATH",
    "LD_LIBRARY_PATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND",
)
_SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc",
    "/opt",
    "/proc",
    "/sys",
    "/dev",
)


class ExecutionError(RuntimeError):
    """The grader could not run the notebook (a kernel that would not start): no score."""


@dataclass
class ExecOptions:
    """Limits for one notebook (seconds and bytes)."""

    timeout: float = 600.0  # the whole notebook, kernel start-ups included
    cell_timeout: float = 120.0  # each cell from the first exercise on
    memory: int = 6 * 2**30  # the kernel's address space (RLIMIT_AS)
    output_limit: int = 200_000  # output kept per cell
    file_size: int = 512 * 2**20  # largest file the kernel may write
    max_recoveries: int = 3  # fresh kernels after a crash
    landlock: bool = True


@dataclass
class CellResult:
    """What one cell did."""

    status: str = "not_run"  # ok | error | timeout | died | not_run
    ename: str = ""
    evalue: str = ""
    outputs: list = field(default_factory=list)
    seconds: float = 0.0
    token_seen: bool = False
    truncated: int = 0
    note: str = ""
    recording: Recording | None = None  # a test's signed records (lablib.grading.verdict)


@dataclass
class Sandbox:
    """Where a job's kernel lives and what it may touch."""

    job: Path  # the job folder: the only place the kernel can write
    protected: list[str]  # folders it must not read (labs, submissions, grades, other jobs)
    read: list[str]  # folders it may read (Landlock allowlist)

    @property
    def cwd(self) -> Path:
        return self.job / "cwd"

    def prepare(self) -> dict[str, str]:
        """Create the job folder and return the kernel's environment."""
        for name in ("cwd", "home", "tmp", "runtime", "ipython", "mpl", "keras", "answers"):
            (self.job / name).mkdir(parents=True, exist_ok=True)
        _copy_font_cache(self.job / "mpl")
        env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP or k.startswith("LC_")}
        env.update(
            LABLIB_PROFILE="quick",
            LABLIB_OFFLINE="1",
            MPLBACKEND="Agg",
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONUSERBASE=site.getuserbase(),
            HOME=str(self.job / "home"),
            TMPDIR=str(self.job / "tmp"),
            IPYTHONDIR=str(self.job / "ipython"),
            MPLCONFIGDIR=str(self.job / "mpl"),
            KERAS_HOME=str(self.job / "keras"),
            JUPYTER_RUNTIME_DIR=str(self.job / "runtime"),
            JUPYTER_CONFIG_DIR=str(self.job / "home"),
            JUPYTER_DATA_DIR=str(self.job / "home"),
            LABLIB_DATA=os.environ.get("LABLIB_DATA") or str(_data_dir()),
            JPY_SESSION_NAME="",
        )
        return env

    def config(self, options: ExecOptions) -> dict[str, Any]:
        limits = {
            "memory": options.memory,
            "file_size": options.file_size,
            "cpu": int(4 * options.timeout + 60),
        }
        own = str(self.job.resolve())
        return {
            "limits": limits,
            "read": self.read,
            "write": [own, "/dev/null"],
            "landlock": options.landlock,
            "protected": self.protected,
            "own": [own, *self.read],
            "answers": str(self.job.resolve() / "answers"),
        }


def _data_dir() -> Path:
    from lablib.datasets import fallback

    return fallback.data_dir()


def _copy_font_cache(target: Path) -> None:
    """Give the kernel matplotlib's font list, so it need not rebuild it (that starts a program)."""
    base = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "matplotlib"
    )
    for font_list in Path(os.path.expanduser(base)).glob("fontlist-*.json"):
        shutil.copy(font_list, target / font_list.name)


def carve(root: str, protected: list[str]) -> list[str]:
    """``root`` as a list of paths that together cover it minus the ``protected`` folders."""
    inside = [p for p in protected if p == root or p.startswith(root.rstrip("/") + "/")]
    if not inside:
        return [root]
    if root in inside or not os.path.isdir(root):
        return []
    parts = []
    for name in sorted(os.listdir(root)):
        parts += carve(os.path.join(root, name), protected)
    return parts


def readable_paths(protected: list[str], extra: list[str] = ()) -> list[str]:
    """The kernel's read allowlist: Python, site-packages, lablib, data/, system folders;
    never ``protected``."""
    import lablib

    roots = [
        *_SYSTEM_READ,
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        *site.getsitepackages(),
        site.getusersitepackages(),
        str(Path(lablib.__file__).parent),
        str(_data_dir()),
        *extra,
    ]
    paths: list[str] = []
    for root in dict.fromkeys(os.path.realpath(r) for r in roots if os.path.exists(r)):
        paths += carve(root, protected)
    return paths


class _KernelManager(AsyncKernelManager):
    """Starts ipykernel through :mod:`lablib.grading.sandbox` (limits + Landlock first)."""

    sandbox_config: dict[str, Any] = {}

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "lablib.grading.sandbox",
            "--sandbox",
            json.dumps(self.sandbox_config),
            "-f",
            self.connection_file,
            *(extra_arguments or []),
        ]


class _Client(NotebookClient):
    """nbclient, plus: completion tokens, an output cap, and which cells the kernel started."""

    def __init__(
        self, nb: nbformat.NotebookNode, tokens: dict[int, str], output_limit: int, **kw: Any
    ) -> None:
        super().__init__(nb, **kw)
        self.tokens, self.output_limit = tokens, output_limit
        self.seen: set[int] = set()
        self.exits: set[int] = set()
        self.on_cell_executed = self._record_reply
        self.sizes: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.timeouts: set[int] = set()

    def _record_reply(self, cell: Any, cell_index: int, execute_reply: dict) -> None:
        content = (execute_reply or {}).get("content", {})
        if content.get("ename") == _TIMEOUT:
            self.timeouts.add(cell_index)
        payload = content.get("payload", [])
        if any(
            p.get("source") == "ask_exit" for p in payload
        ):  # exit() / quit(): the kernel shuts down next
            self.exits.add(cell_index)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and TOKEN_PREFIX in content.get("text", ""):
            token = self.tokens.get(cell_index)
            if token and TOKEN_PREFIX + token in content["text"]:
                self.seen.add(cell_index)
            content["text"] = _TOKEN_LINE.sub("", content["text"])
            if not content["text"]:
                return None
        if kind == "error":  # always kept, but never huge
            content["evalue"] = str(content.get("evalue", ""))[:4000]
            content["traceback"] = [str(line)[:4000] for line in content.get("traceback", [])[-40:]]
            return super().output(outs, msg, display_id, cell_index)
        size = (
            len(content.get("text", ""))
            if kind == "stream"
            else len(json.dumps(content.get("data", {})))
        )
        used = self.sizes.get(cell_index, 0)
        room = max(0, self.output_limit - used)
        if size > room:
            self.dropped[cell_index] = self.dropped.get(cell_index, 0) + size - room
            if kind != "stream" or room == 0:
                return None
            content["text"], size = content["text"][:room], room
        self.sizes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


class _Session:
    """One kernel process and its nbclient driver."""

    def __init__(
        self,
        nb: nbformat.NotebookNode,
        tokens: dict[int, str],
        sandbox: Sandbox,
        options: ExecOptions,
        number: int,
        secret: bytes = b"",
    ) -> None:
        self.sandbox, self.options, self.number = sandbox, options, number
        self.secret = secret
        self.km = _KernelManager(kernel_name="python3")
        self.km.sandbox_config = sandbox.config(options)
        self.km.connection_file = str(sandbox.job / "runtime" / f"kernel-{number}.json")
        # nbclient has no timeout hook: on a timeout it interrupts the kernel and hands
        # on_cell_executed this reply, which _Client._record_reply recognises by its name.
        error = {"ename": _TIMEOUT, "evalue": "", "traceback": []}
        self.client = _Client(
            nb,
            tokens,
            options.output_limit,
            km=self.km,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout=error,
            iopub_timeout=4,
            startup_timeout=120,
            record_timing=False,
            shutdown_kernel="immediate",
            coalesce_streams=False,
        )  # nbclient's coalescing regex is quadratic in a line's length
        self.log = open(sandbox.job / f"kernel-{number}.log", "wb")

    async def start(self, env: dict[str, str]) -> None:
        await self.km.start_kernel(
            env=env,
            cwd=str(self.sandbox.cwd),
            stdout=self.log,
            stderr=self.log,
            extra_arguments=[
                "--HistoryManager.hist_file=:memory:",
                "--HistoryManager.enabled=False",
            ],
        )
        process = getattr(self.km.provisioner, "process", None)
        if process is not None:  # lets the grader stop this kernel even if this worker dies
            (self.sandbox.job / f"kernel-{self.number}.pid").write_text(str(process.pid))
        await self.client.async_start_new_kernel_client()
        config = {
            k: v
            for k, v in self.sandbox.config(self.options).items()
            if k in ("protected", "own", "answers")
        }
        secret_file = self.sandbox.job / "runtime" / f"secret-{self.number}"
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.secret)
        config["secret"] = str(secret_file.resolve())
        preamble = (
            "import lablib.grading.sandbox as _lablib_gk\n"
            f"_lablib_gk.install({config!r})\ndel _lablib_gk"
        )
        reply = await self.quiet(preamble, 120)
        if reply != "ok":
            raise RuntimeError(f"the grading sandbox did not start in the kernel: {reply}")

    async def quiet(self, code: str, timeout: float) -> str:
        """Run grader code silently; ``"ok"``, the error, or ``"timeout"``."""
        try:
            reply = await self.client.kc.execute_interactive(
                code,
                silent=True,
                store_history=False,
                timeout=timeout,
                output_hook=lambda msg: None,
            )
        except (TimeoutError, asyncio.TimeoutError):
            return "timeout"
        content = reply["content"]
        return (
            "ok"
            if content["status"] == "ok"
            else f"{content.get('ename')}: {content.get('evalue')}"
        )

    async def alive(self) -> bool:
        return bool(await self.km.is_alive())

    def exit_description(self) -> str:
        process = getattr(self.km.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel stopped responding"
        if code < 0:
            import signal

            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = (
                " (out of memory?)"
                if name == "SIGKILL"
                else " (a crash in native code)"
                if name == "SIGSEGV"
                else ""
            )
            return f"the kernel was killed by {name}{hint}"
        return f"the kernel exited with code {code} (exit(), sys.exit in a thread or os._exit?)"

    async def run(self, cell: RunCell, index: int, deadline: float) -> CellResult:
        """Run one cell within its time limit."""
        limit = self.options.cell_timeout if cell.timed else math.inf
        timeout = max(1, math.ceil(min(limit, deadline - time.monotonic())))
        self.client.timeout = timeout
        node = self.client.nb.cells[index]
        result, start = CellResult(), time.monotonic()
        try:
            await self.client.async_execute_cell(node, index, store_history=cell.kind != "test")
            reply = [o for o in node.outputs if o.get("output_type") == "error"]
            timed_out = index in self.client.timeouts
            result.status = "timeout" if timed_out else "error" if reply else "ok"
            if reply:
                result.ename, result.evalue = (
                    reply[-1].get("ename", ""),
                    reply[-1].get("evalue", ""),
                )
            if timed_out:
                which = "per-cell" if timeout >= limit else "notebook"
                result.ename, result.evalue = (
                    "TimeoutError",
                    f"stopped after {timeout} s (the {which} time limit)",
                )
        except DeadKernelError:
            result.status = "died"
        result.seconds = time.monotonic() - start
        result.outputs = list(node.outputs)
        result.token_seen = index in self.client.seen
        result.truncated = self.client.dropped.get(index, 0)
        if cell.payload is not None:
            answers = self.sandbox.job / "answers" / f"{cell.token}.jsonl"
            mode = cell.payload.split(b"\n", 2)[1].decode()
            result.recording = read_records(answers, cell.token or "", self.secret, mode)
            answers.unlink(missing_ok=True)
        if index in self.client.exits:
            result.status, result.ename = "died", "KernelDied"
            result.evalue = "the notebook called exit() or quit(), which shuts the kernel down"
        elif result.status != "died" and not await self.alive():
            result.status = "died"
        if result.status == "died" and not result.evalue:
            await asyncio.sleep(0.2)
            result.ename, result.evalue = "KernelDied", self.exit_description()
        return result

    async def close(self) -> None:
        if self.client.kc is not None:
            self.client.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - a dead kernel may fail to shut down cleanly
            pass
        self.log.close()


def _notebook(cells: list[RunCell], secret: bytes) -> nbformat.NotebookNode:
    """The notebook one kernel runs: test cells carry this kernel's signature of their payload."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(c.shown)
        if c.kind == "markdown"
        else nbformat.v4.new_code_cell(
            c.source.replace("{mac}", sign(secret, c.payload)) if c.payload else c.source
        )
        for c in cells
    ]
    return nb


async def _replay(
    session: _Session, cells: list[RunCell], upto: int, skip: set[int], deadline: float
) -> int | None:
    """Re-run cells ``[0, upto)`` in a fresh kernel; the index of a cell that broke it, or None."""
    for index in range(upto):
        if cells[index].kind == "markdown" or index in skip:
            continue
        result = await session.run(cells[index], index, deadline)
        if result.status in ("died", "timeout") or time.monotonic() >= deadline:
            return index
        if cells[index].kind == "test":
            await session.quiet(f"__lablib_grading__ = {PURGE_TRIGGER!r}", 30)
    return None


async def execute(cells: list[RunCell], sandbox: Sandbox, options: ExecOptions) -> list[CellResult]:
    """Run the rebuilt notebook; one :class:`CellResult` per cell
    (markdown cells stay ``not_run``)."""
    results = [CellResult() for _ in cells]
    env = sandbox.prepare()
    deadline = time.monotonic() + options.timeout
    tokens = {i: c.token for i, c in enumerate(cells) if c.token}
    position, skip, sessions = 0, set(), 0
    names = set().union(*(defined_names(c.source) for c in cells if c.kind == "exercise"))
    poisoned: dict[str, str] = {}  # exercise function -> how its test ended (crash or timeout)
    while position < len(cells):
        secret = secrets.token_bytes(32)
        session = _Session(_notebook(cells, secret), tokens, sandbox, options, sessions, secret)
        sessions += 1
        try:
            try:
                await asyncio.wait_for(session.start(env), max(1.0, deadline - time.monotonic()))
            except (
                RuntimeError,
                OSError,
            ) as exc:  # the kernel or its sandbox would not start: not the student's doing
                raise ExecutionError(f"kernel {sessions} did not start: {exc}") from exc
            broken = await _replay(session, cells, position, skip, deadline) if position else None
            if broken is not None:
                skip.add(broken)
                results[
                    broken
                ].note = "this cell broke the kernel again when it was re-run after a crash"
            else:
                position = await _run_from(
                    session, cells, results, position, skip, deadline, (names, poisoned)
                )
        except asyncio.TimeoutError:
            _not_run(cells, results, position, "not run: the notebook time limit ran out")
            break
        finally:
            await session.close()
        if position >= len(cells):
            break
        if not any(c.kind == "test" for c in cells[position:]):
            _not_run(
                cells, results, position, "not run: the kernel died earlier and no tests were left"
            )
            break
        if sessions > options.max_recoveries or time.monotonic() >= deadline:
            _not_run(
                cells,
                results,
                position,
                "not run: the kernel died earlier and no time or restarts were left",
            )
            break
    return results


def _calls(source: str, names: set[str]) -> list[str]:
    return sorted(n for n in names if re.search(rf"\b{re.escape(n)}\b", source))


async def _run_from(
    session: _Session,
    cells: list[RunCell],
    results: list[CellResult],
    position: int,
    skip: set[int],
    deadline: float,
    exercises: tuple[set[str], dict[str, str]],
) -> int:
    """Run cells from ``position``; return where to resume after a crash (len(cells) when done).

    An instructor cell that calls an exercise function whose test crashed or timed out
    is skipped: it would only crash or time out again, and it earns nothing.
    """
    names, poisoned = exercises
    for index in range(position, len(cells)):
        cell = cells[index]
        if cell.kind == "markdown":
            continue
        if time.monotonic() >= deadline:
            _not_run(cells, results, index, "not run: the notebook time limit ran out")
            return len(cells)
        bad = _calls(cell.source, set(poisoned)) if cell.kind == "code" else []
        if bad:
            results[
                index
            ].note = f"skipped: it calls {', '.join(bad)}, whose test {poisoned[bad[0]]}"
            skip.add(index)
            continue
        result = await session.run(cell, index, deadline)
        results[index] = result
        if cell.test is not None and result.status in ("died", "timeout"):
            how = "crashed the kernel" if result.status == "died" else "timed out"
            poisoned.update({n: how for n in _calls(cell.test.code, names)})
        if result.status == "timeout":
            skip.add(index)  # a re-run after a crash would only time out again
        if result.status == "died" or (
            result.status == "timeout" and await session.quiet("", 10) != "ok"
        ):
            skip.add(index)
            return index + 1
        if cell.kind == "test":
            await session.quiet(f"__lablib_grading__ = {PURGE_TRIGGER!r}", 30)
    return len(cells)


def _not_run(cells: list[RunCell], results: list[CellResult], start: int, note: str) -> None:
    for index in range(start, len(cells)):
        if (
            cells[index].kind != "markdown"
            and results[index].status == "not_run"
            and not results[index].note
        ):
            results[index].note = note


def run_sync(cells: list[RunCell], sandbox: Sandbox, options: ExecOptions) -> list[CellResult]:
    """:func:`execute` from synchronous code (a grading worker)."""
    return asyncio.run(execute(cells, sandbox, options))
