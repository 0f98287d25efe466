"""Mutation tests for module 07_autograd: every plausible student mistake is caught by its graded cell.

The mistakes are the module's catalogue, modules/source/07_autograd/mistakes.py. Each case edits
the reference solution in the module source as text (and checks that the edit applied), runs the notebook in a real Jupyter kernel up to the graded cell meant to catch the
mistake, and asserts that this cell fails, with a message that points at the mistake.
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
from tito.project import Module

SOURCE = ROOT / "modules" / "source" / "07_autograd" / "autograd_dev.py"


MISTAKES = load_mistakes(Module(SOURCE.parent))


@pytest.fixture(scope="module")
def kernel() -> Iterator[NotebookClient]:
    """One real Jupyter kernel for all cases (starting one per case would dominate the run time);
    each case starts with `%reset -f`, so it sees only its own definitions."""
    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3", timeout=300, allow_errors=True)
    with client.setup_kernel():
        yield client


def run_graded_cell(kernel: NotebookClient, source: Path, graded: str) -> str | None:
    """Run the notebook's definitions and then the graded cell `graded`; its error, or None if it passed.

    To keep each run short, the other graded cells (which define nothing later cells use) and the
    demo cells (which only print) are left out, and so is everything after `graded`.
    """
    nb = read_source(source)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells]
    assert graded in ids, f"no cell with grade_id {graded!r}"
    kept = []
    for cell, grade_id in zip(nb.cells[: ids.index(graded) + 1], ids, strict=False):
        is_test = cell.metadata.get("nbgrader", {}).get("grade", False)
        if cell.cell_type == "code" and (grade_id == graded or not (is_test or grade_id.endswith("-demo"))):
            kept.append(cell)
    kernel.nb.cells = [nbformat.v4.new_code_cell("%reset -f"), *kept]
    for index, cell in enumerate(kernel.nb.cells):
        kernel.execute_cell(cell, index)
    errors = [o for o in kept[-1].get("outputs", []) if o.output_type == "error"]
    return f"{errors[0].ename}: {errors[0].evalue}" if errors else None


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_the_graded_cell_catches_the_mistake(mistake: Mistake, kernel: NotebookClient, tmp_path: Path) -> None:
    mutated = tmp_path / SOURCE.name
    mutated.write_text(mistake.apply(SOURCE.read_text(encoding="utf-8")), encoding="utf-8")
    error = run_graded_cell(kernel, mutated, mistake.caught_by)
    assert error is not None, f"{mistake.name}: graded cell {mistake.caught_by} passed"
    assert "NotImplementedError" not in error and "NameError" not in error, error
    assert mistake.says in error, f"{mistake.name}: {mistake.caught_by} failed, but its message lacks {mistake.says!r}:\n{error}"


def test_every_graded_cell_catches_some_mistake() -> None:
    nb = read_source(SOURCE)
    graded = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    untested = graded - {m.caught_by for m in MISTAKES}
    assert not untested, f"graded cells without a mutation case: {sorted(untested)}"


@pytest.mark.parametrize("graded", ["test-backpropagate", "test-train-network"])
def test_the_unchanged_solution_passes_when_run_the_same_way(graded: str, kernel: NotebookClient) -> None:
    assert run_graded_cell(kernel, SOURCE, graded) is None
