"""Runs a module's cells once, and every mutant of them in a forked child with a time and memory limit.

    python -I tito/authoring/mutant_runner.py  < {"root", "cells": [{"source", "graded", "grade_id"}],
        "mutants": [{"id", "start", "changes": {cell index: source}}], "workers", "timeout", "memory_mb",
        "every_test"}
    stdout, one JSON object a line: {"reference": {grade_id: [passed, message]}, "seconds", "timeout"}
        then {"id", "status", "results", "seconds"} for each mutant as it finishes, status one of
        "killed" (a graded cell failed), "survived", "timeout", "crashed".

Plain Python, no Jupyter kernel and no nbgrader: the cells run in order in one namespace, as
`__main__`, going on past errors as nbgrader does; a graded cell passes if it raises nothing. First a
child runs the unchanged cells (the reference: every graded cell must pass; its time sets the default
time limit). Then this process runs the unchanged cells itself and, just before the first cell a
mutant changes, forks a child for that mutant, which runs the rest with the mutant's cells. So a
child starts from exactly the state a fresh run would have reached there (the cells before it are
the same), without paying for them again. By default a child stops at the first failed graded cell
(the mutant is killed); with "every_test" it runs every cell and reports each graded one.

Every child runs in a process group of its own, dies with this process, and is SIGKILLed at its
deadline; its address space may grow by at most "memory_mb" (a runaway allocation raises MemoryError).
"""


import builtins
import ctypes
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the deadline still applies
        pass


def verifier_helpers():
    """tito/sandbox/verifier.py, loaded by path (this script runs with -I, outside the package): its
    `future_flags` and `first_line` are the ones used here."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sandbox", "verifier.py")
    spec = importlib.util.spec_from_file_location("tito_verifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_verifier = verifier_helpers()
future_flags, first_line = _verifier.future_flags, _verifier.first_line


def address_space() -> int:
    """This process's virtual memory in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def send(fd: int, text: str) -> None:
    data = text.encode()
    while data:
        data = data[os.write(fd, data):]


def parse(data: bytes) -> tuple[dict, bool]:
    """A child's answer: {grade_id: [passed, message]} as far as it got, and whether it finished."""
    results, finished = {}, False
    for line in data.decode(errors="replace").splitlines():
        if line == "done":
            finished = True
        elif line.startswith("["):
            try:
                grade_id, passed, message = json.loads(line)
            except ValueError:
                continue  # a line cut off when the child was killed
            results[grade_id] = [passed, message]
    return results, finished


def run_cells(namespace: dict, cells: list, start: int, changes: dict, flags: int, stop_at_failure: bool, report) -> None:
    """Run cells[start:] (with the mutant's `changes`); report(grade_id, passed, message) after each graded one."""
    for index in range(start, len(cells)):
        cell = cells[index]
        source = changes.get(str(index), cell["source"])
        try:
            exec(compile(source, f"<cell {cell['grade_id'] or index}>", "exec", flags), namespace)  # noqa: S102
            passed, message = True, ""
        except BaseException as error:  # any failure of a cell, as nbgrader sees it
            passed, message = False, first_line(error)
        if cell["graded"]:
            report(cell["grade_id"], passed, message)
            if stop_at_failure and not passed:
                break


class Children:
    """The running children: one pipe each for its answer, a deadline each."""

    def __init__(self, emit, workers: int) -> None:
        self.emit, self.workers = emit, workers  # emit(report) for each child done
        self.running: dict[int, dict] = {}  # read end of the pipe -> child

    def fork(self, name: str, run, timeout: float, memory_mb: int) -> None:
        while len(self.running) >= self.workers:
            self.collect()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                os.close(read_end)
                os.setpgid(0, 0)
                die_with_parent()
                if memory_mb:  # on top of what the child starts with (a fork shares its parent's mappings)
                    limit = address_space() + (memory_mb << 20)
                    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                cpu = int(timeout) + 5
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
                run(lambda grade_id, passed, message: send(write_end, json.dumps([grade_id, passed, message]) + "\n"))
                send(write_end, "done\n")
            except BaseException:  # noqa: BLE001 -- reported as a crash by the parent
                code = 70
            finally:
                os._exit(code)
        os.close(write_end)
        started = time.monotonic()
        self.running[read_end] = {"name": name, "pid": pid, "deadline": started + timeout, "started": started,
                                  "timeout": timeout, "data": b""}

    def collect(self, wait: bool = True) -> list:
        """Wait until at least one child is done (or, with wait=False, take those done); their reports."""
        done = []
        while self.running and not done:
            nearest = min(c["deadline"] for c in self.running.values())
            ready, _, _ = select.select(list(self.running), [], [], max(0.0, nearest - time.monotonic()) if wait else 0)
            for fd in ready:
                child = self.running[fd]
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    child["data"] += chunk
                    continue
                del self.running[fd]
                os.close(fd)
                _, status = os.waitpid(child["pid"], 0)
                done.append(self.finished(child, status))
            now = time.monotonic()
            for fd, child in list(self.running.items()):
                if now >= child["deadline"]:
                    try:
                        os.killpg(child["pid"], signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    os.waitpid(child["pid"], 0)
                    del self.running[fd]
                    os.close(fd)
                    results, _ = parse(child["data"])
                    done.append({"id": child["name"], "status": "timeout", "results": results,
                                 "message": f"still running after {child['timeout']:.1f}s (time limit)",
                                 "seconds": round(now - child["started"], 3)})
            if not wait:
                break
        for report in done:
            self.emit(report)
        return done

    def finished(self, child: dict, status: int) -> dict:
        seconds = round(time.monotonic() - child["started"], 3)
        results, finished = parse(child["data"])
        if not finished:
            if os.WIFSIGNALED(status):
                how = f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
            else:
                how = f"exited with status {os.WEXITSTATUS(status)} without a result"
            return {"id": child["name"], "status": "crashed", "results": results, "message": how, "seconds": seconds}
        failed = [grade_id for grade_id, (passed, _) in results.items() if not passed]
        return {"id": child["name"], "status": "killed" if failed else "survived", "results": results,
                "message": results[failed[0]][1] if failed else "", "seconds": seconds}


def main() -> None:
    task = json.loads(sys.stdin.read())
    answer = os.fdopen(os.dup(1), "w")
    errors = os.fdopen(os.dup(2), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # what the cells print goes nowhere
        os.dup2(devnull, fd)
    sys.path[0] = task["root"]  # the project's tinytorch, not this script's folder
    die_with_parent()
    try:
        run(task, answer)
    except BaseException:
        errors.write(traceback.format_exc())
        errors.flush()
        os._exit(1)
    os._exit(0)


def run(task: dict, answer) -> None:
    cells, mutants = task["cells"], task["mutants"]
    flags = future_flags(cells)
    workers, memory_mb = max(1, task["workers"]), task["memory_mb"]
    fresh = lambda: {"__name__": "__main__", "__builtins__": builtins}  # noqa: E731

    def emit(report: dict) -> None:
        answer.write(json.dumps(report) + "\n")
        answer.flush()

    # The reference: the unchanged cells, every graded one, in a child like the mutants'.
    started = time.monotonic()
    first = Children(lambda report: None, 1)
    first.fork("reference", lambda report: run_cells(fresh(), cells, 0, {}, flags, False, report), task["reference_timeout"],
               memory_mb)
    (reference,) = first.collect()
    seconds = time.monotonic() - started
    timeout = task["timeout"] or round(10 * seconds + 5, 1)
    emit({"reference": reference, "seconds": round(seconds, 3), "timeout": timeout})
    if reference["status"] != "survived":
        return

    children = Children(emit, workers)
    namespace = fresh()
    by_start = sorted(mutants, key=lambda m: m["start"])
    cursor = 0
    for index, cell in enumerate(cells):
        while cursor < len(by_start) and by_start[cursor]["start"] == index:
            mutant = by_start[cursor]
            cursor += 1
            children.fork(mutant["id"], lambda report, m=mutant, i=index: run_cells(
                namespace, cells, i, m["changes"], flags, not task["every_test"], report), timeout, memory_mb)
            children.collect(wait=False)
        try:
            exec(compile(cell["source"], f"<cell {cell['grade_id'] or index}>", "exec", flags), namespace)  # noqa: S102
        except BaseException:  # noqa: S110 -- the reference passed; an error here is a demo's, as in the reference
            pass
    while children.running:
        children.collect()


if __name__ == "__main__":
    main()
