"""The `tito` command line: parses arguments and hands each command to its own module."""

from __future__ import annotations

import argparse
import sys
import time

from tito.project import TitoError, find_root, select_modules


def cmd_export(args: argparse.Namespace) -> int:
    from tito.export import export_modules, summary_line

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

    return run_doctor()


def cmd_milestone(args: argparse.Namespace) -> int:
    from tito.milestone import run_milestone

    return run_milestone(find_root(), args.name, args.args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tito", description="tinytorch course tool")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = commands.add_parser("export", help="export module sources into the tinytorch package")
    export.add_argument("modules", nargs="*", metavar="MODULE", help="e.g. 07_autograd or autograd (default: all)")
    export.set_defaults(run=cmd_export)

    doctor = commands.add_parser("doctor", help="check that the course toolchain is installed")
    doctor.set_defaults(run=cmd_doctor)

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
