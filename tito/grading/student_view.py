"""What a student may see of a graded notebook: `student_view(nb)`, the one place that decides it.

nbgrader's autograde puts the hidden tests back into the notebook it runs (they must run), and its
feedback renders that notebook: every hidden test's source, markers included (jupyter/nbgrader#917),
and the tracebacks of failing tests, which quote the lines around each failure. Everything that goes
to a student (the HTML feedback, what `tito check` prints, feedback returned through an LMS) is made
from `student_view(autograded)`, a copy in which:

- every cell's source has its hidden blocks removed (BEGIN/END HIDDEN TESTS lines included), exactly
  as nbgrader's release removed them, so each test cell reads as it did in the student's notebook;
- in each error's traceback, a frame whose failing line is hidden code becomes one line, "hidden test
  N of CELL", and the other frames lose the context lines that are hidden code. Where the error was
  raised is read from the traceback ("Cell In[k], line L" against the hidden block's line numbers),
  not guessed from the message;
- an error raised by a hidden test keeps the test's own message, with "(hidden test N of CELL)"; one
  without a message (a bare `assert`, whose only explanation would be its source line) or whose
  message quotes hidden code says "hidden test N of CELL failed";
- as a last net, any output or note line that still contains a line of hidden code is replaced.

N counts the hidden block's statements (1 = the first hidden assert of that cell). Test names,
points and pass/fail are untouched (they live in the metadata and the gradebook). The instructor's
autograded notebook is never changed: this works on a copy.
"""

from __future__ import annotations

import ast
import copy
import re

import nbformat

from tito.grading.explain import plain

BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's default delimiters
FRAME_HEADER = re.compile(r"^\s*Cell In\s*\[(\d+)\],? line (\d+)")  # IPython 8.5+: "Cell In[5], line 19"
CONTEXT_LINE = re.compile(r"^(?:-*>|\s)\s*(\d+)(?:\s|$)")  # "---> 19 code" or "     15 code"
NOT_SHOWN = "[a line of a hidden test: not shown]"


def hidden_line_numbers(source: str) -> set[int]:
    """1-based numbers of the lines in hidden blocks, the marker lines included (nbgrader's rule:
    a line containing the BEGIN delimiter opens a block, one containing END closes it)."""
    numbers, inside = set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
        if inside:
            numbers.add(number)
        if END_HIDDEN in line:
            inside = False
    return numbers


def without_hidden(source: str) -> str:
    hidden = hidden_line_numbers(source)
    return "\n".join(line for number, line in enumerate(source.split("\n"), start=1) if number not in hidden)


def hidden_statements(source: str) -> list[tuple[int, int]]:
    """(first, last) line of each hidden test statement, in order: the outermost statements that lie
    wholly inside hidden blocks. Without a parse (a syntax error), each hidden code line is one."""
    hidden = hidden_line_numbers(source)
    if not hidden:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        lines = source.split("\n")
        return [(n, n) for n in sorted(hidden) if lines[n - 1].strip() and BEGIN_HIDDEN not in lines[n - 1]
                and END_HIDDEN not in lines[n - 1]]
    spans: list[tuple[int, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                span = (child.lineno, child.end_lineno or child.lineno)
                if all(n in hidden for n in range(span[0], span[1] + 1)):
                    spans.append(span)
                    continue
            visit(child)

    visit(tree)
    return sorted(spans)


def hidden_test_number(source: str, line: int) -> int:
    """Which hidden test (1-based) holds `line`; the nearest one before it when none does."""
    spans = hidden_statements(source)
    for index, (first, last) in enumerate(spans, start=1):
        if first <= line <= last:
            return index
    before = [index for index, (first, _) in enumerate(spans, start=1) if first <= line]
    return before[-1] if before else 1


def cell_name(cell: nbformat.NotebookNode, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"


def hidden_code_lines(nb: nbformat.NotebookNode) -> set[str]:
    """The stripped lines of hidden code that appear nowhere else in the notebook (so that `)` or a
    line the visible test shares is not treated as a secret); only lines with some substance."""
    inside, outside = set(), set()
    for cell in nb.cells:
        hidden = hidden_line_numbers(cell.source)
        for number, line in enumerate(cell.source.split("\n"), start=1):
            text = line.strip()
            if BEGIN_HIDDEN in text or END_HIDDEN in text:
                continue
            (inside if number in hidden else outside).add(text)
    return {line for line in inside - outside if len(line) >= 5 and any(ch.isalnum() for ch in line)}


SUBSTRING_MIN = 20  # shorter hidden lines ("expect_error(") count only as a whole line, not inside another


def quotes(text: str, secrets: set[str]) -> bool:
    """Does `text` show a line of hidden code: as a whole line (a traceback's "---> 12" prefix
    aside), or, for a line long enough to mean something, anywhere in it?"""
    for line in plain(text).split("\n"):
        stripped = line.strip()
        context = CONTEXT_LINE.match(line)
        if stripped in secrets or (context and line[context.end():].strip() in secrets):
            return True
        if long_secrets(secrets).search(line):
            return True
    return False


_patterns: dict = {}  # id of a set of secrets -> (that set, its long lines as one pattern): one entry


def long_secrets(secrets: set[str]) -> re.Pattern:
    """One pattern matching any secret of at least SUBSTRING_MIN characters (a search in C, not a
    Python loop over every secret for every line of every output)."""
    kept = _patterns.get(id(secrets))
    if kept is None or kept[0] is not secrets or kept[2] != len(secrets):
        long = sorted((s for s in secrets if len(s) >= SUBSTRING_MIN), key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, long))) if long else re.compile(r"(?!)")  # (?!) never matches
        _patterns.clear()
        _patterns[id(secrets)] = kept = (secrets, pattern, len(secrets))
    return kept[1]


def scrub(text: str, secrets: set[str]) -> str:
    """`text` with every line that contains a line of hidden code replaced."""
    if not secrets or not quotes(text, secrets):
        return text
    return "\n".join(NOT_SHOWN if quotes(line, secrets) else line for line in text.split("\n"))


def context_number(raw_line: str) -> int | None:
    found = CONTEXT_LINE.match(plain(raw_line))
    return int(found.group(1)) if found else None


def rewrite_error(output: nbformat.NotebookNode, hidden_cells: dict[int, tuple[str, str]], secrets: set[str]) -> None:
    """Rewrite one error output in place (see the module docstring). `hidden_cells` maps an execution
    count to (cell name, source) for the cells that hold hidden code."""
    traceback, hit = [], None
    for frame in output.get("traceback", []):
        header = FRAME_HEADER.match(plain(frame))
        if not header or int(header.group(1)) not in hidden_cells:
            traceback.append(frame)
            continue
        name, source = hidden_cells[int(header.group(1))]
        hidden, line = hidden_line_numbers(source), int(header.group(2))
        if line in hidden:
            hit = f"hidden test {hidden_test_number(source, line)} of {name}"  # the innermost such frame wins
            traceback.append(f"Cell In[{header.group(1)}]: {hit} (its code is not shown)")
        else:
            traceback.append("\n".join(raw for raw in frame.split("\n") if context_number(raw) not in hidden))
    message = str(output.get("evalue", "")).strip()
    if hit:
        message = f"{hit} failed" if not message or quotes(message, secrets) else f"{message} ({hit})"
    elif quotes(message, secrets):
        message = "(the message quotes a hidden test: not shown)"
    if message != str(output.get("evalue", "")).strip():
        if traceback and plain(traceback[-1]).startswith(str(output.get("ename", ""))):
            traceback[-1] = f"{output.ename}: {message}"  # the last entry repeats the message
        output["evalue"] = message
    output["traceback"] = [scrub(frame, secrets) for frame in traceback]


def scrub_output(output: nbformat.NotebookNode, secrets: set[str]) -> None:
    if "text" in output:
        output["text"] = scrub(output["text"] if isinstance(output["text"], str) else "".join(output["text"]), secrets)
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") and isinstance(value, (str, list)):
            output["data"][mime] = scrub(value if isinstance(value, str) else "".join(value), secrets)


def student_view(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` (an autograded or checked notebook) holding nothing of its hidden tests."""
    view = copy.deepcopy(nb)
    secrets = hidden_code_lines(view)
    hidden_cells = {
        cell.execution_count: (cell_name(cell, index), cell.source)
        for index, cell in enumerate(view.cells)
        if cell.cell_type == "code" and cell.get("execution_count") is not None and hidden_line_numbers(cell.source)
    }
    for cell in view.cells:
        cell.source = without_hidden(cell.source)
        if cell.cell_type == "markdown":
            cell.source = scrub(cell.source, secrets)  # notes tito put at the top quote messages
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                rewrite_error(output, hidden_cells, secrets)
            else:
                scrub_output(output, secrets)
    return view
