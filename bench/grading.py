"""Benchmark: plain `nbgrader autograde` (one CLI call, serial) vs `tito grade`, same submissions, same run.

    .venv/bin/python bench/grading.py [--n 40] [--module 01_tensor] [--workers N]

Builds N submissions from the current release (perfect, partial and untouched in turn, see
examples/sample_submissions.py), grades one copy with nbgrader's CLI and another with tito's CLI,
prints submissions/minute for both and their ratio, and checks that both gradebooks hold exactly the
same grades. tito's time includes what nbgrader autograde does not do: HTML feedback and grades.csv.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import sample_submissions as samples  # noqa: E402

from tito.course.layout import Course  # noqa: E402
from tito.grading.gradebook import gradebook_rows  # noqa: E402

KINDS = ("perfect", "partial", "untouched")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it waited for, kernels included)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, children_cpu() - cpu


def prepare(folder: Path, module_id: str, n: int) -> tuple[Path, Path]:
    """Two released courses holding the same N submissions."""
    tito = [sys.executable, "-m", "tito.cli"]
    courses = []
    for name in ("nbgrader", "tito"):
        course = folder / name
        run([*tito, "release", module_id, "--course", str(course)], ROOT)
        courses.append(course)
    first = courses[0]
    made = samples.build_samples(first, module_id)
    notebooks = {kind: (made[kind].name, made[kind].read_bytes()) for kind in KINDS}
    shutil.rmtree(first / "submitted")
    for index in range(n):
        name, content = notebooks[KINDS[index % len(KINDS)]]
        target = first / "submitted" / f"student{index:03d}" / module_id
        target.mkdir(parents=True)
        (target / name).write_bytes(content)
    shutil.copytree(first / "submitted", courses[1] / "submitted")
    return courses[0], courses[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--module", default=samples.SAMPLE_MODULE)
    parser.add_argument("--workers", type=int, default=None, help="tito grade --workers (default: its own default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tito-bench-") as folder:
        nbgrader_course, tito_course = prepare(Path(folder), args.module, args.n)
        load = os.getloadavg()[0]
        nbgrader_seconds, nbgrader_cpu = run(
            [str(Path(sys.executable).parent / "nbgrader"), "autograde", args.module], nbgrader_course
        )
        workers = ["--workers", str(args.workers)] if args.workers else []
        tito_seconds, tito_cpu = run(
            [sys.executable, "-m", "tito.cli", "grade", args.module, "--course", str(tito_course), *workers], ROOT
        )
        nbgrader_rows = gradebook_rows(Course(nbgrader_course), args.module)
        tito_rows = gradebook_rows(Course(tito_course), args.module)
    same = nbgrader_rows == tito_rows and len(tito_rows) > 0
    nbgrader_rate, tito_rate = 60 * args.n / nbgrader_seconds, 60 * args.n / tito_seconds
    print(f"{args.n} submissions of {args.module} on {os.cpu_count()} CPUs (load average before: {load:.1f})")
    print(f"nbgrader autograde (one CLI call, serial): {nbgrader_seconds:6.1f} s  {nbgrader_rate:6.1f} submissions/min  "
          f"{nbgrader_seconds / args.n:.2f} s each, CPU {nbgrader_cpu / args.n:.2f} s each")
    print(f"tito grade (+ feedback and CSV):           {tito_seconds:6.1f} s  {tito_rate:6.1f} submissions/min  "
          f"{tito_seconds / args.n:.2f} s each, CPU {tito_cpu / args.n:.2f} s each")
    print(f"ratio tito / nbgrader: {tito_rate / nbgrader_rate:.2f}x")
    print(f"scores identical: {'yes' if same else 'NO'} ({len(tito_rows)} graded cells compared)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
