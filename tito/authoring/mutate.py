"""`tito mutate MODULE`: how many plausible slips in the solution would lose points?

Every solution region of `modules/source/NN_name/name_dev.py` is mutated (tito/authoring/mutations.py:
operators swapped, signs flipped, constants off by one, terms and statements dropped, arguments,
axes and keepdims changed, continue/break/return swapped, in-place versus copy) and every
catalogued mistake (`mistakes.py` next to the source) is made. Each mutant runs the module's graded
tests, visible and hidden (tito/authoring/mutant_runner.py: plain Python, in parallel, with a time
and memory limit). A mutant is killed when a graded test fails, it times out or it crashes; it
survives when every graded test passes, i.e. a student who made that slip would keep full marks.

Survivors that are equivalent to the solution (no test could tell them apart, or could only by
failing answers that follow the instructions) are recorded with a one-line reason in
`equivalent_mutants.py` next to the source:

    EQUIVALENT = [
        dict(id="3f9a01c2c1", mutant="SGD.step: `...` -> `...`", reason="why no test can tell"),
    ]

The mutation score is killed / (mutants - recorded equivalents). A survivor that is not recorded
fails the command (exit 1), as does a recorded id that no longer names a mutant.

Why not mutmut or cosmic-ray: both mutate an importable package and run pytest; here the code to
mutate is a Jupytext script whose tests are notebook cells (and whose hidden tests nbgrader strips),
and only the solution regions may change. An AST mutator over those regions is small, and a
mutant's run is the notebook's own cells, exactly what grading runs.
"""

from __future__ import annotations

import difflib
import json
import os
import runpy
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tito.authoring.mistakes import load_mistakes
from tito.authoring.mutations import OPERATORS, Mutant, mistake_id, source_mutants, text_edits
from tito.project import Module, TitoError

EQUIVALENTS = "equivalent_mutants.py"
RUNNER = Path(__file__).with_name("mutant_runner.py")
REFERENCE_TIMEOUT = 600.0
Candidate = tuple[Mutant, dict[int, str]]  # a mutant and the mutated source of each code cell it changes


@dataclass(frozen=True)
class CodeCell:
    index: int  # among the code cells
    start: int  # character offsets of its source in the module source
    end: int
    source: str
    grade_id: str
    graded: bool


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, timeout, crashed
    message: str = ""
    results: dict = field(default_factory=dict)  # grade_id -> [passed, message]
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        return self.status != "survived"

    @property
    def killer(self) -> str:
        """What killed it: the first failed graded cell, or the time limit, or the crash."""
        if self.status == "timeout":
            return "time limit"
        if self.status == "crashed":
            return f"crash ({self.message})"
        failed = [grade_id for grade_id, (passed, _) in self.results.items() if not passed]
        return failed[0] if failed else ""


def code_cells(text: str) -> list[CodeCell]:
    """The code cells of a percent-format source, each located in the text (as jupytext reads them)."""
    import jupytext

    nb = jupytext.reads(text, fmt="py:percent")
    cells, position = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        start = text.find(cell.source, position)
        if start < 0:
            raise TitoError(f"cannot locate code cell {len(cells)} in the source (jupytext changed its text)")
        meta = cell.metadata.get("nbgrader", {})
        end = start + len(cell.source)
        cells.append(CodeCell(len(cells), start, end, cell.source, meta.get("grade_id", ""), bool(meta.get("grade"))))
        position = end
    return cells


def cell_changes(mutant: Mutant, cells: list[CodeCell]) -> dict[int, str]:
    """The mutated source of each code cell the mutant changes."""
    changed: dict[int, list] = {}
    for start, end, replacement in mutant.edits:
        inside = [c for c in cells if c.start <= start and end <= c.end]
        if not inside:
            raise TitoError(f"mutant {mutant.id} ({mutant.description}) edits text outside the code cells")
        changed.setdefault(inside[0].index, []).append((start - inside[0].start, end - inside[0].start, replacement))
    sources = {}
    for index, edits in changed.items():
        source = cells[index].source
        for start, end, replacement in sorted(edits, reverse=True):
            source = source[:start] + replacement + source[end:]
        sources[index] = source
    return sources


def compiles(source: str) -> bool:
    import __future__

    try:
        compile(source, "<mutant>", "exec", __future__.annotations.compiler_flag)
    except SyntaxError:
        return False
    return True


def catalogued_mutants(module: Module, text: str) -> list[Mutant]:
    mutants = []
    for mistake in load_mistakes(module):
        mistake.apply(text)  # a TitoError naming the mistake if its solution text is gone
        edits = text_edits(text, mistake.wrong)
        line = text.count("\n", 0, min(e[0] for e in edits)) + 1
        mutants.append(Mutant(mistake_id(mistake.name), mistake.culprit, "mistake", line, mistake.name, edits))
    return mutants


def module_mutants(module: Module) -> tuple[str, list[CodeCell], list[Candidate]]:
    """The source, its code cells, and every mutant (systematic, then catalogued) with its changed cells.

    Mutants that do not compile, or that make exactly the same cells as an earlier one, are left out
    (a catalogued mistake comes first, so it keeps its name when an operator makes the same slip)."""
    text = module.source.read_text(encoding="utf-8")
    cells = code_cells(text)
    found, seen = [], set()
    for mutant in catalogued_mutants(module, text) + source_mutants(text):
        changes = cell_changes(mutant, cells)
        key = tuple(sorted(changes.items()))
        if key in seen or (mutant.operator != "mistake" and not all(map(compiles, changes.values()))):
            continue
        seen.add(key)
        found.append((mutant, changes))
    return text, cells, found


def load_equivalents(module: Module) -> dict[str, str]:
    """id -> reason, from `equivalent_mutants.py` next to the source ({} when there is none)."""
    path = module.folder / EQUIVALENTS
    if not path.is_file():
        return {}
    entries = runpy.run_path(str(path)).get("EQUIVALENT")
    if not isinstance(entries, list):
        raise TitoError(f"{path}: no EQUIVALENT list")
    recorded = {}
    for number, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), str) and str(entry.get("reason", "")).strip()):
            raise TitoError(f"{path}: entry {number} needs an id and a one-line reason, got {entry!r}")
        recorded[entry["id"]] = entry["reason"]
    return recorded


def select_mutants(mutants: list[Candidate], only: str | None, sample: int | None) -> list[Candidate]:
    """Mutants matching `only` (an id prefix, a function, a Class, an operator), then a fixed sample of them."""
    if only:
        mutants = [(m, c) for m, c in mutants if m.id.startswith(only) or m.operator == only
                   or m.function == only or m.function.startswith(only + ".")]
    if sample and sample < len(mutants):
        by_id = sorted(mutants, key=lambda item: item[0].id)
        step = len(by_id) / sample
        mutants = [by_id[int(i * step)] for i in range(sample)]
    return mutants


def run_mutants(root: Path, module: Module, cells: list[CodeCell], mutants: list[Candidate], workers: int,
                timeout: float | None, memory_mb: int, every_test: bool,
                progress: Callable[[Outcome], None] | None = None) -> tuple[dict, list[Outcome]]:
    """Run the reference and every mutant; (the reference's report, one Outcome per mutant)."""
    task = {
        "root": str(root),
        "cells": [{"source": c.source, "graded": c.graded, "grade_id": c.grade_id} for c in cells],
        "mutants": [{"id": m.id, "start": min(changes), "changes": {str(k): v for k, v in changes.items()}}
                    for m, changes in mutants],
        "workers": workers, "timeout": timeout, "reference_timeout": timeout or REFERENCE_TIMEOUT,
        "memory_mb": memory_mb, "every_test": every_test,
    }
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    by_id = {m.id: m for m, _ in mutants}
    process = subprocess.Popen([sys.executable, "-I", str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=module.folder, env=env, text=True, start_new_session=True)
    outcomes, reference = [], {}
    try:
        process.stdin.write(json.dumps(task))
        process.stdin.close()
        for line in process.stdout:
            report = json.loads(line)
            if "reference" in report:
                reference = report
                continue
            outcome = Outcome(by_id[report["id"]], report["status"], report.get("message", ""),
                              report.get("results", {}), report.get("seconds", 0.0))
            outcomes.append(outcome)
            if progress:
                progress(outcome)
        errors = process.stderr.read()
        if process.wait() != 0:
            raise TitoError(f"the mutant runner failed:\n{errors.strip()}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if not reference:
        raise TitoError("the mutant runner gave no result for the unchanged module")
    return reference, outcomes


def ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def mutant_diff(text: str, mutant: Mutant, context: int = 1) -> list[str]:
    before = text.splitlines()
    after = mutant.apply(text).splitlines()
    lines = list(difflib.unified_diff(before, after, "reference", "mutant", n=context, lineterm=""))
    return [ascii(line) for line in lines[2:]]  # without the ---/+++ header


@dataclass
class Report:
    module: Module
    outcomes: list[Outcome]
    equivalents: dict[str, str]
    stale: list[str]  # recorded ids that name no mutant
    seconds: float
    timeout: float

    @property
    def equivalent(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.killed and o.mutant.id in self.equivalents]

    @property
    def survivors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.killed and o.mutant.id not in self.equivalents]

    @property
    def killed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.killed]

    @property
    def wrongly_recorded(self) -> list[Outcome]:
        """Recorded as equivalent, yet killed: the record is wrong (or the tests improved)."""
        return [o for o in self.killed if o.mutant.id in self.equivalents]

    @property
    def score(self) -> float:
        counted = len(self.outcomes) - len(self.equivalent)
        return len(self.killed) / counted if counted else 1.0

    @property
    def failed(self) -> bool:
        return bool(self.survivors or self.stale)


def format_report(report: Report, text: str) -> str:
    lines = []
    width = max([len(o) for o in OPERATORS] + [5])
    lines.append(f"  {'operator':<{width}}  mutants  killed  equivalent  survived")
    for operator in OPERATORS:
        mine = [o for o in report.outcomes if o.mutant.operator == operator]
        if mine:
            killed = sum(o.killed for o in mine)
            equivalent = sum(not o.killed and o.mutant.id in report.equivalents for o in mine)
            lines.append(f"  {operator:<{width}}  {len(mine):7d}  {killed:6d}  {equivalent:10d}  {len(mine) - killed - equivalent:8d}")
    lines.append(f"  {'total':<{width}}  {len(report.outcomes):7d}  {len(report.killed):6d}  {len(report.equivalent):10d}  "
                 f"{len(report.survivors):8d}")
    how = Counter(o.status for o in report.killed)
    by_test = Counter(grade_id for o in report.killed for grade_id, (passed, _) in o.results.items() if not passed)
    lines.append(f"killed by a failing test {how['killed']}, by the time limit ({report.timeout:.1f}s) {how['timeout']}, "
                 f"by a crash {how['crashed']}")
    if by_test:
        lines.append("mutants failing each test: " + ", ".join(f"{grade_id} {n}" for grade_id, n in by_test.most_common()))
    counted = len(report.outcomes) - len(report.equivalent)
    lines.append(f"mutation score of {report.module.id}: {len(report.killed)}/{counted} non-equivalent mutants killed "
                 f"({100 * report.score:.1f}%); {len(report.equivalent)} recorded equivalent; {report.seconds:.1f}s")
    for outcome in report.wrongly_recorded:
        lines.append(f"note: {outcome.mutant.id} is recorded as equivalent in {EQUIVALENTS} but was killed by "
                     f"{outcome.killer}: remove it from the file")
    if report.stale:
        lines.append(f"recorded equivalent mutants that no longer exist (remove them from {report.module.id}/{EQUIVALENTS}): "
                     + ", ".join(report.stale))
    if report.survivors:
        lines.append(f"{len(report.survivors)} survivor(s): a student who made this slip keeps full marks. Add a test that "
                     f"fails on it, or, if no test could tell it from the solution, record it in "
                     f"modules/source/{report.module.id}/{EQUIVALENTS} with the reason:")
        for outcome in sorted(report.survivors, key=lambda o: o.mutant.line):
            mutant = outcome.mutant
            lines.append("")
            lines.append(ascii(f"survivor {mutant.id}  {mutant.function or '<module>'}  line {mutant.line}  "
                               f"{mutant.operator}: {mutant.description}"))
            lines.extend("    " + line for line in mutant_diff(text, mutant))
            lines.append(ascii(f'    dict(id="{mutant.id}", mutant="{mutant.function}: {mutant.description}", reason=""),'))
    return "\n".join(lines)


def list_mutants(mutants: list[Candidate]) -> str:
    return "\n".join(ascii(f"{m.id}  {m.function or '<module>'}  line {m.line}  {m.operator}: {m.description}")
                     for m, _ in mutants)


def mutate_module(root: Path, module: Module, workers: int, timeout: float | None, memory_mb: int = 4096,
                  only: str | None = None, sample: int | None = None, every_test: bool = False,
                  list_only: bool = False) -> int:
    """`tito mutate`: print the report; 1 if a survivor is not recorded or a record is stale, else 0."""
    text, cells, mutants = module_mutants(module)
    if not mutants:
        raise TitoError(f"{module.source}: nothing to mutate (no code between ### BEGIN SOLUTION and ### END SOLUTION)")
    equivalents = load_equivalents(module)
    existing = {m.id for m, _ in mutants}
    stale = sorted(set(equivalents) - existing)
    chosen = select_mutants(mutants, only, sample)
    if list_only:
        print(list_mutants(chosen))
        return 0
    if not chosen:
        raise TitoError(f"no mutant of {module.id} matches {only!r} (an id prefix, a function such as SGD.step, "
                        f"a class, or an operator: {', '.join(OPERATORS)})")
    regions = len({m.function for m, _ in mutants if m.operator != "mistake"})
    catalogued = sum(m.operator == "mistake" for m, _ in chosen)
    print(f"tito mutate {module.id}: {len(chosen)} mutants ({catalogued} catalogued mistakes) of {regions} functions' "
          f"solutions, {workers} workers", flush=True)
    started = time.monotonic()
    state = {"done": 0, "survived": 0, "shown": -1}

    def progress(outcome: Outcome) -> None:
        state["done"] += 1
        state["survived"] += not outcome.killed
        tenth = 10 * state["done"] // len(chosen)
        if tenth > state["shown"]:
            state["shown"] = tenth
            print(f"  {state['done']}/{len(chosen)} mutants run, {state['survived']} survived, "
                  f"{time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)

    reference, outcomes = run_mutants(root, module, cells, chosen, workers, timeout, memory_mb, every_test, progress)
    verdict = reference["reference"]
    if verdict["status"] != "survived":
        failing = [f"{g}: {m}" for g, (p, m) in verdict.get("results", {}).items() if not p]
        raise TitoError(f"{module.source}: the reference solution does not pass its own graded tests "
                        f"({verdict['status']}: {'; '.join(failing) or verdict.get('message', '')}); fix that first")
    report = Report(module, outcomes, equivalents, stale, time.monotonic() - started, reference["timeout"])
    print(format_report(report, text))
    return 1 if report.failed else 0
