"""`tito release`: module sources -> nbgrader source notebooks -> nbgrader's student release -> the
grading kit, the student kit and the student distribution (tito/course/kit.py, distribution.py).

nbgrader's `source/<module>/` gets only the notebook built from the `_dev.py` (the `_dev.py` itself
would be copied to `release/` verbatim, answers and all). nbgrader's own GenerateAssignment then
turns solutions into stubs, drops hidden tests, locks and checksums the test cells and records the
module in the gradebook. It runs in this process: no CLI start-up per module.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import nbformat

from tito.authoring.mistakes import with_student_hints
from tito.course.layout import Course, put_own_bin_on_path
from tito.notebook import read_source, write_if_changed
from tito.project import Module, TitoError

NBGRADER_ROLES = ("grade", "solution", "locked", "task")


def drop_inert_nbgrader_metadata(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Module sources give every exported cell a grade_id (it becomes the cell id). nbgrader keeps
    no record of a cell that is neither graded, a solution, locked nor a task, and at autograde
    OverwriteCells strips such a cell's grade_id, after which its add_missing_cells step fails
    with KeyError('grade_id'). Those cells need no nbgrader metadata at all."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is not None and not any(meta.get(role) for role in NBGRADER_ROLES):
            del cell.metadata["nbgrader"]
    return nb


def build_source(course: Course, module: Module) -> Path:
    """nbgrader's source folder for `module`: exactly one notebook, nothing else."""
    folder = course.source_notebook(module).parent
    if folder.is_dir():
        shutil.rmtree(folder)  # nothing stale (an old _dev.py, a renamed notebook) can reach release/
    nb = with_student_hints(drop_inert_nbgrader_metadata(read_source(module.source)), module)  # hints for tito check
    write_if_changed(nb, course.source_notebook(module))
    return course.source_notebook(module)


def generate_assignment(course: Course, module: Module) -> Path:
    """nbgrader generate_assignment --force, in-process; returns the release notebook."""
    put_own_bin_on_path()
    from nbgrader.converters import GenerateAssignment
    from nbgrader.converters.base import NbGraderException

    config = course.nbgrader_config()
    app = GenerateAssignment(coursedir=course.course_directory(module.id), config=config)
    app.force = True  # without it an existing release is silently kept
    app.log.setLevel(logging.WARNING)
    try:
        app.start()
    except NbGraderException as error:
        raise TitoError(f"nbgrader generate_assignment failed for {module.id}: {error}") from error
    release = course.release_notebook(module)
    if not release.is_file():
        raise TitoError(f"nbgrader wrote no {release}")
    return release


def release_modules(project_root: Path, course: Course, modules: list[Module], reveal: list[Module] = ()) -> list[Path]:
    """Release `modules` (nbgrader's release, each module's grading kit and student kit), record the
    modules to `reveal`, then rebuild the student distribution from everything released so far."""
    from tito.course import reveal as revealing
    from tito.course.distribution import build_distribution
    from tito.course.kit import build_grading_kit, build_kit

    if not modules:
        raise TitoError(f"no modules found under {project_root / 'modules' / 'source'}")
    course.ensure_config()
    revealing.reveal(course, list(reveal))
    kits = []
    for module in modules:
        build_source(course, module)
        generate_assignment(course, module)
        build_grading_kit(project_root, course, module)
        kits.append(build_kit(project_root, course, module))
    build_distribution(project_root, course)
    return kits
