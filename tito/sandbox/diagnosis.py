"""Where a failing submission goes wrong: the evidence, gathered inside the trusted verifier
(tito/sandbox/verifier.py) while it re-runs the graded tests, returned as plain data under
DIAGNOSIS_KEY in its answer. tito/grading/start_here.py turns it into the `Start here:` line.

1. The student's functions: every function and method defined in a solution cell, in notebook
   order, with its cell and whether it is still a stub (its body raises a bare NotImplementedError).
2. For each graded test: which of those functions it called (code objects made from the solution
   cells' source, recorded with `sys.settrace` while the test runs: call events only), which of
   them it called itself (not from another student function) and, when it failed, the last of
   those it called and the innermost function in which its error was raised.
3. A cell the verifier cuts at its time limit (`--cell-timeout`, as at grading): the student function
   it was stuck in is recorded, so a notebook that hangs (a backward that walks 2^60 paths) still
   gets a diagnosis.
4. Only when a test failed: the module's probes, `DIAGNOSIS_PROBES` (a list of (function name,
   probe) in dependency order, defined in a locked helper cell of the module, so module
   knowledge stays with the module). Each probe tries one student function alone and raises when
   it misbehaves. They run in a forked child with a time limit per probe: a probe that hangs,
   crashes or tampers costs the diagnosis at most, never the verdict.

Standard library only: it is loaded before any student code runs, and runs in the sandbox.
"""

import ast
import gc
import json
import os
import select
import signal
import sys
import time
from contextlib import contextmanager

DIAGNOSIS_KEY = "tito:diagnosis"  # in the verifier's answer, next to the grade ids (never a grade id)
PROBES = "DIAGNOSIS_PROBES"
PROBE_SECONDS = 3.0  # each probe
PROBES_SECONDS = 20.0  # all probes together
TEXT_LIMIT = 400  # characters kept of a probe's message
GRAPH_LIMIT = 20_000  # characters of JSON kept of a probe's graph


def cell_filename(index: int) -> str:
    """The file name the verifier compiles code cell `index` (among code cells) under."""
    return f"<cell {index}>"


def defines_stub(function: ast.AST) -> bool:
    """Its own body (not nested functions) raises a bare NotImplementedError: nbgrader's stub,
    unwritten. One raised with a message is given code that means it (an abstract method such as
    `Optimizer.step`), not a stub."""
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Raise) and node.exc is not None:
            call = node.exc if isinstance(node.exc, ast.Call) else None
            raised = call.func if call is not None else node.exc
            bare = call is None or not (call.args or call.keywords)
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError" and bare:
                return True
        todo.extend(ast.iter_child_nodes(node))
    return False


def student_functions(cells: list) -> list:
    """Functions and methods (`Class.method`) defined in solution cells, in notebook order:
    {"name", "cell" (its grade_id), "index" (among code cells), "lines" [first, last], "stub"}."""
    found = []
    for index, cell in enumerate(cells):
        if not cell.get("solution"):
            continue
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:
            continue
        definitions = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                definitions.append((node.name, node))
            elif isinstance(node, ast.ClassDef):
                definitions += [(f"{node.name}.{item.name}", item) for item in node.body
                                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for name, node in definitions:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])  # a code object starts at its decorator
            found.append({"name": name, "cell": cell.get("grade_id") or f"cell {index}", "index": index,
                          "lines": [first, node.end_lineno], "stub": defines_stub(node)})
    return found


def function_at(spans: dict, filename: str, line: int):
    for first, last, name in spans.get(filename, ()):
        if first <= line <= last:
            return name
    return None


class Diagnosis:
    """The evidence of one notebook's trusted re-run: `guard` every cell, then `report`."""

    def __init__(self, cells: list) -> None:
        self.functions = student_functions(cells)
        self.spans = {}
        for function in self.functions:
            first, last = function["lines"]
            self.spans.setdefault(cell_filename(function["index"]), []).append((first, last, function["name"]))
        self.tests = {}
        self.timeouts = []
        self.owners = {}

    @contextmanager
    def guard(self, index: int, cell: dict):
        """Around each cell: for a graded test, `watch` which student functions it calls."""
        if cell.get("graded"):
            with self.watch(cell["grade_id"]):
                yield
        else:
            yield

    def ran_past(self, index: int, cell: dict, error: BaseException | None) -> None:
        """The verifier cut this cell at its time limit: remember where it was stuck."""
        stuck = self.stuck_in(error) if error is not None else None
        self.timeouts.append({"cell": cell.get("grade_id") or cell.get("id") or f"number {index + 1}", "in": stuck})

    def name_of(self, code) -> str | None:
        return function_at(self.spans, code.co_filename, code.co_firstlineno)

    def owner_of(self, code) -> str | None:
        """name_of, remembered per code object (it is asked on every traced call; keyed by id, as
        hashing a code object hashes its contents, and kept alive so that no id is reused)."""
        known = self.owners.get(id(code))
        if known is None:
            known = self.owners[id(code)] = (code, self.name_of(code))
        return known[1]

    def stack(self, error: BaseException) -> list:
        """The student functions on the error's traceback, outermost first."""
        names, frames = [], error.__traceback__
        while frames is not None:
            name = function_at(self.spans, frames.tb_frame.f_code.co_filename, frames.tb_lineno)
            if name:
                names.append(name)
            frames = frames.tb_next
        return names

    def raised_in(self, error: BaseException) -> str | None:
        """The innermost student function on the error's traceback."""
        names = self.stack(error)
        return names[-1] if names else None

    def stuck_in(self, error: BaseException) -> str | None:
        """Where a cut cell was stuck: the student function most often on the stack (a runaway
        recursion), the innermost of those on a tie (a loop)."""
        names = self.stack(error)
        return max(reversed(names), key=names.count) if names else None

    @contextmanager
    def watch(self, grade_id: str):
        """Record which student functions the test calls (`used`), which of them it calls itself
        rather than through another student function (`direct`: the entry points, never a helper
        only they call), the last of those it called before it failed (`entered_last`: a test
        that checks one result after another fails just after the call that went wrong), and
        where its error was raised."""
        codes, direct, last = set(), set(), [None]
        files, owner = self.spans, self.owner_of

        def called(frame, event, arg):  # call events only: no line tracing, little overhead
            if event == "call" and frame.f_code.co_filename in files:
                code = frame.f_code
                caller = frame.f_back
                if caller is None or owner(caller.f_code) is None:
                    direct.add(code)
                    last[0] = code
                codes.add(code)

        record = {"used": [], "direct": [], "entered_last": None, "raised_in": None, "error": None}
        self.tests[grade_id] = record
        sys.settrace(called)
        try:
            yield
        except BaseException as error:
            record["raised_in"], record["error"] = self.raised_in(error), type(error).__name__
            record["entered_last"] = self.name_of(last[0]) if last[0] is not None else None
            raise
        finally:
            sys.settrace(None)
            used = {self.name_of(code) for code in codes}
            entered = {self.name_of(code) for code in direct}
            record["used"] = [f["name"] for f in self.functions if f["name"] in used]
            record["direct"] = [f["name"] for f in self.functions if f["name"] in entered]

    def report(self, namespace: dict | None, keep_away: tuple = ()) -> dict:
        """The evidence as plain data; with a namespace (a test failed), the probes' findings too."""
        data = {"functions": [{k: f[k] for k in ("name", "cell", "stub")} for f in self.functions],
                "tests": self.tests, "timeouts": self.timeouts, "probes": None}
        if namespace is not None:
            data["probes"] = run_probes(namespace, keep_away)
        return data


class ProbeTimeout(BaseException):
    """Raised in a probe that runs past PROBE_SECONDS (a BaseException: `except Exception` in
    student code does not swallow it)."""


def probe_all(probes) -> list:
    def expire(signum, frame):
        raise ProbeTimeout()

    signal.signal(signal.SIGALRM, expire)
    results = []
    for entry in list(probes):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str) and callable(entry[1])):
            continue
        name, probe = entry
        result = {"name": name[:100], "ok": True, "error": None, "message": "", "graph": None}
        signal.setitimer(signal.ITIMER_REAL, PROBE_SECONDS)
        try:
            probe()
        except ProbeTimeout:
            result.update(ok=False, error="Timeout", message=f"its probe did not finish within {PROBE_SECONDS:g}s")
        except BaseException as error:
            signal.setitimer(signal.ITIMER_REAL, 0)
            result.update(ok=False, error=type(error).__name__, message=str(error)[:TEXT_LIMIT])
            graph = getattr(error, "graph", None)
            try:
                text = json.dumps(graph)
                result["graph"] = json.loads(text) if graph is not None and len(text) <= GRAPH_LIMIT else None
            except (TypeError, ValueError):
                pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        results.append(result)
    return results


def send_and_exit(fd: int, answer: bytes) -> None:
    """A forked child's last act: all of `answer` into the pipe `fd`, then exit (no cleanup of the
    parent's objects, no atexit hooks of student code)."""
    while answer:
        try:
            answer = answer[os.write(fd, answer):]
        except OSError:
            break
    os._exit(0)


def run_probes(namespace: dict, keep_away: tuple = ()) -> list:
    """The module's probes, run in a forked child (at most PROBES_SECONDS); [] when it has none."""
    probes = namespace.get(PROBES)
    if not isinstance(probes, (list, tuple)):
        return []
    read, write = os.pipe()
    gc.freeze()  # the child's garbage collector then leaves the shared pages alone (no copy-on-write)
    try:
        child = os.fork()
    except OSError:  # no process to spare (a process limit): no probes, the rest of the evidence stands
        os.close(read)
        os.close(write)
        return []
    if child == 0:
        os.close(read)
        for fd in keep_away:  # the verdict channel: nothing but the parent writes there
            os.close(fd)
        try:
            answer = json.dumps(probe_all(probes)).encode()
        except BaseException:
            answer = b"[]"
        send_and_exit(write, answer)
    os.close(write)
    chunks, deadline = [], time.monotonic() + PROBES_SECONDS
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read], [], [], left)[0]:
            break
        chunk = os.read(read, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(child, 0)
    try:
        found = json.loads(b"".join(chunks) or b"[]")
    except ValueError:
        return []
    return found if isinstance(found, list) else []
