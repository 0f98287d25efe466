"""nbgrader's scoring rules (nbgrader/utils.py, 0.9.6, BSD-3-Clause, (c) the Jupyter Development Team),
restated so that `tito check` scores exactly as the grader does without nbgrader installed: the
student's tool leaves nbgrader out, and with it its instructor extensions for JupyterLab.
tests/test_check.py compares these with nbgrader's own functions on real cells.
"""

from __future__ import annotations

import hashlib

import nbformat


def nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_grade(cell: nbformat.NotebookNode) -> bool:
    return bool(nbgrader(cell).get("grade", False))


def is_solution(cell: nbformat.NotebookNode) -> bool:
    return bool(nbgrader(cell).get("solution", False))


def is_locked(cell: nbformat.NotebookNode) -> bool:
    if "nbgrader" not in cell.metadata or is_solution(cell):
        return False
    return True if is_grade(cell) else bool(nbgrader(cell).get("locked", False))


def compute_checksum(cell: nbformat.NotebookNode) -> str:
    digest = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(is_grade(cell)), str(is_solution(cell)), str(is_locked(cell)),
                 nbgrader(cell)["grade_id"]):
        digest.update(part.encode("utf-8"))
    if is_grade(cell):
        digest.update(str(float(nbgrader(cell)["points"])).encode("utf-8"))
    return digest.hexdigest()


def partial_grade(output: nbformat.NotebookNode, max_points: float) -> float:
    """A number the cell returned as its result is partial credit (nbgrader's get_partial_grade).
    nbgrader raises for a value above the cell's points, and tito grade then records 0: so does this."""
    grade = output.get("data", {}).get("text/plain")
    if isinstance(grade, list):
        if len(grade) > 1:
            return max_points
        grade = grade[0] if grade else ""
    try:
        value = float(grade)
    except (TypeError, ValueError):
        return max_points
    if value < 0:
        return max_points
    return 0.0 if value > max_points else value


def determine_grade(cell: nbformat.NotebookNode) -> tuple[float | None, float]:
    """(score, max score) of a graded cell: a code cell with an error or stderr output scores 0."""
    if not is_grade(cell):
        raise ValueError("cell is not a grade cell")
    max_points = float(nbgrader(cell)["points"])
    if is_solution(cell):
        unchanged = nbgrader(cell).get("checksum") == compute_checksum(cell) if "checksum" in nbgrader(cell) else False
        return (0, max_points) if unchanged else (None, max_points)
    if cell.cell_type == "code":
        for output in cell.outputs:
            if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr"):
                return 0, max_points
            if output.output_type == "execute_result":
                return partial_grade(output, max_points), max_points
        return max_points, max_points
    return None, max_points
