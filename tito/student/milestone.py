"""`tito milestone NAME`: run a milestone script from milestones/ against a tinytorch you chose.

Milestones are discovered from the files: every `milestones/<name>_<model>.py` is the milestone
`<name>` (or its full stem); helpers live in subfolders (milestones/lib, milestones/data).

Which `tinytorch` it trains with is never left to chance: the package of the folder you are in (the
student's tinytorch-student folder or a kit: the nearest `tinytorch/` at or above the working
directory), or, in the project itself, the project's package. Anywhere else it refuses. Before
training it reads the modules the milestone imports: one that is missing or still holds stubs
(`# YOUR CODE HERE` + `raise NotImplementedError()`) stops it with a message naming the functions.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from tito.project import TitoError
from tito.student.export import PACKAGE

STUB = re.compile(r"^[ \t]*# YOUR CODE HERE[ \t]*\n[ \t]*raise NotImplementedError\(\)", re.MULTILINE)


def discover_milestones(root: Path) -> dict[str, Path]:
    """{name: script} for every milestones/*.py, by short name ('digits') and full stem ('digits_mlp')."""
    found: dict[str, Path] = {}
    for script in sorted((root / "milestones").glob("*.py")):
        found[script.stem] = script
        found.setdefault(script.stem.split("_")[0], script)
    return found


def find_package(start: Path) -> Path | None:
    """The tinytorch/ a milestone run from `start` uses: the nearest at or above it, a project's
    own package included (an author's reference), else None."""
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / PACKAGE / "__init__.py").is_file():
            return folder / PACKAGE
    return None


def find_milestones_root(start: Path) -> Path | None:
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / "milestones").is_dir() and any((folder / "milestones").glob("*.py")):
            return folder
    return None


def tinytorch_imports(path: Path) -> set[str]:
    """Modules of tinytorch that `path` imports ('tinytorch.core.autograd'), relative ones resolved."""
    package_parts = None
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith(f"{PACKAGE}.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # `from .tensor import Tensor` inside the package
                if package_parts is None:
                    parts = path.with_suffix("").parts
                    package_parts = list(parts[len(parts) - 1 - parts[::-1].index(PACKAGE):-1])
                base = package_parts[: len(package_parts) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module and node.module.startswith(f"{PACKAGE}."):
                found.add(node.module)
    return found


def stubbed_functions(path: Path) -> list[str]:
    """Functions and methods of `path` whose body is still the release's stub."""
    text = path.read_text(encoding="utf-8")
    stub_lines = {text.count("\n", 0, found.end()) + 1 for found in STUB.finditer(text)}
    names = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(child.lineno <= line <= (child.end_lineno or child.lineno) for line in stub_lines):
                    names.append(f"{prefix}{child.name}")
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(text), "")
    return names


def what_to_export(module: str, folder: Path) -> tuple[str, str]:
    """(where the code goes, the command) for `module` ('tinytorch.core.autograd'): the notebook in
    `folder` that exports it, else a description of that notebook."""
    line = f"#| default_exp {module.split('.', 1)[1]}"
    for notebook in sorted(folder.glob("*.ipynb")):
        if line in notebook.read_text(encoding="utf-8", errors="replace"):
            return notebook.name, f"`tito export {notebook.name}`"
    return f"your notebook with `{line}`", "`tito export` on it, in this folder"


def unfinished(script: Path, package: Path) -> list[str]:
    """What stops `script` from running on `package`: missing modules and stubbed functions."""
    problems, seen = [], set()
    todo = sorted(tinytorch_imports(script))
    while todo:
        module = todo.pop(0)
        if module in seen:
            continue
        seen.add(module)
        path = package.parent.joinpath(*module.split(".")).with_suffix(".py")
        relative = path.relative_to(package.parent)
        if not path.is_file():
            notebook, command = what_to_export(module, package.parent)  # reads the notebooks: only for a problem
            problems.append(f"{relative} is missing: {command} ({notebook})")
            continue
        stubs = stubbed_functions(path)
        if stubs:
            notebook, command = what_to_export(module, package.parent)
            shown = ", ".join(stubs[:6]) + (f" and {len(stubs) - 6} more" if len(stubs) > 6 else "")
            problems.append(f"{relative} still has stubs ({shown}): fill them in {notebook} and run {command}")
        todo += sorted(tinytorch_imports(path) - seen)
    return problems


def run_milestone(name: str | None, args: list[str]) -> int:
    """Run milestone `name` with `args`, streaming its output; returns its exit code. No name: list them.
    The milestones are those of the nearest folder at or above the current one that holds milestones/."""
    start = Path.cwd()
    root = find_milestones_root(start)
    if root is None:
        raise TitoError(f"no milestones/ folder at or above {start.resolve()}: run this in your tinytorch-student folder")
    milestones = discover_milestones(root)
    scripts = sorted(set(milestones.values()))
    if name is None:
        for script in scripts:
            short = script.stem.split("_")[0]
            print(f"  {short:<10} {script.relative_to(root)}")
        return 0
    if name not in milestones:
        known = ", ".join(s.stem.split("_")[0] for s in scripts) or "none"
        raise TitoError(f"unknown milestone {name!r}; known milestones: {known}")
    package = find_package(start)
    if package is None:
        raise TitoError(f"no {PACKAGE}/ package at or above {start.resolve()}, so no tinytorch of yours to train "
                        f"with: run this in your tinytorch-student folder (or a module kit)")
    problems = unfinished(milestones[name], package)
    if problems:
        raise TitoError(f"milestone {name} needs modules you have not finished in {package}:\n  "
                        + "\n  ".join(problems) + "\nNothing was trained.")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")])))
    print(f"milestone {name}: training with {package}", flush=True)
    # The user's working directory is kept, so a relative --out means what they expect.
    return subprocess.run([sys.executable, str(milestones[name]), *args], env=env).returncode
