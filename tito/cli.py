"""The `tito` command line: parses arguments and hands each command to its own module."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tito.project import TitoError, find_root, select_modules


def cmd_export(args: argparse.Namespace) -> int:
    if any(name.endswith(".ipynb") for name in args.modules):  # a student exporting their notebook
        from tito.student.export import export_student_notebook

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


def ascii_only(text: str) -> str:
    """Names and comments from the LMS may be any Unicode; tito's terminal output stays ASCII."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


def locked(args: argparse.Namespace, course, what: str):
    """The course lock around a command that writes to the course (tito/course/lock.py)."""
    from tito.course.lock import course_lock

    return course_lock(course.root, what, wait=not getattr(args, "no_wait", False))


def cmd_release(args: argparse.Namespace) -> int:
    from tito.course.distribution import NAME
    from tito.course.release import release_modules
    from tito.course.reveal import revealed_modules

    root = find_root()
    modules = select_modules(root, args.modules)
    course = course_of(args, root)
    started = time.perf_counter()
    with locked(args, course, f"release {' '.join(m.id for m in modules)}"):
        if args.late_penalty is not None:
            from tito.course.deadlines import LatePolicy

            LatePolicy(args.late_penalty)  # a bad policy stops before anything is released
        course.ensure_config()
        course.remember_db_url()
        kits = release_modules(root, course, modules, select_modules(root, args.reveal) if args.reveal else [])
        deadlines = {}
        if args.due is not None or args.late_penalty is not None:
            from tito.course.deadlines import set_deadline

            deadlines = {m.id: set_deadline(course, m, args.due, args.late_penalty) for m in modules}
    print(f"released {len(modules)} module(s) into {course.root} in {time.perf_counter() - started:.1f}s")
    for module, kit in zip(modules, kits, strict=True):
        note = f"  {deadlines[module.id]}" if deadlines.get(module.id) else ""
        print(f"  {module.id:<16} release/{module.id}/{module.name}.ipynb  student kit: {kit.relative_to(course.root)}/{note}")
    print(f"student distribution: student/{NAME}/ and student/{NAME}.zip "
          f"(revealed modules: {', '.join(sorted(revealed_modules(course))) or 'none'})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from tito.student.check import check_notebook

    return check_notebook(Path(args.notebook), args.timeout, cell_timeout=args.cell_timeout)


def cmd_grade(args: argparse.Namespace) -> int:
    from tito.grading.cpu import write_report
    from tito.grading.grade import format_table, grade_module

    root = find_root()
    (module,) = select_modules(root, [args.module])
    course = course_of(args, root)
    if args.override:
        return cmd_override(args, course, module)
    if args.comment:
        raise TitoError("--comment goes with --override STUDENT:GRADE_ID=POINTS")
    with locked(args, course, f"grade {module.id}"):
        course.remember_db_url()
        report = grade_module(course, module, args.workers, args.timeout, args.scheduler, students=args.student,
                              cell_timeout=args.cell_timeout, memory=memory_size(args.memory),
                              allow_unsandboxed=args.allow_unsandboxed)
    write_report(report.cpu, len(report.rows))  # only with TITO_CPU_REPORT set (bench/grading.py)
    print(ascii_only(format_table(report)))
    print(f"graded {len(report.rows)} submission(s) of {module.id} in {report.seconds:.1f}s; "
          f"{report.csv}; feedback under {course.root / 'feedback'}")
    for line in report.refused:
        print(f"tito grade: REFUSED: {line}", file=sys.stderr)
    if report.refused:
        print("tito grade: fix those workers (`tito doctor --scheduler URL` shows each worker's sandbox), "
              "or pass --allow-unsandboxed to record such results (every row they make says so)", file=sys.stderr)
        return 1
    return 0


def cmd_override(args: argparse.Namespace, course, module) -> int:
    from tito.grading.review import parse_override, record_overrides, refresh_after_override

    overrides = [parse_override(text, args.comment) for text in args.override]
    with locked(args, course, f"grade {module.id} --override"):
        course.remember_db_url()
        notes = record_overrides(course, module.id, overrides)
        refresh_after_override(course, module.id, sorted({o.student for o in overrides}))
    for note in notes:
        print(ascii_only(note))
    print(f"recorded {len(notes)} override(s) in the gradebook; {course.root / 'grades.csv'} and the feedback updated")
    return 0


def cmd_roster(args: argparse.Namespace) -> int:
    from tito.course.roster import import_roster

    course = course_of(args, find_root())
    with locked(args, course, "roster import"):
        course.remember_db_url()
        roster, added, updated = import_roster(course, Path(args.file))
    print(f"{args.file}: {roster.format}; {added} student(s) added, {updated} updated in {course.gradebook_url}")
    for note in roster.skipped:
        print(f"  skipped {note}")
    if roster.canvas_assignments:
        print(f"  Canvas assignment columns remembered for `tito grades --format canvas`: {', '.join(roster.canvas_assignments)}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from tito.course.collect import collect, due_date, format_report

    root = find_root()
    (module,) = select_modules(root, [args.module])
    course = course_of(args, root)
    with locked(args, course, f"collect {module.id}"):
        course.remember_db_url()
        report = collect(course, module, Path(args.archive))
        print(ascii_only(format_report(report, due_date(course, module.id))))
    written = sum(o.action in ("collected", "replaced") for o in report.outcomes)
    print(f"{written} submission(s) of {module.id} written under {course.root / 'submitted'}; "
          f"{len(report.unmatched)} file(s) not matched, {len(report.refused)} refused")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from tito.grading.review import format_review

    root = find_root()
    (module,) = select_modules(root, [args.module])
    print(ascii_only(format_review(course_of(args, root), module.id)))
    return 0


def cmd_return(args: argparse.Namespace) -> int:
    from tito.grading.handback import return_feedback

    root = find_root()
    (module,) = select_modules(root, [args.module])
    course = course_of(args, root)
    with locked(args, course, f"return {module.id}"):
        folder, archive, included, left_out = return_feedback(course, module, args.lms)
    print(f"feedback of {module.id}: a folder per student under {folder}; {len(included)} student(s) in {archive}")
    for note in left_out:
        print(ascii_only(f"  left out of the zip: {note}"))
    return 0


def cmd_grades(args: argparse.Namespace) -> int:
    from tito.grading.lms_export import write_grades

    root = find_root()
    (module,) = select_modules(root, [args.module])
    course = course_of(args, root)
    target, graded, blank = write_grades(course, module, args.format, Path(args.out) if args.out else None, args.column)
    print(f"wrote {target}: {graded} graded, {blank} without a grade (left blank)")
    return 0


def cmd_mutate(args: argparse.Namespace) -> int:
    from tito.authoring.mutate import mutate_module

    root = find_root()
    (module,) = select_modules(root, [args.module])
    return mutate_module(root, module, args.workers, args.timeout, args.memory, args.only, args.sample,
                         args.every_test, args.list)


def memory_size(text: str) -> int:
    from tito.sandbox.caps import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise TitoError(f"--memory {error}") from None


def cmd_milestone(args: argparse.Namespace) -> int:
    from tito.student.milestone import run_milestone

    return run_milestone(args.name, args.args)  # the milestones and the tinytorch of where you are


def default_workers() -> int:  # the CPUs this process may use
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
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
    release.add_argument("--db-url", metavar="URL", help="gradebook database (default: sqlite in the course folder); remembered in nbgrader_config.py")
    release.add_argument("--due", metavar="DATE", help='due date, e.g. "2026-12-10 23:59" (local time unless it names a zone)')
    release.add_argument("--late-penalty", metavar="RULE", help="none (default), zero, POINTS/hour, POINTS/day, PERCENT%%/hour or PERCENT%%/day")
    release.add_argument("--reveal", action="append", default=[], metavar="MODULE",
                         help="give students this module's reference answers from now on (recorded in the course)")
    add_no_wait(release)
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
    grade.add_argument("--student", action="append", metavar="ID", help="regrade only this student (repeatable)")
    grade.add_argument("--override", action="append", metavar="STUDENT:GRADE_ID=POINTS",
                       help="record a manual grade instead of grading (repeatable; needs --comment)")
    grade.add_argument("--comment", metavar="TEXT", help="why, for --override: the student sees it in the feedback")
    add_no_wait(grade)
    grade.add_argument("--cell-timeout", type=float, default=60, metavar="S",
                       help="a cell running longer is interrupted, and skipped if it will not stop; "
                            "tests that need it score 0 (default 60; 0: none; --timeout stays the hard cap)")
    grade.add_argument("--memory", default="2G", metavar="SIZE",
                       help="memory of all of one submission's processes together, e.g. 2G or 512M (default 2G)")
    grade.add_argument("--allow-unsandboxed", action="store_true",
                       help="record results from workers that cannot build the sandbox (every such row says so)")
    grade.set_defaults(run=cmd_grade)

    add_term_commands(commands, course_help)

    mutate = commands.add_parser("mutate", help="authors: mutate the solutions, count the slips the graded tests miss")
    mutate.add_argument("module", metavar="MODULE")
    mutate.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N", help="mutants run at once (default: CPUs)")
    mutate.add_argument("--timeout", type=float, metavar="S", help="time limit per mutant (default: 10x the unchanged module's run + 5s)")
    mutate.add_argument("--memory", type=int, default=4096, metavar="MB", help="memory a mutant may map beyond what it starts with (default 4096)")
    mutate.add_argument("--only", metavar="WHAT", help="only mutants of a function (SGD.step), a class, an operator, or an id prefix")
    mutate.add_argument("--sample", type=int, metavar="N", help="a fixed sample of N mutants (the same for the same source)")
    mutate.add_argument("--every-test", action="store_true", help="run every graded test on each mutant, not just up to the first failure")
    mutate.add_argument("--list", action="store_true", help="list the mutants without running them")
    mutate.set_defaults(run=cmd_mutate)

    milestone = commands.add_parser("milestone", help="train a network with tinytorch (no name: list the milestones)")
    milestone.add_argument("name", nargs="?", metavar="NAME", help="e.g. digits")
    milestone.add_argument("args", nargs=argparse.REMAINDER, help="passed to the milestone, e.g. --epochs 5 --seed 1")
    milestone.set_defaults(run=cmd_milestone)
    return parser


def add_no_wait(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-wait", action="store_true", help="refuse at once if another tito command is writing to the course")


def add_term_commands(commands, course_help: str) -> None:
    """roster, collect, review, return, grades: the instructor's term (README "The instructor's term")."""
    db_help = "gradebook database (default: the course's, from nbgrader_config.py)"
    roster = commands.add_parser("roster", help="the class list: tito roster import FILE.csv")
    roster_commands = roster.add_subparsers(dest="roster_command", required=True, metavar="ACTION")
    roster_import = roster_commands.add_parser("import", help="add or update students from a Canvas or Moodle export, or id,first_name,last_name,email")
    roster_import.add_argument("file", metavar="FILE.csv")
    roster_import.add_argument("--course", metavar="DIR", help=course_help)
    roster_import.add_argument("--db-url", metavar="URL", help=db_help)
    add_no_wait(roster_import)
    roster_import.set_defaults(run=cmd_roster)

    collect = commands.add_parser("collect", help="import an LMS's submissions zip (Canvas, Moodle, or <student>/<file>) into submitted/")
    collect.add_argument("module", metavar="MODULE")
    collect.add_argument("archive", metavar="ARCHIVE.zip")
    collect.add_argument("--course", metavar="DIR", help=course_help)
    collect.add_argument("--db-url", metavar="URL", help=db_help)
    add_no_wait(collect)
    collect.set_defaults(run=cmd_collect)

    review = commands.add_parser("review", help="list the submissions that need a decision (needs review, timed out, crashed)")
    review.add_argument("module", metavar="MODULE")
    review.add_argument("--course", metavar="DIR", help=course_help)
    review.add_argument("--db-url", metavar="URL", help=db_help)
    review.set_defaults(run=cmd_review)

    giveback = commands.add_parser("return", help="the feedback for upload: a folder per student and one zip for the LMS")
    giveback.add_argument("module", metavar="MODULE")
    giveback.add_argument("--lms", choices=("canvas", "moodle", "plain"), help="zip layout (default: the one the submissions were collected from)")
    giveback.add_argument("--course", metavar="DIR", help=course_help)
    giveback.add_argument("--db-url", metavar="URL", help=db_help)
    add_no_wait(giveback)
    giveback.set_defaults(run=cmd_return)

    grades = commands.add_parser("grades", help="one module's grades as a file for the LMS's grade import")
    grades.add_argument("module", metavar="MODULE")
    grades.add_argument("--format", choices=("canvas", "moodle", "csv"), default="csv")
    grades.add_argument("--out", metavar="FILE", help="default: <course>/grades-MODULE-FORMAT.csv")
    grades.add_argument("--column", metavar="NAME", help='canvas: the assignment column "Title (id)"; moodle: the grade column\'s name')
    grades.add_argument("--course", metavar="DIR", help=course_help)
    grades.add_argument("--db-url", metavar="URL", help=db_help)
    grades.set_defaults(run=cmd_grades)


def main(argv: list[str] | None = None) -> int:
    from tito.lifetime import Stopped, stop_on_signals

    args = build_parser().parse_args(argv)
    from tito.imports import import_jsonschema_quickly, missing_module_message

    try:
        if args.command in ("export", "release", "check", "grade", "collect", "review", "return", "grades"):  # they read notebooks
            import_jsonschema_quickly()
        with stop_on_signals():  # SIGTERM and SIGHUP stop tito as Ctrl-C does: kernels killed, folders removed
            return args.run(args)
    except TitoError as error:
        print(f"tito {args.command}: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:  # tito installed without its extras
        if error.name and error.name.split(".")[0] in ("tito", "tinytorch"):
            raise
        print(f"tito {args.command}: {missing_module_message(error)}", file=sys.stderr)
        return 1
    except Stopped as stop:
        try:  # after SIGHUP the terminal may be gone
            print(f"tito {args.command}: stopped by {stop.name}{'; ' + stop.note if stop.note else ''}", file=sys.stderr)
        except OSError:
            pass
        return 128 + stop.signum


if __name__ == "__main__":
    sys.exit(main())
