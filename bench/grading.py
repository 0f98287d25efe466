"""Benchmark: plain `nbgrader autograde` (one CLI call, serial) vs `tito grade`, same submissions, same run,
next to the CPU of running the module's source as a plain script.

    .venv/bin/python bench/grading.py [--n 40] [--module 07_autograd | --module all] [--workers N]

For each module: builds N submissions from the current release (perfect, partial and untouched in
turn, see examples/sample_submissions.py), grades one copy with nbgrader's CLI and another with
tito's CLI, and prints, per submission, the CPU each used (user + system of the command and
everything it waited for: kernels, sandboxed runs, the warm starter), the CPU of
`python modules/source/NN_name/name_dev.py` (the notebook's code run once as a plain script, NumPy's
import included; the median of 3), tito's CPU by phase, submissions/minute for both, the throughput
ratio, and whether both gradebooks hold exactly the same grades (compared cell by cell). tito's time
includes what nbgrader autograde does not do: the sandbox, the trusted verdict, HTML feedback and
grades.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
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
from tito.grading.cpu import REPORT_VARIABLE  # noqa: E402
from tito.grading.gradebook import gradebook_rows  # noqa: E402
from tito.project import discover_modules, select_modules  # noqa: E402

KINDS = ("perfect", "partial", "untouched")
# tito's phases, in the order printed: the sandboxed runs (the notebook executed once, with the
# trusted verdict), the worker threads that drive them, then the coordinator's steps.
PHASES = ("runs", "warm starter", "workers", "prepare", "record", "feedback", "csv", "coordinator other", "set-up", "start-up")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it waited for, kernels included)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {}))
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, children_cpu() - cpu


def bare_script_cpu(module_id: str, repeats: int = 3) -> float:
    """CPU of the module's source run as a plain Python script (its tests run), median of `repeats`."""
    (module,) = select_modules(ROOT, [module_id])
    return statistics.median(run([sys.executable, str(module.source)], ROOT)[1] for _ in range(repeats))


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


def bench_module(module_id: str, n: int, workers: int | None) -> dict:
    bare = bare_script_cpu(module_id)
    with tempfile.TemporaryDirectory(prefix="tito-bench-") as folder:
        nbgrader_course, tito_course = prepare(Path(folder), module_id, n)
        load = os.getloadavg()[0]
        nbgrader_seconds, nbgrader_cpu = run(
            [str(Path(sys.executable).parent / "nbgrader"), "autograde", module_id], nbgrader_course
        )
        report = Path(folder) / "cpu.json"
        tito_seconds, tito_cpu = run(
            [sys.executable, "-m", "tito.cli", "grade", module_id, "--course", str(tito_course),
             *(["--workers", str(workers)] if workers else [])], ROOT, env={REPORT_VARIABLE: str(report)},
        )
        phases = json.loads(report.read_text(encoding="utf-8"))["cpu"]
        nbgrader_rows = gradebook_rows(Course(nbgrader_course), module_id)
        tito_rows = gradebook_rows(Course(tito_course), module_id)
    return {"module": module_id, "n": n, "load": load, "bare": bare, "nbgrader_seconds": nbgrader_seconds,
            "nbgrader_cpu": nbgrader_cpu, "tito_seconds": tito_seconds, "tito_cpu": tito_cpu, "phases": phases,
            "same": nbgrader_rows == tito_rows and len(tito_rows) > 0, "cells": len(tito_rows)}


def print_module(result: dict) -> None:
    n = result["n"]
    nbgrader_rate, tito_rate = 60 * n / result["nbgrader_seconds"], 60 * n / result["tito_seconds"]
    tito_each = result["tito_cpu"] / n
    print(f"{n} submissions of {result['module']} on {os.cpu_count()} CPUs (load average before: {result['load']:.1f})")
    print(f"  bare script (python {result['module']}'s _dev.py): CPU {result['bare']:.2f} s")
    print(f"  nbgrader autograde (one CLI call, serial): {result['nbgrader_seconds']:6.1f} s  {nbgrader_rate:6.1f} submissions/min  "
          f"CPU {result['nbgrader_cpu'] / n:.2f} s each")
    print(f"  tito grade (+ sandbox, verdict, feedback, CSV): {result['tito_seconds']:6.1f} s  {tito_rate:6.1f} submissions/min  "
          f"CPU {tito_each:.2f} s each = {tito_each / result['bare']:.2f}x the bare script")
    shown = [f"{name} {result['phases'].get(name, 0.0) / n:.3f}" for name in PHASES]
    shown.append(f"not attributed {(result['tito_cpu'] - sum(result['phases'].values())) / n:.3f}")
    print(f"  tito CPU per submission by phase (s): {', '.join(shown)}")
    print(f"  throughput ratio tito / nbgrader: {tito_rate / nbgrader_rate:.2f}x")
    print(f"  scores identical: {'yes' if result['same'] else 'NO'} ({result['cells']} graded cells compared)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--module", default=samples.SAMPLE_MODULE, help="a module, or `all` (every module with a sample mistake)")
    parser.add_argument("--workers", type=int, default=None, help="tito grade --workers (default: its own default)")
    args = parser.parse_args()
    if args.module == "all":
        modules = [m.id for m in discover_modules(ROOT) if m.id in samples.MISTAKES]
    else:
        modules = [select_modules(ROOT, [args.module])[0].id]
    results = []
    for module_id in modules:
        results.append(bench_module(module_id, args.n, args.workers))
        print_module(results[-1])
    if len(results) > 1:
        print("module         bare CPU  tito CPU/sub  x bare  nbgrader CPU/sub  throughput x nbgrader  identical")
        for r in results:
            each = r["tito_cpu"] / r["n"]
            ratio = r["nbgrader_seconds"] / r["tito_seconds"]
            print(f"{r['module']:<14} {r['bare']:7.2f}s  {each:10.2f}s  {each / r['bare']:5.2f}x  {r['nbgrader_cpu'] / r['n']:14.2f}s  "
                  f"{ratio:20.2f}x  {'yes' if r['same'] else 'NO'}")
    return 0 if all(r["same"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
