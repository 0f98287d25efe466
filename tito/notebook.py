"""Turn a Jupytext percent-format source into a notebook with stable cell ids."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat

VALID_ID = re.compile(r"[^A-Za-z0-9_-]")


def read_source(source: Path) -> nbformat.NotebookNode:
    """Read a `_dev.py` as a notebook. Cell ids come from nbgrader's grade_id (or the cell's
    position), so converting the same source twice gives the same notebook and nbdev's
    generated files, which quote the ids, never churn."""
    nb = jupytext.read(source, fmt="py:percent")
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell_id = VALID_ID.sub("-", grade_id)[:64] if grade_id else f"cell-{index}"
        if cell_id in seen:
            cell_id = f"{cell_id[:54]}-{index}"
        seen.add(cell_id)
        cell["id"] = cell_id
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb


def write_if_changed(nb: nbformat.NotebookNode, path: Path) -> bool:
    """Write `nb` to `path` unless the file already holds exactly that; True when written."""
    text = nbformat.writes(nb) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
