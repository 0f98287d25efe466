"""Plausible student mistakes in 07_autograd: the catalogue that the mutation tests, `tito mutate` and
the feedback's hints share.

Each entry is plain data (this file imports nothing and is never shipped to students: its edits
quote the reference solution):

    name        what the student did, in words
    culprit     the function (or Class.method) whose solution region holds the mistake
    caught_by   the grade_id of the graded cell that must fail
    says        text the failure message must contain ("" if any failure will do)
    wrong       {exact solution text: the mistaken text}; each key occurs exactly once in the source
    match       a regular expression that finds this mistake in the evidence of a failure (the
                probe's finding and the failing tests' messages); "" means `says` is the pattern
    hint        what to tell a student whose failure matches this mistake (shown in Start here)

Only `culprit`, `match`, `says` and `hint` ever reach students (tito.authoring.mistakes.student_hints).
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

# Hints shared by entries that are the same slip, caught by different tests.
MULTIPLY_HINT = "Nudge one factor and the product moves by the *other* factor: a's local gradient uses b, and b's uses a."
SUBTRACT_HINT = "Making b bigger makes a - b smaller: b's local gradient carries a minus sign."
RELU_HINT = "relu is flat where x < 0: no gradient passes there, only where x > 0."
TANH_HINT = "tanh's slope is 1 - tanh(x)**2: the output squared, not the output."

MISTAKES: list[dict] = [
    dict(
        name="Variable starts with a zero gradient instead of None",
        culprit="Variable.__init__",
        caught_by="test-variable",
        says="grad None",
        wrong={"        self.grad = None\n        self.grad_fn = grad_fn\n": "        self.grad = 0.0\n        self.grad_fn = grad_fn\n"},
        match=r"Variable\(5\.0\)\.grad should be None",
        hint="A new Variable has no gradient yet: grad stays None until a backward pass gives it one (a 0.0 would be a gradient, and backward would add to it).",
    ),
    dict(
        name="add passes no gradient to b",
        culprit="add",
        caught_by="test-add",
        says="add: d/db should be 1.0, got 0.0",
        wrong={"return a + b, (lambda g: g, lambda g: g)": "return a + b, (lambda g: g, lambda g: 0 * g)"},
        match=r"d/d[ab] of add ",
        hint="Nudge either input of a sum and the output moves by exactly as much: each input receives g unchanged.",
    ),
    dict(
        name="multiply with the factors swapped",
        culprit="multiply",
        caught_by="test-multiply",
        says="multiply: d/da should be 3.0, got 2.0",
        wrong={"return a * b, (lambda g: g * b, lambda g: g * a)": "return a * b, (lambda g: g * a, lambda g: g * b)"},
        match=r"d/da of multiply at a=2, b=3: should be 3, got 2",
        hint=MULTIPLY_HINT,
    ),
    dict(
        name="subtract with the wrong sign for b",
        culprit="subtract",
        caught_by="test-subtract",
        says="subtract: d/db should be -1, got 1.0",
        wrong={"return a - b, (lambda g: g, lambda g: -g)": "return a - b, (lambda g: g, lambda g: g)"},
        match=r"d/db of subtract at a=5, b=3: should be -1, got 1(?![\d.])",
        hint=SUBTRACT_HINT,
    ),
    dict(
        name="divide with the wrong sign for b",
        culprit="divide",
        caught_by="test-divide-power",
        says="divide(6, 3): d/db should be",
        wrong={"lambda g: -g * a / (b * b)": "lambda g: g * a / (b * b)"},
        match=r"d/db of divide at a=6, b=3: should be -0\.6667, got 0\.6667",
        hint="A bigger denominator makes a / b smaller: for positive a and b the gradient for b is negative.",
    ),
    dict(
        name="divide without the square in d/db",
        culprit="divide",
        caught_by="test-divide-power",
        says="divide(6, 3): d/db should be",
        wrong={"lambda g: -g * a / (b * b)": "lambda g: -g * a / b"},
        match=r"d/db of divide at a=6, b=3: should be -0\.6667, got -2(?![\d.])",
        hint="a / b is a * b**-1: differentiate b**-1 with the power rule, and b ends up squared in the denominator.",
    ),
    dict(
        name="power keeps the exponent in the derivative",
        culprit="power",
        caught_by="test-divide-power",
        says="power(x, 2) at x=3: d/dx should be 6.0",
        wrong={"lambda g: g * p * x ** (p - 1)": "lambda g: g * p * x**p"},
        match=r"d/dx of power at x=3: should be 6, got 18",
        hint="The power rule lowers the exponent by one: the slope of x**p has x**(p - 1) in it.",
    ),
    dict(
        name="recursive topological sort",
        culprit="topological_order",
        caught_by="test-topological-order",
        says="RecursionError",
        wrong={ITERATIVE_TOPOLOGICAL_ORDER: RECURSIVE_TOPOLOGICAL_ORDER},
        match=r"topological_order of a 10,000-node chain raised RecursionError",
        hint="Recursion takes one Python stack frame per node, and Python stops at about a thousand: keep your own stack of (node, inputs_done) pairs in a while loop.",
    ),
    dict(
        name="topological sort without a visited set",
        culprit="topological_order",
        caught_by="test-topological-order",
        says="each listed once",
        wrong={"        if node in visited:\n            continue\n": ""},
        match=r"should list x, y, a, b and c once each",
        hint="A node reachable along two paths must be listed once: remember the nodes you have visited and skip them when they come up again.",
    ),
    dict(
        name="naive recursive backward",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="it passed 4096 times",
        wrong={NAIVE_BACKPROPAGATE: RECURSIVE_BACKPROPAGATE},
        match=r"backpropagate through a 10,000-node chain raised RecursionError",
        hint="Do not recurse down every path: walk the topological order once, backwards, with a dict of the gradients accumulated so far.",
    ),
    dict(
        name="backward walks the order forwards",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="",
        wrong={"    for node in reversed(topological_order(root)):\n": "    for node in topological_order(root):\n"},
        match=r"raised KeyError when probed alone",
        hint="Walk the topological order backwards (reversed): a node may pass its gradient on only after every node that uses it has added its part.",
    ),
    dict(
        name="gradients from several uses overwrite each other",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="y = y + y, 12 times: d/dx should be 4096.0",
        wrong={"                grads[parent] = grads[parent] + pg\n": "                grads[parent] = pg\n"},
        match=r"x\.grad should be 5, got 3",
        hint="A value used twice receives two gradients: add the new one to what grads[parent] already holds instead of replacing it.",
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
        match=r"x\.grad should add up to 10, got 5",
        hint="Leaves accumulate: a second backward adds to .grad (that is why training calls zero_grad before each step).",
    ),
    dict(
        name="unbroadcast only removes leading axes",
        culprit="unbroadcast",
        caught_by="test-unbroadcast",
        says="unbroadcast from (2, 3) to (1, 3)",
        wrong={"    if stretched:\n        grad = grad.sum(axis=stretched, keepdims=True)\n": ""},
        match=r"unbroadcast\(gradient of shape \(2, 3\) holding 1\.\.6, \(1, 3\)\) should have shape",
        hint="Broadcasting also stretches axes of size 1 that the input kept ((1, 3) against (2, 3)): sum over those too, with keepdims=True.",
    ),
    dict(
        name="backward does not unbroadcast",
        culprit="backpropagate",
        caught_by="test-broadcasting",
        says="add (2, 3) + (3,): d/db should have shape (3,)",
        wrong={"                pg = unbroadcast(pg, parent.data.data.shape)\n": "                pass\n"},
        match=r"bias\.grad should be \[2, 2, 2\] of shape \(3,\)",
        hint="A local gradient has the output's shape; an input that was broadcast in the forward pass needs it summed back to its own shape (unbroadcast) before it is stored.",
    ),
    dict(
        name="matmul without the transposes",
        culprit="matmul",
        caught_by="test-matmul",
        says="",
        wrong={"return a @ b, (lambda g: g @ b.T, lambda g: a.T @ g)": "return a @ b, (lambda g: g @ b, lambda g: a @ g)"},
        match=r"matmul raised ValueError when probed alone|raised ValueError when probed alone: matmul",
        hint="Let the shapes guide you: g is (n, m) and a's gradient must be (n, k), like a; the only product of g with b (k, m) of that shape uses b transposed.",
    ),
    dict(
        name="matmul with the gradient for b multiplied on the wrong side",
        culprit="matmul",
        caught_by="test-matmul",
        says="d/db should have shape (3, 2)",
        wrong={"lambda g: a.T @ g)": "lambda g: g.T @ a)"},
        match=r"d/db of matmul .*should have shape \(3, 2\)",
        hint="b's gradient must have b's shape (k, m): which product of a (n, k) and g (n, m), with which transpose, gives (k, m)?",
    ),
    dict(
        name="sum spreads the gradient back without restoring the summed axis",
        culprit="spread_back",
        caught_by="test-reductions",
        says="sum(x, axis=1) with g = [1, 2, 3]",
        wrong={"    if axis is not None and not keepdims:\n        g = np.expand_dims(g, axis)\n": ""},
        match=r"spread_back\(g=\[1, 2, 3\], axis=1, keepdims=False",
        hint="Put the summed axis back (np.expand_dims) before broadcasting g: otherwise NumPy lines g up with the last axis, and on a square input the values land in the wrong places without any error.",
    ),
    dict(
        name="mean forgets to divide the gradient",
        culprit="mean",
        caught_by="test-reductions",
        says="mean(x) of 8 elements",
        wrong={"spread_back(g, axis, keepdims, np.shape(x)) / count,)": "spread_back(g, axis, keepdims, np.shape(x)),)"},
        match=r"d/dx of mean .*should be 0\.1111, got 1(?![\d.])",
        hint="A mean divides by the number of elements averaged, and so does its gradient.",
    ),
    dict(
        name="transpose undoes itself with the same axes",
        culprit="transpose",
        caught_by="test-reshape-transpose",
        says="transpose (2, 3, 4) by axes (1, 2, 0)",
        wrong={"inverse = None if axes is None else tuple(np.argsort(axes))": "inverse = axes"},
        match=r"d/dx of transpose .*should have shape \(2, 3, 4\)",
        hint="To undo a permutation of axes, transpose by its inverse (np.argsort(axes)): a permutation of three axes is generally not its own inverse.",
    ),
    dict(
        name="exp differentiated as x",
        culprit="exp",
        caught_by="test-elementwise",
        says="exp at 1",
        wrong={"return out, (lambda g: g * out,)": "return out, (lambda g: g * x,)"},
        match=r"d/dx of exp at x=1: should be 2\.718, got 1(?![\d.])",
        hint="e**x is its own slope: the local gradient is g times the output, not times x.",
    ),
    dict(
        name="log differentiated as x",
        culprit="log",
        caught_by="test-elementwise",
        says="log at 2",
        wrong={"return np.log(x), (lambda g: g / x,)": "return np.log(x), (lambda g: g * x,)"},
        match=r"d/dx of log at x=2: should be 0\.5, got 2(?![\d.])",
        hint="The slope of ln x is 1 / x: g is divided by x.",
    ),
    dict(
        name="relu passes every gradient",
        culprit="relu",
        caught_by="test-elementwise",
        says="relu at [-1, 2]",
        wrong={"(lambda g: g * (x > 0),)": "(lambda g: g,)"},
        match=r"d/dx of relu at x=\[-1, 2\].*got \[1, 2\]",
        hint=RELU_HINT,
    ),
    dict(
        name="sigmoid derivative without (1 - out)",
        culprit="sigmoid",
        caught_by="test-elementwise",
        says="sigmoid at [0, 2]",
        wrong={"(lambda g: g * out * (1 - out),)": "(lambda g: g * out,)"},
        match=r"d/dx of sigmoid at x=\[0, 2\]",
        hint="sigmoid's slope at x is out * (1 - out): it is largest at 0 (0.25) and vanishes for large |x|.",
    ),
    dict(
        name="sigmoid computed the overflowing way",
        culprit="sigmoid",
        caught_by="test-elementwise",
        says="overflow",
        wrong={"    out = 0.5 * (1 + np.tanh(0.5 * x))\n    return": "    out = 1 / (1 + np.exp(-x))\n    return"},
        match=r"sigmoid at .* overflows",
        hint="np.exp(-x) overflows for large negative x: compute sigmoid as (1 + tanh(x / 2)) / 2, which is exact and never overflows.",
    ),
    dict(
        name="tanh derivative 1 - out",
        culprit="tanh",
        caught_by="test-elementwise",
        says="tanh at 0.5",
        wrong={"(lambda g: g * (1 - out * out),)": "(lambda g: g * (1 - out),)"},
        match=r"d/dx of tanh at x=0\.5: should be 0\.7864, got 0\.5379",
        hint=TANH_HINT,
    ),
    dict(
        name="softmax cross-entropy without the max shift",
        culprit="softmax_cross_entropy",
        caught_by="test-softmax-cross-entropy",
        says="overflow",
        wrong={"    shifted = logits - logits.max(axis=1, keepdims=True)\n    exps": "    shifted = logits\n    exps"},
        match=r"softmax_cross_entropy at .* overflows",
        hint="e**1000 overflows: subtract each row's maximum from its logits before np.exp (it cancels out of the softmax).",
    ),
    dict(
        name="softmax cross-entropy gradient not averaged over the batch",
        culprit="softmax_cross_entropy",
        caught_by="test-softmax-cross-entropy",
        says="softmax_cross_entropy (mean over a batch of 2): d/dlogits",
        wrong={"return probs * (g / n)": "return probs * g"},
        match=r"d/dlogits of softmax_cross_entropy .*got \[\[0\.09003",
        hint="The loss is a mean over the n rows of the batch, so its gradient is divided by n too.",
    ),
    dict(
        name="softmax cross-entropy gradient without the one-hot",
        culprit="softmax_cross_entropy",
        caught_by="test-softmax-cross-entropy",
        says="softmax_cross_entropy (mean over a batch of 2): d/dlogits",
        wrong={"        probs[rows, t] -= 1\n": ""},
        match=r"d/dlogits of softmax_cross_entropy .*got \[\[0\.04502, 0\.1224, 0\.3326\]",
        hint="The gradient is the softmax minus the one-hot target: subtract 1 at each row's true class.",
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
        match=r"d/db of subtract at a=5, b=3: should be -1, got 1(?![\d.])",
        hint=SUBTRACT_HINT,
    ),
    dict(
        name="multiply with the factors swapped, in training",
        culprit="multiply",
        caught_by="test-scalar-training",
        says="training y = 2x + 1",
        wrong={"return a * b, (lambda g: g * b, lambda g: g * a)": "return a * b, (lambda g: g * a, lambda g: g * b)"},
        match=r"d/da of multiply at a=2, b=3: should be 3, got 2",
        hint=MULTIPLY_HINT,
    ),
    dict(
        name="tanh derivative 1 - out, found by gradcheck",
        culprit="tanh",
        caught_by="test-gradcheck",
        says="gradcheck of subtract(multiply(tanh(matmul(x0, x1))), exp(mean(x0))): input 0, index (0, 0): expected -1.87833 (central difference), got -2.24147 (backward); smallest failing input (found by hypothesis): x0 = [[1.]] (shape (1, 1)), x1 = [[1.]] (shape (1, 1))",
        wrong={"(lambda g: g * (1 - out * out),)": "(lambda g: g * (1 - out),)"},
        match=r"d/dx of tanh at x=0\.5: should be 0\.7864, got 0\.5379",
        hint=TANH_HINT,
    ),
    dict(
        name="Variable ignores requires_grad=False",
        culprit="Variable.__init__",
        caught_by="test-no-grad",
        says="inside no_grad, results should not require grad",
        wrong={"        self.requires_grad = requires_grad\n": "        self.requires_grad = True\n"},
        match=r"requires_grad=False\)\.requires_grad should be False",
        hint="Keep the requires_grad you are given: constants and results computed in no_grad() must not ask for a gradient.",
    ),
    dict(
        name="relu passes every gradient, in training",
        culprit="relu",
        caught_by="test-train-network",
        says="",
        wrong={"(lambda g: g * (x > 0),)": "(lambda g: g,)"},
        match=r"d/dx of relu at x=\[-1, 2\].*got \[1, 2\]",
        hint=RELU_HINT,
    ),
    dict(
        name="leaves share one gradient array",
        culprit="backpropagate",
        caught_by="test-backpropagate",
        says="two leaves share one gradient array",
        wrong={"                node.grad = Variable(np.array(g), requires_grad=False)\n": "                node.grad = Variable(g, requires_grad=False)\n"},
        match=r"hold one and the same array",
        hint="Store a copy as a leaf's first gradient (np.array(g)): a local gradient may hand the same array to two inputs, and a later += on one would change the other.",
    ),
]

