"""The tamper-proof verdict, coordinator side: what the trusted verifier (tito/sandbox/verifier.py) is given,
and how its answer combines with nbgrader's in-kernel one.

A graded test scores its points only if it passed BOTH in the notebook's kernel (nbgrader's rule:
no error output) and in the verifier. Any disagreement is reported as "needs review" (CSV
`reasons` column, a note at the top of the feedback, the test cell's error output); a test cell
the student deleted fails (nbgrader puts it back, but does not fail it).
"""

from __future__ import annotations

import ast

import nbformat

REVIEW = "needs review"
EXTRA_PRELOAD = ("numpy", "numpy.linalg", "numpy.random", "numpy.testing", "math")


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def graded_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")]


def trusted_imports(source_notebooks: list[nbformat.NotebookNode], graded_module: str) -> dict:
    """From the instructor's notebooks: names bound to modules (`import numpy as np` -> np: numpy)
    and the modules imported from (`from tinytorch.core.tensor import Tensor`), to load and
    protect before student code runs. The graded module itself is the student's, never trusted."""
    modules: dict[str, str] = {}
    preload = set(EXTRA_PRELOAD)
    for nb in source_notebooks:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.asname:
                            modules[alias.asname] = alias.name
                        else:
                            modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
                        preload.add(alias.name)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    preload.add(node.module)
    preload = {m for m in preload if m != graded_module and not m.startswith(graded_module + ".") and m != "__future__"}
    modules = {k: v for k, v in modules.items() if v != graded_module}
    return {"modules": modules, "preload": sorted(preload)}


def verifier_input(nb: nbformat.NotebookNode, imports: dict) -> dict:
    """What the verifier is given; `diagnose`: also gather the evidence for `Start here:`."""
    cells = [
        {"source": c.source, "locked": bool(nbgrader_meta(c).get("locked")), "graded": bool(nbgrader_meta(c).get("grade")),
         "grade_id": nbgrader_meta(c).get("grade_id"), "solution": bool(nbgrader_meta(c).get("solution")),
         "id": c.get("id")}
        for c in nb.cells if c.cell_type == "code"
    ]
    return {"cells": cells, **imports, "diagnose": True}


def failed_in_kernel(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def fail_cell(cell, ename: str, message: str) -> None:
    cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]))


def apply_verdict(nb: nbformat.NotebookNode, verdict: dict | None, deleted: list[str]) -> list[str]:
    """Fail in `nb` every graded cell the verifier failed or the student deleted; the notes to report."""
    notes = []
    results = (verdict or {}).get("results")
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        grade_id = meta["grade_id"]
        if grade_id in deleted:
            fail_cell(cell, "DeletedTest", "this test cell was deleted from the submission; a deleted test fails")
            notes.append(f"test cell {grade_id} was deleted (scores 0)")
            continue
        if verdict is None:
            continue
        kernel_passed = not failed_in_kernel(cell)
        if results is None:
            trusted_passed, message = False, verdict.get("error", "no verdict")
        else:
            trusted_passed, message = results.get(grade_id, [False, "the trusted re-run never reached this test"])
        if kernel_passed and not trusted_passed:
            fail_cell(cell, "TrustedRerunFailed", f"passed in the notebook, failed when re-run by the grader: {message}")
            notes.append(f"{REVIEW}: {grade_id} passed in the notebook but failed the trusted re-run ({message})")
        elif trusted_passed and not kernel_passed:
            notes.append(f"{REVIEW}: {grade_id} failed in the notebook but passed the trusted re-run")
    return notes
