"""The ``lablib`` command: ``lablib release | nbgrader | data | run | info | grade |
gradescope | export`` (the Makefile calls these)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lablib.profiles import PROFILES

__all__ = ["main"]

# Modules of the `grade` extra (pyproject.toml): a student's install does not have them.
_GRADE_EXTRA = {"nbclient", "nbformat", "nbconvert", "jupyter_client"}


def _release(args: argparse.Namespace) -> int:
    from lablib.grading.publish import resolve_target
    from lablib.grading.release import MarkerError, release_all

    try:
        target = resolve_target(Path.cwd(), args.repo, args.ref)
        for warning in target.warnings:
            print(f"WARNING: {warning}", file=sys.stderr)
        written = release_all(Path(args.labs), Path(args.out), Path(args.autograder), target)
    except (MarkerError, FileNotFoundError) as exc:
        print(f"release stopped: {exc}", file=sys.stderr)
        return 2
    print(
        f"released {len(written)} notebook(s) to {args.out}/, "
        f"grading material in {args.autograder}/"
    )
    return 0


def _nbgrader(args: argparse.Namespace) -> int:
    from lablib.grading.nbgrader import export_source
    from lablib.grading.release import MarkerError

    try:
        written = export_source(Path(args.labs), Path(args.course), args.only, args.assignment)
    except (MarkerError, FileNotFoundError, ValueError) as exc:
        print(f"nbgrader export stopped: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    names = " ".join(sorted({p.parent.name for p in written}))
    print(f"next, in {args.course}/: nbgrader generate_assignment NAME, for each of: {names}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from lablib.datasets import fallback

    if args.check:
        problems = []
        for name in fallback.manifest(args.out):
            try:
                fallback.verify(name, args.out)
            except fallback.DataFileError as exc:
                problems.append(str(exc))
        print("\n".join(problems) or f"data/ matches {fallback.MANIFEST}")
        return 1 if problems else 0
    written = fallback.build_all(Path(args.out) if args.out else None, args.only)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from lablib.runner import run_labs

    results = run_labs(
        Path(args.labs), Path(args.out), only=args.only, timeout=args.timeout, profile=args.profile
    )
    failed = [lab for lab, _, error in results if error]
    print(
        f"{len(results) - len(failed)} lab(s) ran, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def _info(args: argparse.Namespace) -> int:
    from lablib import __version__, datasets, profiles
    from lablib.lab_setup import _quiet_tensorflow, describe_device

    _quiet_tensorflow()
    import keras

    device = describe_device()
    name, reason = profiles.profile_name(gpu=device.startswith("GPU"))
    mode, why = datasets.data_mode()
    print(
        f"lablib {__version__}\nprofile  {name} ({reason})"
        f"\nkeras    {keras.__version__} ({keras.backend.backend()})"
        f"\ndevice   {device}\ndata     {mode} ({why})"
    )
    return 0


def _grade(args: argparse.Namespace) -> int:
    from lablib.grading import GradeOptions, grade
    from lablib.grading.release import MarkerError

    options = GradeOptions(
        workers=args.workers,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory_gib=args.memory,
        progress=not args.quiet,
        cache=not args.no_cache,
        show_hidden=args.show_hidden_failures,
    )
    try:
        report = grade(
            Path(args.submissions),
            Path(args.out),
            labs=Path(args.labs),
            expect=args.expect,
            options=options,
        )
    except (MarkerError, ValueError) as exc:
        print(f"grade stopped: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from lablib.grading.gradescope import build_autograder
    from lablib.grading.release import MarkerError

    out = Path(args.out or f"build/gradescope/{args.lab}.zip")
    try:
        made = build_autograder(
            args.lab,
            out,
            labs=Path(args.labs),
            root=Path.cwd(),
            repo=args.repo,
            ref=args.ref,
            hidden_visibility=args.hidden_visibility,
            timeout=args.timeout,
            cell_timeout=args.cell_timeout,
            memory_gib=args.memory,
        )
    except (MarkerError, FileNotFoundError, ValueError) as exc:
        print(f"gradescope stopped: {exc}", file=sys.stderr)
        return 2
    for warning in made.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(
        f"wrote {made.path}: Gradescope autograder for {made.lab} ({made.max_score:g} points); "
        f"setup.sh installs {made.requirement} with tensorflow-cpu. Upload it in the "
        "assignment's Configure Autograder page; set its timeout above "
        f"{args.timeout / 60:.0f} min and its memory above the default 768 MB."
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from lablib.grading.roster import export_grades

    chosen = {}
    for item in args.column or []:
        lab, sep, header = item.partition("=")
        if not sep or not header:
            print(f"export stopped: --column {item!r}: write LAB=HEADER", file=sys.stderr)
            return 2
        chosen[lab.strip()] = header.strip()
    grades = Path(args.grades)
    out = Path(args.out or (grades if grades.is_dir() else grades.parent) / "lms_import.csv")
    try:
        export = export_grades(
            grades,
            Path(args.roster),
            out,
            lms=args.lms,
            missing=args.missing,
            columns=chosen,
            id_column=args.id_column,
            labs=args.labs,
        )
    except ValueError as exc:
        print(f"export stopped: {exc}", file=sys.stderr)
        return 2
    print(export.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lablib", description="CNN course labs: release, data, run, grade."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="write student notebooks and grading material")
    p.add_argument("--labs", default="labs")
    p.add_argument("--out", default="release")
    p.add_argument("--repo", help="OWNER/NAME on GitHub that students open (default: origin)")
    p.add_argument("--ref", help="the tag or branch students open (default: v<version>)")
    p.add_argument("--autograder", default="build/autograder")
    p.set_defaults(func=_release)
    p = sub.add_parser(
        "nbgrader", help="write nbgrader source notebooks: COURSE/source/<assignment>/<lab>.ipynb"
    )
    p.add_argument("only", nargs="*", help="labs to export (number or part of the name); all")
    p.add_argument("--labs", default="labs")
    p.add_argument("--course", default="nbgrader", help="the nbgrader course directory")
    p.add_argument("--assignment", help="one assignment for all labs (default: one per lab)")
    p.set_defaults(func=_nbgrader)
    p = sub.add_parser("data", help="rebuild the offline fallback files in data/ (or --check them)")
    p.add_argument(
        "--out",
        default=None,
        help="folder (default: $LABLIB_DATA, data/ in a checkout, else ~/.keras/lablib-data)",
    )
    p.add_argument("--only", nargs="*", help="rebuild only these (digits28, scenes32, reviews)")
    p.add_argument("--check", action="store_true", help="verify the files against the manifest")
    p.set_defaults(func=_data)
    p = sub.add_parser("run", help="execute labs top to bottom into build/executed/")
    p.add_argument("only", nargs="*", help="labs to run (substring of the name); default all")
    p.add_argument("--labs", default="labs")
    p.add_argument("--out", default="build/executed")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    p.add_argument("--profile", choices=PROFILES, default=None)
    p.set_defaults(func=_run)
    p = sub.add_parser("info", help="print profile, Keras backend, device and data mode")
    p.set_defaults(func=_info)
    p = sub.add_parser("grade", help="grade submitted notebooks into a gradebook with feedback")
    p.add_argument("submissions", help="folder with one subfolder of notebooks per student")
    p.add_argument("--out", default="build/grades")
    p.add_argument("--labs", default="labs")
    p.add_argument(
        "--expect", nargs="*", help="labs every student should submit (default: all in --labs)"
    )
    p.add_argument("--workers", type=int, default=2, help="notebooks graded at once")
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    p.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell")
    p.add_argument("--memory", type=float, default=6, help="GiB of address space per kernel")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="re-grade every notebook (default: reuse OUT/.cache for unchanged inputs)",
    )
    p.add_argument(
        "--show-hidden-failures",
        action="store_true",
        help="feedback.html shows a failed hidden check's message (default: only that it failed)",
    )
    p.set_defaults(func=_grade)
    p = sub.add_parser("gradescope", help="write a lab's Gradescope autograder zip")
    p.add_argument("lab", help="the lab: its number (01) or name (01_convolution_filters)")
    p.add_argument("--out", help="the zip (default: build/gradescope/LAB.zip)")
    p.add_argument("--labs", default="labs")
    p.add_argument("--repo", help="OWNER/NAME lablib is installed from (default: as release)")
    p.add_argument("--ref", help="the tag or branch lablib is installed from (as release)")
    p.add_argument(
        "--hidden-visibility",
        choices=["after_due_date", "hidden", "visible"],
        default="after_due_date",
        help="when a student sees the message of a failed hidden check",
    )
    p.add_argument("--timeout", type=float, default=480, help="seconds per notebook")
    p.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell")
    p.add_argument("--memory", type=float, default=6, help="GiB of address space per kernel")
    p.set_defaults(func=_gradescope)
    p = sub.add_parser("export", help="gradebook.csv + an LMS roster -> a Canvas/Moodle import")
    p.add_argument("grades", help="the grades folder of lablib grade (or its gradebook.csv)")
    p.add_argument("--roster", required=True, help="the LMS's export: Canvas or Moodle CSV")
    p.add_argument("--lms", choices=["canvas", "moodle"], help="default: read from the roster")
    p.add_argument("--out", help="the import file (default: GRADES/lms_import.csv)")
    p.add_argument(
        "--missing",
        choices=["zero", "blank"],
        default="zero",
        help="roster students without a submission: 0, or an empty cell",
    )
    p.add_argument(
        "--column", action="append", help='a lab\'s column: LAB=HEADER, e.g. 01="Lab 1 (4567)"'
    )
    p.add_argument("--id-column", help="Moodle: Email address, ID number or Username")
    p.add_argument("--labs", nargs="*", help="only these labs (default: all in the gradebook)")
    p.set_defaults(func=_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lablib`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # an instructor gets one clear line, not a traceback
        from lablib.profiles import ProfileError

        if isinstance(exc, ModuleNotFoundError) and exc.name in _GRADE_EXTRA:
            print(
                f"lablib {args.command} needs the grading tools ({exc.name} is not installed): "
                "pip install 'lablib[grade]'",
                file=sys.stderr,
            )
            return 2
        if isinstance(exc, (ProfileError, FileNotFoundError, RuntimeError)):
            print(f"lablib {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
