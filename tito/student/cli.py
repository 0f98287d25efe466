"""The student's `tito`: check, export, milestone. Nothing else (no release, no grading, no nbgrader).

The student distribution installs this as its `tito` command (tito/course/distribution.py ships
exactly the tito files it imports). The instructor's `tito` (tito/cli.py) has the same three
commands, with the same behaviour, next to its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tito.project import TitoError


def cmd_check(args: argparse.Namespace) -> int:
    from tito.student.check import check_notebook

    return check_notebook(Path(args.notebook), args.timeout)


def cmd_export(args: argparse.Namespace) -> int:
    from tito.student.export import export_student_notebook

    for name in args.notebooks:
        written = export_student_notebook(Path(name))
        print(f"exported {name} -> {written}")
    return 0


def cmd_milestone(args: argparse.Namespace) -> int:
    from tito.student.milestone import run_milestone

    return run_milestone(args.name, args.args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tito", description="tinytorch course tool (student)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="run your notebook in a fresh kernel and show each graded test")
    check.add_argument("notebook", metavar="NOTEBOOK")
    check.add_argument("--timeout", type=float, default=600, metavar="S", help="wall-clock limit (default 600)")
    check.set_defaults(run=cmd_check)
    exporting = commands.add_parser("export", help="put your notebook's #| export cells into your tinytorch/")
    exporting.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="e.g. autograd.ipynb")
    exporting.set_defaults(run=cmd_export)
    milestone = commands.add_parser("milestone", help="train a network with your tinytorch (no name: list the milestones)")
    milestone.add_argument("name", nargs="?", metavar="NAME", help="e.g. digits")
    milestone.add_argument("args", nargs=argparse.REMAINDER, help="passed to the milestone, e.g. --epochs 5 --seed 1")
    milestone.set_defaults(run=cmd_milestone)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("export", "check"):  # the commands that read notebooks (tito/imports.py)
            from tito.imports import import_jsonschema_quickly

            import_jsonschema_quickly()
        return args.run(args)
    except TitoError as error:
        print(f"tito {args.command}: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:  # a broken install: say how to repair it, not a traceback
        print(f"tito {args.command}: the Python module {error.name!r} is missing; reinstall the course tool: "
              f"python -m pip install ./tool (in your tinytorch-student folder)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
