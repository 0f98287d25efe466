"""How often does Start here name the right function, beyond the catalogue? For every mutant of a
module's solutions (`tito mutate`'s, less the recorded equivalents), the line grading computes
(the source notebook, hidden tests in, with the mutated answers) is compared with the function the
mutant changed (a nested function counts as the function it is in).

    python examples/start_here_mutants.py MODULE [--course DIR] [--sample N]

Run after `tito release` of MODULE with the modules before it revealed (so its kit's package holds
their reference), e.g. `tito release 08_optimizers --reveal 01_tensor --reveal 07_autograd`. Two
re-runs at a time, each in a warm-started verifier; prints each miss and the count.
"""

from __future__ import annotations

import argparse
import random
import runpy
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_submissions import filled_in  # noqa: E402

from tito.authoring.mutations import source_mutants  # noqa: E402
from tito.grading.execute import read_kit  # noqa: E402
from tito.grading.start_here import notebook_hints  # noqa: E402
from tito.notebook import read_source  # noqa: E402
from tito.project import select_modules  # noqa: E402
from tito.student.diagnose import diagnosis_task, run_diagnosis  # noqa: E402


def as_graded(source: nbformat.NotebookNode, student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The instructor's notebook with the student's solution cells, as nbgrader's autograde puts them together."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--course", type=Path, default=ROOT / "course")
    parser.add_argument("--sample", type=int, default=0, help="a fixed sample of this many mutants (0: all)")
    args = parser.parse_args()
    (module,) = select_modules(ROOT, [args.module])
    name = module.source.name.removesuffix("_dev.py") + ".ipynb"
    release = nbformat.read(args.course / "release" / module.id / name, as_version=4)
    source = nbformat.read(args.course / "source" / module.id / name, as_version=4)
    kit = read_kit(args.course / "kit" / module.id / "tinytorch")
    text = module.source.read_text(encoding="utf-8")
    recorded = module.folder / "equivalent_mutants.py"
    equivalent = {entry["id"] for entry in runpy.run_path(str(recorded)).get("EQUIVALENT", [])} if recorded.is_file() else set()
    mutants = [m for m in source_mutants(text) if m.id not in equivalent and m.function]
    random.Random(0).shuffle(mutants)
    mutants = mutants[: args.sample] if args.sample else mutants
    tasks = []
    for mutant in mutants:
        with tempfile.TemporaryDirectory() as folder:
            mutated = Path(folder) / module.source.name
            mutated.write_text(mutant.apply(text), encoding="utf-8")
            tasks.append(diagnosis_task(as_graded(source, filled_in(release, read_source(mutated))), timeout=60))
    hints = notebook_hints(source)
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lambda task: run_diagnosis(task, kit, 60, hints), tasks))
    right = silent = 0
    for mutant, start in zip(mutants, found, strict=True):
        if start is None:
            silent += 1
            print(f"NO LINE  {mutant.function} [{mutant.operator}] {mutant.description}")
        elif start.culprit == mutant.function or mutant.function.startswith(start.culprit + "."):
            right += 1
        else:
            print(f"MISSED   {mutant.function} [{mutant.operator}] {mutant.description}: {start.line(with_hint=False)[:200]}")
    print(f"{module.id}: Start here names the mutated function for {right} of {len(mutants)} mutants"
          f" ({silent} without a line)")


if __name__ == "__main__":
    main()
