"""`python -m tito.runner NOTEBOOK OUTPUT STATUS`: execute one notebook in a fresh kernel.

This is the process `tito grade` and `tito check` start per notebook (see tito/execute.py, which
also kills it on timeout). It executes like nbgrader's `Execute` preprocessor (an nbclient
ExecutePreprocessor: python3 kernel, go on past errors, record errors the kernel replied with)
but imports nbclient alone, so it starts in well under a second. It writes the executed notebook
to OUTPUT and plain facts to STATUS (JSON): the kernel's pid as soon as it exists, and a one-line
reason when the kernel died or execution broke.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tito  # noqa: F401 -- skips jsonschema's slow optional import before nbformat loads it


def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def record_reply_error(cell, cell_index, execute_reply) -> None:  # noqa: ARG001
    """As nbgrader's Execute.on_cell_executed: an error the kernel replied with but never
    displayed (e.g. an interrupt) still becomes an error output, so the cell scores 0."""
    from nbformat import NotebookNode

    content = execute_reply["content"]
    if content["status"] != "error":
        return
    if any(o.output_type == "error" and o.ename == content["ename"] for o in cell.outputs):
        return
    cell.outputs.append(
        NotebookNode(
            output_type="error",
            ename=content["ename"],
            evalue=content["evalue"],
            traceback=content["traceback"] or ["ERROR: An error occurred while showtraceback was disabled"],
        )
    )


def main(argv: list[str]) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    source, output, status_file = (Path(a) for a in argv)
    status: dict = {"kernel_pid": None, "reason": None}

    def save_status() -> None:
        status_file.write_text(json.dumps(status), encoding="utf-8")

    nb = nbformat.read(source, as_version=4)
    running = {"index": None}

    def on_start(notebook) -> None:  # noqa: ARG001
        # Known early, so the parent can kill the kernel's own process group on timeout.
        status["kernel_pid"] = client.km.provisioner.pid
        save_status()

    def on_cell_start(cell, cell_index) -> None:  # noqa: ARG001
        running["index"] = cell_index

    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=None,  # the wall-clock limit is enforced from outside, by killing the process tree
        allow_errors=True,
        record_timing=False,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(source.parent)}},
        on_notebook_start=on_start,
        on_cell_start=on_cell_start,
        on_cell_executed=record_reply_error,
    )
    try:
        client.execute()
    except DeadKernelError:
        status["reason"] = f"the kernel died while running cell {running['index']} (crash, os._exit or killed)"
    except Exception as error:  # anything else that stops execution is reported, not raised
        status["reason"] = f"execution failed at cell {running['index']}: {type(error).__name__}: {first_line(error)}"
    nbformat.write(nb, output)
    save_status()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
