"""Build the bundled sample submissions from the module as it is NOW, so they never go stale.

    python examples/sample_submissions.py [--course DIR] [--module MODULE] [--grade]

Run after `tito release`. Each sample is the current release notebook with explicit edits; every
edit asserts that what it changes is there, so a changed module makes this script fail loudly
instead of producing samples that no longer mean what their names say. Writes
<course>/submitted/<sample>/<module>/<notebook>.ipynb for:

    perfect    every solution cell filled in with the reference answer
    partial    perfect, plus one plausible mistake (MISTAKES below) that fails some tests
    untouched  the release as handed out
    timeout    perfect, plus a loop that ignores Ctrl-C (SIGINT) after every solution: each is stopped
               at the cell timeout, but together they run past the whole notebook's --timeout
    crash      perfect, plus a cell that segfaults the kernel
    garbled    the perfect notebook cut in half: not valid JSON
    loops      perfect, plus an endless loop at the top of the last solution cell: interrupted at the
               cell timeout, it loses only the tests that need that cell
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tito.project import select_modules  # noqa: E402

# The module the demo grades: the autograd module this project exists for.
SAMPLE_MODULE = "07_autograd"
# tito grade --timeout for the samples (demo and tests): the `timeout` sample costs this much. The
# reference 07 notebook runs in about 6 s in a kernel on a loaded 2-core machine: 5x headroom.
SAMPLE_TIMEOUT = 30
# tito grade --cell-timeout for the samples: the `loops` sample costs this much once (grading runs
# each notebook once). The slowest reference 07 cell takes 0.4 s on a loaded 2-core machine: 12x headroom.
SAMPLE_CELL_TIMEOUT = 5


@dataclass(frozen=True)
class Mistake:
    cell: str  # grade_id of the solution cell to edit
    old: str  # text of the reference answer, exactly once in that cell
    new: str  # what a student plausibly writes instead
    fails: frozenset[str]  # grade_ids of the graded tests this mistake fails
    why: str


MISTAKES = {
    # Passes the visible test (a 2-D example) but wraps 1-D data in an extra axis: the hidden test fails.
    "01_tensor": Mistake(
        cell="as-array",
        old='    if array.dtype.kind == "c":\n',
        new='    if False:  # complex is numeric too, isn\'t it?\n',
        fails=frozenset({"test-as-array-bad-input"}),
        why="complex Python data is silently cast to float32, dropping the imaginary part",
    ),
    # The product rule with the two local gradients swapped (the slip the module's hint warns of).
    # Checked against the autograd branch's module (65/130): every test that multiplies fails.
    "07_autograd": Mistake(
        cell="multiply",
        old="(lambda g: g * b, lambda g: g * a)",
        new="(lambda g: g * a, lambda g: g * b)",
        fails=frozenset({
            "test-multiply", "test-subtract", "test-chain-rule", "test-scalar-training", "test-backpropagate",
            "test-broadcasting", "test-reshape-transpose", "test-softmax-cross-entropy", "test-gradcheck",
        }),
        why="dL/da is g * b, not g * a",
    ),
    # Momentum as an exponential average (b = momentum * b + (1 - momentum) * g), not torch.optim's
    # b = momentum * b + g: plain SGD and Adam keep their points.
    "08_optimizers": Mistake(
        cell="sgd-class",
        old="                    self.buffers[i] += g\n",
        new="                    self.buffers[i] += (1 - self.momentum) * g\n",
        fails=frozenset({"test-sgd-momentum"}),
        why="the momentum buffer adds the whole gradient, not (1 - momentum) of it",
    ),
}

LOOP_IGNORING_SIGINT = """\
# A student's loop that never ends and swallows KeyboardInterrupt.
import time
while True:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
"""

SEGFAULT = """\
# Reading address 0 kills the kernel process (SIGSEGV).
import ctypes
ctypes.string_at(0)
"""

ENDLESS_LOOP = """\
# A student's demo loop that never ends (Ctrl-C, i.e. an interrupt, stops it).
while True:
    pass
"""

SAMPLES = ("perfect", "partial", "untouched", "timeout", "crash", "garbled", "loops")


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def without_solution_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def filled_in(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with every solution code cell holding the reference answer."""
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    nb = nbformat.from_dict(release)
    filled = 0
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            assert meta["grade_id"] in answers, f"no reference answer for solution cell {meta['grade_id']}"
            assert "raise NotImplementedError()" in cell.source, f"{meta['grade_id']} is not a stub in the release"
            cell.source = without_solution_markers(answers[meta["grade_id"]])
            filled += 1
    assert filled, "the release has no solution cells to fill in"
    return nb


def with_mistake(nb: nbformat.NotebookNode, mistake: Mistake) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == mistake.cell]
    assert cell.source.count(mistake.old) == 1, f"{mistake.cell}: expected {mistake.old!r} exactly once"
    cell.source = cell.source.replace(mistake.old, mistake.new)
    return nb


def with_cell_after_first_solution(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    first = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("solution"))
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(code))
    return nb


def with_cell_after_every_solution(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    solutions = [i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("solution")]
    for index in reversed(solutions):
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return nb


def last_solution(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")][-1]


def with_code_atop_last_solution(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    cell = last_solution(nb)
    cell.source = code + cell.source
    return nb


def build_samples(course: Path, module_id: str) -> dict[str, Path]:
    (module,) = select_modules(ROOT, [module_id])
    release = nbformat.read(course / "release" / module.id / f"{module.name}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / module.id / f"{module.name}.ipynb", as_version=4)
    if module.id not in MISTAKES:
        raise SystemExit(f"no plausible mistake defined for {module.id}: add one to MISTAKES in {__file__}")
    perfect = filled_in(release, source)
    notebooks = {
        "perfect": perfect,
        "partial": with_mistake(perfect, MISTAKES[module.id]),
        "untouched": release,
        "timeout": with_cell_after_every_solution(perfect, LOOP_IGNORING_SIGINT),
        "crash": with_cell_after_first_solution(perfect, SEGFAULT),
        "loops": with_code_atop_last_solution(perfect, ENDLESS_LOOP),
    }
    written = {}
    for student in SAMPLES:
        folder = course / "submitted" / student / module.id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        target = folder / f"{module.name}.ipynb"
        if student == "garbled":
            text = nbformat.writes(perfect)
            target.write_text(text[: len(text) // 2], encoding="utf-8")
        else:
            nbformat.write(notebooks[student], target)
        written[student] = target
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", default=str(ROOT / "course"), metavar="DIR")
    parser.add_argument("--module", default=SAMPLE_MODULE, metavar="MODULE")
    parser.add_argument("--grade", action="store_true", help="then grade them with `tito grade`")
    parser.add_argument("--timeout", default=str(SAMPLE_TIMEOUT), metavar="S", help="tito grade's --timeout (with --grade)")
    parser.add_argument("--cell-timeout", default=str(SAMPLE_CELL_TIMEOUT), metavar="S",
                        help="tito grade's --cell-timeout (with --grade)")
    args = parser.parse_args(argv)
    written = build_samples(Path(args.course).resolve(), args.module)
    print(f"sample submissions for {args.module}: {', '.join(written)}")
    if args.grade:
        from tito.cli import main as tito

        return tito(["grade", args.module, "--course", args.course, "--timeout", args.timeout,
                     "--cell-timeout", args.cell_timeout])
    return 0


if __name__ == "__main__":
    sys.exit(main())
