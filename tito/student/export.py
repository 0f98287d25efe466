"""`tito export NOTEBOOK`: a student's own notebook -> the `tinytorch` package of their folder.

A student's folder is the student distribution (tinytorch-student/) or a module kit: notebooks next
to a `tinytorch/` package. The package is found from the notebook upward, and never past a project
root (settings.ini): the package there holds the reference answers, not the student's. No package
found means a clear refusal, never a quiet export into (or import of) some installed `tinytorch`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tito.project import TitoError

PACKAGE = "tinytorch"
DEFAULT_EXP = re.compile(r"^#\|\s*default_exp\s+(\S+)", re.MULTILINE)


def nbdev_export_into(notebook: Path, package: Path) -> None:
    """nbdev's exporter, writing `notebook`'s `#| export` cells into `package`."""
    os.environ.pop("IN_TEST", None)  # nbdev silently exports nothing when IN_TEST is set
    from nbdev.export import nb_export

    nb_export(str(notebook), lib_path=str(package))


def find_package_above(start: Path) -> Path | None:
    """The nearest `tinytorch/` package at or above `start` (a folder), stopping at a project root."""
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / "settings.ini").is_file():
            return None  # the project root: its package holds the reference answers, never a student's
        if (folder / PACKAGE / "__init__.py").is_file():
            return folder / PACKAGE
    return None


def find_kit_package(notebook: Path) -> Path:
    package = find_package_above(notebook.resolve().parent)
    if package is None:
        raise TitoError(
            f"no {PACKAGE}/ package next to {notebook} or above it, so there is no package of yours to use. "
            f"Work in your tinytorch-student folder (or a module kit): put the notebook there and run this again"
        )
    return package


def export_student_notebook(notebook: Path) -> Path:
    """`tito export NOTEBOOK`: the student's own notebook -> their package; the file written."""
    import nbformat

    if not notebook.is_file():
        raise TitoError(f"no such notebook: {notebook}")
    sources = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells)
    found = DEFAULT_EXP.search(sources)
    if not found:
        raise TitoError(f"{notebook}: no '#| default_exp' cell, so there is nothing to export")
    package = find_kit_package(notebook)
    nbdev_export_into(notebook, package)
    return package / (found.group(1).replace(".", "/") + ".py")
