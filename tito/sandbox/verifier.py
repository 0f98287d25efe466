"""The trusted run of a submission: decides pass/fail in a process whose test code and protected
modules student code cannot change unnoticed. At grading it also runs the notebook as its kernel
would, so each notebook executes once.

    python -I tito/sandbox/verifier.py  < {"kit", "cells": [{"source", "locked", "graded", "grade_id"}],
                                   "modules": {name: module}, "preload": [module, ...],
                                   "cell_timeout": seconds (0: none), "skip": [cell position, ...],
                                   "notebook": true (grading: make the notebook's outputs too),
                                   "diagnose": true | "on-failure" (Start-here evidence)}
    stdout: "cell N" before running cell N; with "notebook", "out N {outputs}" after it;
            "diverged REASON", "notebook-done", "notebook-ended" around a fork; then "verdict {...}";
            each line preceded by its tag under "key" (hex, from the grader): "TAG LINE"

Started by the grader in a fresh sandboxed process (the kernel's jail). BEFORE any student code
runs it prepares everything the tests rely on:

1. the locked cells (test cells and test helpers, already restored from nbgrader's checksums by
   the coordinator) are compiled from their source now: an input transformer, a pre-run hook or
   a patched `compile` in student code cannot change the code that is tested;
2. the modules the instructor's notebook binds to names (`np` -> numpy, ...) are imported, and
   numpy (every submodule), builtins, math, operator and the kit's earlier modules are
   snapshotted: every attribute, and the code, defaults and wrapped implementation of every
   function in them.

Then the cells run in notebook order in one namespace (the tests need the student's definitions).
Roles (TrustedRun):

- "verify" (`tito check`'s Start-here re-run): plain Python, no IPython. Before each locked cell
  the snapshot is restored (a patched `numpy.allclose` is the real one again), the module names
  are rebound to the real modules, and the locked helper cells run again (a redefined
  `expect_grad` is the instructor's again).
- "both" (grading): IPython's own shell runs the student's cells, as a kernel would (magics,
  `!cmd`, display, tracebacks), and what a kernel would have sent is recorded as the notebook's
  outputs. The locked cells run as compiled in step 1. Before each one, the run checks by
  identity (no student `__eq__` runs) that nothing a test sees differs from the trusted run:
  protected modules, `__builtins__`, the names of the real modules and of the locked helpers,
  IPython's transformers, hooks and cell-running methods. While nothing does, one execution is
  both the notebook's and the trusted one. When something does, the process forks: the child
  ("notebook") goes on as the kernel would, the cells as submitted through the changed IPython,
  and sends only outputs; the parent waits for it, then goes on as "trusted" (restoring before
  every locked cell, as "verify" does) and sends only the verdict. The grader compares that
  verdict with nbgrader's reading of the outputs and flags any disagreement as "needs review".

A graded test passes if its cell runs without an exception AND the protected modules are exactly
as snapshotted afterwards: a test during which student code patched them fails.

Every line sent carries its HMAC tag under a key the grader sent on stdin (`Answer`): a line that
student code writes straight onto the channel is seen. Limit: while a test calls student code,
that code runs inside this process. What it can reach is bounded by the sandbox (no reference, no
network, a private filesystem), but a submission written against this file (finding `Answer` in
memory, walking frames) is not stopped.

Per-cell timeouts, as in the kernel: an alarm interrupts a cell that runs past `cell_timeout`
(KeyboardInterrupt, what the kernel's interrupt raises); a graded test interrupted so fails with
"cell GRADE_ID ran past 60 s". Student code can swallow the alarm, so the grader also watches the
"cell N" lines: when one cell runs too long it kills this process and runs it again with that
cell in `skip` (not run; a skipped graded test fails the same way).

With "diagnose" it also gathers the evidence for the `Start here:` line (tito/sandbox/diagnosis.py:
which student functions each test called, the module's probes) and adds it to the answer under
diagnosis.DIAGNOSIS_KEY ("on-failure": tests are traced only once the notebook is known to fail).
It never changes a test's verdict.
"""

import __future__

import builtins
import contextlib
import gc
import importlib
import itertools
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
        functions = {key: found for key, value in attributes.items() if (found := function_state(value))}
        # The same, flat, for a check by identity in C: the functions, and their code, defaults, kwdefaults in a row.
        flat = ([f[0] for f in functions.values()], [part for f in functions.values() for part in f[1:]])
        state[name] = (module, attributes, functions, flat)
    return state


FUNCTION_PARTS = operator.attrgetter("__code__", "__defaults__", "__kwdefaults__")


def functions_untouched(flat: tuple) -> bool:
    """Has no snapshotted function a new code, defaults or kwdefaults (by identity)?"""
    targets, parts = flat
    return all(map(operator.is_, itertools.chain.from_iterable(map(FUNCTION_PARTS, targets)), parts))


def as_snapshotted(current: dict, attributes: dict) -> bool:
    """Is a module's namespace exactly the snapshot: the same keys and values, in order, by identity
    (no student `__eq__` runs)?"""
    return (len(current) == len(attributes) and all(map(operator.is_, current, attributes))
            and all(map(operator.is_, current.values(), attributes.values())))


MISSING = object()


def restore(state: dict) -> list[str]:
    """Put every protected module back as snapshotted; the names of what had been changed.

    Runs before and after every locked cell, over every attribute of numpy and the rest, so it
    first checks, by identity only (no student `__eq__` ever runs here), whether a module's
    namespace is exactly as snapshotted, and walks it attribute by attribute only if not."""
    changed = []
    for name, (module, attributes, functions, flat) in state.items():
        current = vars(module)
        if not as_snapshotted(current, attributes):
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
        if functions_untouched(flat):
            continue
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
                for part in parts(code):  # a cell compiled as IPython does: in parts
                    exec(part, namespace)  # noqa: S102
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


CELL_NAME = "<cell {}>"  # the file name code cell N (among code cells) is compiled under (diagnosis.py's cell_filename too)
OUTPUT_LIMIT = 1 << 20  # characters of output the notebook keeps in all (errors excepted), as the kernel's grader kept
TRACEBACK_LIMIT = 1 << 16  # characters of one error's traceback
TRUNCATED = f"\n[output truncated by the grader after {OUTPUT_LIMIT} bytes]\n"


def untouched(state: dict) -> bool:
    """Are the protected modules as snapshotted? `restore`'s test, changing nothing (a submodule
    loaded later is no patch)."""
    for module, attributes, _, flat in state.values():
        current = vars(module)
        if not as_snapshotted(current, attributes):
            if any(key not in attributes and not isinstance(value, types.ModuleType) for key, value in current.items()):
                return False
            if any(current.get(key, MISSING) is not value for key, value in attributes.items()):
                return False
        if not functions_untouched(flat):
            return False
    return True


def plain_json(value, depth: int = 0):
    """`value` as JSON-able data of the builtin types only (student objects become a placeholder;
    nothing of theirs runs here)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if depth < 20 and type(value) in (list, tuple):
        return [plain_json(v, depth + 1) for v in value]
    if depth < 20 and type(value) is dict:
        return {k: plain_json(v, depth + 1) for k, v in value.items() if type(k) is str}
    return f"<{type(value).__name__}>"


class Outputs:
    """A code cell's outputs, recorded as a Jupyter kernel's messages would make them (nbclient's
    rules: consecutive stream text of one stream joins, clear_output, display updates), capped for
    the whole notebook at OUTPUT_LIMIT characters; errors are always kept."""

    def __init__(self) -> None:
        self.cell: list[dict] = []
        self.spent = 0
        self.truncated = False
        self.clear_pending = False
        self.displays: dict[str, list[dict]] = {}  # display_id -> the outputs showing it, for updates

    def start(self) -> list[dict]:
        self.cell, self.clear_pending = [], False
        return self.cell

    def _room(self, size: int) -> bool:
        if self.clear_pending:
            self.cell.clear()
            self.clear_pending = False
        self.spent += size
        if self.spent <= OUTPUT_LIMIT:
            return True
        if not self.truncated:
            self.truncated = True
            self.cell.append({"output_type": "stream", "name": "stderr", "text": [TRUNCATED]})
        return False

    def stream(self, name: str, text: str) -> None:
        if not text or not self._room(len(text)):
            return
        last = self.cell[-1] if self.cell else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name and last["text"][-1] is not TRUNCATED:
            last["text"].append(text)  # joined when the cell ends: no quadratic copying of a long stream
        else:
            self.cell.append({"output_type": "stream", "name": name, "text": [text]})

    def display(self, data, metadata, transient, update: bool, count: int | None = None) -> None:
        data, metadata = plain_json(data), plain_json(metadata or {})
        if not isinstance(data, dict):
            return
        display_id = (transient or {}).get("display_id") if isinstance(transient, dict) else None
        if update:
            for output in self.displays.get(display_id, []) if isinstance(display_id, str) else []:
                output["data"], output["metadata"] = data, metadata
            return
        if not self._room(sum(len(str(v)) for v in data.values())):
            return
        output = {"output_type": "display_data", "data": data, "metadata": metadata}
        if count is not None:
            output = {"output_type": "execute_result", "execution_count": count, "data": data, "metadata": metadata}
        self.cell.append(output)
        if isinstance(display_id, str):
            self.displays.setdefault(display_id, []).append(output)

    def error(self, ename: str, evalue: str, traceback: list) -> None:
        if self.clear_pending:
            self.cell.clear()
            self.clear_pending = False
        lines, size = [], 0
        for line in traceback if isinstance(traceback, list) else []:
            line = line if isinstance(line, str) else str(line)
            size += len(line)
            if size > TRACEBACK_LIMIT:
                lines.append("[... traceback truncated by the grader ...]")
                break
            lines.append(line)
        self.cell.append({"output_type": "error", "ename": str(ename)[:1000], "evalue": str(evalue)[:TRACEBACK_LIMIT],
                          "traceback": lines})

    def clear(self, wait: bool) -> None:
        if wait:
            self.clear_pending = True
        else:
            self.cell.clear()

    def finished(self) -> list[dict]:
        for output in self.cell:
            if output["output_type"] == "stream":
                output["text"] = "".join(output["text"])
        return self.cell


class CellStream:
    """sys.stdout / sys.stderr while the notebook runs: text goes into the running cell's outputs."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, outputs: Outputs, name: str) -> None:
        self.outputs, self.name = outputs, name

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.outputs.stream(self.name, text)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def fileno(self) -> int:
        import io

        raise io.UnsupportedOperation("fileno")


def notebook_shell(outputs: Outputs, ipython_dir: str):
    """IPython's own shell, as a Jupyter kernel runs cells (magics, `!cmd`, display, the last
    expression shown, tracebacks), with what a kernel would send as messages recorded in `outputs`."""
    from IPython.core.compilerop import CachingCompiler
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class CellCompiler(CachingCompiler):
        """Cells are compiled as `<cell N>`, as the verifier always named them; tracebacks still say
        `Cell In[count]` (IPython maps a file name to its execution count)."""

        index = 0

        def get_code_name(self, raw_code: str, transformed_code: str, number: int) -> str:
            name = CELL_NAME.format(self.index)
            name = name if name not in self._filename_map else f"<cell {self.index}.{len(self._filename_map)}>"
            not_a_module_file(name)
            return name

    class CellDisplayHook(DisplayHook):
        """The last expression's value: an execute_result, as ipykernel's display hook sends it."""

        shown: tuple = ({}, {})

        def write_output_prompt(self) -> None:
            self.shown = ({}, {})

        def write_format_data(self, format_dict, md_dict=None) -> None:
            self.shown = (format_dict, md_dict or {})

        def finish_displayhook(self) -> None:
            if self.shown[0]:
                outputs.display(self.shown[0], self.shown[1], None, False, count=self.prompt_count)
            self._is_active = False

    class CellPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
            outputs.display(data, metadata, transient, update)

        def clear_output(self, wait: bool = False) -> None:
            outputs.clear(wait)

    class NotebookShell(InteractiveShell):
        system = InteractiveShell.system_piped  # `!cmd` output goes to the cell, as in a kernel
        quiet = False  # the trusted run after a fork: its outputs are not the notebook's, tracebacks are skipped

        def _showtraceback(self, etype, evalue, stb) -> None:
            try:
                value = str(evalue)
            except Exception:  # noqa: BLE001 -- a student's __str__ that fails
                value = "<exception str() failed>"
            outputs.error(getattr(etype, "__name__", "Error"), value, stb)

        def showtraceback(self, *args, **kwargs) -> None:
            if not self.quiet:
                super().showtraceback(*args, **kwargs)

        def _format_exception_for_storage(self, *args, **kwargs) -> dict:
            return {}  # IPython's history keeps a second formatted copy of each traceback: nothing here reads it

        def enable_gui(self, gui=None) -> None:
            pass  # a kernel integrates GUI event loops; no notebook graded here needs one

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # as the kernel was started
    shell = NotebookShell.instance(config=config, ipython_dir=ipython_dir, colors="nocolor", compiler_class=CellCompiler,
                                   displayhook_class=CellDisplayHook, display_pub_class=CellPublisher)
    plain_python_untokenized(shell.input_transformer_manager)
    return shell


def not_a_module_file(name: str) -> None:
    """Tell `inspect.getmodule` that a cell's file name belongs to no module. IPython calls it for
    every frame of every traceback, and for a name it has not mapped it walks all of sys.modules."""
    import inspect

    for key in (name, os.path.normcase(os.path.abspath(name))):
        inspect.modulesbyfile[key] = "<a notebook cell>"  # no module has that name: getmodule gives None, as before


def plain_python_untokenized(manager) -> None:
    """IPython tokenizes every cell to find its syntax (`%magic`, `!cmd`, `x = %magic`, `obj?`): pure
    Python, a few milliseconds a cell. Each of those forms is a syntax error in Python, so a cell
    that compiles as Python has none of them and is left as it is, as IPython would leave it."""
    import ast
    import warnings

    tokenized = manager.do_token_transforms

    def do_token_transforms(lines: list[str]) -> list[str]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the cell's own compile warns, once, as in a kernel
                compile("".join(lines), "<cell>", "exec", ast.PyCF_ONLY_AST, True)
        except (SyntaxError, ValueError):
            return tokenized(lines)
        return lines

    manager.do_token_transforms = do_token_transforms


def compile_like_ipython(shell, source: str, flags: int) -> tuple:
    """A locked cell's code as IPython's run_cell would compile it now (its transforms, its lines in
    linecache for tracebacks, the last expression shown), as a tuple of code objects; raises
    SyntaxError if it does not compile."""
    import ast

    transformed = shell.transform_cell(source)
    filename = shell.compile.cache(transformed, 0, source)
    tree = shell.transform_ast(compile(transformed, filename, "exec", flags | ast.PyCF_ONLY_AST, True))
    body = tree.body
    shown = body.pop() if body and isinstance(body[-1], ast.Expr) else None
    code = [compile(ast.Module(body, []), filename, "exec", flags, True)] if body else []
    if shown is not None:
        code.append(compile(ast.Interactive([shown]), filename, "single", flags, True))
    return tuple(code)


def parts(code) -> tuple:
    return code if isinstance(code, tuple) else (code,)


IPYTHON_NAMES = re.compile(r"^(_|__|___|_i|_ii|_iii|_i\d+|_\d+|_oh|_ih|_dh|In|Out)$")  # IPython's own history names


SHELL_METHODS = ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "transform_ast",
                 "showtraceback", "_showtraceback", "should_run_async")


def shell_pipeline(shell) -> tuple:
    """What decides how IPython runs a cell, by identity: input and AST transformers, the prefilter,
    custom exception handlers, event callbacks, the compiler and the methods that run a cell. A
    change means a locked cell would run differently in the notebook than in the trusted run."""
    manager = shell.input_transformer_manager
    prefilter = shell.prefilter_manager
    ids = lambda items: tuple(map(id, items))  # noqa: E731
    return (
        ids(shell.input_transformers_cleanup), ids(shell.input_transformers_post), ids(shell.ast_transformers),
        id(manager), ids(manager.cleanup_transforms), ids(manager.line_transforms), ids(manager.token_transformers),
        id(prefilter), ids(prefilter.transformers), ids(prefilter.checkers), ids(shell.custom_exceptions),
        tuple((name, ids(callbacks)) for name, callbacks in sorted(shell.events.callbacks.items())),
        id(shell.compile), tuple(id(getattr(type(shell), name, None)) for name in SHELL_METHODS),
        tuple(sorted(name for name in vars(shell) if name in SHELL_METHODS)), id(type(shell)),
    )


def line_mac(key: bytes, line: str) -> str:
    """The tag of one answer line under the run's key (the grader checks it: tito/grading/execute.py)."""
    import hashlib
    import hmac

    return hmac.new(key, line.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class Answer:
    """The grader's channel: a copy of stdout made before any student code ran. Each line carries
    its tag under the key the grader sent (`line_mac`), so a line that student code writes on the
    channel without this object (`os.write` on its file descriptor) is told apart and the
    submission is flagged. Student code that finds this object in memory can still use it."""

    def __init__(self, key: bytes) -> None:
        self.stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
        self.key = key

    def say(self, line: str) -> None:
        self.stream.write(f"{line_mac(self.key, line)} {line}\n")
        self.stream.flush()


class TrustedRun:
    """One run of the notebook's code cells. Roles: "verify" (the verifier alone, as `tito check`'s
    Start-here re-run uses it), "both" (grading: the notebook's outputs and the trusted verdict from
    one execution), and after a fork "notebook" (the child: the notebook as its kernel would run it)
    and "trusted" (the parent: the verdict only)."""

    def __init__(self, task: dict, answer: Answer) -> None:
        self.task, self.answer = task, answer
        self.cells = task["cells"]
        self.role = "both" if task.get("notebook") else "verify"
        self.seconds = task.get("cell_timeout") or 0
        self.skip = set(task.get("skip", []))
        self.verdict: dict = {}
        self.me = os.getpid()
        diagnose = task.get("diagnose")
        self.diagnosis_module = load_diagnosis() if diagnose else None
        self.outputs = Outputs()
        self.shell = None
        if self.role == "both":
            home = os.environ.get("IPYTHONDIR") or os.path.join(os.getcwd(), ".ipython")
            self.shell = notebook_shell(self.outputs, home)
            self.namespace = self.shell.user_ns
        else:
            self.transform = transformer()
            self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.trusted_modules = {}
        for name, module in [*task["modules"].items(), *((None, m) for m in task["preload"])]:
            try:
                loaded = importlib.import_module(module)
            except Exception:  # noqa: S112 -- a module the kit lacks is simply not protected
                continue
            if name:
                self.trusted_modules[name] = loaded
        kit_modules = [name for name in sys.modules if name.startswith("tinytorch")]
        self.state = snapshot(protected_modules(kit_modules))
        self.flags = future_flags(self.cells)
        self.compiled = {}
        for index, cell in enumerate(self.cells):
            if cell["locked"]:
                self.compiled[index] = self.compile_locked(index, cell)
        self.helpers = [i for i, c in enumerate(self.cells) if c["locked"] and not c["graded"]
                        and not isinstance(self.compiled[i], SyntaxError) and i not in self.skip]
        self.helper_values: dict = {}  # name -> what the locked helper cells bound it to last
        self.pipeline = shell_pipeline(self.shell) if self.shell is not None else None
        self.diagnosis = self.diagnosis_module.Diagnosis(self.cells) if self.diagnosis_module else None
        # Grading asks for the evidence "on-failure": tests are traced once a notebook is known to fail
        # (it has stubs, or a test failed); the tests that ran untraced are traced again at the end.
        stubs = self.diagnosis is not None and any(f["stub"] for f in self.diagnosis.functions)
        self.tracing = self.diagnosis is not None and (diagnose is True or stubs)
        self.untraced: list[int] = []

    def compile_locked(self, index: int, cell: dict):
        """Test code compiled now, before any student code exists."""
        try:
            if self.shell is None:
                return compile(self.transform(cell["source"]), f"<locked cell {cell['grade_id']}>", "exec", self.flags)
            self.shell.compile.index = index
            return compile_like_ipython(self.shell, cell["source"], self.flags)
        except SyntaxError as error:
            return error

    # ---------------------------------------------------------------- what the grader is told

    def say(self, line: str) -> None:
        self.answer.say(line)

    @property
    def emitting(self) -> bool:
        return self.role in ("both", "notebook")

    def emit(self, index: int, count: int | None, late: bool) -> None:
        if self.emitting:
            self.say(f"out {index} " + json.dumps({"count": count, "late": late, "outputs": self.outputs.finished()}))

    # ---------------------------------------------------------------- the run

    def run(self) -> None:
        index = 0
        while index < len(self.cells):
            cell = self.cells[index]
            self.say(f"cell {index}")
            if index in self.skip:  # it ran away in an earlier attempt: not run again
                if cell["graded"] and self.role != "notebook":
                    self.verdict[cell["grade_id"]] = self.ran_past(cell)
                self.outputs.start()
                self.emit(index, None, False)
            elif not cell["locked"]:
                self.student_cell(index, cell)
            else:
                self.locked_cell(index, cell)
            index += 1
        if self.role == "notebook":  # the forked child: its part is done
            self.say("notebook-done")
            self.answer.stream.close()
            os._exit(0)
        self.finish()

    def ran_past(self, cell: dict) -> list:
        return [False, f"cell {cell['grade_id']} ran past {self.seconds:g} s"]

    def guard(self, index: int, cell: dict):
        if self.diagnosis is None or not self.tracing or self.role == "notebook":
            return None
        return self.diagnosis.guard(index, cell)

    def student_cell(self, index: int, cell: dict) -> None:
        if self.shell is None:  # the verifier alone: plain Python
            try:
                code = compile(self.transform(cell["source"]), CELL_NAME.format(index), "exec", self.flags)
            except BaseException:  # noqa: S112 -- an error in a student cell: go on, as nbgrader does
                return
            error, late = run_cell(code, self.namespace, self.seconds, self.guard(index, cell))
            if late and self.diagnosis is not None:
                self.diagnosis.ran_past(index, cell, error)
            return
        count, late = self.in_shell(index, cell)
        self.emit(index, count, late)

    def in_shell(self, index: int, cell: dict) -> tuple[int | None, bool]:
        """Run a cell as the notebook's kernel would: IPython's run_cell, the cell timeout as an interrupt."""
        self.outputs.start()
        if not cell["source"].strip():  # a kernel client never sends an empty cell
            return None, False
        count = self.shell.execution_count
        self.shell.compile.index = index
        fired = []

        def interrupt(*_) -> None:
            fired.append(True)
            raise KeyboardInterrupt(f"ran past {self.seconds:g} s")

        error = None
        try:
            if self.seconds:
                set_handler(SIGALRM, interrupt)
                setitimer(ITIMER_REAL, self.seconds)
            try:
                with self.guard(index, cell) or contextlib.nullcontext():
                    result = self.shell.run_cell(cell["source"], store_history=True)
                error = result.error_before_exec or result.error_in_exec
            finally:
                if self.seconds:
                    setitimer(ITIMER_REAL, 0)
        except BaseException as escaped:  # noqa: BLE001 -- interrupted outside the cell's own code
            error = escaped
            self.outputs.error(type(escaped).__name__, str(escaped), [f"{type(escaped).__name__}: {escaped}"])
            self.shell.execution_count = count + 1
        if fired and self.diagnosis is not None and self.role != "notebook":
            self.diagnosis.ran_past(index, cell, error)
        return count, bool(fired)

    def diverged(self) -> str | None:
        """Why the notebook's kernel would run the next locked cell differently from the trusted
        run (None: it would run exactly the same code in the same state)."""
        if not untouched(self.state):
            return "protected modules changed"
        if self.namespace.get("__builtins__") is not builtins:
            return "`__builtins__` was replaced"
        for name, module in self.trusted_modules.items():
            if name in self.namespace and self.namespace[name] is not module:
                return f"`{name}` no longer names its module"
        for name, value in self.helper_values.items():
            if self.namespace.get(name, MISSING) is not value:
                return f"`{name}` of a locked helper cell was redefined"
        if shell_pipeline(self.shell) != self.pipeline:
            return "IPython's way of running cells was changed"
        return None

    def fork(self, why: str, index: int) -> bool:
        """From here the notebook's run and the trusted run differ: the child goes on as the notebook's
        kernel would (outputs only); this process waits for it, then goes on as the trusted run
        (verdict only). True in the child."""
        self.say("diverged " + json.dumps(why))
        gc.freeze()  # the child's garbage collector then leaves the shared pages alone (no copy-on-write)
        try:
            child = os.fork()
        except OSError:  # no process to spare: the trusted run alone decides, the notebook shows it
            child = -1
        if child == 0:
            self.role = "notebook"
            return True
        if child > 0:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)  # retried by Python itself when a signal interrupts it (PEP 475)
            self.say("notebook-ended")
            self.say(f"cell {index}")  # the grader times this cell again, now in the trusted run
        self.role = "trusted"
        self.shell.quiet = True
        return False

    def trusted_again(self) -> None:
        """The protected modules as snapshotted, and the notebook's module names bound to them."""
        restore(self.state)
        self.namespace.update(self.trusted_modules)
        self.namespace["__builtins__"] = builtins

    def run_helpers(self, before: int) -> None:
        """The locked helper cells before cell `before` run again (a redefined `expect_grad` is the
        instructor's again), their output discarded; what they bind is remembered."""
        cell_outputs = self.outputs.cell
        self.outputs.cell = []
        try:
            for helper in self.helpers:
                if helper < before:
                    was = dict(self.namespace)
                    try:
                        for part in parts(self.compiled[helper]):
                            exec(part, self.namespace)  # noqa: S102
                    except BaseException:  # noqa: S110
                        pass
                    self.remember_helper(was)
        finally:
            self.outputs.cell = cell_outputs

    def remember_helper(self, was: dict) -> None:
        """What a locked helper cell just bound (IPython's own history names aside)."""
        self.helper_values.update({k: v for k, v in self.namespace.items()
                                   if was.get(k, MISSING) is not v and not IPYTHON_NAMES.match(k)})

    def locked_cell(self, index: int, cell: dict) -> None:
        if self.role == "both":
            why = self.diverged()
            if why is not None:
                self.fork(why, index)
        if self.role == "notebook":  # the kernel's way: the cell as submitted, through IPython
            count, late = self.in_shell(index, cell)
            self.emit(index, count, late)
            return
        if self.role != "both":
            self.trusted_again()
        self.run_helpers(index)
        code = self.compiled[index]
        count = self.shell.execution_count if self.shell is not None else None
        self.outputs.start()
        was = dict(self.namespace) if not cell["graded"] else None
        if isinstance(code, SyntaxError):
            error, late = code, False
        else:  # with a diagnosis: which student functions a test calls
            hook = sys.displayhook
            if self.shell is not None:
                for part in parts(code):  # its traceback says `Cell In[count]`
                    self.shell.compile._filename_map[part.co_filename] = count
                sys.displayhook = self.shell.displayhook  # its last expression is shown, as IPython shows it
            try:
                error, late = run_cell(code, self.namespace, self.seconds, self.guard(index, cell))
            finally:
                sys.displayhook = hook
            if late and self.diagnosis is not None:
                self.diagnosis.ran_past(index, cell, error)
        if was is not None:
            self.remember_helper(was)
        if self.shell is not None:
            self.shell.execution_count = count + 1
        if self.role == "both" and not untouched(self.state) and self.fork("protected modules changed while a test ran", index):
            self.show(error)  # the child: the notebook's kernel kept the changed modules and this outcome
            self.emit(index, count, late)
            return
        tampered = restore(self.state)
        passed, message = (True, "") if error is None else (False, first_line(error))
        if tampered:
            passed, message = False, "changed while the test ran: " + ", ".join(sorted(set(tampered))[:5])
        if cell["graded"]:
            self.verdict[cell["grade_id"]] = self.ran_past(cell) if late else [passed, message]
            if self.diagnosis is not None and not self.tracing:
                self.untraced.append(index)
            if not passed and self.diagnosis is not None:
                self.tracing = True
        if self.emitting:
            self.show(error)
            self.emit(index, count, late)

    def show(self, error: BaseException | None) -> None:
        """The error of a locked cell as the kernel shows it: IPython's traceback from the cell down."""
        if error is None or self.shell is None:
            return
        if isinstance(error, SyntaxError) and any(error is code for code in self.compiled.values()):  # never compiled
            self.outputs.error("SyntaxError", str(error), [f"SyntaxError: {error}"])
            return
        try:
            self.shell.showtraceback((type(error), error, error.__traceback__))
        except BaseException as failed:  # noqa: BLE001 -- formatting ran student code (an exception's __str__)
            self.outputs.error(type(error).__name__, "", [f"{type(error).__name__} (its traceback could not be shown: "
                                                         f"{type(failed).__name__})"])

    # ---------------------------------------------------------------- the end

    def retrace(self) -> None:
        """A test failed: trace again, in a forked child, the graded tests that ran untraced."""
        if not self.untraced:
            return
        read, write = os.pipe()
        gc.freeze()  # the child's garbage collector then leaves the shared pages alone (no copy-on-write)
        try:
            child = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if child == 0:
            os.close(read)
            self.answer.stream.close()
            found = {}
            try:
                self.outputs.cell = []
                for index in self.untraced:
                    cell = self.cells[index]
                    if isinstance(self.compiled[index], SyntaxError):
                        continue
                    self.trusted_again()
                    self.run_helpers(index)
                    run_cell(self.compiled[index], self.namespace, self.seconds, self.diagnosis.watch(cell["grade_id"]))
                    found[cell["grade_id"]] = self.diagnosis.tests[cell["grade_id"]]
                answer = json.dumps(found).encode()
            except BaseException:  # noqa: BLE001
                answer = json.dumps(found).encode() if found else b"{}"
            self.diagnosis_module.send_and_exit(write, answer)
        os.close(write)
        chunks = []
        while True:
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read)
        os.waitpid(child, 0)
        try:
            found = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            return
        wanted = {self.cells[index]["grade_id"] for index in self.untraced}
        for grade_id, record in found.items() if isinstance(found, dict) else ():
            if grade_id in wanted and isinstance(record, dict):
                self.diagnosis.tests[grade_id] = record
        # the evidence lists tests in notebook order, as a run traced from the start would
        tests = self.diagnosis.tests  # keyed by graded cells' grade_ids only
        self.diagnosis.tests = {c["grade_id"]: tests[c["grade_id"]] for c in self.cells if c["graded"] and c["grade_id"] in tests}

    def finish(self) -> None:
        verdict = self.verdict
        if self.diagnosis is not None:
            failed = not all(passed for passed, _ in verdict.values()) or bool(self.diagnosis.timeouts)
            if failed:  # the probes run with the trusted helpers, as a locked cell would
                self.retrace()
                self.trusted_again()
                self.run_helpers(len(self.cells))
            if failed or self.task.get("diagnose") is True:  # grading wants the evidence only for a failure
                verdict[self.diagnosis_module.DIAGNOSIS_KEY] = self.diagnosis.report(
                    self.namespace if failed else None, keep_away=(self.answer.stream.fileno(),))
        if os.getpid() == self.me:  # not a forked copy of this process that student code left running on
            self.say("verdict " + json.dumps(verdict))
        os._exit(0)  # no atexit hooks or finalizers of student code after the verdict


def main() -> None:
    task = json.loads(sys.stdin.read())
    answer = Answer(bytes.fromhex(task.pop("key")))  # the verdict channel; student prints go nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.path.insert(0, task["kit"])
    sys.path.insert(1, os.getcwd())
    run = TrustedRun(task, answer)
    if run.shell is not None:  # what the notebook prints is its output
        sys.stdout, sys.stderr = CellStream(run.outputs, "stdout"), CellStream(run.outputs, "stderr")
    run.run()


if __name__ == "__main__":
    main()
