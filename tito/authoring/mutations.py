"""The systematic mutations `tito mutate` makes to a module's solution regions, on the source's syntax tree.

Each mutation is one small, plausible slip at one place: an operator swapped, a sign lost, a constant
off by one, a term or statement dropped, arguments swapped, an axis or `keepdims` changed, `continue`
/ `break` / `return` confused, an in-place update written as a copy or the other way round. Only code
between `### BEGIN SOLUTION` and `### END SOLUTION` is mutated (what a student writes), never the
tests, helpers or prose around it.

A mutation is an edit of the source TEXT: the span of the node that changes is replaced by the
changed node, written out by `ast.unparse` (in parentheses where precedence could matter), so the
rest of the file stays byte for byte the same and a mutant's diff is one line or a few.

Mutant ids are stable: a hash of the function, the operator, the text before and after, the
mutated line's text and the occurrence of that combination in the function. Edits elsewhere in the
file (moved lines, other functions, prose) keep every id; changing the mutated line changes its ids.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# One replacement per operator: the plausible slip, not every possible one.
ARITHMETIC = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
              ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
COMPARISON = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
              ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
NOT_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)
AXIS_NAMES = ("axis", "axes")
COPY_CALLS = ("np.array", "numpy.array", "np.copy", "numpy.copy")
ATOMS = (ast.Name, ast.Constant, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.Set)

OPERATORS = {
    "arithmetic": "an arithmetic operator swapped (+ -, * /, ** *, @ *)",
    "comparison": "a comparison swapped (== !=, < <=, > >=, is / is not, in / not in)",
    "logic": "and / or swapped, a `not` dropped",
    "condition": "an if condition always true or always false",
    "sign": "a sign flipped: a unary minus dropped, a local gradient or returned value negated",
    "constant": "a number off by one, a bool flipped",
    "drop-term": "one operand of an arithmetic operation dropped",
    "drop-statement": "a statement left out",
    "swap-arguments": "two arguments, tuple items or the operands of - / ** @ swapped",
    "axis": "an axis or axes argument dropped, keepdims negated or dropped",
    "flow": "continue, break and return swapped for one another",
    "copy": "an in-place update written as a copy, a copy as an in-place update, a copy dropped",
    "mistake": "a plausible mistake from the module's catalogue (mistakes.py)",
}


@dataclass(frozen=True)
class Mutant:
    """One mutated version of a module source."""

    id: str
    function: str  # the enclosing function, e.g. "SGD.step" ("" at module level)
    operator: str  # a key of OPERATORS
    line: int  # the first mutated line of the source, 1-based
    description: str  # e.g. "`a + b` -> `a - b`"
    edits: tuple[tuple[int, int, str], ...]  # (start, end, replacement) in characters of the source text

    def apply(self, text: str) -> str:
        for start, end, replacement in sorted(self.edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        return text


def solution_regions(text: str) -> list[tuple[int, int]]:
    """(first, last) 1-based line numbers of the code inside each solution block."""
    regions, start = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            start = number + 1
        elif stripped == END and start is not None:
            if number - 1 >= start:
                regions.append((start, number - 1))
            start = None
    return regions


class SourceText:
    """The source with AST positions (1-based line, UTF-8 byte column) turned into character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, byte_column: int) -> int:
        return self.starts[line - 1] + len(self.lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def line(self, number: int) -> str:
        return self.lines[number - 1].strip()


def expression_text(node: ast.expr) -> str:
    """`node` as source, in parentheses unless it is an atom, so it can replace an expression anywhere."""
    text = ast.unparse(node)
    return text if isinstance(node, ATOMS) and not text.startswith("-") else f"({text})"


def short(text: str, limit: int = 70) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dotted_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted_name(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


class Mutator:
    """Walks the syntax tree of a source and yields the mutants of its solution regions."""

    def __init__(self, text: str) -> None:
        self.source = SourceText(text)
        self.tree = ast.parse(text)
        self.regions = solution_regions(text)
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent

    # --- where a node is ---
    def in_solution(self, node: ast.AST) -> bool:
        if not hasattr(node, "lineno"):
            return False
        return any(first <= node.lineno and node.end_lineno <= last for first, last in self.regions)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def function_of(self, node: ast.AST) -> str:
        names = [a.name for a in self.ancestors(node) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        return ".".join(reversed(names))

    def in_loop(self, node: ast.AST) -> bool:
        """Inside a for/while body of the same function (where continue and break are allowed)."""
        child = node
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                return False
            if isinstance(ancestor, (ast.For, ast.While)) and child not in ancestor.orelse:
                return True
            child = ancestor
        return False

    def in_function(self, node: ast.AST) -> bool:
        return any(isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)) for a in self.ancestors(node))

    def skipped(self, node: ast.AST) -> bool:
        """Text of messages (f-strings, strings) and docstrings is not mutated: no slip in logic."""
        if any(isinstance(a, ast.JoinedStr) for a in self.ancestors(node)):
            return True
        return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)

    # --- the mutants ---
    def mutants(self) -> list[Mutant]:
        found: list[Mutant] = []
        seen: dict[str, int] = {}
        for node in ast.walk(self.tree):
            if not self.in_solution(node) or self.skipped(node):
                continue
            for operator, target, replacement in self.mutations(node):
                start, end = self.source.span(target)
                before = self.source.text[start:end]
                if replacement == before:
                    continue
                function = self.function_of(target)
                line_text = self.source.line(target.lineno)
                key = "|".join([function, operator, short(before, 10_000), short(replacement, 10_000), line_text])
                seen[key] = seen.get(key, -1) + 1
                digest = hashlib.sha1(f"{key}|{seen[key]}".encode()).hexdigest()[:10]
                description = f"`{short(before, 60)}` -> `{short(replacement, 60)}`"
                found.append(Mutant(digest, function, operator, target.lineno, description, ((start, end, replacement),)))
        found.sort(key=lambda m: (m.edits[0][0], m.operator, m.id))
        return found

    def mutations(self, node: ast.AST) -> Iterator[tuple[str, ast.AST, str]]:
        """(operator, node whose span is replaced, replacement text) for every mutation of `node`."""
        if isinstance(node, ast.BinOp):
            yield from self.binary(node)
        elif isinstance(node, ast.AugAssign):
            yield from self.augmented(node)
        elif isinstance(node, ast.Compare):
            yield from self.comparison(node)
        elif isinstance(node, ast.BoolOp):
            flipped = ast.BoolOp(op=ast.Or() if isinstance(node.op, ast.And) else ast.And(), values=node.values)
            yield "logic", node, expression_text(flipped)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                yield "logic", node, expression_text(node.operand)
            elif isinstance(node.op, ast.USub):
                yield "sign", node, expression_text(node.operand)
        elif isinstance(node, ast.Constant):
            yield from self.constant(node)
        elif isinstance(node, ast.Call):
            yield from self.call(node)
        elif isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Load):
            yield from self.tuple_items(node)
        elif isinstance(node, ast.Lambda):
            yield "sign", node.body, expression_text(ast.UnaryOp(op=ast.USub(), operand=node.body))
        elif isinstance(node, ast.IfExp):
            for value in (True, False):
                yield "condition", node.test, repr(value)
        if isinstance(node, ast.stmt):
            yield from self.statement(node)

    def binary(self, node: ast.BinOp) -> Iterator[tuple[str, ast.AST, str]]:
        swap = ARITHMETIC.get(type(node.op))
        if swap:
            yield "arithmetic", node, expression_text(ast.BinOp(left=node.left, op=swap(), right=node.right))
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult, ast.FloorDiv)):
            yield "drop-term", node, expression_text(node.left)
            yield "drop-term", node, expression_text(node.right)
        if isinstance(node.op, NOT_COMMUTATIVE):
            yield "swap-arguments", node, expression_text(ast.BinOp(left=node.right, op=node.op, right=node.left))

    def augmented(self, node: ast.AugAssign) -> Iterator[tuple[str, ast.AST, str]]:
        swap = ARITHMETIC.get(type(node.op))
        if swap:
            yield "arithmetic", node, ast.unparse(ast.AugAssign(target=node.target, op=swap(), value=node.value))
        load = copy.deepcopy(node.target)
        for child in ast.walk(load):
            if hasattr(child, "ctx"):
                child.ctx = ast.Load()
        as_copy = ast.Assign(targets=[node.target], value=ast.BinOp(left=load, op=node.op, right=node.value), lineno=0)
        yield "copy", node, ast.unparse(as_copy)

    def comparison(self, node: ast.Compare) -> Iterator[tuple[str, ast.AST, str]]:
        for index, op in enumerate(node.ops):
            swap = COMPARISON.get(type(op))
            if swap:
                ops = list(node.ops)
                ops[index] = swap()
                yield "comparison", node, expression_text(ast.Compare(left=node.left, ops=ops, comparators=node.comparators))

    def constant(self, node: ast.Constant) -> Iterator[tuple[str, ast.AST, str]]:
        value = node.value
        if isinstance(value, bool):
            yield "constant", node, repr(not value)
        elif isinstance(value, (int, float)):
            for changed in (value + 1, value - 1):
                yield "constant", node, f"({changed!r})" if changed < 0 else repr(changed)

    def call(self, node: ast.Call) -> Iterator[tuple[str, ast.AST, str]]:
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(positional) == len(node.args):
            for i in range(len(node.args) - 1):
                args = list(node.args)
                args[i], args[i + 1] = args[i + 1], args[i]
                yield "swap-arguments", node, ast.unparse(ast.Call(func=node.func, args=args, keywords=node.keywords))
        for index, keyword in enumerate(node.keywords):
            others = node.keywords[:index] + node.keywords[index + 1:]
            if keyword.arg in AXIS_NAMES:
                yield "axis", node, ast.unparse(ast.Call(func=node.func, args=node.args, keywords=others))
            elif keyword.arg == "keepdims":
                if not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    yield "axis", node, ast.unparse(ast.Call(func=node.func, args=node.args, keywords=others))
                if not isinstance(keyword.value, ast.Constant):
                    negated = ast.keyword(arg="keepdims", value=ast.UnaryOp(op=ast.Not(), operand=keyword.value))
                    keywords = node.keywords[:index] + [negated] + node.keywords[index + 1:]
                    yield "axis", node, ast.unparse(ast.Call(func=node.func, args=node.args, keywords=keywords))
        for arg in node.args:
            if isinstance(arg, ast.Name) and arg.id in AXIS_NAMES:
                yield "axis", arg, "None"
        name = dotted_name(node.func)
        copies = name in COPY_CALLS or (isinstance(node.func, ast.Attribute) and node.func.attr == "copy" and not node.args)
        if copies:
            copied = node.args[0] if node.args else node.func.value
            yield "copy", node, expression_text(copied)

    def tuple_items(self, node: ast.Tuple) -> Iterator[tuple[str, ast.AST, str]]:
        parent = self.parents.get(node)
        if isinstance(parent, ast.Call) and dotted_name(parent.func) in ("isinstance", "issubclass"):
            return  # the order of the types in isinstance(x, (A, B)) means nothing
        if isinstance(parent, ast.ExceptHandler) or any(isinstance(e, ast.Starred) for e in node.elts):
            return
        for i in range(len(node.elts) - 1):
            elts = list(node.elts)
            elts[i], elts[i + 1] = elts[i + 1], elts[i]
            yield "swap-arguments", node, expression_text(ast.Tuple(elts=elts, ctx=ast.Load()))

    def statement(self, node: ast.stmt) -> Iterator[tuple[str, ast.AST, str]]:
        if not isinstance(node, ast.Pass):
            yield "drop-statement", node, "pass"
        if isinstance(node, ast.If):
            for value in (True, False):
                yield "condition", node.test, repr(value)
        elif isinstance(node, ast.While):
            yield "condition", node.test, "False"
        elif isinstance(node, ast.Continue):
            yield "flow", node, "break"
            yield "flow", node, "return"
        elif isinstance(node, ast.Break):
            yield "flow", node, "continue"
            if self.in_function(node):
                yield "flow", node, "return"
        elif isinstance(node, ast.Return):
            if node.value is None and self.in_loop(node):
                yield "flow", node, "continue"
                yield "flow", node, "break"
            elif node.value is not None and isinstance(node.value, (ast.BinOp, ast.UnaryOp, ast.Name)):
                yield "sign", node.value, expression_text(ast.UnaryOp(op=ast.USub(), operand=node.value))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.BinOp):
            target = node.targets[0]
            if ARITHMETIC.get(type(node.value.op)) and ast.dump(node.value.left).replace("Load", "Store") == ast.dump(target):
                in_place = ast.AugAssign(target=target, op=node.value.op, value=node.value.right)
                yield "copy", node, ast.unparse(in_place)


def source_mutants(text: str) -> list[Mutant]:
    """Every systematic mutant of the solution regions of `text` (a module source)."""
    return Mutator(text).mutants()


def mistake_id(name: str) -> str:
    return hashlib.sha1(f"mistake|{name}".encode()).hexdigest()[:10]


def text_edits(text: str, wrong: dict[str, str]) -> tuple[tuple[int, int, str], ...]:
    """A catalogued mistake's {right text: wrong text} as edits; each right text must occur once."""
    edits = []
    for right, mistaken in wrong.items():
        start = text.find(right)
        if start < 0 or text.find(right, start + 1) >= 0:
            return ()
        edits.append((start, start + len(right), mistaken))
    return tuple(edits)
