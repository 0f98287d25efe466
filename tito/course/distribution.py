"""The student distribution: the one folder (and zip) an instructor hands out, with no answers in it.

    student/tinytorch-student/         what students unpack and work in all term
      README.md                        install, JupyterLab, tito check / export / milestone, handing in
      <name>.ipynb                     every released module's student notebook, side by side
      tinytorch/                       THE STUDENT'S package: every module is stubs until they `tito
                                       export` their own notebook, except revealed modules (reference)
      milestones/                      the milestones whose modules are released, with their data
      tool/                            the student's `tito` (check, export, milestone): an installable
                                       project holding only the part of tito those commands import
    student/tinytorch-student.zip      the same folder, zipped

Design: the course folder and a slim tool, not an installable `tinytorch`. The package a student
imports must be the one they write, in a folder they can see, change and export into; installing it
would put a copy in site-packages that goes stale at the first `tito export` (or, in the instructor's
environment, the reference answers). So nothing named `tinytorch` is ever installed: Jupyter and
`tito` find `tinytorch/` next to the notebooks (the notebook's folder is first on sys.path). The tool
installs with one command, `python -m pip install ./tool`, and brings JupyterLab, NumPy, hypothesis
and nbdev but not nbgrader, so the student's JupyterLab has none of nbgrader's instructor extensions.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import zipfile
from pathlib import Path
from string import Template

from tito.course.kit import TEMPLATES, copy_reference, export_stubs, fresh_folder, package_skeleton
from tito.course.layout import Course
from tito.course.reveal import revealed_modules
from tito.project import Module, TitoError, discover_modules
from tito.student.export import PACKAGE

NAME = "tinytorch-student"
TOOL_ENTRY = "tito.student.cli"
SCRIPT_NAME = re.compile(r"^(?:[a-z][a-z_]*/)?[a-z][a-z_]*\.py$")  # "jail.py", "sandbox/verifier.py"; not "__init__.py"
TITO = Path(__file__).resolve().parents[1]  # the tito package this runs from
# What the student's tool needs besides its own code: the kernel and notebook machinery, nbdev for
# `tito export`, and what the module notebooks import. Versions follow the project's own pins.
TOOL_NEEDS = ("numpy", "nbformat", "nbclient", "jupyter_client", "ipykernel", "nbdev", "fastcore", "execnb",
              "hypothesis", "graphviz")
TOOL_ALWAYS = ("jupyterlab>=4", "hypothesis>=6", "graphviz>=0.20")


def module_files(module: str) -> list[Path]:
    """The files of tito module `module` (a dotted name) and of the packages above it."""
    parts = module.split(".")
    files = []
    for depth in range(1, len(parts) + 1):
        base = TITO.parent.joinpath(*parts[:depth])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                files.append(candidate)
    return files


def tool_files(entry: str = TOOL_ENTRY) -> list[Path]:
    """Every tito source file `entry` imports, directly or not (imports inside functions too), and
    the files they load or run by name, beside them or under tito/ (the warm starter loads "jail.py";
    `tito check` re-runs a failing notebook in "sandbox/verifier.py" for its Start-here line): the
    student's tool is exactly what its commands can run, and nothing of release or grading."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        for path in module_files(todo.pop()):
            if path in seen:
                continue
            seen.add(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SCRIPT_NAME.match(node.value):
                    for named in (path.parent / node.value, TITO / node.value):
                        if named.is_file():
                            todo.append(".".join(named.relative_to(TITO.parent).with_suffix("").parts))
                            break
                elif isinstance(node, ast.Import):
                    todo += [alias.name for alias in node.names if alias.name.split(".")[0] == "tito"]
                elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tito":
                    todo.append(node.module)
                    todo += [f"{node.module}.{alias.name}" for alias in node.names]  # submodules imported by name
    return sorted(seen)


def project_requirements() -> dict[str, str]:
    """{distribution name: requirement} from the installed tinytorch's metadata, extras included."""
    found = {}
    for requirement in importlib.metadata.requires("tinytorch") or []:
        spec = requirement.split(";")[0].strip()
        name = re.split(r"[\s<>=!~\[]", spec, maxsplit=1)[0].lower().replace("-", "_")
        found.setdefault(name, spec)
    return found


def tool_dependencies() -> list[str]:
    pinned = project_requirements()
    chosen = {name: pinned[name] for name in TOOL_NEEDS if name in pinned}
    for requirement in TOOL_ALWAYS:
        name = re.split(r"[<>=]", requirement, maxsplit=1)[0]
        chosen.setdefault(name, requirement)
    return sorted(chosen.values())


def version() -> str:
    try:
        return importlib.metadata.version("tinytorch")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def tool_license() -> str:
    """tito's licence text: the LICENSE beside its source, or the one in its installed metadata."""
    beside = TITO.parent / "LICENSE"
    if beside.is_file():
        return beside.read_text(encoding="utf-8")
    try:
        text = importlib.metadata.distribution("tinytorch").read_text("licenses/LICENSE")
    except importlib.metadata.PackageNotFoundError:
        text = None
    if not text:
        raise TitoError("tito's LICENSE file is missing (neither beside its source nor in its metadata); reinstall tinytorch")
    return text


def write_tool(target: Path) -> Path:
    """The student's tool as an installable project in `target`: pyproject.toml, LICENSE and the
    tito files its commands import."""
    fresh_folder(target)
    for path in tool_files():
        destination = target / path.relative_to(TITO.parent)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, destination)
    (target / "LICENSE").write_text(tool_license(), encoding="utf-8")
    dependencies = "".join(f'    "{requirement}",\n' for requirement in tool_dependencies())
    (target / "pyproject.toml").write_text(f'''\
# The student's course tool, written by `tito release`. Install: python -m pip install ./tool
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{NAME}"
version = "{version()}"
description = "The tinytorch course tool for students: tito check, tito export, tito milestone"
requires-python = ">=3.10"
license = "MIT"
license-files = ["LICENSE"]
# Never tinytorch itself: a student's tinytorch is the folder they write, next to their notebooks.
dependencies = [
{dependencies}]

[project.scripts]
tito = "{TOOL_ENTRY}:main"

[tool.setuptools.packages.find]
include = ["tito*"]
''', encoding="utf-8")
    return target


def milestone_modules(script: Path) -> set[str]:
    """The tinytorch modules a milestone script imports ('core.autograd', ...)."""
    found = set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        found |= {name.split(".", 1)[1] for name in names if name.startswith(f"{PACKAGE}.")}
    return found


def copy_milestones(project_root: Path, released: list[Module], target: Path) -> list[str]:
    """The milestones whose tinytorch modules are all released, with milestones/lib and data."""
    available = {m.default_exp for m in released}
    scripts = [s for s in sorted((project_root / "milestones").glob("*.py")) if milestone_modules(s) <= available]
    if not scripts:
        return []
    for script in scripts:
        (target / "milestones").mkdir(parents=True, exist_ok=True)
        shutil.copy(script, target / "milestones" / script.name)
    for folder in ("lib", "data"):
        shutil.copytree(project_root / "milestones" / folder, target / "milestones" / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return [script.stem.split("_")[0] for script in scripts]


def zip_folder(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder.parent).as_posix())
    return archive


def build_distribution(project_root: Path, course: Course) -> Path:
    """student/tinytorch-student/ and its zip, for every module released in `course`; the folder."""
    released = [m for m in discover_modules(project_root) if course.release_notebook(m).is_file()]
    if not released:
        raise TitoError(f"nothing is released in {course.root} yet: run `tito release` first")
    target = fresh_folder(course.root / "student" / NAME)
    revealed = revealed_modules(course)
    package_skeleton(project_root, target / PACKAGE)
    for module in released:
        shutil.copy(course.release_notebook(module), target / f"{module.name}.ipynb")
        if module.id in revealed:
            copy_reference(project_root, module, target / PACKAGE)
        else:
            export_stubs(course, module, target)
    milestones = copy_milestones(project_root, released, target)
    write_tool(target / "tool")
    rows = "\n".join(
        f"| `{m.name}.ipynb` | {m.id} | `tinytorch/{m.default_exp.replace('.', '/')}.py` | "
        f"{'reference code (revealed)' if m.id in revealed else 'stubs until you export'} |"
        for m in released
    )
    (target / "README.md").write_text(Template((TEMPLATES / "student_README.md").read_text(encoding="utf-8")).substitute(
        modules=rows,
        first=f"{released[0].name}.ipynb",
        milestones=", ".join(f"`tito milestone {name}`" for name in milestones) or "none yet",
        milestone_files="\n- `milestones/`: the milestone scripts and their small data sets (licence and provenance\n"
                        "  in `milestones/data/README.md`)." if milestones else "",
    ), encoding="utf-8")
    zip_folder(target)
    return target
