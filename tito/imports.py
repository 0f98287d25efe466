"""Import hygiene for the `tito` command: a fast nbformat, and a useful message for a missing extra.

nbformat validates notebooks with jsonschema, and jsonschema, when its module of format checkers is
first imported, imports the optional `rfc3987_syntax` IRI checker if it is installed, which builds a
grammar: about 2.5 s per process, for a format no notebook schema uses. `import_jsonschema_quickly()`
imports jsonschema with that one checker declared absent, then takes the declaration back, so the
process can still import `rfc3987_syntax` itself; jsonschema merely lacks its "iri" format check.
The tito commands that read notebooks call it (tito/cli.py), and so does the grading package for
its workers (tito/grading/__init__.py). `import tito` alone changes nothing.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys

IRI_CHECKER = "rfc3987_syntax"


def import_jsonschema_quickly() -> None:
    if "jsonschema" in sys.modules or IRI_CHECKER in sys.modules:
        return  # too late to matter, or someone already imported (or blocked) it
    sys.modules[IRI_CHECKER] = None  # an import of it now raises ImportError, which jsonschema expects
    try:
        import jsonschema  # noqa: F401 -- its format checkers are chosen now
    except ImportError:
        pass  # nbformat reports a missing jsonschema itself, with its own message
    finally:
        del sys.modules[IRI_CHECKER]


def extra_providing(module: str, distribution: str = "tinytorch") -> str | None:
    """The extra of `distribution` whose requirements include `module` ('nbformat' -> 'course');
    None if no extra lists it."""
    try:
        requirements = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = module.split(".")[0].lower().replace("-", "_")
    for requirement in requirements:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("-", "_")
        if extra and (name == wanted or name.startswith(wanted + "_")):  # psycopg2 -> psycopg2_binary
            return extra.group(1)
    return None


def missing_module_message(error: ModuleNotFoundError) -> str:
    """What to install when `error` is a missing dependency of tito."""
    extra = extra_providing(error.name or "") or "course"
    return (f"this command needs the Python module {error.name!r}, which is not installed: install the "
            f"tinytorch[{extra}] extra, e.g. pip install -e '.[{extra}]' in the project "
            f"(pip install 'tinytorch[{extra}]' elsewhere)")
