"""The grading kernel's sandbox: resource limits, a filesystem allowlist, an audit-hook guard.

Student code runs in an IPython kernel as the same user as the grader, so this module
builds the walls the kernel needs before any of it runs:

* :func:`main` is the kernel's launch command (``python -m lablib.grading.sandbox``). It
  sets resource limits (address space, CPU time, file size, no core dumps), then, where
  Linux offers it, restricts the process with **Landlock**: it may read only the Python
  installation, the ``lablib`` package, ``data/`` and system directories, and write only
  its own job folder. The instructor notebooks in ``labs/``, ``build/``, the submissions,
  the grades and the other jobs' folders are out of reach, also for C/C++ readers
  (``tf.io.read_file``) and child processes, and it cannot signal processes outside.
  Then it starts ipykernel.
* :func:`install` runs in the kernel before any student code. It adds an audit hook
  (PEP 578, which Python code cannot remove; its functions run with private copies of this
  module's globals and of the builtins) that refuses: reads or writes under the protected
  folders (the fallback where Landlock is missing), starting processes, ctypes and ``gc``
  object walks (ways around the hook), ``sys.settrace``, swapping the code of library
  functions, signals to other processes, and **frames to notebook code** (``sys._getframe``,
  ``sys._current_frames``, ``tb_frame``, ``gi_frame``..., directly or through ``inspect``,
  ``traceback``, ``logging.currentframe`` and IPython's frame helpers).
* The hook **runs the tests**: a test cell is ``sys.audit("lablib.test", payload, mac)``;
  the hook checks the grader's signature (a per-kernel key the grader wrote to a file,
  read and deleted by :func:`install`), puts back the original ``lablib.checks``, NumPy and
  ``builtins`` attributes, ``sys.modules`` entries and ``sys.stdout``/``stderr``, removes
  global shadows of ``exec``/``print``, stops interval timers and ``gc`` callbacks, then
  compiles the test (a file name only the hook knows marks its code as trusted) and runs
  it with a signing recorder and a list of foreign threads. The verdict is then decided in
  the grader (:mod:`lablib.grading.verdict`). A :data:`PURGE_TRIGGER` request drops test
  cells' source from ``linecache`` and their tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

__all__ = ["PURGE_TRIGGER", "TEST_TRIGGER", "install", "landlock_abi", "main"]

from lablib.grading.markers import PURGE_TRIGGER, TEST_TRIGGER  # noqa: F401 (re-exported)

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every architecture.
_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446
_READ_FILE, _READ_DIR, _WRITE_FILE, _TRUNCATE = 1 << 2, 1 << 3, 1 << 1, 1 << 14
_FILE_RIGHTS = _READ_FILE | _WRITE_FILE | _TRUNCATE
_MAKE_AND_REMOVE = sum(
    1 << bit for bit in range(4, 13)
)  # remove dir/file, make char/dir/reg/sock/fifo/block/sym
_REFER, _SCOPE_SIGNAL, _PR_SET_NO_NEW_PRIVS = 1 << 13, 1 << 1, 38


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The Landlock ABI version the running Linux kernel offers (0 where there is none)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_SYS_CREATE, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def _add_rule(libc: Any, ruleset: int, path: str, access: int) -> None:
    import ctypes

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist needs no rule
    try:
        if not os.path.isdir(path):
            access &= _FILE_RIGHTS
        rule = PathBeneath(access, fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def apply_landlock(read: list[str], write: list[str]) -> str:
    """Allow this process (and its children) to read only ``read`` and write only ``write``.

    Returns:
        A one-line description: ``"landlock ABI 7"`` or why Landlock is not in force.
    """
    import ctypes

    abi = landlock_abi()
    if abi < 1:
        return "landlock unavailable (audit-hook guard only)"
    libc = _libc()
    handled = _READ_FILE | _READ_DIR | _WRITE_FILE | _MAKE_AND_REMOVE
    handled |= (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    fields = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]
    attr = type("RulesetAttr", (ctypes.Structure,), {"_fields_": fields})(
        handled, 0, _SCOPE_SIGNAL if abi >= 6 else 0
    )
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(_SYS_CREATE, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return f"landlock failed ({os.strerror(ctypes.get_errno())}; audit-hook guard only)"
    try:
        for path in read:
            _add_rule(libc, ruleset, path, _READ_FILE | _READ_DIR)
        for path in write:
            _add_rule(libc, ruleset, path, handled)
        if (
            libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            or libc.syscall(_SYS_RESTRICT, ruleset, 0) != 0
        ):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return f"landlock ABI {abi}"


def _set_limits(limits: dict[str, int]) -> None:
    import resource

    names = {
        "memory": resource.RLIMIT_AS,
        "cpu": resource.RLIMIT_CPU,
        "file_size": resource.RLIMIT_FSIZE,
    }
    wanted = [(resource.RLIMIT_CORE, 0)] + [
        (names[k], v) for k, v in limits.items() if v and k in names
    ]
    for limit, value in wanted:  # no core files after a crash; memory, CPU and file-size caps
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError) as exc:  # macOS refuses RLIMIT_AS, for one
            print(
                f"lablib grading kernel: cannot set resource limit {limit}: {exc}", file=sys.stderr
            )


def main(argv: list[str] | None = None) -> None:
    """Kernel launch command: ``python -m lablib.grading.sandbox --sandbox JSON -f CONNECTION ...``.

    ``JSON`` holds ``limits`` (bytes / seconds) and ``read`` / ``write`` path lists; the
    remaining arguments go to ipykernel.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    at = argv.index("--sandbox")
    config = json.loads(argv[at + 1])
    del argv[at : at + 2]
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # the job folder is the student's: nothing in it shadows a module
    _set_limits(config.get("limits", {}))
    state = (
        apply_landlock(config["read"], config["write"])
        if config.get("landlock", True)
        else "landlock off"
    )
    os.environ["LABLIB_GRADING_SANDBOX"] = state
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


# ---------------------------------------------------------------- in the kernel: the guard

_DENIED = {
    "subprocess.Popen": "starting programs",
    "os.system": "starting programs",
    "os.exec": "starting programs",
    "os.posix_spawn": "starting programs",
    "os.spawn": "starting programs",
    "os.fork": "starting processes",
    "os.forkpty": "starting processes",
    "ctypes.dlopen": "ctypes",
    "ctypes.dlsym": "ctypes",
    "ctypes.dlsym/handle": "ctypes",
    "ctypes.call_function": "ctypes",
    "ctypes.cdata": "ctypes",
    "ctypes.string_at": "ctypes",
    "ctypes.wstring_at": "ctypes",
    "ctypes.PyObj_FromPtr": "ctypes",
    "gc.get_objects": "gc object walks",
    "gc.get_referrers": "gc object walks",
    "gc.get_referents": "gc object walks",
    "sys.settrace": "tracing",
    "sys.setprofile": "tracing",
    "sys.addaudithook": "audit hooks",
    "_thread.start_new_thread": "threads (code that runs during the tests)",
}
_PATH_EVENTS = {  # event -> positions of path arguments
    "open": (0,),
    "os.listdir": (0,),
    "os.scandir": (0,),
    "sqlite3.connect": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.rename": (0, 1),
    "os.replace": (0, 1),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "os.chdir": (0,),
}
_SNAPSHOT_MODULES = (
    "builtins",
    "base64",
    "binascii",
    "lablib",
    "lablib.checks",
    "math",
    "operator",
    "numpy",
    "numpy.linalg",
)
_SYS_ATTRIBUTES = ("stdout", "stderr", "displayhook", "excepthook", "audit")
#: Events that hand out a frame (a frame leads to every caller's locals: the recorder, the
#: test's inputs). Refused to notebook code, directly or through the helpers below.
_FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames", "sys._getframemodulename"})
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
#: Library files whose functions return frames (or their locals) to their caller.
_FRAME_HELPERS = (
    "/inspect.py",
    "/traceback.py",
    "/pdb.py",
    "/bdb.py",
    "/cgitb.py",
    "/IPython/core/ultratb.py",
    "/IPython/utils/frame.py",
    "/stack_data/",
    "/executing/",
    "/pure_eval/",
    "/tensorflow/python/util/tf_inspect.py",
    "/tensorflow/python/util/tf_stack.py",
)
_LOGGING = "/logging/__init__.py"


def _library_roots() -> tuple[str, ...]:
    """Folders whose code is library code (not the notebook's)."""
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(sysconfig.get_paths()[key])
        except KeyError:
            pass
    import lablib

    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(lablib.__file__))) + "/lablib")
    roots |= {os.path.realpath(r) for r in list(roots)}
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots if r))


def _is_under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _make_path_check(
    protected: tuple[str, ...], own: tuple[str, ...], pid: int
) -> Callable[[Any], bool]:
    """A function telling whether a path argument is off limits."""
    realpath, fsdecode, fspath = os.path.realpath, os.fsdecode, os.fspath
    proc = f"/proc/{pid}"

    def forbidden(path: Any) -> bool:
        if path is None or isinstance(path, int):
            return False  # an open file descriptor: its path was checked when it was opened
        try:
            full = realpath(fsdecode(fspath(path)))
        except Exception:
            return True
        if full.startswith("/proc/") and full[6:7].isdigit():
            return not (full == proc or full.startswith(proc + "/"))
        return _is_under(full, protected) and not _is_under(full, own)

    return forbidden


def _snapshot() -> tuple[list[tuple[dict, dict]], dict[str, Any], dict[str, Any], set[int]]:
    """Originals of the modules the tests rely on, taken before any student code runs."""
    names = [n for n in sys.modules if n in _SNAPSHOT_MODULES or n.startswith("numpy._core.")]
    modules = [sys.modules[n] for n in names]
    dicts = [(vars(m), dict(vars(m))) for m in modules]
    protected_functions = {
        id(v) for _, saved in dicts for v in saved.values() if hasattr(v, "__code__")
    }
    return (
        dicts,
        dict(zip(names, modules)),
        {a: getattr(sys, a) for a in _SYS_ATTRIBUTES},
        protected_functions,
    )


def _purge() -> None:
    """Forget the last test cell: its source in ``linecache`` and its traceback's frames."""
    import linecache

    for name, entry in list(linecache.cache.items()):
        lines = entry[2] if isinstance(entry, tuple) and len(entry) > 2 else ()
        if any(TEST_TRIGGER in line for line in lines):
            linecache.cache.pop(name, None)
    for attribute in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, attribute):
            setattr(sys, attribute, None)
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None and hasattr(getattr(shell, "InteractiveTB", None), "tb"):
        shell.InteractiveTB.tb = None


def _take_secret(path: str | None) -> bytes | None:
    """Read the grader's key for this kernel and delete the file (before any student code)."""
    if not path:
        return None
    with open(path, "rb") as f:
        secret = f.read()
    os.remove(path)
    return secret


def install(config: dict[str, Any]) -> None:
    """Add the grading guard to this kernel (call once, before any student code).

    The guard's functions are built with private copies of this module's globals and of
    the builtins, so a student who later patches ``lablib.grading.sandbox``, ``builtins``
    or a table here does not change what the guard does.

    Args:
        config: ``protected`` (paths the notebook may not touch), ``own`` (paths inside
            them that it may: its job folder), ``secret`` (a file holding the grader's key
            for this kernel: read and deleted here) and ``answers`` (the folder the tests'
            signed records go to).
    """
    import builtins
    import types

    module = sys.modules[__name__]
    private: dict[str, Any] = {}
    for name, value in vars(module).items():
        if type(value) in (dict, set, list):
            value = type(value)(value)
        private[name] = value
    private["__builtins__"] = dict(vars(builtins))
    for name, value in list(private.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == __name__:
            private[name] = types.FunctionType(
                value.__code__, private, value.__name__, value.__defaults__, value.__closure__
            )
    private["_install"](config)


def _install(config: dict[str, Any]) -> None:
    """:func:`install`'s body (runs with private globals)."""
    import base64  # noqa: F401  (snapshotted below: test cells decode themselves with it)
    import platform
    from binascii import a2b_base64 as binascii_a2b
    from binascii import b2a_base64 as binascii_b2a

    import numpy  # noqa: F401

    import lablib.checks  # noqa: F401

    platform.processor()  # cached now; computing it later would start `uname -p`
    import _blake2
    import _thread
    import builtins
    import gc
    import signal
    import threading

    saved_dicts, saved_modules, saved_sys, protected_functions = _snapshot()
    secret = _take_secret(config.get("secret"))
    answers = config.get("answers")
    trusted = f"<lablib-test-{os.urandom(16).hex()}>"  # the file name of code the hook compiled
    roots = _library_roots()
    getframe, current_frames, get_ident = sys._getframe, sys._current_frames, _thread.get_ident
    blake2b, b2a, a2b = _blake2.blake2b, binascii_b2a, binascii_a2b
    os_open, os_write, os_close = os.open, os.write, os.close
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    active_threads = threading._active  # ident -> Thread, for threads started by threading
    baseline = frozenset(current_frames())
    busy: set[int] = set()
    genuine_builtins = dict(vars(builtins))
    numpy_module = sys.modules["numpy"]
    asarray, ndarray, generic = numpy_module.asarray, numpy_module.ndarray, numpy_module.generic
    saved_gc_callbacks = list(gc.callbacks)
    timers = [signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF]
    genuine = {
        name: getattr(builtins, name) for name in ("exec", "__import__", "print", "str", "bytes")
    }
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    forbidden = _make_path_check(tuple(config["protected"]), tuple(config["own"]), os.getpid())
    pid, modules, code_type = os.getpid(), sys.modules, type(_purge.__code__)

    def restore() -> None:
        for live, saved in saved_dicts:
            live.update(saved)
        modules.update(saved_modules)
        for attribute, value in saved_sys.items():
            setattr(sys, attribute, value)
        gc.callbacks[:] = saved_gc_callbacks
        for timer in timers:  # no handler may fire in the middle of a test
            signal.setitimer(timer, 0)
        namespace = getattr(shell, "user_ns", None)
        if isinstance(
            namespace, dict
        ):  # a student's global `exec` or `print` would shadow the builtin
            for name, value in genuine.items():
                if name in namespace and namespace[name] is not value:
                    del namespace[name]
            namespace["__builtins__"] = builtins

    def notebook_code(filename: str) -> bool:
        return not (
            filename.startswith(roots) or filename.startswith("<frozen") or filename == trusted
        )

    def frames_check(event: str) -> None:
        """Refuse a frame to notebook code (and to helpers that would pass it on)."""
        ident = get_ident()
        if ident in busy:
            return
        busy.add(ident)
        try:
            frame = getframe(2)  # 0: this function, 1: the hook, 2: who asked
            code = frame.f_code if frame is not None else None
            if code is not None and code.co_name == "<lambda>" and code.co_filename.endswith(
                _LOGGING
            ):
                frame = frame.f_back  # logging.currentframe(): refused only when called directly
            else:
                while frame is not None and any(
                    h in frame.f_code.co_filename for h in _FRAME_HELPERS
                ):
                    frame = frame.f_back
            if frame is not None and notebook_code(frame.f_code.co_filename):
                raise PermissionError(
                    f"not allowed while grading: frame introspection ({event})"
                )
        finally:
            busy.discard(ident)

    def library_code(function: Any) -> bool:
        code = getattr(function, "__code__", None)
        return code is not None and code.co_filename.startswith(roots)

    def threads() -> list[str]:
        """Threads other than the kernel's own and those a library runs for itself.

        A thread counts as a library's when its class's ``run``, its target (or a Timer's
        function) are all library code; a student's function, a builtin such as ``setattr``
        or a ``functools.partial`` as the target makes it foreign, and so does a bare
        ``_thread`` (unknown to ``threading``).
        """
        found = []
        for ident in current_frames():
            if ident in baseline:
                continue
            thread = active_threads.get(ident)
            kind = type(thread)
            if thread is not None and library_code(getattr(kind, "run", None)):
                targets = [
                    t
                    for t in (getattr(thread, "_target", None), getattr(thread, "function", None))
                    if t is not None
                ]
                if all(library_code(t) for t in targets):
                    continue
            what = getattr(thread, "name", None) or f"a bare thread {ident}"
            target = getattr(thread, "_target", None) or getattr(thread, "function", None)
            name = getattr(target, "__qualname__", target)
            found.append(what if target is None else f"{what}: {name!r}")
        return found

    def run_test(data: bytes, mac: str) -> None:
        """Run one test the grader signed (see :mod:`lablib.grading.verdict`)."""
        if secret is None or answers is None:
            raise PermissionError("this kernel was not started to run graded tests")
        expected = blake2b(data, key=secret, digest_size=32).hexdigest()
        if type(mac) is not str or mac != expected:
            raise PermissionError("not allowed while grading: a test the grader did not sign")
        restore()
        token, mode, code = data.decode("utf-8").split("\n", 2)
        path = answers + "/" + token + ".jsonl"

        def emit(line: str) -> None:
            mark = blake2b(f"{token}\n{line}".encode(), key=secret, digest_size=32).hexdigest()
            fd = os_open(path, flags, 0o600)
            try:
                os_write(fd, f"{line} {mark}\n".encode())
            finally:
                os_close(fd)

        namespace = {
            "__builtins__": dict(genuine_builtins),
            "__lablib_user__": getattr(shell, "user_ns", None) or {},
            "__lablib_emit__": emit,
            "__lablib_threads__": threads,
            "__lablib_asarray__": asarray,
            "__lablib_ndarray__": ndarray,
            "__lablib_generic__": generic,
            "__lablib_b64__": lambda raw: b2a(raw, newline=False).decode("ascii"),
            "__lablib_max_bytes__": 64 * 2**20,
        }
        del mode  # the code already says it
        exec(compile(code, trusted, "exec"), namespace)

    def guard(event: str, args: tuple) -> None:
        if event == "lablib.test":
            if len(args) == 2 and type(args[0]) is str:
                run_test(a2b(args[0]), args[1])
                return
            raise PermissionError("not allowed while grading: a malformed test request")
        if event in _FRAME_EVENTS or (
            event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRIBUTES
        ):
            frames_check(event)
            return
        why = _DENIED.get(event)
        if why is not None:
            raise PermissionError(f"not allowed while grading: {why} ({event})")
        where = _PATH_EVENTS.get(event)
        if where is not None:
            if any(forbidden(args[i]) for i in where if i < len(args)):
                raise PermissionError(f"not allowed while grading: {event} {args[where[0]]!r}")
        elif event == "exec" and args and type(args[0]) is code_type:
            consts = args[0].co_consts
            if TEST_TRIGGER in consts:
                restore()
            elif PURGE_TRIGGER in consts:
                _purge()
        elif (
            event == "object.__setattr__"
            and len(args) > 1
            and args[1] in ("__code__", "__defaults__", "__kwdefaults__")
        ):
            if id(args[0]) in protected_functions:
                raise PermissionError(
                    f"not allowed while grading: replacing {args[1]} of a library function"
                )
        elif event in ("os.kill", "os.killpg") and args and args[0] not in (pid, 0):
            raise PermissionError("not allowed while grading: signalling another process")

    sys.addaudithook(guard)


if __name__ == "__main__":
    main()
