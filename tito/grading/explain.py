"""One line that teaches, from a failed test cell: what `tito check` prints and the feedback lists.

The graded autograd tests fail with messages such as `subtract: d/db should be -1, got 1.0`
(their `expect_grad` helper). That message is the error's value; this module gets it out of the
cell's outputs as one plain-ASCII line: terminal colours removed, a multi-line NumPy array folded
onto one line; for a bare `assert` with no message, the failing source line instead, and for any
other error (a bug in the student's code) the notebook line that raised it.
"""

from __future__ import annotations

import re

import nbformat

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ARROW = re.compile(r"^-+>\s*\d+\s?(.*)$", re.MULTILINE)  # IPython marks the line being run: "----> 4 assert x"
LIMIT = 300


def plain(text: str) -> str:
    return ANSI.sub("", text)


def one_line(text: str, limit: int = LIMIT) -> str:
    """Whitespace runs (NumPy's line breaks inside arrays too) become one space; cut at `limit`."""
    text = " ".join(plain(text).split())
    text = text.encode("ascii", "replace").decode("ascii")  # tito's output stays ASCII
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failing_line(traceback: list[str]) -> str:
    """The line the traceback points at in the innermost notebook cell ("Cell In[...]" frame),
    else in the innermost frame; '' when there is none."""
    frames = [plain(frame) for frame in traceback]
    in_cells = [frame for frame in frames if frame.lstrip().startswith("Cell In")]
    for frame in reversed(in_cells or frames):
        found = ARROW.findall(frame)
        if found:
            return found[-1].strip()
    return ""


def failure_message(cell: nbformat.NotebookNode) -> str:
    """`Error: message` for a cell's first error output (stderr text if there is none), on one line."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            message = one_line(str(output.evalue))
            where = failing_line(output.get("traceback", []))
            if output.ename in ("AssertionError", "NotImplementedError") or not where:
                if message:  # a test's own message says what is wrong
                    return one_line(f"{output.ename}: {message}")
                return one_line(f"{output.ename} at: {where}") if where and output.ename == "AssertionError" else output.ename
            # Any other error came from running the student's code: say which notebook line raised it.
            return one_line(f"{output.ename}: {message} (at: {where})" if message else f"{output.ename} (at: {where})")
        if output.output_type == "stream" and output.name == "stderr" and output.text.strip():
            return one_line(f"wrote to stderr: {output.text}")
    return ""
