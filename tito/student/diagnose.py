"""`tito check`'s `Start here:` line: when tests fail, the student's notebook is re-run once more by
the verifier (tito/sandbox/verifier.py, as at grading, but unsandboxed: this is the student's own
machine), which traces each test and probes each function (tito/sandbox/diagnosis.py); the line
is composed here (tito/grading/start_here.py), with the hints `tito release` put in the notebook.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat

from tito.grading.start_here import StartHere, notebook_hints, start_here, verifier_results

DEFAULT_EXP = re.compile(r"^#\|\s*default_exp\s+(\S+)", re.MULTILINE)
CELL_SECONDS = 5.0  # a cell of the re-run that takes longer is cut (a hang, e.g. a backward walking 2^60 paths)


def graded_module(nb: nbformat.NotebookNode) -> str:
    """`tinytorch.core.autograd` for a notebook with `#| default_exp core.autograd` ('' without one)."""
    found = DEFAULT_EXP.search("\n".join(cell.source for cell in nb.cells if cell.cell_type == "code"))
    return f"tinytorch.{found.group(1)}" if found else ""


def diagnosis_task(nb: nbformat.NotebookNode, timeout: float) -> dict:
    """The verifier's input for diagnosing `nb` (as submitted, outputs cleared)."""
    from tito.sandbox.verdict import trusted_imports, verifier_input

    return verifier_input(nb, trusted_imports([nb], graded_module(nb)))


def run_diagnosis(task: dict, kit: dict[str, str], timeout: float, hints: list[dict]) -> StartHere | None:
    """Re-run the notebook of `task` with the kit's package `kit` ({relative path: text}) and
    compose the Start-here finding; None if the re-run finds nothing to name."""
    results, diagnosis = rerun(task, kit, timeout)
    return start_here(diagnosis, results, hints)


def rerun(task: dict, kit: dict[str, str], timeout: float) -> tuple[dict, dict | None]:
    """The verifier's re-run of `task` with the kit's package: {grade_id: (passed, message)} and
    the Start-here evidence."""
    from tito.grading.execute import Run, run_verifier

    with tempfile.TemporaryDirectory(prefix="tito-check-") as folder:
        scratch = Path(folder)
        kit_dir = scratch / "kit"
        kit_dir.mkdir()
        for relative, text in kit.items():
            target = kit_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        verdict = run_verifier(task, Run(scratch, "diagnosis", None, kit_dir, timeout), kit_dir, timeout,
                               cell_timeout=min(CELL_SECONDS, timeout))
    return verifier_results(verdict.get("results") or {})


def diagnose_notebook(nb: nbformat.NotebookNode, kit: dict[str, str], timeout: float) -> StartHere | None:
    """The Start-here finding for the student's notebook `nb`, with the hints it carries."""
    return run_diagnosis(diagnosis_task(nb, timeout), kit, timeout, notebook_hints(nb))
