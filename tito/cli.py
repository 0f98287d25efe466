"""The `tito` command line: parses arguments and hands each command to its own module."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tito.project import TitoError, find_root, select_modules


def cmd_export(args: argparse.Namespace) -> int:
    if any(name.endswith(".ipynb") for name in args.modules):  # a student exporting their notebook
        from tito.course.kit import export_student_notebook

        for name in args.modules:
            written = export_student_notebook(Path(name))
            print(f"exported {name} -> {written}")
        return 0
    from tito.authoring.export import export_modules, summary_line

    root = find_root()
    modules = select_modules(root, args.modules)
    started = time.perf_counter()
    written = export_modules(root, modules)
    print(f"exported {len(written)} module(s) into {root / 'tinytorch'} in {time.perf_counter() - started:.1f}s")
    for module, package_file in zip(modules, written, strict=True):
        print(summary_line(root, module, package_file))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from tito.doctor import run_doctor

    return run_doctor(scheduler=args.scheduler)


def course_of(args: argparse.Namespace, root: Path):  # -> tito.course.Course
    from tito.course.layout import Course, default_course_root

    folder = Path(args.course).resolve() if args.course else default_course_root(root)
    return Course(root=folder, db_url=getattr(args, "db_url", None))


def cmd_release(args: argparse.Namespace) -> int:
    from tito.course.release import release_modules

    root = find_root()
    modules = select_modules(root, args.modules)
    course = course_of(args, root)
    started = time.perf_counter()
    kits = release_modules(root, course, modules)
    print(f"released {len(modules)} module(s) into {course.root} in {time.perf_counter() - started:.1f}s")
    for module, kit in zip(modules, kits, strict=True):
        print(f"  {module.id:<16} release/{module.id}/{module.name}.ipynb  student kit: {kit.relative_to(course.root)}/")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from tito.student.check import check_notebook

    return check_notebook(Path(args.notebook), args.timeout, cell_timeout=args.cell_timeout)


def cmd_grade(args: argparse.Namespace) -> int:
    from tito.grading.grade import format_table, grade_module

    root = find_root()
    (module,) = select_modules(root, [args.module])
    course = course_of(args, root)
    report = grade_module(course, module, args.workers, args.timeout, args.scheduler, cell_timeout=args.cell_timeout,
                          memory=memory_size(args.memory), allow_unsandboxed=args.allow_unsandboxed)
    print(format_table(report))
    print(f"graded {len(report.rows)} submission(s) of {module.id} in {report.seconds:.1f}s; "
          f"{report.csv}; feedback under {course.root / 'feedback'}")
    for line in report.refused:
        print(f"tito grade: REFUSED: {line}", file=sys.stderr)
    if report.refused:
        print("tito grade: fix those workers (`tito doctor --scheduler URL` shows each worker's sandbox), "
              "or pass --allow-unsandboxed to record such results (every row they make says so)", file=sys.stderr)
        return 1
    return 0


def memory_size(text: str) -> int:
    from tito.sandbox.caps import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise TitoError(f"--memory {error}") from None


def cmd_milestone(args: argparse.Namespace) -> int:
    from tito.student.milestone import run_milestone

    return run_milestone(find_root(), args.name, args.args)


def build_parser() -> argparse.ArgumentParser:
    from tito.grading.grade import default_workers

    parser = argparse.ArgumentParser(prog="tito", description="tinytorch course tool")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = commands.add_parser("export", help="export module sources into tinytorch (or a student's notebook into their kit)")
    export.add_argument("modules", nargs="*", metavar="MODULE", help="e.g. 07_autograd or autograd (default: all), or NOTEBOOK.ipynb")
    export.set_defaults(run=cmd_export)

    doctor = commands.add_parser("doctor", help="check that the course toolchain is installed")
    doctor.add_argument("--scheduler", metavar="ADDRESS", help="also report the sandbox of every worker of this Dask scheduler")
    doctor.set_defaults(run=cmd_doctor)

    course_help = "course folder (default: course/ at the repository root)"
    release = commands.add_parser("release", help="make nbgrader's student release and the student kit")
    release.add_argument("modules", nargs="*", metavar="MODULE", help="default: all")
    release.add_argument("--course", metavar="DIR", help=course_help)
    release.add_argument("--db-url", metavar="URL", help="gradebook database (default: sqlite in the course folder)")
    release.set_defaults(run=cmd_release)

    check = commands.add_parser("check", help="run your notebook in a fresh kernel and show each graded test")
    check.add_argument("notebook", metavar="NOTEBOOK")
    check.add_argument("--timeout", type=float, default=600, metavar="S", help="wall-clock limit (default 600)")
    check.add_argument("--cell-timeout", type=float, default=60, metavar="S",
                       help="a cell running longer is interrupted, and skipped if it will not stop (default 60; 0: none)")
    check.set_defaults(run=cmd_check)

    grade = commands.add_parser("grade", help="autograde every submission of a module into nbgrader's gradebook")
    grade.add_argument("module", metavar="MODULE")
    grade.add_argument("--course", metavar="DIR", help=course_help)
    grade.add_argument("--workers", type=int, default=default_workers(), metavar="N", help="parallel kernels (default: CPUs)")
    grade.add_argument("--timeout", type=float, default=300, metavar="S", help="wall-clock limit per submission (default 300)")
    grade.add_argument("--db-url", metavar="URL", help="gradebook database, e.g. postgresql+psycopg2://... (default: sqlite)")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="run the grading tasks on this Dask scheduler")
    grade.add_argument("--cell-timeout", type=float, default=60, metavar="S",
                       help="a cell running longer is interrupted, and skipped if it will not stop; "
                            "tests that need it score 0 (default 60; 0: none; --timeout stays the hard cap)")
    grade.add_argument("--memory", default="2G", metavar="SIZE",
                       help="memory of all of one submission's processes together, e.g. 2G or 512M (default 2G)")
    grade.add_argument("--allow-unsandboxed", action="store_true",
                       help="record results from workers that cannot build the sandbox (every such row says so)")
    grade.set_defaults(run=cmd_grade)

    milestone = commands.add_parser("milestone", help="train a network with tinytorch (no name: list the milestones)")
    milestone.add_argument("name", nargs="?", metavar="NAME", help="e.g. digits")
    milestone.add_argument("args", nargs=argparse.REMAINDER, help="passed to the milestone, e.g. --epochs 5 --seed 1")
    milestone.set_defaults(run=cmd_milestone)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TitoError as error:
        print(f"tito {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
