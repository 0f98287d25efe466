"""The student kit: what a student needs to work on one module alone.

    kit/<module>/<name>.ipynb   the release notebook (stubs, no hidden tests)
    kit/<module>/tinytorch/     the package: earlier modules' exports intact, this module's export
                                made from the RELEASE notebook, so its answers are stubs too

Jupyter started in the kit folder imports this `tinytorch` (the notebook's folder comes first on
sys.path). `tito export NOTEBOOK` exports the student's filled notebook into it. Grading uses the
same package, so a submission cannot import the reference answers of the module being graded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tito.course.layout import Course
from tito.project import Module, TitoError, discover_modules

PACKAGE = "tinytorch"


def nbdev_export_into(notebook: Path, package: Path) -> None:
    """nbdev's exporter, writing `notebook`'s `#| export` cells into `package`."""
    os.environ.pop("IN_TEST", None)  # nbdev silently exports nothing when IN_TEST is set
    from nbdev.export import nb_export

    nb_export(str(notebook), lib_path=str(package))


def build_kit(project_root: Path, course: Course, module: Module) -> Path:
    kit = course.kit(module)
    if kit.is_dir():
        shutil.rmtree(kit)
    kit.mkdir(parents=True)
    notebook = kit / course.release_notebook(module).name
    shutil.copy(course.release_notebook(module), notebook)
    package = kit / PACKAGE
    reference = project_root / PACKAGE
    for init in reference.rglob("__init__.py"):  # the package skeleton
        if "__pycache__" not in init.parts:
            target = package / init.relative_to(reference)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(init, target)
    for earlier in discover_modules(project_root):
        if earlier.id == module.id:
            break
        source = earlier.package_file(project_root)
        if not source.is_file():
            raise TitoError(f"{earlier.id} has no export at {source}; run `tito export` before releasing {module.id}")
        target = package / source.relative_to(reference)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    nbdev_export_into(notebook, package)
    stubbed = package / (module.default_exp.replace(".", "/") + ".py")
    if not stubbed.is_file():
        raise TitoError(f"nbdev wrote no {stubbed} from {notebook}")
    return kit


def find_kit_package(notebook: Path) -> Path:
    for folder in notebook.resolve().parents:
        if (folder / "settings.ini").is_file():
            break  # the project root: its package holds the reference answers, never a student's
        if (folder / PACKAGE / "__init__.py").is_file():
            return folder / PACKAGE
    raise TitoError(f"no {PACKAGE}/ package next to {notebook} or above it; run this in a student kit folder")


def export_student_notebook(notebook: Path) -> Path:
    """`tito export NOTEBOOK`: the student's own notebook -> their kit's package; the file written."""
    import re

    import nbformat

    if not notebook.is_file():
        raise TitoError(f"no such notebook: {notebook}")
    sources = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells)
    found = re.search(r"^#\|\s*default_exp\s+(\S+)", sources, re.MULTILINE)
    if not found:
        raise TitoError(f"{notebook}: no '#| default_exp' cell, so there is nothing to export")
    package = find_kit_package(notebook)
    nbdev_export_into(notebook, package)
    return package / (found.group(1).replace(".", "/") + ".py")
