"""Find the project root and discover the teaching modules from the folders under modules/source."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MODULE_DIR = re.compile(r"^(\d\d)_([a-z][a-z0-9_]*)$")
DEFAULT_EXP = re.compile(r"^#\|\s*default_exp\s+(\S+)\s*$", re.MULTILINE)


class TitoError(Exception):
    """A user-facing error: the CLI prints its message (no traceback) and exits 1."""


@dataclass(frozen=True)
class Module:
    """One teaching module: `modules/source/NN_name/name_dev.py`."""

    folder: Path

    @property
    def id(self) -> str:  # "07_autograd"
        return self.folder.name

    @property
    def name(self) -> str:  # "autograd"
        return MODULE_DIR.match(self.folder.name).group(2)

    @property
    def source(self) -> Path:
        return self.folder / f"{self.name}_dev.py"

    @property
    def notebook(self) -> Path:
        """The generated notebook nbdev exports from (build output, ignored by git)."""
        return self.source.with_suffix(".ipynb")

    @property
    def default_exp(self) -> str:
        """The package module this source exports to, e.g. 'core.autograd'."""
        found = DEFAULT_EXP.search(self.source.read_text(encoding="utf-8"))
        if not found:
            raise TitoError(f"{self.source}: no '#| default_exp' line, so tito does not know where to export it")
        return found.group(1)

    def package_file(self, root: Path) -> Path:
        return root / "tinytorch" / (self.default_exp.replace(".", "/") + ".py")


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding settings.ini and modules/source."""
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "settings.ini").is_file() and (folder / "modules" / "source").is_dir():
            return folder
    raise TitoError(f"no tinytorch project at or above {here} (looked for settings.ini and modules/source/)")


def discover_modules(root: Path) -> list[Module]:
    """Every `modules/source/NN_name/` folder that holds `name_dev.py`, in number order."""
    modules = []
    for folder in sorted((root / "modules" / "source").iterdir()):
        if folder.is_dir() and MODULE_DIR.match(folder.name):
            module = Module(folder)
            if module.source.is_file():
                modules.append(module)
    return modules


def select_modules(root: Path, names: list[str]) -> list[Module]:
    """Modules named by folder ('07_autograd') or short name ('autograd'); all when `names` is empty."""
    modules = discover_modules(root)
    if not names:
        return modules
    by_name = {m.id: m for m in modules} | {m.name: m for m in modules}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(m.id for m in modules) or "none"
        raise TitoError(f"unknown module {', '.join(map(repr, unknown))}; known modules: {known}")
    return [by_name[n] for n in names]
