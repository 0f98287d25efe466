"""The two packages `tito release` builds per module: one to grade with, one for students.

    grading_kit/<module>/tinytorch/  what `tito grade` runs submissions against (instructor only):
                                     earlier modules' REFERENCE exports, so a student is never failed
                                     twice for one mistake, and this module's export made from its
                                     stubs, so a submission cannot import this module's answers
    kit/<module>/                    what a student gets for one module: the release notebook, a short
                                     README and a `tinytorch/` in which every module is stubs (made by
                                     nbdev from its solutions-cleared notebook), except the modules
                                     the instructor revealed (tito/course/reveal.py), which hold
                                     their reference export. The kit's own module is always stubs.

Jupyter started in a kit folder imports its `tinytorch` (the notebook's folder comes first on
sys.path); `tito export NOTEBOOK` replaces stubs with the student's own code (tito/student/export.py).
The whole course for students, all modules in one folder with the student tool, is the student
distribution (tito/course/distribution.py), built from the same pieces.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from string import Template

import nbformat

from tito.course.layout import Course
from tito.course.reveal import revealed_modules
from tito.project import Module, TitoError, discover_modules
from tito.student.export import PACKAGE, nbdev_export_into

__all__ = ["build_kit", "build_grading_kit", "grading_package"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def grading_package(course: Course, module: Module) -> Path:
    return course.root / "grading_kit" / module.id / PACKAGE


STUDENT_DOCSTRING = '''"""tinytorch: the package you build in this course, one module at a time.

Each file under tinytorch/core/ comes from one of your notebooks: `tito export NOTEBOOK` writes the
notebook's `#| export` cells into it. Until you export a module, its file holds stubs that raise
NotImplementedError.
"""
'''


def package_skeleton(project_root: Path, package: Path, for_students: bool = True) -> None:
    """The package's `__init__.py` files, copied from the project's package; for students, the top
    one's docstring speaks of their notebooks (the project's names files they do not have)."""
    reference = project_root / PACKAGE
    for init in reference.rglob("__init__.py"):
        if "__pycache__" not in init.parts:
            target = package / init.relative_to(reference)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(init, target)
    top = package / "__init__.py"
    if for_students and top.is_file():
        text = top.read_text(encoding="utf-8")
        if text.startswith('"""') and text.count('"""') >= 2:
            text = text[text.index('"""', 3) + 3:].lstrip("\n")
        top.write_text(STUDENT_DOCSTRING + ("\n" + text if text else ""), encoding="utf-8")


def copy_reference(project_root: Path, module: Module, package: Path) -> None:
    source = module.package_file(project_root)
    if not source.is_file():
        raise TitoError(f"{module.id} has no export at {source}; run `tito export` before releasing")
    target = package / source.relative_to(project_root / PACKAGE)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)


def stub_notebook(course: Course, module: Module) -> nbformat.NotebookNode:
    """The module as students get it: its release notebook, or (not released in this course yet)
    its source with nbgrader's ClearSolutions applied and the hidden tests removed."""
    if course.release_notebook(module).is_file():
        return nbformat.read(course.release_notebook(module), as_version=4)
    from nbgrader.preprocessors import ClearSolutions

    from tito.grading.student_view import without_hidden
    from tito.notebook import read_source

    nb, _ = ClearSolutions(config=course.nbgrader_config()).preprocess(read_source(module.source), {})
    for cell in nb.cells:
        cell.source = without_hidden(cell.source)
    return nb


def export_stubs(course: Course, module: Module, folder: Path) -> None:
    """Export `module`'s stubs into folder/tinytorch, from folder/<name>.ipynb when that notebook is
    there (a kit's own module, every module in the distribution), else from a notebook written
    there for the export and removed after it, so nbdev's path comments name <name>.ipynb either way."""
    notebook = folder / f"{module.name}.ipynb"
    temporary = not notebook.is_file()
    if temporary:
        nbformat.write(stub_notebook(course, module), notebook)
    try:
        nbdev_export_into(notebook, folder / PACKAGE)
    finally:
        if temporary:
            notebook.unlink()
    exported = folder / PACKAGE / (module.default_exp.replace(".", "/") + ".py")
    if not exported.is_file():
        raise TitoError(f"nbdev wrote no {exported} from {module.id}'s notebook")


def fresh_folder(folder: Path) -> Path:
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def earlier_modules(project_root: Path, module: Module) -> list[Module]:
    modules = discover_modules(project_root)
    return modules[: [m.id for m in modules].index(module.id)]


def build_grading_kit(project_root: Path, course: Course, module: Module) -> Path:
    folder = fresh_folder(grading_package(course, module).parent)
    package_skeleton(project_root, folder / PACKAGE, for_students=False)
    for earlier in earlier_modules(project_root, module):
        copy_reference(project_root, earlier, folder / PACKAGE)
    export_stubs(course, module, folder)
    return folder / PACKAGE


def build_kit(project_root: Path, course: Course, module: Module) -> Path:
    """The student kit of `module` (see the module docstring); its folder."""
    kit = fresh_folder(course.kit(module))
    shutil.copy(course.release_notebook(module), kit / course.release_notebook(module).name)
    package_skeleton(project_root, kit / PACKAGE)
    revealed = revealed_modules(course)
    earlier = earlier_modules(project_root, module)
    for other in earlier:
        if other.id in revealed:
            copy_reference(project_root, other, kit / PACKAGE)
        else:
            export_stubs(course, other, kit)
    export_stubs(course, module, kit)
    stubbed = [f"`{m.id}`" for m in earlier if m.id not in revealed]
    shown = [f"`{m.id}`" for m in earlier if m.id in revealed]
    (kit / "README.md").write_text(Template((TEMPLATES / "kit_README.md").read_text(encoding="utf-8")).substitute(
        module=module.id,
        notebook=f"{module.name}.ipynb",
        package_file=f"tinytorch/{module.default_exp.replace('.', '/')}.py",
        earlier=", ".join(stubbed) or "none",
        revealed=", ".join(shown) or "none",
    ), encoding="utf-8")
    return kit
