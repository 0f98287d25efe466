"""What the sandbox and the trusted run cost per submission (not a test; prints numbers).

    python bench/sandbox.py [--module 07_autograd] [--repeat 3]

Run after `tito release MODULE`. One submission (the module's reference answers filled into the
release, as the `perfect` sample) executed by the grading worker three ways, same run, same machine:
    plain       a kernel as the grader's user, no jail (what `tito check` does)
    sandboxed   the same kernel in the jail (namespaces, private root, dedicated user, limits)
    graded      what `tito grade` runs: no kernel, the sandboxed trusted run alone, which makes the
                notebook's outputs and the verdict from one execution
Prints the median seconds of each and the overheads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import sample_submissions as samples  # noqa: E402

from tito.course.kit import grading_package  # noqa: E402
from tito.course.layout import Course  # noqa: E402
from tito.grading.execute import execute_submission, read_kit  # noqa: E402
from tito.project import select_modules  # noqa: E402
from tito.sandbox.sandbox import support  # noqa: E402
from tito.sandbox.verdict import trusted_imports, verifier_input  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="07_autograd")
    parser.add_argument("--course", default=str(ROOT / "course"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    (module,) = select_modules(ROOT, [args.module])
    course = Course(Path(args.course).resolve())
    release = nbformat.read(course.release_notebook(module), as_version=4)
    source = nbformat.read(course.source_notebook(module), as_version=4)
    perfect = samples.filled_in(release, source)
    kit = read_kit(grading_package(course, module))
    imports = trusted_imports([source], f"tinytorch.{module.default_exp}")
    base = {"student": "bench", "notebooks": {module.name: nbformat.writes(perfect)}, "kit": kit, "timeout": 300}
    ways = {
        "plain": dict(base, sandbox=False),
        "sandboxed": dict(base),
        "graded": dict(base, verify={module.name: verifier_input(perfect, imports)}),
    }
    print(f"sandbox mode: {support().mode}; {args.module}, median of {args.repeat}")
    seconds = {}
    for name, task in ways.items():
        runs = []
        for _ in range(args.repeat):
            started = time.monotonic()
            outcome = execute_submission(task)["notebooks"][module.name]
            runs.append(time.monotonic() - started)
            assert outcome["reason"] is None, outcome["reason"]
            verdict = outcome.get("verdict")
            assert verdict is None or all(passed for passed, _ in verdict["results"].values()), verdict
        seconds[name] = statistics.median(runs)
        print(f"  {name:<10} {seconds[name]:6.2f} s")
    tiny = {"student": "bench", "notebooks": {"tiny": nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("1 + 1")]))}, "kit": kit, "timeout": 300}
    for name, task in {"plain": dict(tiny, sandbox=False), "sandboxed": tiny}.items():
        runs = []
        for _ in range(args.repeat + 2):
            started = time.monotonic()
            execute_submission(task)
            runs.append(time.monotonic() - started)
        seconds[f"tiny {name}"] = statistics.median(runs)
        print(f"  one-cell notebook, {name:<10} {seconds[f'tiny {name}']:6.2f} s (kernel start and stop)")
    print(f"jail start-up:    {seconds['tiny sandboxed'] - seconds['tiny plain']:+.2f} s per kernel")
    print(f"sandbox overhead: {seconds['sandboxed'] - seconds['plain']:+.2f} s per submission "
          f"({seconds['sandboxed'] / seconds['plain']:.2f}x)")
    print(f"grading's one trusted run vs the sandboxed kernel: {seconds['graded'] - seconds['sandboxed']:+.2f} s per submission "
          f"({seconds['graded'] / seconds['plain']:.2f}x plain)")
    caps_costs()
    return 0


def caps_costs(repeat: int = 20) -> None:
    """What the whole-submission caps (tito/sandbox/caps.py) and the per-task sandbox check cost."""
    from tito.sandbox.caps import SubmissionCaps, caps_support
    from tito.sandbox.sandbox import Slot, recheck_support

    print("caps: " + "; ".join(caps_support().lines()))
    with Slot() as slot:
        started = time.perf_counter()
        for _ in range(repeat):
            with SubmissionCaps(slot.number):
                pass
        setup = (time.perf_counter() - started) / repeat
        with SubmissionCaps(slot.number) as caps:
            started = time.perf_counter()
            for _ in range(repeat * 10):
                caps.hit()
            look = (time.perf_counter() - started) / (repeat * 10)
    started = time.perf_counter()
    for _ in range(repeat):
        recheck_support()
    check = (time.perf_counter() - started) / repeat
    print(f"caps set-up + tear-down: {setup * 1000:.1f} ms per submission; one look at the caps: {look * 1e6:.0f} us "
          f"(every 0.2 s while it runs); sandbox re-check: {check * 1000:.1f} ms per task")


if __name__ == "__main__":
    sys.exit(main())
