"""`tito export`: module sources -> notebooks -> nbdev -> the `tinytorch` package."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tito.notebook import read_source, write_if_changed
from tito.project import Module, TitoError


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    # nbdev 2 finds settings.ini by looking upward from the current directory.
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def nbdev_export(notebooks: list[Path], root: Path, lib_path: Path | None = None) -> None:
    """Run nbdev's exporter on `notebooks`, writing into `lib_path` (default: root/tinytorch)."""
    os.environ.pop("IN_TEST", None)  # nbdev silently exports nothing when IN_TEST is set
    from nbdev.config import add_init
    from nbdev.doclinks import _build_modidx
    from nbdev.export import nb_export

    with working_directory(root):
        for notebook in notebooks:
            nb_export(str(notebook), lib_path=str(lib_path) if lib_path else None)
        add_init(lib_path or root / "tinytorch")
        _build_modidx(dest=lib_path) if lib_path else _build_modidx()


def point_at_source(package_file: Path) -> None:
    """nbdev names the notebook as the 'File to edit'; the file people edit is the `_dev.py`."""
    text = package_file.read_text(encoding="utf-8")
    fixed = text.replace("_dev.ipynb", "_dev.py")
    if fixed != text:
        package_file.write_text(fixed, encoding="utf-8")


def export_modules(root: Path, modules: list[Module]) -> list[Path]:
    """Export `modules` into root/tinytorch; returns the package files written."""
    if not modules:
        raise TitoError(f"no modules found under {root / 'modules' / 'source'}")
    for module in modules:
        module.default_exp  # noqa: B018 -- fail early, naming the file, if it has no default_exp
        write_if_changed(read_source(module.source), module.notebook)
    nbdev_export([m.notebook for m in modules], root)
    written = []
    for module in modules:
        target = module.package_file(root)
        if not target.is_file():
            raise TitoError(f"{module.source}: nbdev wrote no {target}; does it have '#| export' cells?")
        point_at_source(target)
        written.append(target)
    return written


def summary_line(root: Path, module: Module, package_file: Path) -> str:
    import ast

    tree = ast.parse(package_file.read_text(encoding="utf-8"))
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]
    lines = len(package_file.read_text(encoding="utf-8").splitlines())
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"  {module.id:<16} -> {package_file.relative_to(root)} ({lines} lines: {shown})"
