"""The trusted re-run of a submission's graded tests: decides pass/fail where the notebook's kernel
(and so anything the student's code did to it) cannot reach.

    python -I tito/sandbox/verifier.py  < {"kit", "cells": [{"source", "locked", "graded", "grade_id"}],
                                   "modules": {name: module}, "preload": [module, ...],
                                   "cell_timeout": seconds (0: none), "skip": [cell position, ...]}
    stdout: "cell N" before running cell N, then "verdict {grade_id: [passed, message]}"

Run by the grader in a fresh sandboxed process (the same jail as the kernel), after the kernel run.
It never uses IPython, and it prepares everything the tests rely on BEFORE any student code runs:

1. the locked cells (test cells and test helpers, already restored from nbgrader's checksums by
   the coordinator) are compiled from their source now: an input transformer, a pre-run hook or
   a patched `compile` in student code cannot change the code that is tested;
2. the modules the instructor's notebook binds to names (`np` -> numpy, ...) are imported, and
   numpy (every submodule), builtins, math, operator and the kit's earlier modules are
   snapshotted: every attribute, and the code, defaults and wrapped implementation of every
   function in them.

Then the cells run in notebook order as plain Python in one namespace (the student's definitions
are needed by the tests). Before each locked cell the snapshot is restored (so a patched
`numpy.allclose` is the real one again), the module names are bound to the real modules, and
the locked helper cells are re-executed (so a redefined `expect_grad` is the instructor's again).
A graded test passes if its cell runs without an exception AND the protected modules are
exactly as snapshotted afterwards: a test during which student code patched them fails.

The student's code still runs inside this process while a test calls it; what it can reach is
bounded by the sandbox (no reference, no network, a private filesystem). The coordinator compares
this verdict with nbgrader's in-kernel one and flags any disagreement as "needs review".
Per-cell timeouts, as in the kernel: an alarm interrupts a cell that runs past `cell_timeout`
(KeyboardInterrupt, what the kernel's interrupt raises); a graded test interrupted so fails with
"cell GRADE_ID ran past 60 s". Student code can swallow the alarm, so the grader also watches the
"cell N" lines: when one cell runs too long it kills this process and runs it again with that
cell in `skip` (not run; a skipped graded test fails the same way).

With `"diagnose": true` in its input it also gathers the evidence for the `Start here:` line
(tito/sandbox/diagnosis.py: which student functions each test called, the module's probes) and
adds it to the answer under diagnosis.DIAGNOSIS_KEY. It never changes a test's verdict.
"""

import __future__

import builtins
import contextlib
import importlib
import json
import operator
import os
import re
import sys
import types
from signal import ITIMER_REAL, SIGALRM, setitimer
from signal import signal as set_handler

PROTECTED = ("builtins", "math", "cmath", "operator", "functools", "numpy")


def protected_modules(kit_modules: list[str]) -> dict[str, types.ModuleType]:
    found = {}
    for name, module in list(sys.modules.items()):
        if isinstance(module, types.ModuleType) and (name.split(".")[0] in PROTECTED or name in kit_modules):
            found[name] = module
    return found


def function_state(value) -> tuple | None:
    """What a monkeypatch of a function's internals would change (None if not a function)."""
    target = getattr(value, "_implementation", value)  # numpy's array-function dispatchers
    if isinstance(target, types.FunctionType):
        return (target, target.__code__, target.__defaults__, target.__kwdefaults__)
    return None


def snapshot(modules: dict[str, types.ModuleType]) -> dict:
    state = {}
    for name, module in modules.items():
        attributes = dict(vars(module))
        functions = {key: function_state(value) for key, value in attributes.items()}
        state[name] = (module, attributes, {k: v for k, v in functions.items() if v})
    return state


MISSING = object()


def restore(state: dict) -> list[str]:
    """Put every protected module back as snapshotted; the names of what had been changed.

    Runs before and after every locked cell, over every attribute of numpy and the rest, so it
    first checks, by identity only (no student `__eq__` ever runs here), whether a module's
    namespace is exactly as snapshotted, and walks it attribute by attribute only if not."""
    changed = []
    for name, (module, attributes, functions) in state.items():
        current = vars(module)
        untouched = (len(current) == len(attributes) and all(map(operator.is_, current, attributes))
                     and all(map(operator.is_, current.values(), attributes.values())))
        if not untouched:
            for key in [k for k in current if k not in attributes]:
                if isinstance(current[key], types.ModuleType):
                    attributes[key] = current[key]  # a submodule loaded later (numpy loads some lazily): not a patch
                    continue
                changed.append(f"{name}.{key}")
                try:
                    delattr(module, key)
                except (AttributeError, TypeError):
                    pass
            for key, value in attributes.items():
                if current.get(key, MISSING) is not value:
                    changed.append(f"{name}.{key}")
                    try:
                        setattr(module, key, value)
                    except (AttributeError, TypeError):
                        pass
        for key, (function, code, defaults, kwdefaults) in functions.items():
            if function.__code__ is not code or function.__defaults__ is not defaults or function.__kwdefaults__ is not kwdefaults:
                changed.append(f"{name}.{key} (its code)")
                function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
    return changed


def transformer():
    """IPython's cell syntax (magics, `!cmd`) as plain Python, if IPython is here; identity otherwise."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return lambda source: source
    manager = TransformerManager()
    return manager.transform_cell


def future_flags(cells: list[dict]) -> int:
    """IPython keeps a cell's `from __future__ import ...` for the cells after it; so do we."""
    flags = 0
    for cell in cells:
        for names in re.findall(r"^from __future__ import ([\w, ]+)", cell["source"], re.MULTILINE):
            for name in names.split(","):
                feature = getattr(__future__, name.strip(), None)
                if isinstance(feature, __future__._Feature):
                    flags |= feature.compiler_flag
    return flags


def first_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def run_cell(code, namespace: dict, seconds: float, guard=None) -> tuple[BaseException | None, bool]:
    """exec `code` (inside the context `guard`, if any), interrupted after `seconds` (0: never);
    (the error it raised, whether it ran past)."""
    fired = []

    def interrupt(*_) -> None:
        fired.append(True)
        raise KeyboardInterrupt(f"ran past {seconds:g} s")

    try:
        if seconds:
            set_handler(SIGALRM, interrupt)
            setitimer(ITIMER_REAL, seconds)
        try:
            with guard or contextlib.nullcontext():
                exec(code, namespace)  # noqa: S102
        finally:
            if seconds:
                setitimer(ITIMER_REAL, 0)
    except BaseException as error:  # noqa: BLE001 -- the caller decides what an error means
        return error, bool(fired)
    return None, bool(fired)


def load_diagnosis():
    """tito/sandbox/diagnosis.py, next to this file (the sandbox makes both readable)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tito_diagnosis", os.path.join(os.path.dirname(os.path.abspath(__file__)), "diagnosis.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    task = json.loads(sys.stdin.read())
    diagnosis_module = load_diagnosis() if task.get("diagnose") else None
    me = os.getpid()
    answer = os.fdopen(os.dup(1), "w")  # the verdict channel; student prints go nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.path.insert(0, task["kit"])
    sys.path.insert(1, os.getcwd())
    transform = transformer()
    trusted_modules = {}
    for name, module in [*task["modules"].items(), *((None, m) for m in task["preload"])]:
        try:
            loaded = importlib.import_module(module)
        except Exception:  # noqa: S112 -- a module the kit lacks is simply not protected
            continue
        if name:
            trusted_modules[name] = loaded
    kit_modules = [name for name in sys.modules if name.startswith("tinytorch")]
    state = snapshot(protected_modules(kit_modules))
    cells = task["cells"]
    flags = future_flags(cells)
    compiled = {}
    for index, cell in enumerate(cells):
        if cell["locked"]:
            try:
                compiled[index] = compile(transform(cell["source"]), f"<locked cell {cell['grade_id']}>", "exec", flags)
            except SyntaxError as error:
                compiled[index] = error
    helpers = [i for i, c in enumerate(cells) if c["locked"] and not c["graded"] and not isinstance(compiled[i], SyntaxError)]
    seconds = task.get("cell_timeout") or 0
    skip = set(task.get("skip", []))
    helpers = [i for i in helpers if i not in skip]
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    verdict = {}

    def ran_past(cell: dict) -> list:
        return [False, f"cell {cell['grade_id']} ran past {seconds:g} s"]

    diagnosis = diagnosis_module.Diagnosis(cells) if diagnosis_module else None
    guard = diagnosis.guard if diagnosis is not None else lambda index, cell: None

    for index, cell in enumerate(cells):
        answer.write(f"cell {index}\n")
        answer.flush()
        if index in skip:  # it ran away in an earlier attempt (or in the kernel): not run again
            if cell["graded"]:
                verdict[cell["grade_id"]] = ran_past(cell)
            continue
        if not cell["locked"]:
            try:
                code = compile(transform(cell["source"]), f"<cell {index}>", "exec", flags)
            except BaseException:  # noqa: S112 -- an error in a student cell: go on, as nbgrader does
                continue
            error, late = run_cell(code, namespace, seconds, guard(index, cell))
            if late and diagnosis is not None:
                diagnosis.ran_past(index, cell, error)
            continue
        restore(state)
        namespace.update(trusted_modules)
        namespace["__builtins__"] = builtins
        for helper in helpers:
            if helper < index:
                try:
                    exec(compiled[helper], namespace)  # noqa: S102
                except BaseException:  # noqa: S110
                    pass
        code = compiled[index]
        passed, message = True, ""
        if isinstance(code, SyntaxError):
            error, late = code, False
        else:  # with a diagnosis: which student functions a test calls
            error, late = run_cell(code, namespace, seconds, guard(index, cell))
            if late and diagnosis is not None:
                diagnosis.ran_past(index, cell, error)
        if error is not None:
            passed, message = False, first_line(error)
        tampered = restore(state)
        if tampered:
            passed, message = False, "changed while the test ran: " + ", ".join(sorted(set(tampered))[:5])
        if cell["graded"]:
            verdict[cell["grade_id"]] = ran_past(cell) if late else [passed, message]
    if diagnosis is not None:
        failed = not all(passed for passed, _ in verdict.values()) or bool(diagnosis.timeouts)
        if failed:  # the probes run with the trusted helpers, as a locked cell would
            restore(state)
            namespace.update(trusted_modules)
            namespace["__builtins__"] = builtins
            for helper in helpers:
                try:
                    exec(compiled[helper], namespace)  # noqa: S102
                except BaseException:  # noqa: S110
                    pass
        verdict[diagnosis_module.DIAGNOSIS_KEY] = diagnosis.report(namespace if failed else None, keep_away=(answer.fileno(),))
    if os.getpid() == me:  # not a forked copy of this process that student code left running on
        answer.write("verdict " + json.dumps(verdict) + "\n")
        answer.flush()
    os._exit(0)  # no atexit hooks or finalizers of student code after the verdict


if __name__ == "__main__":
    main()
