# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
"""
# Module 07: Autograd - an automatic differentiation engine

Training a network means knowing, for every parameter, how the loss changes when that
parameter moves a little: the gradient. A network has thousands of parameters and is built
from hundreds of small operations, so nobody derives its gradient by hand. An autograd engine
does it for us: while the forward pass computes values, it records how each value was made;
`backward()` then walks that record from the loss back to the parameters, applying the chain
rule once per operation.

In this module you build that engine, the same design PyTorch uses:

1. **Part 1, scalars.** `Variable`, the value that remembers where it came from; the
   operations `add`, `multiply`, `subtract`, `divide`, `power`, each with its local gradient;
   the chain rule; a first training loop.
2. **Part 2, the engine.** The obvious recursive `backward` is correct but can take 2^k steps
   on a graph of k operations. You will measure that, then replace it with a backward that
   visits each node exactly once, in reverse topological order.
3. **Part 3, tensors.** Broadcasting and how to undo it in the backward pass; `matmul`,
   reductions, reshapes, activations and a numerically stable softmax cross-entropy.
4. **Part 4, using it.** `gradcheck` (comparing your gradients with finite differences),
   `no_grad`, and training a small neural network with nothing but your engine.

Everything marked `#| export` becomes `tinytorch/core/autograd.py`.
"""

# %% nbgrader={"grade": false, "grade_id": "autograd-imports", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.autograd
#| export
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from tinytorch.core.tensor import Tensor

# %% [markdown]
"""
## Part 1: Variables and the first operations

### The Variable

A `Variable` wraps a `Tensor` (its value, in `.data`) and carries what the backward pass needs:

| attribute | meaning |
| --- | --- |
| `data` | the value, a `Tensor`; `data.data` is the NumPy array |
| `requires_grad` | should backward compute a gradient for this value? |
| `grad` | after `backward()`: a `Variable` holding d(output)/d(this), same shape as `data` |
| `grad_fn` | how this value was made (which operation, from which inputs); `None` for a value you created yourself |
| `is_leaf` | `grad_fn is None`: a value you created, not one computed by an operation |

Leaves are where gradients end up: parameters and inputs. Values computed by operations are
intermediate; the engine passes gradients through them but does not keep them.

Two details matter later:

- Variables are used as dictionary keys by the engine, so `Variable` must **not** define
  `__eq__` (Python would then refuse to hash it). Two Variables are the same node only if they
  are the same object.
- `__array_ufunc__ = None` tells NumPy to step aside in `array + variable`, so that Python asks
  `Variable.__radd__` instead of letting NumPy try (and fail) to add element by element.
"""

# %% nbgrader={"grade": false, "grade_id": "variable-class", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
REAL_KINDS = "biuf"  # NumPy dtype kinds a Variable may hold: bool, signed int, unsigned int, float (no complex)


class Variable:
    """A value in a computation graph: a Tensor plus what backward needs to know about it."""

    # A graph holds one Variable per operation: fixed attributes (no per-object __dict__) make
    # each one smaller and quicker to create, and give the garbage collector less to scan.
    __slots__ = ("data", "requires_grad", "grad", "grad_fn")
    # NumPy defers to our reflected operators (`array + v` calls `v.__radd__`).
    __array_ufunc__ = None
    # No __eq__ on purpose: the engine keeps Variables in dicts and sets, by identity.

    def __init__(self, data, requires_grad: bool = True, grad_fn: GradFn | None = None) -> None:
        """Wrap `data` (a Tensor, NumPy array, Python number or list) as a graph node.

        TODO: set the four attributes.
        - `self.data`: a `Tensor`. A `Tensor` is kept as it is (the same object, no copy); a
          `Variable` gives its `.data`; anything else becomes `Tensor(data)` (numbers and lists
          become float32, NumPy arrays keep their dtype).
        - Non-numeric data (strings, None, dicts, lists of those) raises `TypeError`, with a
          message that names what it got. Numeric means a dtype kind in REAL_KINDS.
        - `self.requires_grad` and `self.grad_fn` as given; `self.grad` is None (no gradient yet).

        EXAMPLE:
            >>> Variable(5.0).data.data.dtype       # float32
            >>> Variable(np.zeros(3)).data.data.dtype  # float64: arrays keep their dtype
            >>> Variable("five")                    # TypeError
        """
        ### BEGIN SOLUTION
        if isinstance(data, Variable):
            data = data.data
        if not isinstance(data, Tensor):
            if not isinstance(data, (np.ndarray, int, float)) and np.asarray(data).dtype.kind not in REAL_KINDS:
                raise TypeError(f"Variable needs numbers, got {type(data).__name__}: {data!r}")
            data = Tensor(data)
        if data.data.dtype.kind not in REAL_KINDS:
            raise TypeError(f"Variable needs numbers, got an array of dtype {data.data.dtype}")
        self.data = data
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
        ### END SOLUTION

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.data.shape

    @property
    def size(self) -> int:
        return self.data.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.data.dtype

    def __repr__(self) -> str:
        values = np.array2string(self.data.data, separator=", ", threshold=20)
        made_by = f", grad_fn={self.grad_fn!r}" if self.grad_fn is not None else ""
        return f"Variable({values}, dtype={self.dtype}, requires_grad={self.requires_grad}{made_by})"

    def backward(self, gradient=None) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, adding it to `leaf.grad`.

        `gradient` is d(final output)/d(self); None means ones (self is the final output).
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this Variable does not require grad (made from constants or in no_grad())")
        values = self.data.data
        if gradient is None:
            gradient = np.ones_like(values)
        elif isinstance(gradient, Variable):
            gradient = gradient.data.data
        elif isinstance(gradient, Tensor):
            gradient = gradient.data
        elif not isinstance(gradient, np.ndarray):
            gradient = np.asarray(gradient, dtype=values.dtype)
        if gradient.shape != values.shape:
            raise ValueError(f"backward: gradient has shape {gradient.shape}, but the Variable has shape {values.shape}")
        backpropagate(self, gradient)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (the next backward starts from nothing)."""
        self.grad = None

    def detach(self) -> Variable:
        """The same value (shared data) as a new leaf that requires no grad."""
        return Variable(self.data, requires_grad=False)

    # Operators: each one line, defined by the operations below.
    def __add__(self, other) -> Variable:
        return add(self, other)

    def __radd__(self, other) -> Variable:
        return add(other, self)

    def __sub__(self, other) -> Variable:
        return subtract(self, other)

    def __rsub__(self, other) -> Variable:
        return subtract(other, self)

    def __mul__(self, other) -> Variable:
        return multiply(self, other)

    def __rmul__(self, other) -> Variable:
        return multiply(other, self)

    def __truediv__(self, other) -> Variable:
        return divide(self, other)

    def __rtruediv__(self, other) -> Variable:
        return divide(other, self)

    def __pow__(self, exponent) -> Variable:
        return power(self, exponent)

    def __matmul__(self, other) -> Variable:
        return matmul(self, other)

    def __rmatmul__(self, other) -> Variable:
        return matmul(other, self)

    def __neg__(self) -> Variable:
        return multiply(self, -1)


# %% [markdown]
"""
<details><summary>Hint</summary>

**Variable, step 1: the idea.** Check the kind of data *before* converting it: `Tensor("1.5")` might succeed and turn the
string into a number. NumPy says what kind of thing an array holds in `array.dtype.kind`.

<details><summary>Step 2: the formula</summary>

`np.asarray(data).dtype.kind` is `"U"` for strings and `"O"` for None, dicts and mixed lists;
only kinds in `REAL_KINDS` are numbers. For a `Tensor`, `data.data.dtype.kind` says the same.

</details>
</details>
"""

# %% [markdown]
"""
The test cells below use two small helpers, so that a failing test tells you exactly which
derivative is wrong, e.g. `subtract: d/db should be -1, got 1.0`.
"""

# %% nbgrader={"grade": false, "grade_id": "test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
def grad_of(v: Variable):
    """v's gradient as a NumPy array, or None if backward left it without one."""
    return None if v.grad is None else v.grad.data.data


def expect_grad(op: str, wrt: str, v: Variable, expected) -> None:
    """Assert that v.grad equals `expected` (shape and values); the message names op and input."""
    got = grad_of(v)
    assert got is not None, f"{op}: d/d{wrt} should be {expected}, got no gradient (grad is None)"
    assert np.shape(got) == np.shape(expected), (
        f"{op}: d/d{wrt} should have shape {np.shape(expected)}, got shape {np.shape(got)}: {got}"
    )
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-6), f"{op}: d/d{wrt} should be {expected}, got {got}"


# %% nbgrader={"grade": true, "grade_id": "test-variable", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_variable():
    x = Variable(5.0)
    assert isinstance(x.data, Tensor), f"Variable(5.0).data should be a Tensor, got {type(x.data).__name__}"
    assert x.data.data.item() == 5.0, f"Variable(5.0) should hold 5.0, got {x.data.data}"
    assert x.data.data.dtype == np.float32, f"Variable(5.0) should be float32, got {x.data.data.dtype}"
    assert x.requires_grad is True and x.grad is None and x.grad_fn is None and x.is_leaf, (
        "a new Variable requires grad, has grad None, grad_fn None and is a leaf"
    )
    assert x.shape == () and x.size == 1, f"a scalar has shape () and size 1, got {x.shape} and {x.size}"
    y = Variable([1, 2, 3])
    assert y.shape == (3,) and y.size == 3, f"Variable([1, 2, 3]) should have shape (3,), got {y.shape}"
    z = Variable(np.zeros((2, 2)), requires_grad=False)
    assert z.data.data.dtype == np.float64, f"a float64 array should stay float64, got {z.data.data.dtype}"
    assert z.requires_grad is False, "Variable(..., requires_grad=False) should not require grad"
    t = Tensor(np.ones(2))
    assert Variable(t).data is t, "Variable(tensor) should keep that very Tensor (no copy)"
    for bad in ("five", None, ["a", "b"], np.array([1 + 2j])):
        try:
            Variable(bad)
        except TypeError:
            pass
        else:
            raise AssertionError(f"Variable({bad!r}) should raise TypeError")
    x.grad = Variable(1.0)
    x.zero_grad()
    assert x.grad is None, "zero_grad() should reset grad to None"
    d = x.detach()
    assert d.data is x.data and d.requires_grad is False, "detach() shares data and requires no grad"
    assert "requires_grad=True" in repr(x), f"repr should show requires_grad, got {x!r}"
    ### BEGIN HIDDEN TESTS
    assert Variable(Variable(2.0)).data.data.item() == 2.0
    assert Variable(np.arange(3)).data.data.dtype.kind == "i"
    try:
        Variable(Tensor(np.array([1j])))
    except TypeError:
        pass
    else:
        raise AssertionError("Variable(a Tensor of complex numbers) should raise TypeError: a Variable holds real numbers")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_variable()

# %% [markdown]
"""
### How an operation is recorded

Every operation has two halves that belong together:

- the **forward** computation, on plain NumPy arrays: `out = a * b`;
- the **local gradient** for each input: given `g`, the gradient of the final output with
  respect to `out`, return the gradient with respect to that input. This is the chain rule:
  for `out = sin(x)`, `dL/dx = dL/dout * dout/dx = g * cos(x)`.

So every operation in this module is written the same way: a function of NumPy arrays that
returns the output and one small function per input (`sin` is not one of yours; it only shows
the shape of the code):

```python
@operation(inputs=1)
def sin(x):
    return np.sin(x), (lambda g: g * np.cos(x),)   # one input: a tuple of one local gradient
```

An operation with two inputs returns two local gradients, `(grad_a, grad_b)`: the first for `a`,
the second for `b`.

The decorator `operation` is the part of the engine that every operation shares; it is written
once, here:

1. it takes `Variable`s (or numbers, or NumPy arrays: those are constants) and hands the
   forward function plain NumPy values;
2. it wraps the output in a new `Variable`;
3. if recording is on and some input requires grad, the output requires grad too, and its
   `grad_fn` remembers the edges `(input, local_grad)`, only for inputs that need a gradient
   (constants and `requires_grad=False` inputs cost nothing in the backward pass);
4. a shape error from NumPy is re-raised as a `ValueError` naming the operation and the shapes.

Python numbers are passed on as Python numbers, not converted to arrays: NumPy then keeps a
float32 array float32 in `x * 0.5` (a float64 array of 0.5 would upcast it).

`no_grad()` switches recording off: inside it, operations compute values only.

This code runs once per operation, so it is written to do little: a graph of 100,000 operations
should cost about 100,000 times one operation, and one small operation should cost no more than in
PyTorch (the tinytorch project's engine benchmark measures both side by side). The choices that matter:

- **Skip what is not needed.** Edges go only to inputs that require grad, so the backward pass
  never calls the local gradient of a constant (in `x @ w`, with `x` the data, `g @ w.T` is
  never computed).
- **Few, small objects per operation.** A recorded result is one `Variable` (with `__slots__`:
  fixed attributes, no per-object dictionary), its `Tensor`, a `GradFn` and a tuple of edges,
  plus the local-gradient closures. The engine builds results directly, without repeating the
  checks that `Variable()` and `Tensor()` do for data coming from users.
- **No conversions.** Arrays are never copied or converted to another dtype on the way in or out;
  Python numbers stay numbers.
- **No reference cycles.** The closures hold NumPy arrays, never Variables, so a graph is freed
  by reference counting the moment the last Variable of it is dropped (no wait for Python's
  garbage collector), and training memory stays flat from step to step.
"""

# %% nbgrader={"grade": false, "grade_id": "engine-recording", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| export
_grad_enabled = True  # False inside `with no_grad():`


class no_grad:
    """Context manager: operations inside it record nothing and their results need no grad."""

    def __enter__(self) -> no_grad:
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False
        return self

    def __exit__(self, *exc_info) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


class GradFn:
    """How a Variable was made: the operation's name and its edges `(input, local_grad)`."""

    __slots__ = ("name", "edges")

    def __init__(self, name: str, edges: tuple[tuple[Variable, Callable], ...]) -> None:
        self.name = name
        self.edges = edges

    def __repr__(self) -> str:
        return f"<{self.name}>"


def as_operand(value, op_name: str):
    """The NumPy value an operation computes with. Python numbers stay numbers (no upcast)."""
    if isinstance(value, Variable):
        return value.data.data
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in REAL_KINDS:
        return value
    raise TypeError(
        f"{op_name}: expected a Variable, a number or a numeric NumPy array, got {type(value).__name__}: {value!r}"
    )


def record(name: str, out, inputs: Sequence, local_grads: Sequence[Callable]) -> Variable:
    """Wrap `out` as a Variable; if it needs a gradient, remember its edges to its inputs."""
    if type(out) is not np.ndarray:
        out = np.asarray(out)  # NumPy returns scalars, not 0-d arrays, for 0-d results
    if _grad_enabled:
        # Edges only to the inputs that need a gradient: constants cost nothing in backward.
        # Written out for one input and a second one (`inputs` may go on with options).
        a = inputs[0]
        edges = ((a, local_grads[0]),) if isinstance(a, Variable) and a.requires_grad else ()
        if len(local_grads) == 2:
            b = inputs[1]
            if isinstance(b, Variable) and b.requires_grad:
                edges += ((b, local_grads[1]),)
        if edges:
            # The common case, once per operation: fill in the fields directly instead of going
            # through the checks of Tensor() and Variable(). NumPy arithmetic on numeric arrays
            # gives a numeric array, so there is nothing to check.
            data = Tensor.__new__(Tensor)
            data.data = out
            result = Variable.__new__(Variable)
            result.data, result.requires_grad, result.grad, result.grad_fn = data, True, None, GradFn(name, edges)
            return result
    return Variable(Tensor(out), requires_grad=False)


def operation(inputs: int) -> Callable:
    """Decorator: turn `forward(*arrays, *options) -> (out, local_grads)` into an operation on Variables.

    The first `inputs` arguments are the differentiable inputs (Variables or constants); the
    forward function receives their NumPy values and returns the output and one local-gradient
    function per input. Further arguments (an axis, a shape, an exponent) are passed unchanged.
    """

    if inputs not in (1, 2):
        raise ValueError(f"operation: inputs must be 1 (unary) or 2 (binary), got {inputs}")

    def decorate(forward: Callable) -> Callable:
        name = forward.__name__

        @functools.wraps(forward)
        def op(*args, **options) -> Variable:
            # Runs once per operation, so it is written out for its two cases, unary and binary,
            # takes a Variable's array without a call, and calls `forward` plainly when there are
            # no options (the common cases).
            a = args[0].data.data if type(args[0]) is Variable else as_operand(args[0], name)
            try:
                if inputs == 1:
                    out, local_grads = forward(a) if len(args) == 1 and not options else forward(a, *args[1:], **options)
                else:
                    b = args[1].data.data if type(args[1]) is Variable else as_operand(args[1], name)
                    out, local_grads = forward(a, b) if len(args) == 2 and not options else forward(a, b, *args[2:], **options)
            except ValueError as error:
                shapes = " and ".join(str(np.shape(as_operand(v, name))) for v in args[:inputs])
                raise ValueError(f"{name} (input shapes {shapes}): {error}") from None
            if not isinstance(local_grads, (tuple, list)) or len(local_grads) != inputs:
                raise TypeError(f"{name} must return (out, a tuple of {inputs} local gradient function(s)), got {local_grads!r}")
            return record(name, out, args, local_grads)

        return op

    return decorate


# %% [markdown]
"""
### Backward, first attempt

With the edges recorded, backward is one sentence: *give each input its local gradient of the
gradient you received, and let it do the same.* Leaves (no `grad_fn`) add what arrives to their
`.grad`: a leaf used twice receives two contributions, and its gradient is their sum.

This recursive version is correct and easy to read. It is also a trap, which Part 2 is about;
we use it until then. (`Variable.backward` above calls `backpropagate`; Part 2 replaces this
function with one that scales.)
"""

# %% nbgrader={"grade": false, "grade_id": "naive-backpropagate", "locked": false, "schema_version": 3, "solution": false, "task": false}
def backpropagate(node: Variable, gradient: np.ndarray) -> None:
    """First attempt: push the gradient down every path, depth first (replaced in Part 2)."""
    if node.grad_fn is None:
        if node.grad is None:
            node.grad = Variable(np.array(gradient), requires_grad=False)
        else:
            node.grad = Variable(node.grad.data.data + gradient, requires_grad=False)
        return
    for parent, local_grad in node.grad_fn.edges:
        backpropagate(parent, local_grad(gradient))


# %% [markdown]
"""
### A referee: gradcheck

How do you know a gradient is right? Compare it with the definition of the derivative. For a
small `eps`, the central difference

    (f(x + eps) - f(x - eps)) / (2 * eps)

approximates df/dx with an error of order eps^2. `gradcheck(fn, inputs)` does this for every
element of every input that requires grad, and compares with what your backward computes. It
works on float64 copies of the inputs (eps = 1e-6 is far below float32's resolution), and for
an output of more than one element it checks `sum(w * output)` for a fixed random `w` (the same
for the two sides), so that a gradient routed to the wrong element is caught too.

It returns `True`, or raises an `AssertionError` that names the operation, the input and the
index where the two disagree (a `lambda` is named by the operations it ran, e.g.
`multiply(reshape(x0))`, where `x0` is input 0). The hidden tests use it on every operation you
write; use it yourself whenever you write a new one.
"""

# %% nbgrader={"grade": false, "grade_id": "gradcheck", "locked": true, "schema_version": 3, "solution": false, "task": false}
#| export
def describe_expression(out: Variable, inputs: Sequence[Variable], limit: int = 12) -> str:
    """The operations that made `out`, as a call: `multiply(reshape(x0), x1)` (x0, x1: the inputs).

    Only inputs that require grad are recorded, so constants do not appear; after `limit`
    operations the rest is `...`."""
    names = {id(v): f"x{number}" for number, v in enumerate(inputs)}
    budget = [limit]

    def describe(v: Variable) -> str:
        if id(v) in names:
            return names[id(v)]
        if v.grad_fn is None:
            return "c"
        budget[0] -= 1
        if budget[0] < 0:
            return "..."
        return f"{v.grad_fn.name}({', '.join(describe(parent) for parent, _ in v.grad_fn.edges)})"

    return describe(out)


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check backward against central differences; True, or AssertionError naming the operation, input and index."""
    trial = [
        Variable(np.array(as_operand(v, "gradcheck"), dtype=np.float64), requires_grad=getattr(v, "requires_grad", True))
        for v in inputs
    ]
    out = fn(*trial)
    # A one-element output is checked as is; otherwise sum(w * out) for fixed random weights w.
    weights = np.ones(out.shape) if out.size == 1 else np.random.default_rng(0).uniform(0.5, 1.5, size=out.shape)
    out.backward(weights)

    def weighted_output() -> float:
        with no_grad():
            return float(np.sum(weights * fn(*trial).data.data))

    for number, variable in enumerate(trial):
        if not variable.requires_grad:
            continue
        values = variable.data.data
        analytic = np.zeros_like(values) if variable.grad is None else variable.grad.data.data
        if analytic.shape != values.shape:
            raise AssertionError(
                f"gradcheck: input {number} has shape {values.shape}, but its gradient has shape {analytic.shape}"
            )
        for index in np.ndindex(values.shape):
            original = values[index]
            values[index] = original + eps
            above = weighted_output()
            values[index] = original - eps
            below = weighted_output()
            values[index] = original
            numeric = (above - below) / (2 * eps)
            if not abs(analytic[index] - numeric) <= atol + rtol * abs(numeric):
                name = getattr(fn, "__name__", "<lambda>")
                if name == "<lambda>":  # name it by what it computes
                    name = describe_expression(out, trial)
                raise AssertionError(
                    f"gradcheck of {name}: input {number}, index {index}: "
                    f"expected {numeric:.6g} (central difference), got {analytic[index]:.6g} (backward)"
                )
    return True


# %% [markdown]
"""
The tests use `gradcheck` a little more thoroughly than on the one input they hand it. After that
input they try a few more made from it: smaller shapes, axes of size 1 that broadcast, other
values (the same ones in every run, so a grade never changes). When one fails, the `hypothesis`
library searches for the *smallest* input on which your gradient is wrong, and the message shows
it: a gradient that is wrong for a 1x1 input holding 1.0 is easier to work out by hand than one
wrong at index (2, 1, 3) of a random 2x3x4 array.
"""

# %% nbgrader={"grade": false, "grade_id": "gradcheck-search", "locked": true, "schema_version": 3, "solution": false, "task": false}
NICE_VALUES = (1.0, 2.0, 0.5, 3.0, 1.5, -1.0, -2.0, -0.5, -3.0, -1.5)  # simplest first: what shrinking aims for
SEARCH_VARIANTS = 3  # inputs tried beyond the given ones, per gradcheck: few, so passing stays cheap
SHRINK_BUDGET = 300  # gradchecks hypothesis may spend looking for the smallest failing input


def value_domain(values: np.ndarray) -> tuple[float, ...]:
    """The values an input may take in the search: those of the given input's sign (and, for a
    positive input such as log's, its range), so the search never leaves the function's domain."""
    if values.size and values.min() > 0:
        low, high = values.min(), max(values.max(), 2 * values.min())
        return tuple(v for v in NICE_VALUES if low <= v <= high) or (float(values.min()),)
    if values.size and values.max() < 0:
        return tuple(-v for v in value_domain(-values))
    return NICE_VALUES


def as_trial_inputs(arrays: Sequence[np.ndarray], like: Sequence) -> list[Variable]:
    return [Variable(a, requires_grad=getattr(v, "requires_grad", True)) for a, v in zip(arrays, like, strict=True)]


def describe_inputs(arrays: Sequence[np.ndarray]) -> str:
    shown = []
    for number, a in enumerate(arrays):
        text = np.array2string(a, precision=4, separator=", ", threshold=12, edgeitems=2).replace("\n", "")
        shown.append(f"x{number} = {text}" + (f" (shape {a.shape})" if a.ndim else ""))
    return ", ".join(shown)


def pick_shapes(given: Sequence[np.ndarray], pick: Callable[[int], int]) -> list[tuple[int, ...]]:
    """New shapes for the inputs; `pick(n)` chooses a size in 1..n. Axes are lined up from the
    right, as broadcasting does: where every input has the same size, they shrink together (no
    broadcasting where the test has none); where sizes differ (the test broadcasts), each varies
    alone, so an axis of size 1 may meet any size."""
    ndim = max((values.ndim for values in given), default=0)
    shared = {}
    for position in range(1, ndim + 1):
        sizes = {values.shape[-position] for values in given if values.ndim >= position}
        if len(sizes) == 1:
            shared[position] = pick(sizes.pop())
    return [tuple(shared[p] if p in shared else pick(values.shape[-p]) for p in range(values.ndim, 0, -1))
            for values in given]


def variants(given: Sequence[np.ndarray], rng: np.random.Generator):
    """Endless seeded inputs made from the given ones: smaller shapes, broadcasts, nice values."""
    while True:
        shapes = pick_shapes(given, lambda n: n if rng.random() < 0.5 else int(rng.integers(1, n + 1)))
        yield [rng.choice(value_domain(values), size=shape).astype(np.float64) for values, shape in zip(given, shapes, strict=True)]


def smallest_failing_input(fn: Callable, given: Sequence[np.ndarray], like: Sequence, check: Callable):
    """The smallest inputs (shapes, then values) on which `check` fails, found by hypothesis
    (seeded: the same answer every run); None when hypothesis is not installed or finds none."""
    try:
        from hypothesis import HealthCheck, Phase, find, settings
        from hypothesis import strategies as st
        from hypothesis.errors import NoSuchExample
    except ImportError:
        return None

    @st.composite
    def candidates(draw):
        # A boolean shrinks to False and an integer to its minimum: smaller sizes are tried first.
        shapes = pick_shapes(given, lambda n: n if draw(st.booleans()) else draw(st.integers(1, n)))
        made = []
        for values, shape in zip(given, shapes, strict=True):
            size = int(np.prod(shape, dtype=int))
            picked = draw(st.lists(st.sampled_from(value_domain(values)), min_size=size, max_size=size))
            made.append(np.array(picked, dtype=np.float64).reshape(shape))
        return made

    spent = [0]

    def fails(arrays) -> bool:
        spent[0] += 1
        if spent[0] > SHRINK_BUDGET:  # a deterministic cap: the smallest found so far stands
            return False
        try:
            check(fn, as_trial_inputs(arrays, like))
        except AssertionError:
            return True
        except Exception:  # the function is not defined on this input (shapes that do not fit)
            return False
        return False

    search = settings(database=None, derandomize=True, deadline=None, max_examples=60,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    try:
        return find(candidates(), fails, settings=search)
    except NoSuchExample:
        return None


def searching_gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """gradcheck on the given inputs, then on a few seeded variants of them; on a failure, the
    message reports the smallest failing input hypothesis can find (shapes, broadcasts, values)."""
    referee = searching_gradcheck.referee

    def check(f, trial_inputs):
        return referee(f, trial_inputs, eps=eps, atol=atol, rtol=rtol)

    given = [np.array(as_operand(v, "gradcheck"), dtype=np.float64) for v in inputs]
    failed_on = None
    try:
        check(fn, inputs)
    except AssertionError:
        failed_on = given
    tried = 0
    made = variants(given, np.random.default_rng(0))
    for _ in range(4 * SEARCH_VARIANTS):
        if failed_on is not None or tried == SEARCH_VARIANTS:
            break
        candidate = next(made)
        try:
            check(fn, as_trial_inputs(candidate, inputs))
            tried += 1
        except AssertionError:
            failed_on = candidate
        except Exception:  # the function is not defined on this variant (shapes that do not fit): another one
            continue
    if failed_on is None:
        return True
    smallest = smallest_failing_input(fn, given, inputs, check)
    shown = failed_on if smallest is None else smallest
    try:
        check(fn, as_trial_inputs(shown, inputs))
    except AssertionError as error:
        found = "smallest failing input (found by hypothesis)" if smallest is not None else "failing input"
        raise AssertionError(f"{error}; {found}: {describe_inputs(shown)}") from None
    raise AssertionError(f"gradcheck failed on {describe_inputs(shown)}, then passed on it: is backward random?")


# The tests' gradcheck is the searching one; the exported gradcheck above checks the inputs it is given.
searching_gradcheck.referee = getattr(gradcheck, "referee", gradcheck)
gradcheck = searching_gradcheck

# %% [markdown]
"""
### Addition

Your job in each operation: the forward value, and the local gradient for each input, as a
function of `g` (the gradient of the final output with respect to `out`). The decorator does the
rest. Deriving the local gradients is the point of this module: try first. Below each cell, a
collapsed **Hint** gives the idea, and inside it a second click gives the formula.
"""

# %% nbgrader={"grade": false, "grade_id": "add", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=2)
def add(a, b):
    """a + b, with gradient. Call it with Variables, numbers or NumPy arrays.

    TODO: return `(out, (grad_a, grad_b))`.
    - `a`, `b` arrive as NumPy arrays (or Python numbers); `out = a + b`.
    - `grad_a(g)` returns dL/da, given g = dL/dout, as an array shaped like g; `grad_b` likewise.
      (If a and b had different, broadcast shapes, the engine sums each back to its input's
      shape in Part 3: return g-shaped gradients.)

    EXAMPLE: add(Variable(2.0), Variable(3.0)) is 5.0.
    """
    ### BEGIN SOLUTION
    return a + b, (lambda g: g, lambda g: g)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**add, step 1: the idea.** Nudge `a` by a small amount `h`: how much does `a + b` move? The local gradient is the
incoming `g` times that rate of change.

<details><summary>Step 2: the formula</summary>

`a + b` moves by exactly `h`: `dout/da = 1` and `dout/db = 1`, so both inputs receive `g`
unchanged: `lambda g: g` is a complete local gradient. At a=2, b=3, backward gives 1 and 1.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-add", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_add():
    x, y = Variable(2.0), Variable(3.0)
    z = add(x, y)
    assert z.data.data.item() == 5.0, f"add(2, 3) should be 5.0, got {z.data.data}"
    assert z.requires_grad and not z.is_leaf, "add of Variables that require grad should require grad, not be a leaf"
    z.backward()
    expect_grad("add", "a", x, 1.0)
    expect_grad("add", "b", y, 1.0)
    a = Variable(5.0)
    b = add(a, 3.0)
    assert b.data.data.item() == 8.0, f"add(5, 3.0) should be 8.0, got {b.data.data}"
    b.backward()
    expect_grad("add with a constant", "a", a, 1.0)
    c = Variable(1.0, requires_grad=False)
    w = Variable(2.0)
    (c + w).backward()
    assert c.grad is None, "add: an input with requires_grad=False should get no gradient"
    r = Variable(4.0)
    s = 1 + r
    assert s.data.data.item() == 5.0, f"1 + Variable(4.0) should be 5.0, got {s.data.data}"
    s.backward()
    expect_grad("1 + x", "x", r, 1.0)
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(7)
    assert gradcheck(add, [Variable(rng.standard_normal(4)), Variable(rng.standard_normal(4))])
    assert gradcheck(lambda u: u + u, [Variable(rng.standard_normal(3))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_add()

# %% [markdown]
"""
### Multiplication

`out = a * b`, elementwise. Its local gradients need the forward values: the closures keep `a`
and `b` for the backward pass.
"""

# %% nbgrader={"grade": false, "grade_id": "multiply", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=2)
def multiply(a, b):
    """a * b (elementwise), with gradient.

    TODO: return `(out, (grad_a, grad_b))` with out = a * b; each local gradient maps g to an
    array shaped like g.

    EXAMPLE: multiply(Variable(2.0), Variable(3.0)) is 6.0.
    """
    ### BEGIN SOLUTION
    return a * b, (lambda g: g * b, lambda g: g * a)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**multiply, step 1: the idea.** Nudge `a` by `h` and keep `b` fixed: `(a + h) * b = a * b + h * b`. How fast does the output
move per unit of `h`, and which input does that rate depend on?

<details><summary>Step 2: the formula</summary>

`dout/da = b` and `dout/db = a`: each input's gradient is `g` times *the other* input,
`dL/da = g * b`, `dL/db = g * a`. At a=2, b=3, backward gives 3 and 2. A classic slip is `g * a`
for a's gradient: d(a*b)/da does not contain a.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-multiply", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_multiply():
    x, y = Variable(2.0), Variable(3.0)
    z = multiply(x, y)
    assert z.data.data.item() == 6.0, f"multiply(2, 3) should be 6.0, got {z.data.data}"
    z.backward()
    expect_grad("multiply", "a", x, 3.0)
    expect_grad("multiply", "b", y, 2.0)
    a = Variable(4.0)
    b = multiply(a, 2.0)
    assert b.data.data.item() == 8.0, f"multiply(4, 2.0) should be 8.0, got {b.data.data}"
    b.backward()
    expect_grad("multiply by a constant 2.0", "a", a, 2.0)
    r = Variable(3.0)
    (2 * r).backward()
    expect_grad("2 * x", "x", r, 2.0)
    s = Variable(3.0)
    (s * s).backward()
    expect_grad("x * x (both inputs the same Variable)", "x", s, 6.0)
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(8)
    assert gradcheck(multiply, [Variable(rng.standard_normal(5)), Variable(rng.standard_normal(5))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_multiply()

# %% [markdown]
"""
### Subtraction and negation

`out = a - b`. Negation `-x` is `multiply(x, -1)` (see `Variable.__neg__`), and `1 - x` works
through `__rsub__`: every operator is one line on top of the operations.
"""

# %% nbgrader={"grade": false, "grade_id": "subtract", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=2)
def subtract(a, b):
    """a - b, with gradient.

    TODO: return `(out, (grad_a, grad_b))` with out = a - b; each local gradient maps g to an
    array shaped like g.

    EXAMPLE: subtract(Variable(5.0), Variable(3.0)) is 2.0.
    """
    ### BEGIN SOLUTION
    return a - b, (lambda g: g, lambda g: -g)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**subtract, step 1: the idea.** Nudge `a` up by `h`: the difference goes up by `h`. Nudge `b` up by `h`: which way does
`a - b` go?

<details><summary>Step 2: the formula</summary>

`dout/da = 1` and `dout/db = -1`: `dL/da = g` and `dL/db = -g`. The minus sign on `b`'s side
is the whole difficulty. At a=5, b=3, backward gives 1 and -1.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-subtract", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_subtract():
    x, y = Variable(5.0), Variable(3.0)
    z = subtract(x, y)
    assert z.data.data.item() == 2.0, f"subtract(5, 3) should be 2.0, got {z.data.data}"
    assert z.requires_grad, "subtract of Variables that require grad should require grad"
    z.backward()
    expect_grad("subtract", "a", x, 1)
    expect_grad("subtract", "b", y, -1)
    a = Variable(4.0)
    b = subtract(a, 2.0)
    assert b.data.data.item() == 2.0, f"subtract(4, 2.0) should be 2.0, got {b.data.data}"
    b.backward()
    expect_grad("subtract a constant", "a", a, 1)
    r = Variable(4.0)
    s = 1 - r
    assert s.data.data.item() == -3.0, f"1 - Variable(4.0) should be -3.0, got {s.data.data}"
    s.backward()
    expect_grad("1 - x", "x", r, -1)
    n = Variable(2.5)
    m = -n
    assert m.data.data.item() == -2.5, f"-Variable(2.5) should be -2.5, got {m.data.data}"
    m.backward()
    expect_grad("-x", "x", n, -1)
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(9)
    assert gradcheck(subtract, [Variable(rng.standard_normal(4)), Variable(rng.standard_normal(4))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_subtract()

# %% [markdown]
"""
### The chain rule in a bigger expression

Nothing new to write: once every operation knows its local gradient, any expression made of
them differentiates itself. Take `f(x, y) = (x + y) * (x - y) = x^2 - y^2`. The graph is

```
x ---+---> (x + y) ---+
     |                +---> (x + y) * (x - y) ---> f
y ---+---> (x - y) ---+
```

Backward multiplies local gradients along each path from `f` back to `x`, and adds up the
paths: `df/dx = (x - y) * 1 + (x + y) * 1 = 2x`, and `df/dy = (x - y) * 1 + (x + y) * (-1) = -2y`.
`x` is used twice, so its two contributions are added in `x.grad`.
"""

# %% nbgrader={"grade": true, "grade_id": "test-chain-rule", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_chain_rule():
    x, y = Variable(3.0), Variable(2.0)
    f = multiply(add(x, y), subtract(x, y))
    assert f.data.data.item() == 5.0, f"(3 + 2) * (3 - 2) should be 5.0, got {f.data.data}"
    f.backward()
    expect_grad("(x + y) * (x - y)", "x", x, 6.0)
    expect_grad("(x + y) * (x - y)", "y", y, -4.0)
    x2 = Variable(1.0)
    g = multiply(multiply(add(x2, 1.0), add(x2, 2.0)), add(x2, 3.0))
    assert g.data.data.item() == 24.0, f"(1 + 1) * (1 + 2) * (1 + 3) should be 24.0, got {g.data.data}"
    g.backward()
    expect_grad("(x + 1) * (x + 2) * (x + 3)", "x", x2, 3 * 1.0**2 + 12 * 1.0 + 11)
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(10)
    assert gradcheck(lambda u, v: (u * v + u) * (u - v * 2.0), [Variable(rng.standard_normal(3)), Variable(rng.standard_normal(3))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_chain_rule()

# %% [markdown]
"""
### Seeing the graph

The picture above was drawn by hand. `draw_graph(f)` (or `f.graph()`) draws the real one, from
the `grad_fn` records your operations left behind: a box per value (its name if you give one,
its shape and dtype, its value when it is small and, after `backward()`, the gradient a leaf
received) and an oval per operation, with arrows in the direction the forward pass ran.
Backward walks the same arrows the other way, multiplying local gradients along each path.
Constants (numbers, NumPy arrays) record no edge, so they do not appear.

It needs the optional `graphviz` Python package (`pip install graphviz`) and, to turn
the drawing into a picture, Graphviz's `dot` program (`apt-get install graphviz`, `brew install
graphviz`). In Jupyter the result shows inline; `picture.render("graph", format="svg")` (or
`"png"`) saves it, and `picture.source` is the text it was drawn from.
"""

# %% nbgrader={"grade": false, "grade_id": "draw-graph", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| export
def _describe(v: Variable, name: str | None) -> str:
    """A value's label: name, shape and dtype, the value when small, the gradient when a leaf has one."""
    array = v.data.data
    lines = [name] if name else []
    lines.append(f"shape {array.shape} {array.dtype}")

    def show(values) -> str:
        values = np.asarray(values)
        if values.ndim == 0:
            return f"{values.item():.4g}"
        return np.array2string(values, precision=4, separator=", ", threshold=6, edgeitems=2)

    if array.size <= 6:
        lines.append(f"data {show(array)}")
    if v.grad is not None:
        lines.append(f"grad {show(v.grad.data.data)}")
    return "\\n".join(line.replace("\n", " ") for line in lines)  # DOT's own line break


def draw_graph(root: Variable, names: dict[str, Variable] | None = None, rankdir: str = "LR"):
    """The computation graph that made `root`, as a `graphviz.Digraph` (shows inline in Jupyter).

    `names` labels values, e.g. `{"x": x, "loss": loss}`. Save with `.render(path, format="svg")`.
    """
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "draw_graph needs the graphviz Python package: pip install graphviz; "
            "to render pictures it also needs Graphviz's dot program: apt-get install graphviz (Debian/Ubuntu), "
            "brew install graphviz (macOS)"
        ) from None
    label_of = {id(v): name for name, v in (names or {}).items()}
    picture = graphviz.Digraph("autograd", graph_attr={"rankdir": rankdir}, node_attr={"fontname": "Helvetica"})
    number: dict[int, int] = {}  # id(Variable) -> node number, in the order found: stable DOT text
    stack, edges = [root], []
    while stack:  # iterative: a long chain must not hit Python's recursion limit
        v = stack.pop()
        if id(v) in number:
            continue
        number[id(v)] = len(number)
        node = f"v{number[id(v)]}"
        leaf_style = {"style": "filled", "fillcolor": "lightblue"} if v.is_leaf and v.requires_grad else {}
        picture.node(node, _describe(v, label_of.get(id(v))), shape="box", **leaf_style)
        if v.grad_fn is not None:
            picture.node(f"{node}_op", v.grad_fn.name, shape="ellipse", style="filled", fillcolor="lightyellow")
            picture.edge(f"{node}_op", node)
            for parent, _ in v.grad_fn.edges:
                edges.append((parent, f"{node}_op"))
                stack.append(parent)
    for parent, op in edges:
        picture.edge(f"v{number[id(parent)]}", op)
    return picture


Variable.graph = draw_graph  # v.graph(names) is draw_graph(v, names)

# %% nbgrader={"grade": false, "grade_id": "graph-demo", "locked": false, "schema_version": 3, "solution": false, "task": false}
import shutil

x, y = Variable(3.0), Variable(2.0)
f = (x + y) * (x - y)
f.backward()
try:
    picture = f.graph({"x": x, "y": y, "f": f})
except ImportError as error:  # graphviz is optional: the module works without it
    picture = None
    print(error)
if picture is not None and shutil.which("dot") is None:
    print("Graphviz's dot program is missing (apt-get install graphviz); the graph as DOT text:")
    print(picture.source)
    picture = None
picture  # noqa: B018 (Jupyter shows a cell's last value: here, the picture)

# %% [markdown]
"""
### Division and powers

`out = a / b`, elementwise, and `out = x ** p` for a number `p`. The exponent is a constant,
not an input: `power` has one differentiable input (`inputs=1`) and gets `p` as a plain option.
"""

# %% nbgrader={"grade": false, "grade_id": "divide", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=2)
def divide(a, b):
    """a / b (elementwise), with gradient.

    TODO: return `(out, (grad_a, grad_b))` with out = a / b; each local gradient maps g to an
    array shaped like g.

    EXAMPLE: divide(Variable(6.0), Variable(3.0)) is 2.0.
    """
    ### BEGIN SOLUTION
    return a / b, (lambda g: g / b, lambda g: -g * a / (b * b))
    ### END SOLUTION


@operation(inputs=1)
def power(x, p):
    """x ** p for a number p, with gradient.

    TODO: return `(out, (grad_x,))` with out = x ** p; grad_x maps g to an array shaped like g.
    (The trailing comma matters: one input, a tuple of one local gradient.)

    EXAMPLE: power(Variable(3.0), 2) is 9.0.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"power: the exponent must be a number, got {type(p).__name__}")
    ### BEGIN SOLUTION
    return x**p, (lambda g: g * p * x ** (p - 1),)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**divide and power, step 1: the idea.** For `a`, `a / b` is `a` times the constant `1 / b`: like multiply. For `b`, write `a / b` as
`a * b**-1` and use the power rule, which is also all of `power`: what does `x ** p` become when
you differentiate it? Mind the sign for `b`: a bigger denominator makes the quotient smaller.

<details><summary>Step 2: the formula</summary>

`dout/da = 1 / b` and `dout/db = -a / b**2`, so `dL/da = g / b` and `dL/db = -g * a / b**2`;
at a=6, b=3 backward gives 1/3 and -6/9. For `power`: `dL/dx = g * p * x ** (p - 1)`; at x=3, p=2
backward gives 6.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-divide-power", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_divide_power():
    a, b = Variable(6.0), Variable(3.0)
    z = divide(a, b)
    assert z.data.data.item() == 2.0, f"divide(6, 3) should be 2.0, got {z.data.data}"
    z.backward()
    expect_grad("divide(6, 3)", "a", a, 1 / 3)
    expect_grad("divide(6, 3)", "b", b, -6 / 9)
    r = Variable(4.0)
    (1 / r).backward()
    expect_grad("1 / x at x=4", "x", r, -1 / 16)
    x = Variable(3.0)
    y = power(x, 2)
    assert y.data.data.item() == 9.0, f"power(3, 2) should be 9.0, got {y.data.data}"
    y.backward()
    expect_grad("power(x, 2) at x=3", "x", x, 6.0)
    s = Variable(4.0)
    (s**0.5).backward()
    expect_grad("x ** 0.5 at x=4", "x", s, 0.25)
    try:
        power(x, Variable(2.0))
    except TypeError:
        pass
    else:
        raise AssertionError("power(x, Variable) should raise TypeError: the exponent must be a number")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(11)
    assert gradcheck(divide, [Variable(rng.standard_normal(4)), Variable(rng.uniform(0.5, 2.0, 4))])
    assert gradcheck(lambda u: power(u, 3), [Variable(rng.standard_normal(4))])
    assert gradcheck(lambda u: power(u, -1.5), [Variable(rng.uniform(0.5, 2.0, 4))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_divide_power()

# %% [markdown]
"""
### Training with scalars

That is already enough to train something. Fit `prediction = w * x + b` to four points on the
line `y = 2x + 1`: each step computes the summed squared error, calls `backward()`, and moves
`w` and `b` a little against their gradients. Note `zero_grad()` before each backward: leaves
*accumulate* gradients across backward calls, so without it every step would also repeat all
earlier steps' gradients.
"""

# %% nbgrader={"grade": true, "grade_id": "test-scalar-training", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_scalar_training():
    w, b = Variable(0.1), Variable(0.0)
    xs, ys = [1.0, 2.0, 3.0, 4.0], [3.0, 5.0, 7.0, 9.0]
    learning_rate = 0.01
    for _ in range(100):
        total_loss = Variable(0.0)
        for x_val, y_val in zip(xs, ys, strict=True):
            x = Variable(x_val, requires_grad=False)
            target = Variable(y_val, requires_grad=False)
            error = subtract(add(multiply(w, x), b), target)
            total_loss = add(total_loss, multiply(error, error))
        w.zero_grad()
        b.zero_grad()
        total_loss.backward()
        w.data = Tensor(w.data.data - learning_rate * w.grad.data.data)
        b.data = Tensor(b.data.data - learning_rate * b.grad.data.data)
    final_w, final_b = w.data.data.item(), b.data.data.item()
    assert abs(final_w - 2.0) < 0.1, f"training y = 2x + 1: w should be close to 2.0, got {final_w}"
    assert abs(final_b - 1.0) < 0.1, f"training y = 2x + 1: b should be close to 1.0, got {final_b}"
    prediction = add(multiply(w, Variable(5.0, requires_grad=False)), b).data.data.item()
    assert abs(prediction - 11.0) < 0.5, f"the trained line at x=5 should give about 11, got {prediction}"
    ### BEGIN HIDDEN TESTS
    assert w.data.data.dtype == np.float32 and w.grad.data.data.dtype == np.float32
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_scalar_training()

# %% [markdown]
"""
## Part 2: the engine, done right

### The trap in the first backward

Our `backpropagate` walks *every path* from the output to each leaf. In a tree that is the
same as walking every node once. But graphs share values. Look at

```python
y = x
for _ in range(k):
    y = y + y
```

This graph has only k operations, yet `y` at each step is used twice by the next, so there are
2^k different paths from the output back to `x`. The recursive backward follows every one of
them. Let us measure it: a pass-through operation in front of `x` counts how often a gradient
arrives through it.
"""

# %% nbgrader={"grade": false, "grade_id": "naive-blowup-demo", "locked": false, "schema_version": 3, "solution": false, "task": false}
import time

arrivals = 0


@operation(inputs=1)
def counting_identity(x):
    """x unchanged; counts how often a gradient flows back through it."""

    def local_grad(g):
        global arrivals
        arrivals += 1
        return g

    return x, (local_grad,)


def doubling_chain(k: int) -> tuple[Variable, Variable]:
    x = Variable(1.0)
    y = counting_identity(x)
    for _ in range(k):
        y = y + y
    return x, y


print(" k   arrivals at x   x.grad       seconds")
for k in (1, 2, 4, 8, 10, 12, 14):
    x, y = doubling_chain(k)
    arrivals = 0
    started = time.perf_counter()
    y.backward()
    print(f"{k:2d}   {arrivals:13d}   {x.grad.data.data.item():9.0f}   {time.perf_counter() - started:8.4f}")

# %% [markdown]
"""
The answers are right (`x.grad` is 2^k), but the work doubles with every operation. At k = 60
it would be 2^60, about 10^18 steps: centuries. Real networks share values all the time (a
weight used for every example in a batch, an activation feeding several layers).

There is a second problem: recursion. Every operation in a chain adds a Python stack frame, and
Python stops at about a thousand:
"""

# %% nbgrader={"grade": false, "grade_id": "naive-recursion-demo", "locked": false, "schema_version": 3, "solution": false, "task": false}
x = Variable(1.0)
y = x
for _ in range(5000):
    y = y + 1.0
try:
    y.backward()
    print("backward through 5000 operations: done")
except RecursionError as error:
    print(f"backward through 5000 operations: RecursionError ({error})")

# %% [markdown]
"""
### The fix: every node once, in topological order

The total gradient arriving at a node is the sum over its uses. So a node should pass its
gradient on only once it has received *all* of it, that is, after every node that uses it has
been processed. An ordering of the graph in which every node comes after its inputs is a
**topological order**; walking it backwards from the output processes each node after all its
users. Then:

1. `topological_order(root)`: every node reachable from `root` through `grad_fn.edges`, each
   exactly once, inputs before the nodes computed from them.
2. `backpropagate(root, gradient)`: keep a dict `grads` from node to the gradient accumulated so
   far, starting with `{root: gradient}`. Walk the order backwards. Take the node's
   gradient out of the dict (it is complete now). A leaf adds it to its `.grad`. Any other node
   sends `local_grad(g)` along each edge, adding it to what the input has already received.

Each node is visited once and each edge used once: the work is linear in the size of the graph.

Both functions must be **iterative** (a loop with an explicit stack, not recursion), or a
10,000-operation chain hits Python's recursion limit.

For the depth-first search with an explicit stack, push `(node, False)` to mean "visit node" and
`(node, True)` to mean "all of node's inputs are done, append it". A node is appended only after
everything it depends on.
"""

# %% nbgrader={"grade": false, "grade_id": "topological-order", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def topological_order(root: Variable) -> list[Variable]:
    """Every Variable `root` depends on (through `grad_fn.edges`), each once, inputs first.

    TODO: return a list of every Variable reachable from `root` through `grad_fn.edges` (leaves
    have grad_fn None), `root` included, each exactly once, every node after all of its inputs,
    so `root` comes last. Iterative (a loop with your own stack, no recursion): the graph may
    be 10,000 operations deep.
    """
    ### BEGIN SOLUTION
    order: list[Variable] = []
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
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**topological_order, step 1: the idea.** A depth-first search in which a node is appended only once everything it depends on has
been appended. With an explicit stack, push each node twice: first as "visit me", later as
"my inputs are done, append me". A set of visited nodes keeps a node that is reachable along two
paths from being listed twice.

<details><summary>Step 2: the formula</summary>

- Keep three things: the set of nodes visited, the order being built, and a stack of
  (node, inputs done?) pairs that starts with the root, inputs not done.
- Pop a pair. Inputs done: the node goes at the end of the order. Inputs not done: a node
  already visited is skipped; otherwise mark it visited, push it back with its inputs done, and
  push each of its inputs (the first item of every edge of its `grad_fn`, if it has one) with
  inputs not done.
- An empty stack means the order is complete.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-topological-order", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_topological_order():
    x, y = Variable(2.0), Variable(3.0)
    a = x * y
    b = a + x
    c = a * b
    order = topological_order(c)
    assert len(order) == 5 and len(set(order)) == 5, (
        f"topological_order: the graph of c = (x*y) * (x*y + x) has 5 nodes, each listed once; got {len(order)} "
        f"entries with {len(set(order))} different nodes"
    )
    assert set(order) == {x, y, a, b, c}, "topological_order should list exactly the nodes c depends on, and c"
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent, _ in (node.grad_fn.edges if node.grad_fn else []):
            assert position[parent] < position[node], (
                f"topological_order: an input ({parent!r}) comes after the node made from it ({node!r})"
            )
    assert order[-1] is c, "topological_order: the root comes last"
    deep = Variable(0.0)
    chain = deep
    for _ in range(10_000):
        chain = chain + 1.0
    long_order = topological_order(chain)
    assert len(long_order) == 10_001, (
        f"topological_order of a 10,000-operation chain should have 10,001 nodes, got {len(long_order)}"
    )
    assert long_order[0] is deep and long_order[-1] is chain, "topological_order: chain start first, end last"
    ### BEGIN HIDDEN TESTS
    lone = Variable(1.0)
    assert topological_order(lone) == [lone]
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_topological_order()

# %% nbgrader={"grade": false, "grade_id": "backpropagate", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def backpropagate(root: Variable, gradient: np.ndarray) -> None:  # noqa: F811 (replaces the first attempt)
    """Send `gradient` (dL/droot, a NumPy array shaped like root) back to every leaf, once per node.

    TODO: for every leaf reached (`grad_fn is None`), add dL/dleaf to `leaf.grad`: a Variable
    with requires_grad=False, shaped like the leaf, holding an array of its own (never one shared
    with another leaf); a leaf that already has a gradient gets the sum (leaves accumulate
    across backward calls). Visit each node once, after all the nodes that use it; iterative.
    A gradient for an input that the forward pass broadcast must be summed back to the input's
    shape with `unbroadcast` (written in Part 3; scalars never need it). Do not add into arrays
    in place (`+=`): a local gradient may hand back the very array it received.
    """
    ### BEGIN SOLUTION
    grads = {root: gradient}
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
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**backpropagate, step 1: the idea.** Keep a dict from node to the gradient accumulated so far, starting with the root's. Walk
the topological order backwards: when you reach a node, every node that uses it has already been
walked, so its gradient is complete. A leaf adds it to its `.grad`; any other node sends
`local_grad(g)` along each of its edges, added to what that input has already received.

<details><summary>Step 2: the formula</summary>

1. The dict starts with one entry: the root, with `gradient`.
2. Visit the nodes of the topological order last to first; take each node's gradient `g` out of
   the dict (it is complete by then, and the dict stays small).
   - A leaf: its `.grad` becomes a new Variable that does not require grad, holding a copy of
     `g`, or, when it already has a `.grad`, the old gradient plus `g` (never changed in place).
   - Any other node: each edge of its `grad_fn` is an input and that input's local gradient
     function. Apply the function to `g`; if the result's shape is not the input's, undo the
     broadcasting with `unbroadcast`; add it to what the input has received so far, or store it
     if it is the first.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-backpropagate", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_backpropagate():
    passes = []

    @operation(inputs=1)
    def counted(v):
        return v, (lambda g: passes.append(1) or g,)

    x = Variable(1.0)
    y = counted(x)
    for _ in range(12):
        y = y + y
    y.backward()
    assert len(passes) == 1, (
        f"backward: in y = y + y (12 times) the gradient should pass through x's one edge once, "
        f"it passed {len(passes)} times: each node must be visited once, after all its users"
    )
    expect_grad("y = y + y, 12 times", "x", x, 2.0**12)
    x60 = Variable(1.0)
    y60 = x60
    for _ in range(60):
        y60 = y60 + y60
    y60.backward()
    assert grad_of(x60).item() == 2**60, f"y = y + y, 60 times: d/dx should be 2**60, got {grad_of(x60)}"
    u, v = Variable(3.0), Variable(2.0)
    f = (u + v) * (u - v) + u * u
    f.backward()
    expect_grad("(u + v) * (u - v) + u * u", "u", u, 12.0)
    expect_grad("(u + v) * (u - v) + u * u", "v", v, -4.0)
    left, right = Variable(np.ones(2)), Variable(np.ones(2))
    (left + right).backward()
    assert grad_of(left) is not grad_of(right), "backward: two leaves share one gradient array; store a copy, np.array(g)"
    assert left.grad.requires_grad is False, "backward: a gradient is a constant; make x.grad with requires_grad=False"
    w = Variable(2.0)
    (w * 3.0).backward()
    (w * 4.0).backward()
    expect_grad("w*3 then w*4, two backward calls (leaf gradients accumulate)", "w", w, 7.0)
    assert w.grad.requires_grad is False, "backward: an accumulated gradient is a constant too; requires_grad=False"
    start = Variable(1.0)
    chain = start
    for _ in range(10_000):
        chain = chain + 0.5
    chain.backward()
    expect_grad("a 10,000-operation chain", "start", start, 1.0)
    ### BEGIN HIDDEN TESTS
    p = Variable(1.5)
    q = p * p
    r = q * q + q
    r.backward()
    expect_grad("q*q + q with q = p*p", "p", p, 4 * 1.5**3 + 2 * 1.5)
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_backpropagate()

# %% [markdown]
"""
Run the doubling chain again with the new engine: 60 doublings, one visit per node.
"""

# %% nbgrader={"grade": false, "grade_id": "topological-demo", "locked": false, "schema_version": 3, "solution": false, "task": false}
for k in (14, 60):
    x, y = doubling_chain(k)
    arrivals = 0
    started = time.perf_counter()
    y.backward()
    print(f"k={k}: arrivals at x {arrivals}, x.grad = {x.grad.data.data.item():.0f}, "
          f"{(time.perf_counter() - started) * 1000:.2f} ms")

# %% [markdown]
"""
## Part 3: tensors

### Broadcasting, and undoing it

Everything so far works on arrays as well as numbers, because the local gradients are NumPy
expressions. One rule needs care. NumPy **broadcasts**: `x + b` with `x` of shape (2, 3) and
`b` of shape (3,) adds `b` to each of the 2 rows, as if `b` were copied into shape (2, 3).
Each element of `b` then influences 2 outputs, so its gradient is the **sum** of the 2
gradients that flow back. The rule in general: the gradient of an input must have that input's
shape; to get there from the output's shape,

1. sum over the leading axes that broadcasting added (shape (2, 3) to (3,): sum axis 0);
2. sum, keeping the axis, over every axis where the input had size 1 and the output did not
   (shape (2, 3) to (1, 3): sum axis 0 with keepdims).

The engine does this once for every operation (see `backpropagate`): operations just return
`g`-shaped gradients.
"""

# %% nbgrader={"grade": false, "grade_id": "unbroadcast", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` (shaped like a broadcast result) down to `shape`, the shape of the input.

    TODO: return an array of exactly `shape`: `grad` summed over every axis that broadcasting
    added or stretched (the two rules above).

    EXAMPLES: unbroadcast(np.ones((2, 3)), (3,))    -> [2., 2., 2.]
              unbroadcast(np.ones((2, 3)), (2, 1))  -> [[3.], [3.]]
              unbroadcast(np.ones((4, 2, 3)), ())   -> 24.0
    """
    ### BEGIN SOLUTION
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**unbroadcast, step 1: the idea.** Two kinds of axes to sum over: the leading axes that `grad` has and `shape` lacks, and, after
those are gone, every axis where `shape` has size 1 but `grad` does not (keep that axis, size 1).
`np.sum(a, axis=(0, 2), keepdims=True)` takes a tuple of axes.

<details><summary>Step 2: the formula</summary>

1. Sum over the leading axes: as many as `grad` has more than `shape` (none when the ranks agree).
   Those axes disappear.
2. Then sum over every axis where `shape` has size 1 and `grad` does not, keeping that axis
   (size 1). All of them can go in one call.
3. What is left has exactly `shape`.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-unbroadcast", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_unbroadcast():
    cases = [
        ((2, 3), (3,), np.full(3, 2.0)),
        ((2, 3), (1, 3), np.full((1, 3), 2.0)),
        ((2, 3), (2, 1), np.full((2, 1), 3.0)),
        ((4, 2, 3), (2, 1), np.full((2, 1), 12.0)),
        ((4, 2, 3), (), np.array(24.0)),
        ((2, 3), (2, 3), np.ones((2, 3))),
    ]
    for grad_shape, shape, expected in cases:
        got = unbroadcast(np.ones(grad_shape), shape)
        assert np.shape(got) == shape, f"unbroadcast from {grad_shape} to {shape}: got shape {np.shape(got)}"
        assert np.allclose(got, expected), f"unbroadcast from {grad_shape} to {shape}: expected {expected}, got {got}"
    weighted = unbroadcast(np.arange(6.0).reshape(2, 3), (1, 3))
    assert np.allclose(weighted, [[3.0, 5.0, 7.0]]), f"unbroadcast([[0,1,2],[3,4,5]], (1, 3)): expected [[3, 5, 7]], got {weighted}"
    ### BEGIN HIDDEN TESTS
    assert np.allclose(unbroadcast(np.ones((3, 1, 4)), (1, 1)), [[12.0]])
    empty = unbroadcast(np.ones((0, 3)), (1, 3))
    assert np.shape(empty) == (1, 3) and np.allclose(empty, 0.0), (
        f"unbroadcast from (0, 3) to (1, 3) (an empty batch): expected zeros of shape (1, 3), got {empty!r}"
    )
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_unbroadcast()

# %% [markdown]
"""
With `unbroadcast` in place, every elementwise operation you wrote works on tensors of any
broadcastable shapes, and a bias of shape (3,) added to a batch of shape (N, 3) gets the sum
over the batch as its gradient, exactly what training needs.

Also check the dtype rule: float32 values and gradients stay float32 (also when Python numbers
take part), float64 stays float64.
"""

# %% nbgrader={"grade": true, "grade_id": "test-broadcasting", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_broadcasting():
    x = Variable(np.arange(6.0).reshape(2, 3))
    b = Variable(np.array([1.0, 2.0, 3.0]))
    out = x + b
    assert out.shape == (2, 3), f"add: (2, 3) + (3,) should have shape (2, 3), got {out.shape}"
    out.backward()
    expect_grad("add (2, 3) + (3,)", "b", b, np.full(3, 2.0))
    expect_grad("add (2, 3) + (3,)", "a", x, np.ones((2, 3)))
    col = Variable(np.array([[2.0], [4.0]]))
    m = Variable(np.ones((2, 3)))
    (m * col).backward()
    expect_grad("multiply (2, 3) * (2, 1)", "b", col, np.full((2, 1), 3.0))
    expect_grad("multiply (2, 3) * (2, 1)", "a", m, np.array([[2.0] * 3, [4.0] * 3]))
    num = Variable(np.ones((2, 3)))
    den = Variable(np.array([2.0]))
    (num / den - den).backward()
    expect_grad("x / d - d with d of shape (1,)", "d", den, np.array([6 * -1 / 4 - 6]))
    s = Variable(np.ones(3))
    (np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]) * s).backward()
    expect_grad("ndarray (2, 3) * x (3,)", "x", s, np.array([5.0, 7.0, 9.0]))
    h = Variable(np.ones((2, 3), dtype=np.float32))
    out32 = (h * 0.5 + 1) / 2 - h**2
    assert out32.dtype == np.float32, f"float32 with Python numbers should stay float32, got {out32.dtype}"
    out32.backward()
    assert grad_of(h).dtype == np.float32, f"the gradient of a float32 Variable should be float32, got {grad_of(h).dtype}"
    d64 = Variable(np.ones(2))
    (d64 * 3).backward()
    assert grad_of(d64).dtype == np.float64, f"float64 stays float64, got {grad_of(d64).dtype}"
    try:
        Variable(np.ones((2, 3))) + Variable(np.ones(4))
    except ValueError as error:
        assert "(2, 3)" in str(error) and "(4,)" in str(error), f"the shape error should name both shapes: {error}"
    else:
        raise AssertionError("add of shapes (2, 3) and (4,) should raise ValueError")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(12)
    for op in (add, subtract, multiply):
        assert gradcheck(op, [Variable(rng.standard_normal((2, 3))), Variable(rng.standard_normal((2, 1)))])
        assert gradcheck(op, [Variable(rng.standard_normal(3)), Variable(rng.standard_normal((4, 3)))])
    assert gradcheck(divide, [Variable(rng.standard_normal((2, 3))), Variable(rng.uniform(1, 2, (1, 3)))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_broadcasting()

# %% [markdown]
"""
### Matrix multiplication

`out = a @ b` with `a` of shape (n, k) and `b` of shape (k, m): `out[i, j] = sum_t a[i, t] * b[t, j]`,
of shape (n, m). Each local gradient is again a matrix product, of `g` with the other input.
"""

# %% nbgrader={"grade": false, "grade_id": "matmul", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=2)
def matmul(a, b):
    """Matrix product of two 2-D arrays, with gradient.

    TODO: return `(out, (grad_a, grad_b))` with out = a @ b; g has out's shape (n, m), and
    grad_a(g) must have a's shape (n, k), grad_b(g) b's shape (k, m).

    EXAMPLE: a (2, 3) @ b (3, 4) -> out (2, 4); a.grad has shape (2, 3), b.grad (3, 4).
    """
    if np.ndim(a) != 2 or np.ndim(b) != 2:
        raise ValueError(f"matmul needs two 2-D arrays, got shapes {np.shape(a)} and {np.shape(b)}")
    ### BEGIN SOLUTION
    return a @ b, (lambda g: g @ b.T, lambda g: a.T @ g)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**matmul, step 1: the idea.** `a[i, t]` appears in every `out[i, j]`, multiplied by `b[t, j]`: its gradient collects
`g[i, j] * b[t, j]` over all `j`. That sum is itself a matrix product. A check that needs no
algebra: the shapes. `g` is (n, m), and the result must be (n, k): which product of `g` with `b`
(k, m), or its transpose, has that shape?

<details><summary>Step 2: the formula</summary>

`dL/da = g @ b.T` (shape (n, k)) and `dL/db = a.T @ g` (shape (k, m)).

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-matmul", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_matmul():
    a = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    b = Variable(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]]))
    c = matmul(a, b)
    assert c.shape == (2, 2), f"matmul (2, 3) @ (3, 2) should have shape (2, 2), got {c.shape}"
    assert np.allclose(c.data.data, [[7.0, 11.0], [16.0, 23.0]]), f"matmul values wrong: {c.data.data}"
    c.backward(np.array([[1.0, 0.0], [0.0, 2.0]]))
    expect_grad("matmul, g = [[1, 0], [0, 2]]", "a", a, np.array([[1.0, 0.0, 2.0], [0.0, 2.0, 6.0]]))
    expect_grad("matmul, g = [[1, 0], [0, 2]]", "b", b, np.array([[1.0, 8.0], [2.0, 10.0], [3.0, 12.0]]))
    w = Variable(np.ones((3, 2)))
    (np.ones((4, 3)) @ w).backward()
    expect_grad("ndarray (4, 3) @ w (3, 2)", "w", w, np.full((3, 2), 4.0))
    for left, right in (((2, 3), (4, 5)), ((3,), (3, 2))):
        try:
            matmul(Variable(np.ones(left)), Variable(np.ones(right)))
        except ValueError as error:
            assert str(left) in str(error) and str(right) in str(error), f"the matmul error should name both shapes: {error}"
        else:
            raise AssertionError(f"matmul of shapes {left} and {right} should raise ValueError")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(13)
    assert gradcheck(matmul, [Variable(rng.standard_normal((3, 4))), Variable(rng.standard_normal((4, 2)))])
    assert gradcheck(lambda p, q: p @ q + p @ q, [Variable(rng.standard_normal((2, 2))), Variable(rng.standard_normal((2, 2)))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_matmul()

# %% [markdown]
"""
### Reductions: sum and mean

`out = sum(x, axis)` adds elements up over `axis` (None: all of them; an int or a tuple of ints),
and `mean(x, axis)` averages them. `spread_back` is the helper both backward passes share: it
takes the gradient of the reduced output and returns one of `x`'s shape. Mind the shapes: `sum`
of a (3, 4) array over axis 1 has shape (3,), and its gradient must come back as (3, 4).

(Our `sum` shadows Python's built-in `sum` inside this module, as `torch.sum` would: here we use
`np.sum` for the built-in job.)
"""

# %% nbgrader={"grade": false, "grade_id": "reductions", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def spread_back(g, axis, keepdims: bool, shape: tuple[int, ...]) -> np.ndarray:
    """Copy the gradient of a reduction back over the reduced axes: shape of g -> `shape`.

    TODO: return an array of `shape` (the input's) holding, for each element of the input, the
    gradient of the output element it was summed into. `axis` and `keepdims` are the reduction's.
    """
    ### BEGIN SOLUTION
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)
    ### END SOLUTION


@operation(inputs=1)
def sum(x, axis=None, keepdims: bool = False):
    """Sum over `axis` (None: all elements; an int or a tuple of ints), with gradient.

    TODO: return `(out, (grad_x,))` with out = np.sum(x, axis=axis, keepdims=keepdims); grad_x
    maps g (out's shape) to x's shape.
    """
    ### BEGIN SOLUTION
    return np.sum(x, axis=axis, keepdims=keepdims), (lambda g: spread_back(g, axis, keepdims, np.shape(x)),)
    ### END SOLUTION


@operation(inputs=1)
def mean(x, axis=None, keepdims: bool = False):
    """Mean over `axis` (None: all elements), with gradient.

    TODO: return `(out, (grad_x,))` with out = np.mean(x, axis=axis, keepdims=keepdims); grad_x
    maps g (out's shape) to x's shape, and keeps float32 float32.
    """
    ### BEGIN SOLUTION
    out = np.mean(x, axis=axis, keepdims=keepdims)
    count = np.size(x) // max(np.size(out), 1)
    return out, (lambda g: spread_back(g, axis, keepdims, np.shape(x)) / count,)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**spread_back, sum and mean, step 1: the idea.** Every element of `x` enters the sum it belongs to with weight 1, so its gradient is the
gradient of that sum: copy `g` back over the summed axes. To broadcast `g` (3,) back over (3, 4)
after a sum over axis 1, first put the summed axis back as size 1, giving (3, 1). (With
`keepdims=True` it is already there; with `axis=None` `g` is a scalar.) Without that step NumPy
lines `g` up with the *last* axis: wrong, and for square inputs silently wrong. A mean is a sum
divided by the number of elements averaged, and so is its gradient.

<details><summary>Step 2: the formula</summary>

- `spread_back`: when an axis was summed away (an `axis` was given and `keepdims` was not),
  put it back as size 1 (`np.expand_dims`); then broadcast to `shape` (`np.broadcast_to`).
- `sum`: its local gradient is `spread_back` of `g` with the sum's own `axis` and `keepdims`,
  to the shape of `x`.
- `mean`: `count = np.size(x) // np.size(out)` elements were averaged into each output; the
  local gradient is `spread_back(...) / count`. Divide by the Python int `count`, not by a
  float64 array, so that float32 stays float32.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-reductions", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_reductions():
    x = Variable(np.arange(6.0).reshape(2, 3))
    total = sum(x)
    assert total.shape == () and total.data.data.item() == 15.0, f"sum of 0..5 should be 15.0, got {total.data.data}"
    total.backward()
    expect_grad("sum(x)", "x", x, np.ones((2, 3)))
    sq = Variable(np.ones((3, 3)))
    rows = sum(sq, axis=1)
    assert rows.shape == (3,), f"sum over axis 1 of (3, 3) should have shape (3,), got {rows.shape}"
    rows.backward(np.array([1.0, 2.0, 3.0]))
    expect_grad("sum(x, axis=1) with g = [1, 2, 3]", "x", sq, np.array([[1.0] * 3, [2.0] * 3, [3.0] * 3]))
    k = Variable(np.ones((2, 3)))
    kept = sum(k, axis=0, keepdims=True)
    assert kept.shape == (1, 3), f"sum(axis=0, keepdims=True) of (2, 3) should be (1, 3), got {kept.shape}"
    kept.backward(np.array([[1.0, 2.0, 3.0]]))
    expect_grad("sum(x, axis=0, keepdims=True)", "x", k, np.array([[1.0, 2.0, 3.0]] * 2))
    m = Variable(np.ones((2, 4), dtype=np.float32))
    avg = mean(m)
    assert avg.data.data.item() == 1.0 and avg.dtype == np.float32, f"mean of float32 ones: 1.0 float32, got {avg!r}"
    avg.backward()
    expect_grad("mean(x) of 8 elements", "x", m, np.full((2, 4), 1 / 8))
    assert grad_of(m).dtype == np.float32, f"mean: float32 gradient expected, got {grad_of(m).dtype}"
    sq2 = Variable(np.ones((3, 3)))
    mean(sq2, axis=-1).backward(np.array([3.0, 6.0, 9.0]))
    expect_grad("mean(x, axis=-1) with g = [3, 6, 9]", "x", sq2, np.array([[1.0] * 3, [2.0] * 3, [3.0] * 3]))
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(14)
    data = rng.standard_normal((2, 3, 4))
    for axis in (None, 0, 1, -1, (0, 2)):
        for keepdims in (False, True):
            assert gradcheck(lambda u, a=axis, k=keepdims: sum(u, axis=a, keepdims=k), [Variable(data)])
            assert gradcheck(lambda u, a=axis, k=keepdims: mean(u, a, k), [Variable(data)])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_reductions()

# %% [markdown]
"""
### Reshape and transpose

Both move elements around without changing them: `reshape(x, shape)` gives the same elements
in the same order with a new shape; `transpose(x, axes)` permutes the axes (`out` axis `i` is
`x` axis `axes[i]`; `axes=None` reverses them).
"""

# %% nbgrader={"grade": false, "grade_id": "reshape-transpose", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=1)
def reshape(x, shape):
    """x with a new shape (same elements, same order), with gradient.

    TODO: return `(out, (grad_x,))` with out = np.reshape(x, shape); grad_x maps g (out's
    shape) to an array of x's shape.
    """
    ### BEGIN SOLUTION
    return np.reshape(x, shape), (lambda g: np.reshape(g, np.shape(x)),)
    ### END SOLUTION


@operation(inputs=1)
def transpose(x, axes=None):
    """x with its axes permuted (None: reversed), with gradient.

    TODO: return `(out, (grad_x,))` with out = np.transpose(x, axes); grad_x maps g (out's
    shape) to an array of x's shape.
    """
    if axes is not None:
        axes = tuple(int(a) % np.ndim(x) for a in axes)  # negative axes -> 0..ndim-1, so argsort inverts
    ### BEGIN SOLUTION
    inverse = None if axes is None else tuple(np.argsort(axes))
    return np.transpose(x, axes), (lambda g: np.transpose(g, inverse),)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**reshape and transpose, step 1: the idea.** Elements are only moved, never changed, so the gradient of each element is the gradient of
wherever it moved to: move `g` back the way the elements came. For transpose, "back" is the
*inverse* permutation of the axes; for three axes or more, `axes` is generally not its own
inverse.

<details><summary>Step 2: the formula</summary>

- `reshape`: `lambda g: np.reshape(g, np.shape(x))`.
- `transpose`: with `inverse` = `np.argsort(axes)` as a tuple (or None when `axes` is None),
  `lambda g: np.transpose(g, inverse)`.

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-reshape-transpose", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_reshape_transpose():
    x = Variable(np.arange(6.0))
    r = reshape(x, (2, 3))
    assert r.shape == (2, 3), f"reshape (6,) to (2, 3): got shape {r.shape}"
    r.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    expect_grad("reshape (6,) -> (2, 3)", "x", x, np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    m = Variable(np.arange(6.0).reshape(2, 3))
    t = transpose(m)
    assert t.shape == (3, 2), f"transpose of (2, 3) should be (3, 2), got {t.shape}"
    t.backward(np.arange(6.0).reshape(3, 2))
    expect_grad("transpose (2, 3)", "x", m, np.arange(6.0).reshape(3, 2).T)
    cube = Variable(np.zeros((2, 3, 4)))
    p = transpose(cube, (1, 2, 0))
    assert p.shape == (3, 4, 2), f"transpose (2, 3, 4) by (1, 2, 0) should be (3, 4, 2), got {p.shape}"
    g = np.arange(24.0).reshape(3, 4, 2)
    p.backward(g)
    expect_grad("transpose (2, 3, 4) by axes (1, 2, 0)", "x", cube, np.transpose(g, (2, 0, 1)))
    try:
        reshape(Variable(np.ones(6)), (4,))
    except ValueError as error:
        assert "(6,)" in str(error), f"the reshape error should name the input shape: {error}"
    else:
        raise AssertionError("reshape of 6 elements to (4,) should raise ValueError")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(15)
    assert gradcheck(lambda u: reshape(u, (4, -1)) * np.arange(6.0), [Variable(rng.standard_normal((2, 3, 4)))])
    assert gradcheck(lambda u: transpose(u, (2, 0, 1)) * np.arange(3.0), [Variable(rng.standard_normal((2, 3, 4)))])
    assert gradcheck(lambda u: transpose(u, (-1, 0, 1)), [Variable(rng.standard_normal((2, 3, 4)))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_reshape_transpose()

# %% [markdown]
"""
### Elementwise functions

Each is one NumPy call forward and, backward, `g` times the function's derivative. Some
derivatives are cheapest written in terms of the *output*: keep it in the closure rather than
recomputing it.

| function | forward |
| --- | --- |
| `exp` | e^x |
| `log` | ln x |
| `relu` | max(x, 0) |
| `sigmoid` | 1 / (1 + e^-x) |
| `tanh` | tanh x |

`sigmoid` the textbook way overflows: `np.exp(-x)` is inf for x = -1000 (NumPy warns). The
identity `sigmoid(x) = (1 + tanh(x / 2)) / 2` is exact and never overflows.
"""

# %% nbgrader={"grade": false, "grade_id": "elementwise", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
@operation(inputs=1)
def exp(x):
    """e ** x, with gradient. TODO: return `(out, (grad_x,))` with out = np.exp(x)."""
    ### BEGIN SOLUTION
    out = np.exp(x)
    return out, (lambda g: g * out,)
    ### END SOLUTION


@operation(inputs=1)
def log(x):
    """Natural logarithm, with gradient. TODO: return `(out, (grad_x,))` with out = np.log(x)."""
    ### BEGIN SOLUTION
    return np.log(x), (lambda g: g / x,)
    ### END SOLUTION


@operation(inputs=1)
def relu(x):
    """max(x, 0), with gradient. TODO: return `(out, (grad_x,))` with out = np.maximum(x, 0)."""
    ### BEGIN SOLUTION
    return np.maximum(x, 0), (lambda g: g * (x > 0),)
    ### END SOLUTION


@operation(inputs=1)
def sigmoid(x):
    """1 / (1 + e ** -x), computed without overflow, with gradient.

    TODO: return `(out, (grad_x,))` with out = 0.5 * (1 + np.tanh(0.5 * x)), the overflow-free
    form of 1 / (1 + e ** -x).
    """
    ### BEGIN SOLUTION
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return out, (lambda g: g * out * (1 - out),)
    ### END SOLUTION


@operation(inputs=1)
def tanh(x):
    """Hyperbolic tangent, with gradient. TODO: return `(out, (grad_x,))` with out = np.tanh(x)."""
    ### BEGIN SOLUTION
    out = np.tanh(x)
    return out, (lambda g: g * (1 - out * out),)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**the elementwise functions, step 1: the idea.** Each local gradient is `g` times the function's own derivative, elementwise. Recall (or
derive) the slope of each: e^x is its own derivative; the slope of ln x falls as x grows; relu
is flat on one side and has slope 1 on the other; sigmoid's and tanh's slopes can be written
with their outputs alone.

<details><summary>Step 2: the formula</summary>

| function | dout/dx | local gradient |
| --- | --- | --- |
| `exp` | e^x = out | `g * out` |
| `log` | 1 / x | `g / x` |
| `relu` | 1 where x > 0, else 0 | `g * (x > 0)` |
| `sigmoid` | out * (1 - out) | `g * out * (1 - out)` |
| `tanh` | 1 - out^2 | `g * (1 - out * out)` |

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-elementwise", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_elementwise():
    def derivative(fn, value):
        x = Variable(np.array(value, dtype=np.float64))
        out = fn(x)
        out.backward()
        return out.data.data, grad_of(x)

    out, d = derivative(exp, 1.0)
    assert np.isclose(out, np.e) and np.isclose(d, np.e), f"exp at 1: value and d/dx should be e, got {out} and {d}"
    out, d = derivative(log, 2.0)
    assert np.isclose(out, np.log(2)) and np.isclose(d, 0.5), f"log at 2: d/dx should be 0.5, got {d}"
    out, d = derivative(relu, [-1.0, 2.0])
    assert np.allclose(out, [0.0, 2.0]), f"relu([-1, 2]) should be [0, 2], got {out}"
    assert np.allclose(d, [0.0, 1.0]), f"relu at [-1, 2]: d/dx should be [0, 1], got {d}"
    _, d = derivative(relu, [0.0])
    assert np.allclose(d, [0.0]), f"relu at 0: d/dx should be 0 (the gradient passes only where x > 0), got {d}"
    out, d = derivative(sigmoid, [0.0, 2.0])
    s2 = 1 / (1 + np.exp(-2.0))
    assert np.allclose(out, [0.5, s2]), f"sigmoid at [0, 2] should be [0.5, {s2:.4f}], got {out}"
    assert np.allclose(d, [0.25, s2 * (1 - s2)]), f"sigmoid at [0, 2]: d/dx should be [0.25, {s2 * (1 - s2):.4f}], got {d}"
    out, d = derivative(tanh, 0.5)
    assert np.isclose(d, 1 - np.tanh(0.5) ** 2), f"tanh at 0.5: d/dx should be {1 - np.tanh(0.5) ** 2:.4f}, got {d}"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, d = derivative(sigmoid, [-1000.0, 1000.0])
    assert np.allclose(out, [0.0, 1.0]) and np.allclose(d, [0.0, 0.0]), (
        f"sigmoid at [-1000, 1000] should be [0, 1] with d/dx [0, 0] and no overflow, got {out} and {d}"
    )
    h = Variable(np.ones(3, dtype=np.float32))
    y = tanh(sigmoid(relu(exp(log(h)))))
    y.backward()
    assert y.dtype == np.float32 and grad_of(h).dtype == np.float32, "elementwise functions keep float32"
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(16)
    for fn in (exp, relu, sigmoid, tanh):
        assert gradcheck(fn, [Variable(rng.standard_normal((3, 2)))])
    assert gradcheck(log, [Variable(rng.uniform(0.5, 3.0, (3, 2)))])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_elementwise()

# %% [markdown]
"""
### Softmax cross-entropy

A classifier outputs one score (logit) per class, shape (N, C) for N examples and C classes.
Softmax turns a row of logits `z` into probabilities `p_c = e^{z_c} / sum_j e^{z_j}`;
cross-entropy is `-log p_t` for the true class `t`. Averaged over the batch:

    loss = mean over rows of ( log(sum_j e^{z_j}) - z_t )

Two lessons in one operation:

1. **Stability.** `e^{1000}` overflows to inf. Subtracting the row maximum `m` first changes
   nothing mathematically (`log sum e^{z_j} = m + log sum e^{z_j - m}`) and keeps every
   exponent at most 0.
2. **One fused operation, a simple gradient.** Composed from `exp`, `sum`, `log` ... it would
   work, but the fused derivative is short, and cheaper: derive it.
"""

# %% nbgrader={"grade": false, "grade_id": "softmax-cross-entropy", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def class_indices(targets, batch: int, classes: int) -> np.ndarray:
    """Targets as an int array of shape (batch,), each in 0..classes-1 (ValueError otherwise)."""
    if isinstance(targets, Variable):
        targets = targets.data.data
    elif isinstance(targets, Tensor):
        targets = targets.data
    targets = np.asarray(targets)
    if targets.dtype.kind == "f" and np.all(targets == np.round(targets)):
        targets = targets.astype(np.int64)  # Tensors made from lists are float32
    if targets.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: targets must be integer class indices, got dtype {targets.dtype}")
    if targets.shape != (batch,):
        raise ValueError(f"softmax_cross_entropy: targets should have shape ({batch},), got {targets.shape}")
    if batch and (targets.min() < 0 or targets.max() >= classes):
        raise ValueError(f"softmax_cross_entropy: targets must be in 0..{classes - 1}, got {targets.min()}..{targets.max()}")
    return targets


@operation(inputs=1)
def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of softmax(logits) (N, C) against integer class targets (N,), with gradient.

    TODO: return `(loss, (grad_logits,))`.
    - loss: a 0-d array, the mean over the n rows of log(sum_j e^{z_j}) - z_t, computed without
      overflow (shift each row by its maximum first) and keeping float32 float32 (a sum divided
      by the Python int n is cheaper than `np.mean` and keeps the dtype).
    - grad_logits(g): g is a scalar (the gradient of whatever the loss feeds into, 1 for the
      final loss); return an array of the logits' shape (n, C).
    - `t` (below) holds the checked integer targets.
    """
    if np.ndim(logits) != 2:
        raise ValueError(f"softmax_cross_entropy needs logits of shape (N, C), got {np.shape(logits)}")
    n, classes = np.shape(logits)
    t = class_indices(targets, n, classes)
    ### BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = (np.log(sums[:, 0]) - shifted[rows, t]).sum() / n

    def local_grad(g):
        probs = exps / sums
        probs[rows, t] -= 1
        return probs * (g / n)

    return loss, (local_grad,)
    ### END SOLUTION


# %% [markdown]
"""
<details><summary>Hint</summary>

**softmax_cross_entropy, step 1: the idea.** Differentiate one row's loss, `log(sum_j e^{z_j}) - z_t`, with respect to `z_c`: the first
term gives `e^{z_c} / sum_j e^{z_j}`, which is the softmax probability `p_c`; the second gives 1
only for c = t. Then remember the loss is a mean over n rows.

<details><summary>Step 2: the formula</summary>

`dloss/dz = (softmax(z) - onehot(t)) / n`, times the incoming `g`. Subtract each row's maximum
from the logits before `np.exp`: neither the loss nor the softmax changes, and nothing
overflows. A row's loss is the log of the sum of its exps minus its shifted logit at the target;
the softmax is the exps divided by their row's sum; the one-hot subtracts 1 at each row's target
column (index the rows with `np.arange(n)`).

</details>
</details>
"""

# %% nbgrader={"grade": true, "grade_id": "test-softmax-cross-entropy", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_softmax_cross_entropy():
    z = Variable(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]))
    loss = softmax_cross_entropy(z, np.array([2, 0]))
    lse = np.log(np.exp(1.0) + np.exp(2.0) + np.exp(3.0))
    expected = ((lse - 3.0) + (lse - 1.0)) / 2
    assert loss.shape == () and np.isclose(loss.data.data, expected), (
        f"softmax_cross_entropy([[1,2,3],[1,2,3]], [2, 0]) should be {expected:.5f}, got {loss.data.data}"
    )
    loss.backward()
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    expected_grad = np.array([p - [0, 0, 1], p - [1, 0, 0]]) / 2
    expect_grad("softmax_cross_entropy (mean over a batch of 2)", "logits", z, expected_grad)
    big = Variable(np.array([[1000.0, 0.0], [0.0, 1000.0]]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        big_loss = softmax_cross_entropy(big, np.array([0, 0]))
        big_loss.backward()
    assert np.isclose(big_loss.data.data, 500.0), f"logits [[1000, 0], [0, 1000]], targets [0, 0]: loss 500, got {big_loss.data.data}"
    expect_grad("softmax_cross_entropy with logits of 1000", "logits", big, np.array([[0.0, 0.0], [-0.5, 0.5]]))
    # Rows of very different scale: each row must be shifted by its own maximum, not the batch's.
    mixed = Variable(np.array([[1000.0, 0.0], [-1000.0, -999.0]]))
    with np.errstate(all="ignore"):
        mixed_loss = softmax_cross_entropy(mixed, np.array([0, 1]))
        mixed_loss.backward()
    expected = np.log1p(np.exp(-1.0)) / 2
    assert np.isclose(mixed_loss.data.data, expected), (
        f"logits [[1000, 0], [-1000, -999]], targets [0, 1]: loss {expected:.5f}, got {mixed_loss.data.data} "
        "(shift each row by its own maximum: logits.max(axis=1, keepdims=True))"
    )
    p = 1 / (1 + np.e)
    expect_grad("softmax_cross_entropy, rows [1000, 0] and [-1000, -999]", "logits", mixed, np.array([[0.0, 0.0], [p, -p]]) / 2)
    z32 = Variable(np.zeros((4, 3), dtype=np.float32))
    l32 = softmax_cross_entropy(z32, [0, 1, 2, 0])
    l32.backward()
    assert l32.dtype == np.float32 and grad_of(z32).dtype == np.float32, "softmax_cross_entropy keeps float32"
    assert np.isclose(l32.data.data, np.log(3)), f"uniform logits over 3 classes: loss log(3), got {l32.data.data}"
    for bad in (np.array([0, 3]), np.array([0])):
        try:
            softmax_cross_entropy(Variable(np.zeros((2, 3))), bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"softmax_cross_entropy with 3 classes, targets {bad}: should raise ValueError")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(17)
    assert gradcheck(lambda u: softmax_cross_entropy(u, np.array([0, 2, 1, 2])), [Variable(rng.standard_normal((4, 3)))])
    assert gradcheck(lambda u: softmax_cross_entropy(u, [1, 0]) * 3.0, [Variable(rng.standard_normal((2, 5)) * 10)])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_softmax_cross_entropy()

# %% [markdown]
"""
## Part 4: using the engine

### gradcheck in action

`gradcheck` has been checking your operations all along in the hidden tests. It is just as
useful for your own code: whenever you add an operation, check it. Here it confirms a composite
expression, and catches an operation whose backward is deliberately wrong (d(x^2)/dx = x
instead of 2x), naming the input and the element where it disagrees.
"""

# %% nbgrader={"grade": true, "grade_id": "test-gradcheck", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_gradcheck():
    rng = np.random.default_rng(3)
    a, b = Variable(rng.standard_normal((3, 2))), Variable(rng.standard_normal((2, 4)))
    assert gradcheck(lambda p, q: tanh(p @ q) * 2.0 - exp(mean(p)), [a, b]) is True, "gradcheck should return True"

    @operation(inputs=1)
    def wrong_square(x):
        return x * x, (lambda g: g * x,)

    try:
        gradcheck(wrong_square, [Variable(np.array([1.0, 2.0]))])
    except AssertionError as error:
        assert "input 0" in str(error) and "index (0,)" in str(error), f"gradcheck should name input and index: {error}"
        assert "of wrong_square" in str(error), f"gradcheck should name the function: {error}"
    else:
        raise AssertionError("gradcheck should raise AssertionError on a wrong backward")
    ### BEGIN HIDDEN TESTS
    assert gradcheck(lambda p, q: p * q, [Variable(1.0), Variable(2.0, requires_grad=False)])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_gradcheck()

# %% [markdown]
"""
### no_grad

Evaluating a model (or updating its weights) needs values, not gradients. Recording a graph
then only costs time and memory, and worse, an update `w = w - lr * w.grad` done with recorded
operations would make the new `w` a non-leaf that remembers all of training. Inside
`with no_grad():` operations record nothing and their results require no grad.
"""

# %% nbgrader={"grade": true, "grade_id": "test-no-grad", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_no_grad():
    x = Variable(np.ones(3))
    with no_grad():
        y = x * 2.0 + 1.0
        with no_grad():
            pass
        z = exp(y)
    assert not y.requires_grad and y.grad_fn is None, "inside no_grad, results should not require grad"
    assert not z.requires_grad, "no_grad: recording stays off after a nested no_grad exits"
    assert np.allclose(y.data.data, 3.0), f"no_grad still computes values: expected 3.0, got {y.data.data}"
    w = x * 2.0
    assert w.requires_grad and w.grad_fn is not None, "after no_grad, recording is back on"
    try:
        with no_grad():
            raise KeyError("inside")
    except KeyError:
        pass
    assert (x * 1.0).requires_grad, "no_grad must switch recording back on even when its block raises"
    try:
        y.backward()
    except RuntimeError:
        pass
    else:
        raise AssertionError("backward on a Variable computed in no_grad should raise RuntimeError")
    ### BEGIN HIDDEN TESTS
    assert (x + 0).grad_fn is not None
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_no_grad()

# %% [markdown]
"""
### Train a small neural network

Everything together. The data: 2-D points, labelled by whether their two coordinates have the
same sign (the XOR pattern, which no straight line separates). The model: a two-layer network
`logits = relu(X @ W1 + b1) @ W2 + b2`, in float32 like a real framework. Training: softmax
cross-entropy, backward, and plain gradient descent. The update works directly on the NumPy
arrays (`p.data.data -= ...`): it is not part of the model, so it must not be recorded.
"""

# %% nbgrader={"grade": false, "grade_id": "network", "locked": false, "schema_version": 3, "solution": false, "task": false}
def make_xor_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    return points, labels


def init_network(hidden: int, seed: int) -> list[Variable]:
    rng = np.random.default_rng(seed)
    return [
        Variable(rng.normal(0, 1.0, (2, hidden)).astype(np.float32)),
        Variable(np.zeros(hidden, dtype=np.float32)),
        Variable(rng.normal(0, 1.0 / np.sqrt(hidden), (hidden, 2)).astype(np.float32)),
        Variable(np.zeros(2, dtype=np.float32)),
    ]


def network(params: list[Variable], points) -> Variable:
    w1, b1, w2, b2 = params
    return relu(points @ w1 + b1) @ w2 + b2


def train(params: list[Variable], points, labels, steps: int, learning_rate: float) -> list[float]:
    losses = []
    for _ in range(steps):
        loss = softmax_cross_entropy(network(params, points), labels)
        for p in params:
            p.zero_grad()
        loss.backward()
        for p in params:
            p.data.data -= learning_rate * p.grad.data.data  # in place: same dtype, no new graph
        losses.append(loss.data.data.item())
    return losses


def accuracy(params: list[Variable], points, labels) -> float:
    with no_grad():
        predicted = network(params, points).data.data.argmax(axis=1)
    return float(np.mean(predicted == labels))


# %% nbgrader={"grade": true, "grade_id": "test-train-network", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_train_network():
    points, labels = make_xor_data(256, seed=0)
    params = init_network(hidden=16, seed=1)
    losses = train(params, points, labels, steps=300, learning_rate=0.5)
    assert losses[-1] < 0.5 * losses[0], f"training should at least halve the loss: {losses[0]:.3f} -> {losses[-1]:.3f}"
    test_points, test_labels = make_xor_data(256, seed=2)
    acc = accuracy(params, test_points, test_labels)
    assert acc > 0.9, f"the trained network should classify > 90% of new XOR points, got {acc:.1%}"
    assert all(p.data.data.dtype == np.float32 and p.grad.data.data.dtype == np.float32 for p in params), (
        "float32 parameters and gradients should stay float32 through training"
    )
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, test accuracy {acc:.1%}")
    ### BEGIN HIDDEN TESTS
    assert params[1].grad.shape == (16,) and params[3].grad.shape == (2,)
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_train_network()

# %% [markdown]
"""
## Where to start when tests fail

One mistake usually fails several tests: a wrong local gradient in `multiply` also breaks `-x`,
the chain rule and training. So when tests fail, `tito check` and your feedback begin with one
line such as

    Start here: `multiply` -- d/da of multiply at a=2, b=3 should be 3, got 2 (9 failing tests use multiply)

naming the one function most likely at fault. It comes from the probes in the next cell. Each
probe tries ONE function you wrote, alone, in the order the functions build on each other: an
operation's forward value on a small input, then each of its local gradients against central
differences of *your own* forward (the referee of `gradcheck`: nothing here knows the answers).
Each failing test is then pinned on the first broken function it called. Run them yourself
with `run_probes()`.
"""

# %% nbgrader={"grade": false, "grade_id": "diagnosis-probes", "locked": true, "schema_version": 3, "solution": false, "task": false}
import inspect


class ProbeFailure(AssertionError):
    """What a probe found wrong; for a wrong local gradient, also the small graph that shows it."""

    def __init__(self, message: str, graph: dict | None = None) -> None:
        super().__init__(message)
        self.graph = graph


SHOWN_ELEMENTS = 6  # arrays up to this size are shown with their values, larger ones by shape


def shown(value) -> str:
    """A short number or array for a message: 2, -0.6667, [[1, 2], [3, 4]]."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{array.item():.4g}"
    if array.size > SHOWN_ELEMENTS:
        return f"an array of shape {array.shape}"
    return " ".join(np.array2string(array, separator=", ", formatter={"float_kind": lambda v: f"{v:.4g}"}).split())


def named(name: str, value) -> str:
    """`a=2` or `x of shape (2, 3, 4)` for a message."""
    return f"{name}={shown(value)}" if np.size(value) <= SHOWN_ELEMENTS else f"{name} of shape {np.shape(value)}"


def difference(want: np.ndarray, got: np.ndarray) -> str:
    """`should be 3, got 2`; for a large array, its first wrong element."""
    if want.size <= SHOWN_ELEMENTS:
        return f"should be {shown(want)}, got {shown(got)}"
    index = next(i for i in np.ndindex(want.shape) if not np.isclose(got[i], want[i], rtol=1e-4, atol=1e-6))
    return f"at index {index} should be {shown(want[index])}, got {shown(got[index])}"


def numeric_vjp(forward: Callable, values: list, number: int, g: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d sum(g * forward(*values)) / d values[number], by central differences in float64."""
    values = [np.array(v, dtype=np.float64) for v in values]
    x = values[number]
    result = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        above = np.sum(g * forward(*values))
        x[index] = original - eps
        below = np.sum(g * forward(*values))
        x[index] = original
        result[index] = (above - below) / (2 * eps)
    return result


def gradient_graph(name: str, parameters: list, values: list, out, wrong: int, want, got) -> dict:
    """The probed expression `out = name(inputs)` as plain data, its operation marked (for the feedback)."""
    nodes = [{"id": f"in{n}", "kind": "value", "lines": [p, f"shape {np.shape(v)}", f"data {shown(v)}"]}
             for n, (p, v) in enumerate(zip(parameters, values, strict=False))]
    nodes.append({"id": "op", "kind": "operation", "lines": [name], "marked": True,
                  "note": [f"local gradient for {parameters[wrong]}:", f"expected {shown(want)} (central difference)",
                           f"got {shown(got)} (yours)"]})
    nodes.append({"id": "out", "kind": "value", "lines": ["out", f"shape {np.shape(out)}", f"data {shown(out)}"]})
    edges = [{"from": f"in{n}", "to": "op", "marked": n == wrong} for n in range(len(values))]
    return {"nodes": nodes, "edges": [*edges, {"from": "op", "to": "out", "marked": False}]}


def probe_operation(op: Callable, *inputs, reference: Callable, options: tuple = ()) -> None:
    """One operation alone: its forward value against `reference` (NumPy's), then each local
    gradient against central differences of the forward you wrote (no engine involved)."""
    name = getattr(op, "__name__", "?")
    forward = getattr(op, "__wrapped__", None)  # the function under @operation
    if forward is None:
        raise ProbeFailure(f"{name} is not an @operation (it has no __wrapped__ forward function)")
    values = [np.array(v, dtype=np.float64) for v in inputs]
    parameters = list(inspect.signature(forward).parameters)[: len(values)]
    at = ", ".join(named(p, v) for p, v in zip(parameters, values, strict=False))
    out, local_grads = forward(*values, *options)
    expected = reference(*values, *options)
    if np.shape(out) != np.shape(expected):
        raise ProbeFailure(f"{name} at {at} should have shape {np.shape(expected)}, got shape {np.shape(out)}")
    if not np.allclose(out, expected, rtol=1e-6, atol=1e-9):
        raise ProbeFailure(f"{name} at {at}: {difference(np.asarray(expected), np.asarray(out))}")
    if not isinstance(local_grads, (tuple, list)) or len(local_grads) != len(values):
        raise ProbeFailure(f"{name} should return (out, a tuple of {len(values)} local gradient function(s)), got {local_grads!r}")
    g = np.arange(1.0, np.size(out) + 1).reshape(np.shape(out))  # 1, 2, 3, ...: a gradient sent to the wrong element shows
    with_g = "" if g.size == 1 else f", {named('g', g)}" + (" holding 1, 2, 3, ..." if g.size > SHOWN_ELEMENTS else "")
    for number, (parameter, local_grad) in enumerate(zip(parameters, local_grads, strict=False)):
        got = np.asarray(local_grad(g.copy()))
        want = numeric_vjp(lambda *vs: forward(*vs, *options)[0], values, number, g)
        if got.shape != want.shape:
            raise ProbeFailure(f"d/d{parameter} of {name} at {at}{with_g} should have shape {want.shape} "
                               f"(the shape of {parameter}), got shape {got.shape}",
                               gradient_graph(name, parameters, values, out, number, want, got))
        if not np.allclose(got, want, rtol=1e-4, atol=1e-6):
            raise ProbeFailure(f"d/d{parameter} of {name} at {at}{with_g}: {difference(want, got)}",
                               gradient_graph(name, parameters, values, out, number, want, got))


def probe_stable(op: Callable, *inputs, reference: Callable, options: tuple = ()) -> None:
    """The forward value on extreme inputs, with NumPy's overflow warnings turned into errors."""
    name = op.__name__
    values = [np.array(v, dtype=np.float64) for v in inputs]
    at = ", ".join(shown(v) for v in values)
    expected = reference(*values, *options)
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out, _ = op.__wrapped__(*values, *options)
    except FloatingPointError as error:
        raise ProbeFailure(f"{name} at {at} should be {shown(expected)}, but it overflows ({error})") from None
    if not np.allclose(out, expected):
        raise ProbeFailure(f"{name} at {at} should be {shown(expected)}, got {shown(out)}")


def probe_node(value, *edges) -> Variable:
    """A graph node made directly, not by your Variable() or operations: probes the engine alone."""
    node = Variable.__new__(Variable)
    node.data, node.requires_grad, node.grad = Tensor(np.array(value, dtype=np.float64)), True, None
    node.grad_fn = GradFn("probe", tuple(edges)) if edges else None
    return node


def grad_array(node: Variable):
    grad = node.grad
    return None if grad is None else np.asarray(getattr(getattr(grad, "data", grad), "data", grad))


def passed_on(g):  # a local gradient that hands g on unchanged
    return g


def probe_variable() -> None:
    v = Variable(5.0)
    if not isinstance(v.data, Tensor):
        raise ProbeFailure(f"Variable(5.0).data should be a Tensor, got {type(v.data).__name__}")
    if v.data.data.dtype != np.float32 or v.data.data.item() != 5.0:
        raise ProbeFailure(f"Variable(5.0) should hold 5.0 as float32, got {v.data.data!r}")
    for attribute, expected in (("requires_grad", True), ("grad", None), ("grad_fn", None)):
        if getattr(v, attribute) is not expected:
            raise ProbeFailure(f"Variable(5.0).{attribute} should be {expected}, got {getattr(v, attribute)!r}")
    constant = Variable(np.zeros(2), requires_grad=False)
    if constant.requires_grad is not False:
        raise ProbeFailure(f"Variable(np.zeros(2), requires_grad=False).requires_grad should be False, got {constant.requires_grad!r}")
    if constant.data.data.dtype != np.float64:
        raise ProbeFailure(f"Variable(np.zeros(2)) should keep float64, got {constant.data.data.dtype}")
    tensor = Tensor(np.ones(2))
    if Variable(tensor).data is not tensor:
        raise ProbeFailure("Variable(tensor).data should be that very Tensor (no copy)")
    try:
        Variable("five")
    except TypeError:
        pass
    else:
        raise ProbeFailure('Variable("five") should raise TypeError')


def probe_topological_order() -> None:
    x, y = probe_node(2.0), probe_node(3.0)
    a = probe_node(6.0, (x, passed_on), (y, passed_on))
    b = probe_node(8.0, (a, passed_on), (x, passed_on))
    c = probe_node(48.0, (a, passed_on), (b, passed_on))
    graph = "c made from a and b, b from a and x, a from x and y"
    names = {id(v): name for name, v in zip("xyabc", (x, y, a, b, c), strict=True)}
    listed = [names.get(id(v), "?") for v in topological_order(c)]
    order = f"[{', '.join(listed)}]"
    if sorted(listed) != ["a", "b", "c", "x", "y"]:
        raise ProbeFailure(f"topological_order of {graph} should list x, y, a, b and c once each, got {order}")
    for node, inputs in (("a", "xy"), ("b", "ax"), ("c", "ab")):
        for made_from in inputs:
            if listed.index(made_from) > listed.index(node):
                raise ProbeFailure(f"topological_order of {graph}: {made_from} should come before {node}, got {order}")
    start = probe_node(0.0)
    end = start
    for _ in range(10_000):
        end = probe_node(0.0, (end, passed_on))
    try:
        chain = topological_order(end)
    except RecursionError:
        raise ProbeFailure("topological_order of a 10,000-node chain raised RecursionError (recursion is too deep)") from None
    if len(chain) != 10_001 or chain[0] is not start or chain[-1] is not end:
        raise ProbeFailure(f"topological_order of a 10,000-node chain should list its 10,001 nodes, first to last; got {len(chain)}")


def probe_unbroadcast() -> None:
    for big, small in (((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((4, 2, 3), (2, 1)), ((2, 3), ()), ((2, 3), (2, 3))):
        grad = np.arange(1.0, np.prod(big) + 1).reshape(big)
        want = numeric_vjp(lambda v, shape=big: np.broadcast_to(v, shape), [np.ones(small)], 0, grad)
        got = np.asarray(unbroadcast(grad.copy(), small))
        what = f"unbroadcast(gradient of shape {big} holding 1..{grad.size}, {small})"
        if got.shape != small:
            raise ProbeFailure(f"{what} should have shape {small}, got shape {got.shape}")
        if not np.allclose(got, want):
            raise ProbeFailure(f"{what} should be {shown(want)}, got {shown(got)}")


def probe_backpropagate() -> None:
    called = []

    def times(k):
        return lambda g: called.append(k) or g * k

    x = probe_node(1.0)
    a, b = probe_node(2.0, (x, times(2.0))), probe_node(3.0, (x, times(3.0)))
    c = probe_node(5.0, (a, times(1.0)), (b, times(1.0)))
    graph = "c = a + b with a = 2x and b = 3x"
    backpropagate(c, np.array(1.0))
    got = grad_array(x)
    if got is None or not np.isclose(got, 5.0):
        raise ProbeFailure(f"backpropagate(c, 1) on {graph}: x.grad should be 5, got {None if got is None else shown(got)}")
    if len(called) != 4:
        raise ProbeFailure(f"backpropagate(c, 1) on {graph} should call each of its 4 local gradients once, made {len(called)} calls")
    backpropagate(c, np.array(1.0))
    if not np.isclose(grad_array(x), 10.0):
        raise ProbeFailure(f"backpropagate(c, 1) twice on {graph}: x.grad should add up to 10, got {shown(grad_array(x))}")
    left, right = probe_node(np.ones(2)), probe_node(np.ones(2))
    backpropagate(probe_node(np.full(2, 2.0), (left, passed_on), (right, passed_on)), np.ones(2))
    if grad_array(left) is grad_array(right):
        raise ProbeFailure("backpropagate on s = left + right: left.grad and right.grad hold one and the same array")
    bias = probe_node(np.zeros(3))
    backpropagate(probe_node(np.zeros((2, 3)), (bias, passed_on)), np.ones((2, 3)))
    got = grad_array(bias)
    if got is None or got.shape != (3,) or not np.allclose(got, 2.0):
        raise ProbeFailure("backpropagate on out (2, 3) = x (2, 3) + bias (3,), with gradient ones: bias.grad should be "
                           f"[2, 2, 2] of shape (3,), got {None if got is None else shown(got) + f' of shape {got.shape}'}")
    start = probe_node(1.0)
    end = start
    for _ in range(10_000):
        end = probe_node(1.0, (end, passed_on))
    try:
        backpropagate(end, np.array(1.0))
    except RecursionError:
        raise ProbeFailure("backpropagate through a 10,000-node chain raised RecursionError (recursion is too deep)") from None


def probe_spread_back() -> None:
    for shape, axis, keepdims in (((3, 3), 1, False), ((2, 3), 0, True), ((2, 3), None, False), ((2, 3, 4), (0, 2), False)):
        reduced_shape = np.sum(np.ones(shape), axis=axis, keepdims=keepdims).shape
        g = np.arange(1.0, np.prod(reduced_shape) + 1).reshape(reduced_shape)
        want = numeric_vjp(lambda x, a=axis, k=keepdims: np.sum(x, axis=a, keepdims=k), [np.ones(shape)], 0, g)
        got = np.asarray(spread_back(g.copy(), axis, keepdims, shape))
        what = f"spread_back({named('g', g)}, axis={axis}, keepdims={keepdims}, shape={shape})"
        if got.shape != want.shape:
            raise ProbeFailure(f"{what} should have shape {want.shape}, got shape {got.shape}")
        if not np.allclose(got, want):
            raise ProbeFailure(f"{what}: {difference(want, got)}")


def cross_entropy_reference(logits, targets):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(targets)), targets])


def reduction(numpy_function: Callable) -> Callable:
    return lambda x, axis, keepdims: numpy_function(x, axis=axis, keepdims=keepdims)


SQUARE = np.arange(1.0, 10.0).reshape(3, 3)  # a square input: an axis mixed up with another one shows

# (function, probe) in the order the functions build on each other: tito pins each failing test
# on the first broken one it called.
DIAGNOSIS_PROBES = [
    ("Variable.__init__", probe_variable),
    ("add", lambda: probe_operation(add, 2.0, 3.0, reference=np.add)),
    ("multiply", lambda: probe_operation(multiply, 2.0, 3.0, reference=np.multiply)),
    ("subtract", lambda: probe_operation(subtract, 5.0, 3.0, reference=np.subtract)),
    ("divide", lambda: probe_operation(divide, 6.0, 3.0, reference=np.divide)),
    ("power", lambda: (probe_operation(power, 3.0, options=(2,), reference=np.power),
                       probe_operation(power, 4.0, options=(0.5,), reference=np.power))),
    ("topological_order", probe_topological_order),
    ("unbroadcast", probe_unbroadcast),
    ("backpropagate", probe_backpropagate),
    ("matmul", lambda: probe_operation(matmul, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]],
                                       reference=np.matmul)),
    ("spread_back", probe_spread_back),
    ("sum", lambda: (probe_operation(sum, SQUARE, options=(1, False), reference=reduction(np.sum)),
                     probe_operation(sum, SQUARE, options=(None, False), reference=reduction(np.sum)))),
    ("mean", lambda: (probe_operation(mean, SQUARE, options=(None, False), reference=reduction(np.mean)),
                      probe_operation(mean, SQUARE, options=(-1, False), reference=reduction(np.mean)))),
    ("reshape", lambda: probe_operation(reshape, np.arange(6.0), options=((2, 3),), reference=np.reshape)),
    ("transpose", lambda: probe_operation(transpose, np.arange(24.0).reshape(2, 3, 4), options=((1, 2, 0),),
                                          reference=np.transpose)),
    ("exp", lambda: probe_operation(exp, 1.0, reference=np.exp)),
    ("log", lambda: probe_operation(log, 2.0, reference=np.log)),
    ("relu", lambda: probe_operation(relu, [-1.0, 2.0], reference=lambda x: np.maximum(x, 0))),
    ("sigmoid", lambda: (probe_operation(sigmoid, [0.0, 2.0], reference=lambda x: 1 / (1 + np.exp(-x))),
                         probe_stable(sigmoid, [-1000.0, 1000.0], reference=lambda x: np.array([0.0, 1.0])))),
    ("tanh", lambda: probe_operation(tanh, 0.5, reference=np.tanh)),
    ("softmax_cross_entropy", lambda: (
        probe_operation(softmax_cross_entropy, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], options=(np.array([2, 0]),),
                        reference=cross_entropy_reference),
        probe_stable(softmax_cross_entropy, [[1000.0, 0.0], [0.0, 1000.0]], options=(np.array([0, 0]),),
                     reference=cross_entropy_reference))),
]


def run_probes() -> None:
    """Run every probe and print what it finds, e.g. `FAIL  multiply  d/da of multiply at ...`."""
    for name, probe in DIAGNOSIS_PROBES:
        try:
            probe()
            print(f"ok    {name}")
        except Exception as error:  # any error is a finding: show it and go on with the next probe
            print(f"FAIL  {name}  {type(error).__name__}: {error}")

# %% [markdown]
"""
## Summary

You built an automatic differentiation engine with the same structure as PyTorch's:

- **`Variable`**: a value (`.data`, a Tensor) with `requires_grad`, `grad`, `grad_fn` and
  `is_leaf`; operators `+ - * / ** @`, unary minus and the reflected forms.
- **Operations** as pairs of forward and local gradient, side by side: `add`, `subtract`,
  `multiply`, `divide`, `power`, `matmul`, `sum`, `mean`, `reshape`, `transpose`, `exp`, `log`,
  `relu`, `sigmoid`, `tanh` and a stable fused `softmax_cross_entropy`.
- **One engine** for all of them: `operation` records edges only where a gradient is needed;
  `topological_order` and `backpropagate` visit every node once, iteratively, accumulating a
  node's gradient before passing it on; `unbroadcast` gives every input a gradient of its own
  shape.
- **Tools**: `gradcheck` against central differences, and `no_grad`.

What to remember:

1. The chain rule is local: an operation only needs to know its own derivative.
2. Gradients from different uses of a value **add up**, and a node must have all of them
   before it passes its gradient on. That is why backward walks a topological order, and why
   it costs about as much as the forward pass instead of 2^k.
3. Broadcasting in the forward pass is a sum in the backward pass.
4. Numerical care is part of correctness: shift before `exp`, `tanh` for `sigmoid`, check
   with finite differences in float64.

Next, optimizers and layers are built on exactly this engine.
"""
