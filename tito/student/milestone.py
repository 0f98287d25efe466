"""`tito milestone NAME`: run a milestone script from milestones/ with this environment's Python.

Milestones are discovered from the files: every `milestones/<name>_<model>.py` is the milestone
`<name>` (or its full stem); helpers live in subfolders (milestones/lib, milestones/data).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tito.project import TitoError


def discover_milestones(root: Path) -> dict[str, Path]:
    """{name: script} for every milestones/*.py, by short name ('digits') and full stem ('digits_mlp')."""
    found: dict[str, Path] = {}
    for script in sorted((root / "milestones").glob("*.py")):
        found[script.stem] = script
        found.setdefault(script.stem.split("_")[0], script)
    return found


def run_milestone(root: Path, name: str | None, args: list[str]) -> int:
    """Run milestone `name` with `args`, streaming its output; returns its exit code. No name: list them."""
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
    # The user's working directory is kept, so a relative --out means what they expect.
    return subprocess.run([sys.executable, str(milestones[name]), *args]).returncode
