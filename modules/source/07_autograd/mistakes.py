"""Plausible student mistakes in 07_autograd: the catalogue that the mutation tests, `tito mutate` and
the feedback's hints share.

Each entry is plain data (this file imports nothing and is never shipped to students: its edits
quote the reference solution):

    name        what the student did, in words
    culprit     the function (or Class.method) whose solution region holds the mistake
    caught_by   the grade_id of the graded cell that must fail
    says        text the failure message must contain ("" if any failure will do)
    wrong       {exact solution text: the mistaken text}; each key occurs exactly once in the source
    hint        optional: what to tell a student whose failure matches this mistake
"""

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

MISTAKES: list[dict] = [
    dict(
        name="Variable starts with a zero gradient instead of None",
        culprit="Variable.__init__",
        caught_by="test-variable",
        says="grad None",
        wrong={"        self.grad = None\n        self.grad_fn = grad_fn\n": "        self.grad = 0.0\n        self.grad_fn = grad_fn\n"},
    ),
    dict(
        name="add passes no gradient to b",
        culprit="add",
        caught_by="test-add",
        says="add: d/db should be 1.0, got 0.0",
        wrong={"return a + b, (lambda g: g, lambda g: g)": "return a + b, (lambda g: g, lambda g: 0 * g)"},
    ),
    dict(
        name="multiply with the factors swapped",
        culprit="multiply",
        caught_by="test-multiply",
        says="multiply: d/da should be 3.0, got 2.0",
        wrong={"return a * b, (lambda g: g * b, lambda g: g * a)": "return a * b, (lambda g: g * a, lambda g: g * b)"},
    ),
    dict(
        name="subtract with the wrong sign for b",
        culprit="subtract",
        caught_by="test-subtract",
        says="subtract: d/db should be -1, got 1.0",
        wrong={"return a - b, (lambda g: g, lambda g: -g)": "return a - b, (lambda g: g, lambda g: g)"},
    ),
    dict(
        name="divide with the wrong sign for b",
        culprit="divide",
        caught_by="test-divide-power",
        says="divide(6, 3): d/db should be",
        wrong={"lambda g: -g * a / (b * b)": "lambda g: g * a / (b * b)"},
    ),
    dict(
        name="divide without the square in d/db",
        culprit="divide",
        caught_by="test-divide-power",
        says="divide(6, 3): d/db should be",
        wrong={"lambda g: -g * a / (b * b)": "lambda g: -g * a / b"},
    ),
    dict(
        name="power keeps the exponent in the derivative",
        culprit="power",
        caught_by="test-divide-power",
        says="power(x, 2) at x=3: d/dx should be 6.0",
        wrong={"lambda g: g * p * x ** (p - 1)": "lambda g: g * p * x**p"},
    ),
    dict(
        name="recursive topological sort",
        culprit="topological_order",
        caught_by="test-topological-order",
        says="RecursionError",
        wrong={ITERATIVE_TOPOLOGICAL_ORDER: RECURSIVE_TOPOLOGICAL_ORDER},
    ),
    dict(
        name="topological sort without a visited set",
        culprit="topological_order",
        caught_by="test-topological-order",
        says="each listed once",
        wrong={"        if node in visited:\n            continue\n": ""},
    ),
    dict(
        name="naive recursive backward",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="it passed 4096 times",
        wrong={NAIVE_BACKPROPAGATE: RECURSIVE_BACKPROPAGATE},
    ),
    dict(
        name="backward walks the order forwards",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="",
        wrong={"    for node in reversed(topological_order(root)):\n": "    for node in topological_order(root):\n"},
    ),
    dict(
        name="gradients from several uses overwrite each other",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="y = y + y, 12 times: d/dx should be 4096.0",
        wrong={"                grads[parent] = grads[parent] + pg\n": "                grads[parent] = pg\n"},
    ),
    dict(
        name="leaves overwrite their gradient instead of accumulating",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="leaf gradients accumulate): d/dw should be 7.0, got 4.0",
        wrong={
            "                node.grad = Variable(node.grad.data.data + g, requires_grad=False)\n": (
                "                node.grad = Variable(np.array(g), requires_grad=False)\n"
            )
        },
    ),
    dict(
        name="unbroadcast only removes leading axes",
        culprit="unbroadcast",
        caught_by="test-unbroadcast",
        says="unbroadcast from (2, 3) to (1, 3)",
        wrong={"    if stretched:\n        grad = grad.sum(axis=stretched, keepdims=True)\n": ""},
    ),
    dict(
        name="backward does not unbroadcast",
        culprit="backpropagate",
        caught_by="test-broadcasting",
        says="add (2, 3) + (3,): d/db should have shape (3,)",
        wrong={"                pg = unbroadcast(pg, parent.data.data.shape)\n": "                pass\n"},
    ),
    dict(
        name="matmul without the transposes",
        culprit="matmul",
        caught_by="test-matmul",
        says="",
        wrong={"return a @ b, (lambda g: g @ b.T, lambda g: a.T @ g)": "return a @ b, (lambda g: g @ b, lambda g: a @ g)"},
    ),
    dict(
        name="matmul with the gradient for b multiplied on the wrong side",
        culprit="matmul",
        caught_by="test-matmul",
        says="d/db should have shape (3, 2)",
        wrong={"lambda g: a.T @ g)": "lambda g: g.T @ a)"},
    ),
    dict(
        name="sum spreads the gradient back without restoring the summed axis",
        culprit="spread_back",
        caught_by="test-reductions",
        says="sum(x, axis=1) with g = [1, 2, 3]",
        wrong={"    if axis is not None and not keepdims:\n        g = np.expand_dims(g, axis)\n": ""},
    ),
    dict(
        name="mean forgets to divide the gradient",
        culprit="mean",
        caught_by="test-reductions",
        says="mean(x) of 8 elements",
        wrong={"spread_back(g, axis, keepdims, np.shape(x)) / count,)": "spread_back(g, axis, keepdims, np.shape(x)),)"},
    ),
    dict(
        name="transpose undoes itself with the same axes",
        culprit="transpose",
        caught_by="test-reshape-transpose",
        says="transpose (2, 3, 4) by axes (1, 2, 0)",
        wrong={"inverse = None if axes is None else tuple(np.argsort(axes))": "inverse = axes"},
    ),
    dict(
        name="exp differentiated as x",
        culprit="exp",
        caught_by="test-elementwise",
        says="exp at 1",
        wrong={"return out, (lambda g: g * out,)": "return out, (lambda g: g * x,)"},
    ),
    dict(
        name="log differentiated as x",
        culprit="log",
        caught_by="test-elementwise",
        says="log at 2",
        wrong={"return np.log(x), (lambda g: g / x,)": "return np.log(x), (lambda g: g * x,)"},
    ),
    dict(
        name="relu passes every gradient",
        culprit="relu",
        caught_by="test-elementwise",
        says="relu at [-1, 2]",
        wrong={"(lambda g: g * (x > 0),)": "(lambda g: g,)"},
    ),
    dict(
        name="sigmoid derivative without (1 - out)",
        culprit="sigmoid",
        caught_by="test-elementwise",
        says="sigmoid at [0, 2]",
        wrong={"(lambda g: g * out * (1 - out),)": "(lambda g: g * out,)"},
    ),
    dict(
        name="sigmoid computed the overflowing way",
        culprit="sigmoid",
        caught_by="test-elementwise",
        says="overflow",
        wrong={"    out = 0.5 * (1 + np.tanh(0.5 * x))\n    return": "    out = 1 / (1 + np.exp(-x))\n    return"},
    ),
    dict(
        name="tanh derivative 1 - out",
        culprit="tanh",
        caught_by="test-elementwise",
        says="tanh at 0.5",
        wrong={"(lambda g: g * (1 - out * out),)": "(lambda g: g * (1 - out),)"},
    ),
    dict(
        name="softmax cross-entropy without the max shift",
        culprit="softmax_cross_entropy",
        caught_by="test-softmax-cross-entropy",
        says="overflow",
        wrong={"    shifted = logits - logits.max(axis=1, keepdims=True)\n    exps": "    shifted = logits\n    exps"},
    ),
    dict(
        name="softmax cross-entropy gradient not averaged over the batch",
        culprit="softmax_cross_entropy",
        caught_by="test-softmax-cross-entropy",
        says="softmax_cross_entropy (mean over a batch of 2): d/dlogits",
        wrong={"return probs * (g / n)": "return probs * g"},
    ),
    dict(
        name="softmax cross-entropy gradient without the one-hot",
        culprit="softmax_cross_entropy",
        caught_by="test-softmax-cross-entropy",
        says="softmax_cross_entropy (mean over a batch of 2): d/dlogits",
        wrong={"        probs[rows, t] -= 1\n": ""},
    ),
]


# The cells that use what the student built, rather than test one function, catch mistakes too.
MISTAKES += [
    dict(
        name="subtract with the wrong sign, in a bigger expression",
        culprit="subtract",
        caught_by="test-chain-rule",
        says="(x + y) * (x - y): d/dy should be -4.0",
        wrong={"return a - b, (lambda g: g, lambda g: -g)": "return a - b, (lambda g: g, lambda g: g)"},
    ),
    dict(
        name="multiply with the factors swapped, in training",
        culprit="multiply",
        caught_by="test-scalar-training",
        says="training y = 2x + 1",
        wrong={"return a * b, (lambda g: g * b, lambda g: g * a)": "return a * b, (lambda g: g * a, lambda g: g * b)"},
    ),
    dict(
        name="tanh derivative 1 - out, found by gradcheck",
        culprit="tanh",
        caught_by="test-gradcheck",
        says="gradcheck of the function: input 0, index (0, 0): expected",
        wrong={"(lambda g: g * (1 - out * out),)": "(lambda g: g * (1 - out),)"},
    ),
    dict(
        name="Variable ignores requires_grad=False",
        culprit="Variable.__init__",
        caught_by="test-no-grad",
        says="inside no_grad, results should not require grad",
        wrong={"        self.requires_grad = requires_grad\n": "        self.requires_grad = True\n"},
    ),
    dict(
        name="relu passes every gradient, in training",
        culprit="relu",
        caught_by="test-train-network",
        says="",
        wrong={"(lambda g: g * (x > 0),)": "(lambda g: g,)"},
    ),
    dict(
        name="leaves share one gradient array",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="two leaves share one gradient array",
        wrong={"                node.grad = Variable(np.array(g), requires_grad=False)\n": "                node.grad = Variable(g, requires_grad=False)\n"},
    ),
]

