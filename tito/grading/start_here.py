"""`Start here:`: the one function most likely at fault, for `tito check` and the top of the feedback.

The evidence comes from the trusted re-run (tito/sandbox/diagnosis.py, inside the verifier): the
student's functions in notebook order (and which are still stubs), the functions each graded test
called, and the module's probes (each function tried alone, in dependency order). This module
runs where grades are trusted (the coordinator, or `tito check` on the student's own machine) and
treats that evidence as untrusted text: names must look like names, messages are folded onto one
ASCII line, and the graph is drawn from its data with every label escaped.

The rule:
1. a notebook with stubs: the first stub, in notebook order;
2. each failing test is pinned on the first broken function (failed probe, dependency order) it
   called, or else on the student function its error was raised in; the first broken function
   with a pinned test is the culprit, with its probe's finding and how many failing tests use it;
3. no probe explains anything: the function most specific to the failing tests (used by the most
   failing and the fewest passing tests, the Ochiai score of spectrum-based fault localisation),
   among those some test calls itself (a helper that only the student's functions call, such as
   given code in a solution cell, is never the first place to look); between functions used by
   the same tests, the one a failing test called last before it failed.
A catalogued mistake (`hint` in the module's mistakes.py) whose culprit is this function and whose
pattern occurs in the evidence adds its hint.
"""

from __future__ import annotations

import base64
import functools
import html
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tito.grading.explain import failure_message, one_line, plain
from tito.sandbox.diagnosis import DIAGNOSIS_KEY, student_functions

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")  # IPython's traceback frame of a notebook cell
LINE_LIMIT = 600
LISTED_TESTS = 4  # failing tests named after the count


@dataclass(frozen=True)
class StartHere:
    culprit: str  # the function or Class.method
    cell: str  # its cell's grade_id
    reason: str  # what was found, after the name
    hint: str = ""
    graph: dict | None = None  # the small failing expression, its wrong node marked (gradient mistakes)

    def line(self, with_hint: bool = True) -> str:
        hint = f" Hint: {self.hint}" if self.hint and with_hint else ""
        return one_line(f"Start here: `{self.culprit}` {self.reason}{hint}", LINE_LIMIT)


def uses(name: str, tests: list[str]) -> str:
    """`(9 failing tests use multiply: test-a, test-b, ...)`."""
    if not tests:
        return ""
    shown = ", ".join(tests[:LISTED_TESTS]) + (", ..." if len(tests) > LISTED_TESTS else "")
    verb = "uses" if len(tests) == 1 else "use"
    return f" ({len(tests)} failing test{'s' if len(tests) != 1 else ''} {verb} {name}: {shown})"


def probe_finding(probe: dict) -> str:
    message = one_line(str(probe.get("message", "")), 300)
    error = str(probe.get("error") or "")
    if error in ("ProbeFailure", "AssertionError", "Timeout"):
        return message
    if error == "NotImplementedError":
        return "is not written yet"
    return f"raised {one_line(error, 60)} when probed alone" + (f": {message}" if message else "")


def matching_hint(culprit: str, evidence: str, hints: list[dict]) -> str:
    """The hint of the first catalogued mistake in `culprit` whose pattern occurs in the evidence:
    its `match` (a regular expression) if it has one, else its `says` (plain text)."""
    for entry in hints:
        if entry.get("culprit") != culprit or not entry.get("hint"):
            continue
        pattern, says = entry.get("match") or "", entry.get("says") or ""
        try:
            found = re.search(pattern, evidence) if pattern else (says and says in evidence)
        except re.error:
            found = False
        if found:
            return one_line(str(entry["hint"]), 400)
    return ""


def listed(value) -> list:
    return value if isinstance(value, list) else []


def start_here(diagnosis: dict | None, results: dict, hints: list[dict] | None = None) -> StartHere | None:
    """The Start-here finding, or None (everything passed, or no evidence names a function).
    `results`: grade_id -> (passed, message), the trusted re-run's verdict."""
    if not isinstance(diagnosis, dict):
        return None
    tests = {str(gid): {"used": [u for u in t.get("used") or [] if isinstance(u, str)] if isinstance(t.get("used"), list) else [],
                        "direct": [u for u in t.get("direct") if isinstance(u, str)] if isinstance(t.get("direct"), list) else None,
                        "entered_last": t.get("entered_last") if isinstance(t.get("entered_last"), str) else None,
                        "raised_in": t.get("raised_in") if isinstance(t.get("raised_in"), str) else None,
                        "error": str(t.get("error") or "")}
             for gid, t in (diagnosis.get("tests") if isinstance(diagnosis.get("tests"), dict) else {}).items()
             if isinstance(t, dict)}
    failing = [gid for gid, outcome in results.items() if gid in tests and not outcome[0]]
    functions = [f for f in listed(diagnosis.get("functions")) if isinstance(f, dict) and NAME.match(str(f.get("name")))]
    cell_of = {f["name"]: one_line(str(f.get("cell", "")), 80) for f in functions}
    stuck = [t for t in listed(diagnosis.get("timeouts")) if isinstance(t, dict) and t.get("in") in cell_of]
    if not failing and not stuck:
        return None
    hints = hints or []

    def hung(name: str) -> str:
        """` (cell X never finished: it was stuck in name)`, when one was."""
        cells = [one_line(str(t.get("cell")), 80) for t in stuck if t["in"] == name]
        return f" (cell {cells[0]} never finished: it was stuck in {name})" if cells else ""

    def users(name: str) -> list[str]:
        return [gid for gid in failing if name in tests[gid].get("used", [])]

    def evidence(name: str, finding: str) -> str:
        return " ".join([finding, *(str(results[gid][1]) for gid in users(name))])

    stubs = [f["name"] for f in functions if f.get("stub")]
    if stubs:
        first = stubs[0]
        return StartHere(first, cell_of[first], f"(cell {cell_of[first]}) is not written yet{uses(first, users(first))}")

    broken = [p for p in listed(diagnosis.get("probes")) if isinstance(p, dict) and not p.get("ok")
              and NAME.match(str(p.get("name"))) and p["name"] in cell_of]
    pinned: dict[str, list[str]] = {}
    for gid in failing:
        used = tests[gid].get("used", [])
        pin = next((p["name"] for p in broken if p["name"] in used), None) or tests[gid].get("raised_in")
        if pin in cell_of:
            pinned.setdefault(pin, []).append(gid)
    for probe in broken:
        name = probe["name"]
        if name in pinned:
            finding = probe_finding(probe)
            graph = probe.get("graph") if isinstance(probe.get("graph"), dict) else None
            return StartHere(name, cell_of[name], f"-- {finding}{uses(name, users(name))}{hung(name)}",
                             matching_hint(name, evidence(name, finding), hints), graph)
    if stuck:  # a cell that never finished, and no probe says more
        name = stuck[0]["in"]
        finding = f"-- cell {one_line(str(stuck[0].get('cell')), 80)} never finished: it was stuck in {name}"
        return StartHere(name, cell_of[name], f"{finding}{uses(name, users(name))}", matching_hint(name, finding, hints))
    if pinned:  # errors raised inside a student function that no probe covers
        name = max(pinned, key=lambda n: (len(pinned[n]), -[f["name"] for f in functions].index(n)))
        first = pinned[name][0]
        finding = f"-- {one_line(tests[first]['error'] or 'the error', 60)} in {first} was raised inside it"
        return StartHere(name, cell_of[name], f"{finding}{uses(name, users(name))}",
                         matching_hint(name, evidence(name, finding), hints))
    passing = [gid for gid, outcome in results.items() if gid in tests and outcome[0]]
    entry_points = entered(tests.values())
    scores = []
    for order, function in enumerate(functions):
        if entry_points is not None and function["name"] not in entry_points:
            continue
        failed = len(users(function["name"]))
        passed = sum(function["name"] in tests[gid].get("used", []) for gid in passing)
        last = sum(tests[gid]["entered_last"] == function["name"] for gid in failing)  # breaks ties of equal use
        if failed:
            scores.append((failed / math.sqrt(len(failing) * (failed + passed)), last, -order, function["name"], failed, passed))
    if not scores:
        return None
    *_, name, failed, passed = max(scores)
    probed = "no probe of a single function failed" if listed(diagnosis.get("probes")) else "this module has no probes"
    finding = f"-- {failed} of the {len(failing)} failing tests use it, and {passed} of the {len(passing)} passing ones ({probed})"
    return StartHere(name, cell_of[name], finding, matching_hint(name, evidence(name, finding), hints))


def entered(tests) -> set[str] | None:
    """The functions some test calls itself; None when the evidence does not say (older verifiers)."""
    told = [t["direct"] for t in tests if t["direct"] is not None]
    return {name for names in told for name in names} if told else None


def verifier_results(verdict: dict) -> tuple[dict, dict | None]:
    """Split the verifier's answer into {grade_id: (passed, message)} and the diagnosis."""
    results, diagnosis = {}, None
    for key, value in (verdict or {}).items():
        if key == DIAGNOSIS_KEY:
            diagnosis = value
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            results[key] = (bool(value[0]), str(value[1]))
    return results, diagnosis


def notebook_hints(nb: nbformat.NotebookNode) -> list[dict]:
    """The hints `tito release` put in the notebook's metadata (tito.authoring.mistakes.student_hints)."""
    hints = nb.metadata.get("tito", {}).get("hints", [])
    return [h for h in hints if isinstance(h, dict)] if isinstance(hints, list) else []


# --- stubs by name --------------------------------------------------------------------------------


def stub_message(cell: nbformat.NotebookNode, nb: nbformat.NotebookNode) -> str | None:
    """"`exp` (cell elementwise) is not written yet" for a NotImplementedError raised in a stub of a
    solution cell: the innermost notebook frame of its traceback names the cell (by execution
    count) and the line, and the cell's source the function at that line."""
    error = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    if error is None or error.ename != "NotImplementedError":
        return None
    by_count = {c.execution_count: c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")}
    frames = [FRAME.search(plain(frame)) for frame in error.get("traceback", [])]
    for frame in reversed([f for f in frames if f]):
        owner = by_count.get(int(frame[1]))
        meta = owner.metadata.get("nbgrader", {}) if owner is not None else {}
        if not meta.get("solution"):
            continue
        line = int(frame[2])
        for function in functions_of(owner.source, meta.get("grade_id")):
            if function["lines"][0] <= line <= function["lines"][1]:
                return one_line(f"`{function['name']}` (cell {function['cell']}) is not written yet")
        return None
    return None


@functools.lru_cache(maxsize=512)
def functions_of(source: str, grade_id: str | None) -> tuple[dict, ...]:
    """The functions a solution cell defines (parsed once per distinct source)."""
    return tuple(student_functions([{"source": source, "solution": True, "grade_id": grade_id}]))


def explain_failure(cell: nbformat.NotebookNode, nb: nbformat.NotebookNode) -> str:
    """A failed test's one line: a stub by name, or the error's message (tito/grading/explain.py)."""
    return stub_message(cell, nb) or failure_message(cell)


# --- the graph, drawn on the trusted side from data --------------------------------------------------


def dot_text(text: object, limit: int = 80) -> str:
    """A label line safe inside a DOT double-quoted string (no quotes, backslashes or controls)."""
    text = one_line(str(text), limit)
    return text.replace("\\", "/").replace('"', "'")


def graph_dot(graph: dict) -> str | None:
    """DOT source for the graph data (nodes: id, kind value|operation, lines, marked, note; edges:
    from, to, marked), in draw_graph's style: boxes for values, ovals for operations, the wrong
    operation and the edge of the wrong input in red. None if the data is not such a graph."""
    nodes = [n for n in graph.get("nodes", []) if isinstance(n, dict)][:40]
    ids = {str(n.get("id")): f"n{i}" for i, n in enumerate(nodes)}
    lines = ["digraph start_here {", '  graph [rankdir=LR];', '  node [fontname="Helvetica"];']
    for node in nodes:
        label = [dot_text(x) for x in [*node.get("lines", []), *node.get("note", [])][:8]]
        style = ['shape=ellipse', 'style=filled', 'fillcolor=lightyellow'] if node.get("kind") == "operation" else ["shape=box"]
        if node.get("marked"):
            style = [s for s in style if not s.startswith("fillcolor")] + ["fillcolor=mistyrose", "color=red", "penwidth=2"]
        label_text = "\\n".join(label)  # DOT's line break
        lines.append(f'  {ids[str(node.get("id"))]} [label="{label_text}", {", ".join(style)}];')
    for edge in [e for e in graph.get("edges", []) if isinstance(e, dict)][:80]:
        start, end = ids.get(str(edge.get("from"))), ids.get(str(edge.get("to")))
        if start and end:
            lines.append(f"  {start} -> {end}" + (" [color=red, penwidth=2];" if edge.get("marked") else ";"))
    lines.append("}")
    return "\n".join(lines) if nodes else None


def graph_svg(graph: dict) -> str | None:
    """The graph as SVG, drawn by Graphviz's `dot`; None when dot is missing or fails."""
    dot = graph_dot(graph)
    return drawn_svg(dot) if dot is not None else None


@functools.lru_cache(maxsize=64)
def drawn_svg(dot: str) -> str | None:
    """`dot -Tsvg` of the DOT text, once per distinct graph (students with the same mistake get the same one)."""
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        drawn = subprocess.run([program, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return drawn.stdout if drawn.returncode == 0 and "<svg" in drawn.stdout else None


def start_here_cell(start: StartHere) -> nbformat.NotebookNode:
    """The top of the feedback: the line, its hint, and for a gradient mistake the marked graph."""
    text = start.line(with_hint=False).replace("`", "'")
    parts = [f"**Start here:** `{text.removeprefix('Start here: ')}`"]
    if start.hint:
        parts.append(f"**Hint:** {start.hint}")  # the instructor's text, from the mistakes catalogue
    if start.graph:
        marked = [n for n in start.graph.get("nodes", []) if isinstance(n, dict) and n.get("marked")]
        what = one_line(" ".join(str(x) for x in marked[0].get("note", [])), 200) if marked else ""
        svg = graph_svg(start.graph)
        caption = f"The small expression it was probed on; the operation in red computes a wrong local gradient: `{what.replace('`', chr(39))}`"
        if svg is not None:
            alt = html.escape(f"graph of the probed expression, {start.culprit} marked in red", quote=True)
            picture = base64.b64encode(svg.encode("utf-8")).decode("ascii")
            parts.append(f"{caption}\n\n<img alt=\"{alt}\" src=\"data:image/svg+xml;base64,{picture}\">")
        else:  # no Graphviz: the graph as text
            arrows = [f"{e.get('from')} -> {e.get('to')}" for e in start.graph.get("edges", []) if isinstance(e, dict)]
            parts.append(f"{caption} (graph: `{one_line('; '.join(arrows), 200).replace('`', chr(39))}`)")
    return nbformat.v4.new_markdown_cell("\n\n".join(parts))


# --- grading: the evidence kept in the autograded notebook, the line at the top of its feedback -----


def keep_diagnosis(nb: nbformat.NotebookNode, verdict: dict | None) -> None:
    """Keep the trusted re-run's evidence in the autograded notebook's metadata (`tito` ->
    `diagnosis`), where the feedback writer finds it."""
    answer = (verdict or {}).get("results")
    if isinstance(answer, dict) and DIAGNOSIS_KEY in answer:
        results, diagnosis = verifier_results(answer)
        # A list, not a dict: notebook metadata is written with sorted keys, and the order is the notebook's.
        nb.metadata.setdefault("tito", {})["diagnosis"] = {"results": [[k, *v] for k, v in results.items()],
                                                          "evidence": diagnosis}


@functools.lru_cache(maxsize=16)
def source_hints(path: str) -> tuple[dict, ...]:
    """The hints in the instructor's source notebook at `path` (read once per grading run)."""
    source = Path(path)
    return tuple(notebook_hints(nbformat.read(source, as_version=4))) if source.is_file() else ()


def feedback_start_here(nb: nbformat.NotebookNode, hints: tuple[dict, ...] | list[dict]) -> nbformat.NotebookNode | None:
    """The Start-here cell for an autograded notebook, with the hints of the instructor's source
    notebook (never the submission's own metadata); None when there is nothing to say."""
    kept = nb.metadata.get("tito", {}).get("diagnosis")
    if not isinstance(kept, dict):
        return None
    results = {str(r[0]): (bool(r[1]), str(r[2])) for r in kept.get("results") or [] if isinstance(r, list) and len(r) == 3}
    start = start_here(kept.get("evidence"), results, list(hints))
    return start_here_cell(start) if start is not None else None
