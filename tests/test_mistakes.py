"""Mutation tests for every module with a mistakes catalogue: each plausible student mistake is caught by its graded cell.

The mistakes are the modules' catalogues, modules/source/NN_name/mistakes.py (found, like the modules,
from the folders). Each case edits the reference solution in the module source as text (and checks
that the edit applied), runs the notebook in a real Jupyter kernel up to the graded cell meant to
catch the mistake, and asserts that this cell fails, with a message that points at the mistake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from tito.authoring.mistakes import Mistake, load_mistakes
from tito.notebook import read_source
from tito.project import Module, discover_modules

CATALOGUED = [module for module in discover_modules(ROOT) if load_mistakes(module)]
CASES = [(module, mistake) for module in CATALOGUED for mistake in load_mistakes(module)]
assert {m.id for m in CATALOGUED} >= {"07_autograd", "08_optimizers"}, "a catalogue went missing: its tests would not run"


def graded_ids(module: Module) -> list[str]:
    nb = read_source(module.source)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.fixture(scope="module")
def kernel() -> Iterator[NotebookClient]:
    """One real Jupyter kernel for all cases (starting one per case would dominate the run time);
    each case starts with `%reset -f`, so it sees only its own definitions."""
    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3", timeout=300, allow_errors=True)
    with client.setup_kernel():
        yield client


def run_graded_cells(kernel: NotebookClient, source: Path, graded: list[str]) -> dict[str, str | None]:
    """Run the notebook's definitions and the graded cells `graded`; each one's error, or None if it passed.

    To keep each run short, the other graded cells (which define nothing later cells use) and the
    demo cells (which only print) are left out, and so is everything after the last of `graded`.
    """
    nb = read_source(source)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells]
    assert set(graded) <= set(ids), f"no cell with grade_id {sorted(set(graded) - set(ids))}"
    kept = []
    for cell, grade_id in zip(nb.cells[: max(map(ids.index, graded)) + 1], ids, strict=False):
        is_test = cell.metadata.get("nbgrader", {}).get("grade", False)
        if cell.cell_type == "code" and (grade_id in graded or not (is_test or grade_id.endswith("-demo"))):
            kept.append(cell)
    kernel.nb.cells = [nbformat.v4.new_code_cell("%reset -f"), *kept]
    for index, cell in enumerate(kernel.nb.cells):
        kernel.execute_cell(cell, index)
    results = {}
    for cell in kept:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in graded:
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            results[grade_id] = f"{errors[0].ename}: {errors[0].evalue}" if errors else None
    return results


@pytest.mark.parametrize(("module", "mistake"), CASES, ids=[f"{module.id}: {mistake.name}" for module, mistake in CASES])
def test_the_graded_cell_catches_the_mistake(module: Module, mistake: Mistake, kernel: NotebookClient, tmp_path: Path) -> None:
    mutated = tmp_path / module.source.name
    mutated.write_text(mistake.apply(module.source.read_text(encoding="utf-8")), encoding="utf-8")
    error = run_graded_cells(kernel, mutated, [mistake.caught_by])[mistake.caught_by]
    assert error is not None, f"{mistake.name}: graded cell {mistake.caught_by} passed"
    assert "NotImplementedError" not in error and "NameError" not in error, error
    assert mistake.says in error, f"{mistake.name}: {mistake.caught_by} failed, but its message lacks {mistake.says!r}:\n{error}"


@pytest.mark.parametrize("module", CATALOGUED, ids=[m.id for m in CATALOGUED])
def test_every_graded_cell_catches_some_mistake(module: Module) -> None:
    untested = set(graded_ids(module)) - {m.caught_by for m in load_mistakes(module)}
    assert not untested, f"{module.id}: graded cells without a mutation case: {sorted(untested)}"


@pytest.mark.parametrize("module", CATALOGUED, ids=[m.id for m in CATALOGUED])
def test_the_unchanged_solution_passes_when_run_the_same_way(module: Module, kernel: NotebookClient) -> None:
    """The control: run as the cases are (demo cells left out), the reference passes every graded cell,
    so a case's failure is its mistake's, not the harness's."""
    failing = {k: v for k, v in run_graded_cells(kernel, module.source, graded_ids(module)).items() if v is not None}
    assert not failing, f"{module.id}: graded cells fail on the reference without the demo cells: {failing}"
