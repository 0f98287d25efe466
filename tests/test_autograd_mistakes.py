"""Mutation tests for module 07_autograd: every plausible student mistake is caught by its graded cell.

Each case edits the reference solution in the module source as text (and checks that the edit
applied), runs the notebook in a real Jupyter kernel up to the graded cell meant to catch the
mistake, and asserts that this cell fails, with a message that points at the mistake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from tito.notebook import read_source

SOURCE = ROOT / "modules" / "source" / "07_autograd" / "autograd_dev.py"


@dataclass(frozen=True)
class Mistake:
    name: str
    wrong: dict[str, str]  # exact solution text -> the mistaken text
    caught_by: str  # grade_id of the graded cell that must fail
    says: str = ""  # the failure message contains this


NAIVE_BACKPROPAGATE = """    grads = {root: gradient}
    for node in reversed(topological_order(root)):
        g = grads.pop(node)
        if node.grad_fn is None:
            if node.grad is None:
                node.grad = Variable(np.array(g), requires_grad=False)
            else:
                node.grad = Variable(node.grad.data.data + g, requires_grad=False)
            continue
        for parent, local_grad in node.grad_fn.edges:
            pg = local_grad(g)
            if pg.shape != parent.data.data.shape:
                pg = unbroadcast(pg, parent.data.data.shape)
            if parent in grads:
                grads[parent] = grads[parent] + pg
            else:
                grads[parent] = pg
"""
RECURSIVE_BACKPROPAGATE = """    if root.grad_fn is None:
        if root.grad is None:
            root.grad = Variable(np.array(gradient), requires_grad=False)
        else:
            root.grad = Variable(root.grad.data.data + gradient, requires_grad=False)
        return
    for parent, local_grad in root.grad_fn.edges:
        pg = local_grad(gradient)
        if pg.shape != parent.data.data.shape:
            pg = unbroadcast(pg, parent.data.data.shape)
        backpropagate(parent, pg)
"""
ITERATIVE_TOPOLOGICAL_ORDER = """    order: list[Variable] = []
    visited: set[Variable] = set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if node.grad_fn is not None:
            for parent, _ in node.grad_fn.edges:
                if parent not in visited:
                    stack.append((parent, False))
    return order
"""
RECURSIVE_TOPOLOGICAL_ORDER = """    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for parent, _ in (node.grad_fn.edges if node.grad_fn else []):
                visit(parent)
            order.append(node)

    visit(root)
    return order
"""

MISTAKES = [
    Mistake(
        "Variable starts with a zero gradient instead of None",
        {"        self.grad = None\n        self.grad_fn = grad_fn\n": "        self.grad = 0.0\n        self.grad_fn = grad_fn\n"},
        "test-variable",
        "grad None",
    ),
    Mistake(
        "add passes no gradient to b",
        {"return a + b, (lambda g: g, lambda g: g)": "return a + b, (lambda g: g, lambda g: 0 * g)"},
        "test-add",
        "add: d/db should be 1.0, got 0.0",
    ),
    Mistake(
        "multiply with the factors swapped",
        {"return a * b, (lambda g: g * b, lambda g: g * a)": "return a * b, (lambda g: g * a, lambda g: g * b)"},
        "test-multiply",
        "multiply: d/da should be 3.0, got 2.0",
    ),
    Mistake(
        "subtract with the wrong sign for b",
        {"return a - b, (lambda g: g, lambda g: -g)": "return a - b, (lambda g: g, lambda g: g)"},
        "test-subtract",
        "subtract: d/db should be -1, got 1.0",
    ),
    Mistake(
        "divide with the wrong sign for b",
        {"lambda g: -g * a / (b * b)": "lambda g: g * a / (b * b)"},
        "test-divide-power",
        "divide(6, 3): d/db should be",
    ),
    Mistake(
        "divide without the square in d/db",
        {"lambda g: -g * a / (b * b)": "lambda g: -g * a / b"},
        "test-divide-power",
        "divide(6, 3): d/db should be",
    ),
    Mistake(
        "power keeps the exponent in the derivative",
        {"lambda g: g * p * x ** (p - 1)": "lambda g: g * p * x**p"},
        "test-divide-power",
        "power(x, 2) at x=3: d/dx should be 6.0",
    ),
    Mistake(
        "recursive topological sort",
        {ITERATIVE_TOPOLOGICAL_ORDER: RECURSIVE_TOPOLOGICAL_ORDER},
        "test-topological-order",
        "RecursionError",
    ),
    Mistake(
        "topological sort without a visited set",
        {"        if node in visited:\n            continue\n": ""},
        "test-topological-order",
        "each listed once",
    ),
    Mistake(
        "naive recursive backward",
        {NAIVE_BACKPROPAGATE: RECURSIVE_BACKPROPAGATE},
        "test-backpropagate",
        "it passed 4096 times",
    ),
    Mistake(
        "backward walks the order forwards",
        {"    for node in reversed(topological_order(root)):\n": "    for node in topological_order(root):\n"},
        "test-backpropagate",
    ),
    Mistake(
        "gradients from several uses overwrite each other",
        {"                grads[parent] = grads[parent] + pg\n": "                grads[parent] = pg\n"},
        "test-backpropagate",
        "y = y + y, 12 times: d/dx should be 4096.0",
    ),
    Mistake(
        "leaves overwrite their gradient instead of accumulating",
        {
            "                node.grad = Variable(node.grad.data.data + g, requires_grad=False)\n": (
                "                node.grad = Variable(np.array(g), requires_grad=False)\n"
            )
        },
        "test-backpropagate",
        "leaf gradients accumulate): d/dw should be 7.0, got 4.0",
    ),
    Mistake(
        "unbroadcast only removes leading axes",
        {"    if stretched:\n        grad = grad.sum(axis=stretched, keepdims=True)\n": ""},
        "test-unbroadcast",
        "unbroadcast from (2, 3) to (1, 3)",
    ),
    Mistake(
        "backward does not unbroadcast",
        {"                pg = unbroadcast(pg, parent.data.data.shape)\n": "                pass\n"},
        "test-broadcasting",
        "add (2, 3) + (3,): d/db should have shape (3,)",
    ),
    Mistake(
        "matmul without the transposes",
        {"return a @ b, (lambda g: g @ b.T, lambda g: a.T @ g)": "return a @ b, (lambda g: g @ b, lambda g: a @ g)"},
        "test-matmul",
    ),
    Mistake(
        "matmul with the gradient for b multiplied on the wrong side",
        {"lambda g: a.T @ g)": "lambda g: g.T @ a)"},
        "test-matmul",
        "d/db should have shape (3, 2)",
    ),
    Mistake(
        "sum spreads the gradient back without restoring the summed axis",
        {"    if axis is not None and not keepdims:\n        g = np.expand_dims(g, axis)\n": ""},
        "test-reductions",
        "sum(x, axis=1) with g = [1, 2, 3]",
    ),
    Mistake(
        "mean forgets to divide the gradient",
        {"spread_back(g, axis, keepdims, np.shape(x)) / count,)": "spread_back(g, axis, keepdims, np.shape(x)),)"},
        "test-reductions",
        "mean(x) of 8 elements",
    ),
    Mistake(
        "transpose undoes itself with the same axes",
        {"inverse = None if axes is None else tuple(np.argsort(axes))": "inverse = axes"},
        "test-reshape-transpose",
        "transpose (2, 3, 4) by axes (1, 2, 0)",
    ),
    Mistake("exp differentiated as x", {"return out, (lambda g: g * out,)": "return out, (lambda g: g * x,)"}, "test-elementwise", "exp at 1"),
    Mistake("log differentiated as x", {"return np.log(x), (lambda g: g / x,)": "return np.log(x), (lambda g: g * x,)"}, "test-elementwise", "log at 2"),
    Mistake("relu passes every gradient", {"(lambda g: g * (x > 0),)": "(lambda g: g,)"}, "test-elementwise", "relu at [-1, 2]"),
    Mistake("sigmoid derivative without (1 - out)", {"(lambda g: g * out * (1 - out),)": "(lambda g: g * out,)"}, "test-elementwise", "sigmoid at [0, 2]"),
    Mistake(
        "sigmoid computed the overflowing way",
        {"    out = 0.5 * (1 + np.tanh(0.5 * x))\n    return": "    out = 1 / (1 + np.exp(-x))\n    return"},
        "test-elementwise",
        "overflow",
    ),
    Mistake("tanh derivative 1 - out", {"(lambda g: g * (1 - out * out),)": "(lambda g: g * (1 - out),)"}, "test-elementwise", "tanh at 0.5"),
    Mistake(
        "softmax cross-entropy without the max shift",
        {"    shifted = logits - logits.max(axis=1, keepdims=True)\n    exps": "    shifted = logits\n    exps"},
        "test-softmax-cross-entropy",
        "overflow",
    ),
    Mistake(
        "softmax cross-entropy gradient not averaged over the batch",
        {"return probs * (g / n)": "return probs * g"},
        "test-softmax-cross-entropy",
        "softmax_cross_entropy (mean over a batch of 2): d/dlogits",
    ),
    Mistake(
        "softmax cross-entropy gradient without the one-hot",
        {"        probs[rows, t] -= 1\n": ""},
        "test-softmax-cross-entropy",
        "softmax_cross_entropy (mean over a batch of 2): d/dlogits",
    ),
]


# The cells that use what the student built rather than test one function catch mistakes too.
MISTAKES += [
    Mistake(
        "subtract with the wrong sign, in a bigger expression",
        {"return a - b, (lambda g: g, lambda g: -g)": "return a - b, (lambda g: g, lambda g: g)"},
        "test-chain-rule",
        "(x + y) * (x - y): d/dy should be -4.0",
    ),
    Mistake(
        "multiply with the factors swapped, in training",
        {"return a * b, (lambda g: g * b, lambda g: g * a)": "return a * b, (lambda g: g * a, lambda g: g * b)"},
        "test-scalar-training",
        "training y = 2x + 1",
    ),
    Mistake(
        "tanh derivative 1 - out, found by gradcheck",
        {"(lambda g: g * (1 - out * out),)": "(lambda g: g * (1 - out),)"},
        "test-gradcheck",
        "gradcheck of the function: input 0, index (0, 0): expected",
    ),
    Mistake(
        "Variable ignores requires_grad=False",
        {"        self.requires_grad = requires_grad\n": "        self.requires_grad = True\n"},
        "test-no-grad",
        "inside no_grad, results should not require grad",
    ),
    Mistake(
        "relu passes every gradient, in training",
        {"(lambda g: g * (x > 0),)": "(lambda g: g,)"},
        "test-train-network",
    ),
    Mistake(
        "leaves share one gradient array",
        {"                node.grad = Variable(np.array(g), requires_grad=False)\n": "                node.grad = Variable(g, requires_grad=False)\n"},
        "test-backpropagate",
        "two leaves share one gradient array",
    ),
]


def apply(text: str, mistake: Mistake) -> str:
    for right, wrong in mistake.wrong.items():
        count = text.count(right)
        assert count == 1, f"{mistake.name}: the solution text to change occurs {count} times, expected once:\n{right}"
        text = text.replace(right, wrong)
    return text


@pytest.fixture(scope="module")
def kernel() -> Iterator[NotebookClient]:
    """One real Jupyter kernel for all cases (starting one per case would dominate the run time);
    each case starts with `%reset -f`, so it sees only its own definitions."""
    client = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3", timeout=300, allow_errors=True)
    with client.setup_kernel():
        yield client


def run_graded_cell(kernel: NotebookClient, source: Path, graded: str) -> str | None:
    """Run the notebook's definitions and then the graded cell `graded`; its error, or None if it passed.

    To keep each run short, the other graded cells (which define nothing later cells use) and the
    demo cells (which only print) are left out, and so is everything after `graded`.
    """
    nb = read_source(source)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells]
    assert graded in ids, f"no cell with grade_id {graded!r}"
    kept = []
    for cell, grade_id in zip(nb.cells[: ids.index(graded) + 1], ids, strict=False):
        is_test = cell.metadata.get("nbgrader", {}).get("grade", False)
        if cell.cell_type == "code" and (grade_id == graded or not (is_test or grade_id.endswith("-demo"))):
            kept.append(cell)
    kernel.nb.cells = [nbformat.v4.new_code_cell("%reset -f"), *kept]
    for index, cell in enumerate(kernel.nb.cells):
        kernel.execute_cell(cell, index)
    errors = [o for o in kept[-1].get("outputs", []) if o.output_type == "error"]
    return f"{errors[0].ename}: {errors[0].evalue}" if errors else None


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_the_graded_cell_catches_the_mistake(mistake: Mistake, kernel: NotebookClient, tmp_path: Path) -> None:
    mutated = tmp_path / SOURCE.name
    mutated.write_text(apply(SOURCE.read_text(encoding="utf-8"), mistake), encoding="utf-8")
    error = run_graded_cell(kernel, mutated, mistake.caught_by)
    assert error is not None, f"{mistake.name}: graded cell {mistake.caught_by} passed"
    assert "NotImplementedError" not in error and "NameError" not in error, error
    assert mistake.says in error, f"{mistake.name}: {mistake.caught_by} failed, but its message lacks {mistake.says!r}:\n{error}"


def test_every_graded_cell_catches_some_mistake() -> None:
    nb = read_source(SOURCE)
    graded = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    untested = graded - {m.caught_by for m in MISTAKES}
    assert not untested, f"graded cells without a mutation case: {sorted(untested)}"


@pytest.mark.parametrize("graded", ["test-backpropagate", "test-train-network"])
def test_the_unchanged_solution_passes_when_run_the_same_way(graded: str, kernel: NotebookClient) -> None:
    assert run_graded_cell(kernel, SOURCE, graded) is None
