# %% [markdown]
# # Module 01: Tensor
#
# Every number a neural network touches lives in a tensor: the pixels of an image, the weights of
# a layer, the loss that training pushes down, and the gradients autograd computes for all of them.
# In this module you build `Tensor`, the container the rest of tinytorch is written on. Module 07
# (autograd) wraps your `Tensor` and records every operation on it, so what you build here is the
# hot path of the whole framework: it must be correct, predictable about types, and lean.
#
# ## What you will learn
# - what a tensor is: an n-dimensional grid of numbers, described by its **shape** and **dtype**
# - how a dtype is chosen, and why deep learning defaults to 32-bit floats
# - **broadcasting**: how arrays of different shapes combine elementwise, and how to work out the
#   result shape by hand
# - how Python operators (`+`, `*`, `@`, `2 - t`) reach your code, and how to cooperate with NumPy
# - why we put NumPy underneath instead of writing our own array loops
#
# ## Build -> Use -> Analyze
# 1. **Build**: `as_array` (turning user data into a well-typed array), `broadcast_shape` (the
#    broadcasting rule), and the `Tensor` class with arithmetic, matrix multiplication, reductions
#    and reshaping.
# 2. **Use**: standardise a small dataset and run a linear model on it, using nothing but `Tensor`.
# 3. **Analyze**: measure memory per dtype, the speed of vectorised code against Python loops, which
#    operations copy and which share memory, and what our wrapper costs on top of NumPy.
#
# ## Where the code goes
# You write in this notebook. Cells marked `#| export` are exported by `tito export tensor.ipynb`
# into your `tinytorch` package (the `tinytorch/` folder next to the notebook), so that anyone can
# later write
#
# ```python
# from tinytorch.core.tensor import Tensor
# ```
#
# Cells that say `# YOUR CODE HERE` are yours to write: replace the `raise NotImplementedError()`
# with your code. The locked cells after them test your work, and each test cell's points are what
# the autograder awards. Run the cells from the top, in order.

# %% nbgrader={"grade": false, "grade_id": "tensor-imports", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.tensor
#| export
from __future__ import annotations

import numpy as np

# %% [markdown]
# ## 1. What is a tensor?
#
# A tensor is a grid of numbers with any number of axes. The number of axes is its **rank**
# (`ndim`), the length along each axis is its **shape**, and the count of all its numbers is its
# **size** (the product of the shape).
#
# | example | rank | shape |
# | --- | --- | --- |
# | the loss of a batch, `0.73` | 0 | `()` |
# | the bias of a layer with 10 outputs | 1 | `(10,)` |
# | the weights of a layer, 784 inputs to 10 outputs | 2 | `(784, 10)` |
# | a batch of 32 RGB images of 28 x 28 pixels | 4 | `(32, 3, 28, 28)` |
#
# A rank-0 tensor still holds one number; its shape is the empty tuple `()`, and its size is 1
# (the product of no numbers). Shapes are how we reason about a model before running it: if `x`
# has shape `(32, 784)` and `w` has shape `(784, 10)`, then `x @ w` has shape `(32, 10)`: one row
# of 10 scores for each of the 32 examples.
#
# ### Memory: one flat block
# However many axes a tensor has, its numbers sit in one flat block of memory. The shape, with the
# *strides* (how many bytes to step to move one place along each axis), only says how to read that
# block as a grid. This is why reshaping and transposing can be free: they change how the block is
# read (a transpose just swaps the strides), not the block itself. Section 6 shows it.
#
# ### Why NumPy underneath
# We could store a tensor as nested Python lists and loop over them. Every step of such a loop
# runs through the Python interpreter: look up the element, box it as a Python float, dispatch
# `+`, allocate the result. NumPy stores raw machine numbers in one block and runs each operation
# as a compiled loop over it, typically 10-100 times faster (section 6 measures it on your machine).
# It also brings the rules we want anyway: dtypes, broadcasting, matrix multiplication.
#
# So our `Tensor` keeps a NumPy array in `.data` and adds what NumPy does not give us: a type of
# our own that autograd can wrap, a small clear API in PyTorch's vocabulary, strict input checks,
# and a fixed default dtype. PyTorch is built the same way: `torch.Tensor` is a thin Python face
# on a C++ array library (ATen).

# %% [markdown]
# ## 2. Build: dtypes and turning data into arrays
#
# A **dtype** says how each number is stored: `float32` (4 bytes, about 7 significant digits),
# `float64` (8 bytes, about 16 digits), `int64`, `bool`, ... All numbers in one tensor share one
# dtype.
#
# Deep learning defaults to **float32**: half the memory and memory traffic of float64, much faster
# on GPUs, and 7 digits are plenty for weights that training nudges by noisy gradient steps anyway.
# NumPy defaults to float64 for Python floats (and int64 for Python ints), so we must choose
# deliberately. Our rules (`torch.tensor` makes the same choices, except that it keeps Python ints
# as int64):
#
# 1. **NumPy data keeps its dtype.** A NumPy array is used *as it is*: no copy, no conversion. A
#    float64 array stays float64, an int32 array stays int32, a bool array stays bool. NumPy scalars
#    such as `np.float64(2.5)` keep their dtype too. Whoever made a NumPy array chose its dtype.
# 2. **Python data becomes float32.** Python numbers and (nested) lists or tuples of them become
#    float32, and that includes ints and bools (`True` becomes `1.0`): a Python `1` typed into a
#    model is a weight or an input, not an index.
# 3. **An explicit `dtype` wins** over both rules.
# 4. **Non-numeric data is refused** with a `TypeError` that names what was passed: strings (even
#    `"1.5"`: NumPy would happily parse it, we don't), `None`, arbitrary objects, and *ragged* lists
#    such as `[[1, 2], [3]]`, which are not a grid. Python complex numbers are refused too, because
#    float32 would silently drop their imaginary part; pass `dtype=np.complex64` to keep them.
#
# NumPy classifies every dtype by a one-letter **kind**: `b` bool, `i` signed int, `u` unsigned
# int, `f` float, `c` complex; everything else (`U` str, `S` bytes, `O` Python object, `M`
# datetime, ...) is not numeric for us.
#
# ```python
# >>> np.asarray([1, 2]).dtype, np.asarray([1, 2]).dtype.kind
# (dtype('int64'), 'i')
# >>> np.asarray(["1", "2"]).dtype.kind, np.asarray([1, None]).dtype.kind
# ('U', 'O')
# ```

# %% nbgrader={"grade": false, "grade_id": "as-array", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
NUMERIC_KINDS = frozenset("biufc")  # NumPy dtype kinds we accept: bool, int, unsigned int, float, complex
DEFAULT_DTYPE = np.dtype(np.float32)  # what Python numbers and lists become


def _non_numbers(data: object):
    """The leaves of nested lists/tuples that are not numbers (`data` itself if it is neither)."""
    if isinstance(data, (list, tuple)):
        for item in data:
            yield from _non_numbers(item)
    elif not isinstance(data, (bool, int, float, complex, np.generic, np.ndarray)):
        yield data


def _refuse(data: object, why: str) -> TypeError:
    """A TypeError naming the type of `data` (and of the first non-number inside a list)."""
    culprit = next(_non_numbers(data), data)
    inside = f" containing {type(culprit).__name__} ({culprit!r:.40})" if culprit is not data else ""
    return TypeError(f"Tensor data must be numeric: got {type(data).__name__}{inside}, {why}")


def as_array(data: object, dtype: object = None) -> np.ndarray:
    """Convert `data` to a NumPy array of numbers, following tinytorch's dtype rules.

    Build it to return a NumPy array holding `data`:
    - `data` is a NumPy array or NumPy scalar and `dtype` is None: return it as an array with its own
      dtype. An array must come back as the very same object (`as_array(a) is a`): no copy.
    - `data` is Python data (a number, a bool, nested lists/tuples of them) and `dtype` is None:
      return a float32 array.
    - `dtype` is given: return an array of that dtype (no copy if it already has it).
    - Refuse with `TypeError`, naming `type(data).__name__` in the message, when
      * the data is not numeric: its NumPy dtype kind is not in NUMERIC_KINDS
        (strings, None, objects, lists holding any of them),
      * a list is ragged (`np.asarray` raises ValueError for those),
      * the requested `dtype` is not numeric,
      * Python complex data arrives without a dtype (float32 cannot hold it).
      The helper `_refuse(data, why)` builds such an error for you; `raise _refuse(data, "...")`.

    EXAMPLE:
    >>> as_array([1, 2]).dtype
    dtype('float32')
    >>> as_array(np.arange(3)).dtype        # NumPy data keeps its dtype (int64 here)
    dtype('int64')
    >>> as_array(7, dtype=np.int32)
    array(7, dtype=int32)
    >>> as_array("1.5")
    TypeError: Tensor data must be numeric: got str, ...
    """
    ### BEGIN SOLUTION
    try:
        array = np.asarray(data)
    except ValueError:  # NumPy's complaint about ragged nested lists
        raise _refuse(data, "whose nested rows differ in length, so it is not a grid") from None
    if array.dtype.kind not in NUMERIC_KINDS:
        raise _refuse(data, f"which NumPy stores as dtype {array.dtype}")
    if dtype is not None:
        target = np.dtype(dtype)
        if target.kind not in NUMERIC_KINDS:
            raise TypeError(f"Tensor dtype must be numeric: got {target} for {type(data).__name__} data")
        return array.astype(target, copy=False)
    if isinstance(data, (np.ndarray, np.generic)):
        return array
    if array.dtype.kind == "c":
        raise _refuse(data, "which float32 cannot hold; pass dtype=np.complex64 to keep it complex")
    return array.astype(DEFAULT_DTYPE)
    ### END SOLUTION


# %% [markdown]
# <details><summary>Hint</summary>
#
# **as_array, step 1: the idea.** Look at what the data *is* before converting it: converting straight to float32 would turn
# the string "1.5" into the number 1.5. Then decide the dtype: the data's own (NumPy data), float32
# (Python data) or the requested one.
#
# <details><summary>Step 2: the details</summary>
#
# - Call `np.asarray(data)` first, *without* a dtype, and check `array.dtype.kind`.
# - `isinstance(data, (np.ndarray, np.generic))` tells NumPy data from Python data.
# - `np.dtype(dtype).kind` is the kind of the requested dtype.
# - `array.astype(dtype, copy=False)` converts without copying when nothing changes.
#
# </details>
# </details>

# %% [markdown]
# ### Test helpers
# The tests below compare what your code returns with what it should return, and say both when they
# differ. This cell is locked; run it before the tests.

# %% nbgrader={"grade": false, "grade_id": "test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
def expect_array(got: object, expected: object, dtype: object, what: str) -> None:
    """Fail, saying expected vs got, unless `got` is an ndarray equal to `expected` with `dtype`."""
    expected = np.asarray(expected)
    assert isinstance(got, np.ndarray), f"{what}: expected a NumPy array, got {type(got).__name__}: {got!r}"
    assert got.shape == expected.shape, f"{what}: expected shape {expected.shape}, got {got.shape}"
    same = np.array_equal(got, expected) or (
        got.dtype.kind in "fc" and np.allclose(got, expected, rtol=1e-5, atol=1e-6)  # float rounding
    )
    assert same, f"{what}: expected values {expected.tolist()}, got {got.tolist()}"
    assert got.dtype == np.dtype(dtype), f"{what}: expected dtype {np.dtype(dtype)}, got {got.dtype}"


def expect_error(error_type: type, action, mentions: list[str], what: str) -> None:
    """Fail unless `action()` raises `error_type` with every string of `mentions` in its message."""
    try:
        action()
    except NotImplementedError:
        raise  # an unwritten stub: let the student see exactly that
    except Exception as error:  # any other exception is a wrong answer, reported below
        assert isinstance(error, error_type), (
            f"{what}: expected {error_type.__name__}, got {type(error).__name__}: {error}"
        )
        missing = [m for m in mentions if m not in str(error)]
        assert not missing, f"{what}: the {error_type.__name__} message should mention {missing}, got: {error}"
        return
    raise AssertionError(f"{what}: expected {error_type.__name__}, but nothing was raised")


# %% [markdown]
# ### Test: the dtype rules (10 points)

# %% nbgrader={"grade": true, "grade_id": "test-as-array-dtypes", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_as_array_dtypes():
    expect_array(as_array([1, 2, 3]), [1, 2, 3], np.float32, "as_array([1, 2, 3])")
    expect_array(as_array([[1.5, 2.5], [3.5, 4.5]]), [[1.5, 2.5], [3.5, 4.5]], np.float32, "nested list")
    expect_array(as_array(3.25), 3.25, np.float32, "as_array(3.25)")
    expect_array(as_array(True), 1.0, np.float32, "as_array(True): a Python bool is a number")
    expect_array(as_array([1, 2], dtype=np.int32), [1, 2], np.int32, "as_array([1, 2], dtype=np.int32)")

    a = np.array([1.0, 2.0])  # float64
    got = as_array(a)
    assert got is a, f"as_array(ndarray) must return the same array object (no copy), got a new {type(got).__name__}"
    expect_array(as_array(np.float64(2.5)), 2.5, np.float64, "as_array(np.float64(2.5)) keeps float64")
    expect_array(as_array(np.arange(3)), [0, 1, 2], np.arange(3).dtype, "as_array(np.arange(3)) keeps its int dtype")
    expect_array(as_array(a, dtype=np.float32), [1, 2], np.float32, "as_array(float64 array, dtype=np.float32)")
    ### BEGIN HIDDEN TESTS
    expect_array(as_array((1, 2)), [1, 2], np.float32, "as_array(tuple)")
    expect_array(as_array([[True], [False]]), [[1], [0]], np.float32, "as_array(list of bools)")
    expect_array(as_array(np.int8(-3)), -3, np.int8, "as_array(np.int8(-3))")
    b = np.zeros((2, 0), dtype=np.uint8)
    assert as_array(b) is b, "as_array(empty uint8 array) must return the same object"
    f32 = np.ones(3, dtype=np.float32)
    assert as_array(f32, dtype=np.float32) is f32, "as_array(a, dtype=a.dtype) must not copy"
    expect_array(as_array(1 + 2j, dtype=np.complex64), 1 + 2j, np.complex64, "as_array(1+2j, dtype=np.complex64)")
    expect_array(as_array(5, dtype="float64"), 5.0, np.float64, "as_array(5, dtype='float64')")
    expect_array(as_array(np.array(True)), True, np.bool_, "as_array(bool ndarray) keeps bool")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_as_array_dtypes()

# %% [markdown]
# ### Test: refusing non-numeric data (5 points)

# %% nbgrader={"grade": true, "grade_id": "test-as-array-bad-input", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_as_array_bad_input():
    expect_error(TypeError, lambda: as_array("1.5"), ["str"], 'as_array("1.5")')
    expect_error(TypeError, lambda: as_array(None), ["NoneType"], "as_array(None)")
    expect_error(TypeError, lambda: as_array([[1, 2], [3]]), ["list"], "as_array of a ragged list")
    expect_error(TypeError, lambda: as_array(object()), ["object"], "as_array(object())")
    ### BEGIN HIDDEN TESTS
    expect_error(TypeError, lambda: as_array([1, "a"]), ["list", "str"], 'as_array([1, "a"])')
    expect_error(TypeError, lambda: as_array([1.0, None]), ["list", "NoneType"], "as_array([1.0, None])")
    expect_error(TypeError, lambda: as_array({"a": 1}), ["dict"], "as_array(dict)")
    expect_error(TypeError, lambda: as_array(b"12"), ["bytes"], "as_array(bytes)")
    expect_error(TypeError, lambda: as_array(np.array(["x"])), ["ndarray"], "as_array(str ndarray)")
    expect_error(TypeError, lambda: as_array([1, 2], dtype=str), ["dtype"], "as_array(..., dtype=str)")
    expect_error(TypeError, lambda: as_array(2j), ["complex"], "as_array(2j) without dtype")
    expect_error(TypeError, lambda: as_array(((1, 2), (3,))), ["tuple"], "as_array of a ragged tuple")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_as_array_bad_input()

# %% [markdown]
# ## 3. Build: broadcasting
#
# Adding a bias of shape `(10,)` to scores of shape `(32, 10)` should add the same bias to each of
# the 32 rows. We don't want to copy the bias 32 times to make the shapes equal; **broadcasting**
# is the rule that lets the shapes differ:
#
# 1. Line the shapes up on the **right**. A shape with fewer axes is padded on the left with 1s.
# 2. Compare axis by axis. Two sizes fit if they are **equal** or one of them is **1**.
# 3. The result has, on each axis, the size that is not 1 (or 1 if both are 1). A size-1 axis is
#    *stretched*: the same values are reused along it, without copying.
#
# ```
#   scores  (32, 10)          image  (3, 28, 28)        a (4, 1)
#   bias        (10,)         scale  (3,  1,  1)        b    (5,)
#   result  (32, 10)          result (3, 28, 28)        result (4, 5)   <- both stretched
#
#   a (2, 3) with b (4,): 3 vs 4, neither is 1 -> error
# ```
#
# The third example surprises people: a column `(4, 1)` and a row `(5,)` make a
# `(4, 5)` table, every pairing of the two. Broadcasting is also a trap: a shape mistake can produce
# a big wrong tensor instead of an error. Knowing the result shape by heart protects you. Autograd
# (Module 07) needs the rule backwards: when `x` of shape `(10,)` was stretched to `(32, 10)`,
# its gradient must be summed back over the stretched axis.
#
# NumPy applies this rule for us inside every operation; you now implement it yourself to know it
# exactly (the tests compare you with NumPy).

# %% nbgrader={"grade": false, "grade_id": "broadcast-shape", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the result when tensors of the given `shapes` are combined elementwise.

    Apply the broadcasting rule to any number of shapes:
    - align the shapes on the right; missing leading axes count as size 1;
    - on each axis, all sizes that are not 1 must be equal, and that is the result's size
      (the result is 1 where every size is 1);
    - otherwise raise `ValueError` naming all the shapes, e.g.
      "cannot broadcast shapes (2, 3) and (4,): sizes 3 and 4 clash at axis -1".

    EXAMPLE:
    >>> broadcast_shape((32, 10), (10,))
    (32, 10)
    >>> broadcast_shape((4, 1), (5,))
    (4, 5)
    >>> broadcast_shape((), (2, 3))        # a rank-0 tensor fits anything
    (2, 3)
    >>> broadcast_shape((2, 3), (4,))
    ValueError: cannot broadcast shapes (2, 3) and (4,): sizes 3 and 4 clash at axis -1

    Return a tuple, not a list. Do not call NumPy's broadcasting functions: write the rule. A size
    of 0 is not special: (0,) fits (1,) and gives (0,), but does not fit (3,).
    """
    ### BEGIN SOLUTION
    ndim = max((len(shape) for shape in shapes), default=0)
    result = [1] * ndim
    for shape in shapes:
        for position, size in enumerate(shape, start=ndim - len(shape)):
            if size == 1 or size == result[position]:
                continue
            if result[position] != 1:
                named = " and ".join(str(tuple(s)) for s in shapes)
                raise ValueError(
                    f"cannot broadcast shapes {named}: sizes {result[position]} and {size} "
                    f"clash at axis {position - ndim}"
                )
            result[position] = size
    return tuple(result)
    ### END SOLUTION


# %% [markdown]
# <details><summary>Hint</summary>
#
# **broadcast_shape, step 1: the idea.** Line every shape up on the right, against one result shape that starts as all ones, and
# let each size update the result's size at its position, or clash with it.
#
# <details><summary>Step 2: the details</summary>
#
# - Start from `result = [1] * ndim`, where ndim is the longest shape's length, then walk each
#   shape; `enumerate(shape, start=ndim - len(shape))` gives each size its position in `result`.
# - A size of 1 never changes the result; a result size of 1 takes any size; two sizes that are
#   both not 1 must be equal.
#
# </details>
# </details>

# %% [markdown]
# ### Test: broadcasting shapes (10 points)

# %% nbgrader={"grade": true, "grade_id": "test-broadcast-shape", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_broadcast_shape():
    cases = [
        (((32, 10), (10,)), (32, 10)),
        (((4, 1), (5,)), (4, 5)),
        (((3, 28, 28), (3, 1, 1)), (3, 28, 28)),
        (((), (2, 3)), (2, 3)),
        (((2, 3), (2, 3)), (2, 3)),
        (((1,), (1, 1)), (1, 1)),
        (((2, 1, 4), (3, 1), (1, 4)), (2, 3, 4)),
    ]
    for shapes, expected in cases:
        got = broadcast_shape(*shapes)
        assert got == expected and isinstance(got, tuple), (
            f"broadcast_shape{shapes}: expected {expected}, got {got!r}"
        )
    expect_error(ValueError, lambda: broadcast_shape((2, 3), (4,)), ["(2, 3)", "(4,)"], "broadcast_shape((2, 3), (4,))")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(1)
    for _ in range(300):
        shapes = [tuple(int(s) for s in rng.choice([0, 1, 2, 3], size=rng.integers(0, 4))) for _ in range(rng.integers(1, 4))]
        try:
            expected = np.broadcast_shapes(*shapes)
        except ValueError:
            expect_error(ValueError, lambda shapes=shapes: broadcast_shape(*shapes), [str(shapes[0])], f"broadcast_shape{tuple(shapes)}")
            continue
        got = broadcast_shape(*shapes)
        assert got == expected, f"broadcast_shape{tuple(shapes)}: expected {expected}, got {got!r}"
    assert broadcast_shape() == (), f"broadcast_shape() of no shapes: expected (), got {broadcast_shape()!r}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_broadcast_shape()

# %% [markdown]
# ## 4. Build: the `Tensor` class
#
# `Tensor` keeps one NumPy array in `.data` and nothing else. Everything below is about giving that
# array a small, strict, PyTorch-like face. Read this section once through, then fill in the class.
#
# ### The constructor: fast for arrays, strict for everything else
# `Tensor(data, dtype=None)` follows the rules of `as_array`. Two cases deserve their own line:
# - **A NumPy array with no dtype** is by far the most common input: every operation below, and
#   every operation autograd records later, wraps its NumPy result with `Tensor(result)`. Check
#   for it first (`type(data) is np.ndarray`), confirm its kind is numeric, and store it directly:
#   no function call, no copy.
# - **A Tensor** shares its array: `Tensor(t).data is t.data`. Nothing is copied.
#
# The class declares `__slots__ = ("data",)`: instances get a fixed slot instead of a dictionary,
# which makes them smaller and attribute access faster, and catches typos like `t.dat = ...`.
#
# ### Describing a tensor
# `shape`, `size`, `ndim` and `dtype` are read-only properties that ask the array. `item()` turns a
# one-element tensor into a plain Python number (for printing a loss, say), and `numpy()` hands out
# the array itself, without copying, like PyTorch's `Tensor.numpy()`; `__array__` lets NumPy read a
# Tensor wherever it expects an array (`np.asarray(t)`). The `repr` shows the values,
# shape and dtype, so that a tensor printed in a notebook tells you everything you need to debug it:
#
# ```
# Tensor([1. 2.], shape=(2,), dtype=float32)
# ```
#
# ### Operators: how `a + b` reaches your code
# For `a + b` Python first calls `a.__add__(b)`. If that method returns the special value
# `NotImplemented` (meaning "I don't know how to add that"), Python tries `b.__radd__(a)`, the
# *reflected* method of the right operand. That is how `2 - t` works: `int.__sub__(2, t)` returns
# `NotImplemented`, so Python calls `t.__rsub__(2)`, which must compute `2 - t.data`, *not*
# `t.data - 2`. Addition and multiplication commute, so their reflected forms can be the same
# methods; subtraction, division and powers need their own.
#
# Our operators accept a Tensor (use its `.data`), a Python number, a NumPy scalar or a NumPy array,
# and return `NotImplemented` for anything else, so that Python can ask the other operand and, if
# that fails too, raise its usual `TypeError: unsupported operand type(s)`. The given helper
# `_unwrap(other)` does this sorting for you.
#
# **NumPy as the left operand.** `np.ones(3) + t` would normally be handled by NumPy itself: it
# would read `t` as an array and return a plain ndarray, so the result would silently stop being a
# Tensor (and autograd would lose track of it). The class attribute `__array_ufunc__ = None` tells
# NumPy to step back: its `__add__` returns `NotImplemented`, and Python calls our `__radd__`,
# which returns a Tensor. (NumPy functions called directly, like `np.exp(t)`, then refuse a Tensor:
# call them on `t.data`.)
#
# **Numbers don't change the dtype.** `t * 2` with a float32 `t` must stay float32. NumPy 2 treats
# Python numbers as *weak*: they take the dtype of the array they meet. So pass Python numbers to
# NumPy as they are; wrapping them first (`np.array(2.0)` is float64) would upcast every result to
# float64 and double the memory of everything downstream.
#
# ### Matrix multiplication
# `a @ b` (and `a.matmul(b)`) follows `np.matmul`: for 2-D operands, shapes `(n, k) @ (k, m)` give
# `(n, m)`; a 1-D operand acts as a row (on the left) or a column (on the right) and that axis is
# dropped from the result; extra leading axes are batch axes and broadcast. The inner sizes must
# agree: the last axis of `a` against the second-to-last of `b` (the only one, if `b` is 1-D).
# NumPy's own error message for a mismatch doesn't show the shapes, so check first and raise a
# `ValueError` that names both shapes (the given `_matmul_mismatch` words it): that message is what
# someone debugging a network needs to read.
#
# ### Reductions and shapes
# `sum(axis=None, keepdims=False)` and `mean(...)` reduce over all axes, one axis, or a tuple of
# axes. `keepdims=True` keeps each reduced axis with size 1, so the result still broadcasts against
# the original: `x - x.mean(axis=0, keepdims=True)` centres each column. `reshape(2, 3)` (or
# `reshape((2, 3))`; one size may be `-1`, meaning "whatever fits") reads the same numbers in a new
# shape, and `transpose(axes=None)` reverses (or permutes) the axes. Both return *views* when NumPy
# can: the new Tensor shares memory with the old one.

# %% nbgrader={"grade": false, "grade_id": "tensor-class", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
def _unwrap(other: object) -> object:
    """What NumPy should compute with for the operand `other`, or NotImplemented if we don't take it."""
    if isinstance(other, Tensor):
        return other.data
    if isinstance(other, (int, float, complex, np.generic, np.ndarray)):  # bool is an int
        return other  # Python numbers stay as they are: NumPy treats them as weak, keeping float32
    return NotImplemented


def _matmul_mismatch(a: np.ndarray, b: np.ndarray) -> str | None:
    """Why `a @ b` cannot work, naming both shapes; None if the inner sizes agree."""
    if a.ndim == 0 or b.ndim == 0:
        return f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}"
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        return (
            f"matmul shape mismatch: {a.shape} @ {b.shape}: the last axis of the left ({a.shape[-1]}) "
            f"must equal the {'only' if b.ndim == 1 else 'second-to-last'} axis of the right ({inner_b})"
        )
    return None


class Tensor:
    """An n-dimensional array of numbers, stored as a NumPy array in `.data`.

    >>> t = Tensor([[1, 2], [3, 4]])
    >>> t
    Tensor([[1. 2.]
            [3. 4.]], shape=(2, 2), dtype=float32)
    >>> (2 * t + 1).sum(axis=0)
    Tensor([10. 14.], shape=(2,), dtype=float32)
    """

    __slots__ = ("data",)
    __array_ufunc__ = None  # NumPy defers `ndarray <op> Tensor` to our reflected methods

    def __init__(self, data: object, dtype: object = None) -> None:
        """Wrap `data` (see `as_array` for the dtype rules).

        Sets `self.data` to a NumPy array:
        - fast path: `dtype` is None and `type(data) is np.ndarray` with a numeric kind
          (`data.dtype.kind in NUMERIC_KINDS`): store `data` itself;
        - `data` is a Tensor: use its array (`data.data`), converted only if a dtype is given;
        - anything else: `as_array(data, dtype)`.

        EXAMPLE:
        >>> a = np.zeros(3)
        >>> Tensor(a).data is a, Tensor(Tensor(a)).data is a
        (True, True)
        >>> Tensor([1, 2]).dtype, Tensor(a).dtype, Tensor(a, dtype=np.float32).dtype
        (dtype('float32'), dtype('float64'), dtype('float32'))
        """
        ### BEGIN SOLUTION
        if type(data) is np.ndarray and dtype is None and data.dtype.kind in NUMERIC_KINDS:
            self.data = data  # the fast path: every operation's result comes through here
        elif isinstance(data, Tensor) and dtype is None:
            self.data = data.data
        else:
            self.data = as_array(data.data if isinstance(data, Tensor) else data, dtype)
        ### END SOLUTION

    # --- describing the tensor (given) ---
    @property
    def shape(self) -> tuple[int, ...]:
        """The size along each axis, e.g. (2, 3)."""
        return self.data.shape

    @property
    def size(self) -> int:
        """The number of elements: the product of the shape (1 for a rank-0 tensor)."""
        return self.data.size

    @property
    def ndim(self) -> int:
        """The number of axes (the rank)."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the elements, e.g. dtype('float32')."""
        return self.data.dtype

    def numpy(self) -> np.ndarray:
        """The underlying NumPy array itself (not a copy): changing it changes the tensor."""
        return self.data

    def __array__(self, dtype: object = None, copy: bool | None = None) -> np.ndarray:
        """Let NumPy read a Tensor: `np.asarray(t)`, `np.testing.assert_allclose(t, ...)`."""
        return np.array(self.data, dtype=dtype, copy=copy)

    def item(self) -> int | float | bool | complex:
        """The single value of a one-element tensor as a Python number.

        Return the value as a plain Python number (not a NumPy scalar). If the tensor does not
        hold exactly one element, raise ValueError naming its shape.

        EXAMPLE:
        >>> Tensor([[2.5]]).item()
        2.5
        >>> Tensor([1, 2]).item()
        ValueError: item() needs a tensor with exactly one element, got shape (2,)
        """
        ### BEGIN SOLUTION
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with exactly one element, got shape {self.data.shape}")
        return self.data.item()
        ### END SOLUTION

    def __repr__(self) -> str:
        """A readable description: values, shape and dtype.

        Return "Tensor(<values>, shape=<shape>, dtype=<dtype>)".

        EXAMPLE:
        >>> Tensor([1, 2])
        Tensor([1. 2.], shape=(2,), dtype=float32)
        >>> Tensor(np.float64(3.5))
        Tensor(3.5, shape=(), dtype=float64)
        """
        ### BEGIN SOLUTION
        values = np.array2string(self.data, prefix="Tensor(")
        return f"Tensor({values}, shape={self.data.shape}, dtype={self.data.dtype})"
        ### END SOLUTION

    # --- arithmetic: each operator returns a new Tensor, or NotImplemented for operands it doesn't take ---
    def __add__(self, other: object) -> Tensor:
        """self + other, elementwise with broadcasting. (Given: write the others like it.)"""
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(self.data + other)

    __radd__ = __add__  # other + self: addition commutes

    def __sub__(self, other: object) -> Tensor:
        """self - other.

        Write it like __add__. EXAMPLE: Tensor([5, 7]) - 2 -> Tensor([3. 5.], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(self.data - other)
        ### END SOLUTION

    def __rsub__(self, other: object) -> Tensor:
        """other - self: Python calls this for `2 - t` (and `ndarray - t`).

        Like __sub__, with the operands the other way round.
        EXAMPLE: 10 - Tensor([1, 2]) -> Tensor([9. 8.], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(other - self.data)
        ### END SOLUTION

    def __mul__(self, other: object) -> Tensor:
        """self * other, elementwise (not matrix multiplication: that is `@`).

        Write it like __add__. EXAMPLE: Tensor([1, 2]) * Tensor([[1], [10]]) has shape (2, 2).
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(self.data * other)
        ### END SOLUTION

    __rmul__ = __mul__  # other * self: multiplication commutes

    def __truediv__(self, other: object) -> Tensor:
        """self / other (true division: ints give floats, as in Python 3).

        Write it like __add__. EXAMPLE: Tensor([1, 2]) / 4 -> Tensor([0.25 0.5 ], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(self.data / other)
        ### END SOLUTION

    def __rtruediv__(self, other: object) -> Tensor:
        """other / self: Python calls this for `1 / t`.

        EXAMPLE: 1 / Tensor([2, 4]) -> Tensor([0.5  0.25], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(other / self.data)
        ### END SOLUTION

    def __pow__(self, other: object) -> Tensor:
        """self ** other, elementwise.

        EXAMPLE: Tensor([2, 3]) ** 2 -> Tensor([4. 9.], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(self.data**other)
        ### END SOLUTION

    def __rpow__(self, other: object) -> Tensor:
        """other ** self: Python calls this for `2 ** t`.

        EXAMPLE: 2 ** Tensor([1, 3]) -> Tensor([2. 8.], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        other = _unwrap(other)
        return NotImplemented if other is NotImplemented else Tensor(other**self.data)
        ### END SOLUTION

    def __neg__(self) -> Tensor:
        """-self.

        EXAMPLE: -Tensor([1, -2]) -> Tensor([-1.  2.], shape=(2,), dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(-self.data)
        ### END SOLUTION

    # --- matrix multiplication ---
    def matmul(self, other: Tensor | np.ndarray) -> Tensor:
        """Matrix product self @ other, with np.matmul's rules for 1-D and batched operands.

        Build it to:
        - accept a Tensor or anything `Tensor(...)` accepts (wrap it first);
        - if the inner sizes don't agree (or an operand is 0-D), raise ValueError naming both
          shapes: the given `_matmul_mismatch(a, b)` returns that message, or None if all is well;
        - if batch axes don't broadcast, NumPy raises ValueError: re-raise it naming both shapes;
        - return the product as a Tensor.

        EXAMPLE:
        >>> Tensor([[1, 2], [3, 4]]) @ Tensor([1, 1])
        Tensor([3. 7.], shape=(2,), dtype=float32)
        >>> Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
        ValueError: matmul shape mismatch: (2, 3) @ (2, 3): the last axis of the left (3) must equal ...
        """
        ### BEGIN SOLUTION
        a = self.data
        b = other.data if isinstance(other, Tensor) else Tensor(other).data
        problem = _matmul_mismatch(a, b)
        if problem:
            raise ValueError(problem)
        try:
            return Tensor(np.matmul(a, b))
        except ValueError:
            raise ValueError(f"matmul: the batch axes of shapes {a.shape} and {b.shape} do not broadcast") from None
        ### END SOLUTION

    def __matmul__(self, other: object) -> Tensor:
        """self @ other."""
        return self.matmul(other) if isinstance(other, (Tensor, np.ndarray)) else NotImplemented

    def __rmatmul__(self, other: object) -> Tensor:
        """ndarray @ self."""
        return Tensor(other).matmul(self) if isinstance(other, np.ndarray) else NotImplemented

    # --- reductions and shapes ---
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over all elements (axis=None), one axis, or a tuple of axes.

        Return the sum as a Tensor; with keepdims=True the reduced axes stay, with size 1.

        EXAMPLE:
        >>> x = Tensor([[1, 2, 3], [4, 5, 6]])
        >>> x.sum(), x.sum(axis=0).shape, x.sum(axis=1, keepdims=True).shape
        (Tensor(21., shape=(), dtype=float32), (3,), (2, 1))
        """
        ### BEGIN SOLUTION
        return Tensor(self.data.sum(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """The mean over all elements, one axis, or a tuple of axes (like `sum`).

        EXAMPLE: Tensor([[1, 2, 3], [4, 5, 6]]).mean(axis=0) -> values [2.5, 3.5, 4.5]
        """
        ### BEGIN SOLUTION
        return Tensor(self.data.mean(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """The same elements in a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`; one size may be -1.

        Accept the sizes as separate arguments or as one tuple (or list); return a Tensor.
        NumPy raises ValueError if the sizes don't multiply to `self.size`: let it.

        EXAMPLE:
        >>> Tensor([1, 2, 3, 4, 5, 6]).reshape(2, -1).shape
        (2, 3)
        """
        ### BEGIN SOLUTION
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Tensor(self.data.reshape(shape))
        ### END SOLUTION

    def transpose(self, axes: tuple[int, ...] | None = None) -> Tensor:
        """Reverse the axes (axes=None), or put them in the order `axes`, as `np.transpose` does.

        EXAMPLE: Tensor(np.zeros((2, 3, 4))).transpose().shape == (4, 3, 2);
        .transpose((0, 2, 1)).shape == (2, 4, 3)
        """
        ### BEGIN SOLUTION
        return Tensor(self.data.transpose(axes))
        ### END SOLUTION


# %% [markdown]
# <details><summary>Hint</summary>
#
# **Tensor, step 1: the idea.** Every method wraps a NumPy array operation: find the one that does the arithmetic, and spend
# your code on what the docstring asks beyond it (the checks, the messages, the dtype rules). In
# `__init__`, test the fast path first: it is the case that must cost the least.
#
# <details><summary>Step 2: the details</summary>
#
# - `__init__`: `type(data) is np.ndarray` is cheaper than `isinstance` and excludes subclasses.
# - `item`: NumPy arrays have `.item()` too; check `self.data.size` first for a clearer message.
# - `__repr__`: `np.array2string(self.data, prefix="Tensor(")` formats the values and indents the
#   lines of a matrix so they line up after "Tensor(".
# - `matmul`: `np.matmul(a, b)` (or `a @ b`) on the two arrays does the arithmetic.
# - `sum`, `mean`: `ndarray.sum` and `ndarray.mean` take the same arguments.
# - `reshape`: `shape` is a tuple of the arguments: `(2, 3)` for reshape(2, 3), `((2, 3),)` for
#   reshape((2, 3)).
#
# </details>
# </details>

# %% [markdown]
# ### Test: creating and describing tensors (10 points)
# Checks the dtype rules through the constructor, sharing (no copies), the properties, `item()`
# and the `repr`.

# %% nbgrader={"grade": true, "grade_id": "test-tensor-creation", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_tensor_creation():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    expect_array(t.data, [[1, 2, 3], [4, 5, 6]], np.float32, "Tensor([[1, 2, 3], [4, 5, 6]]).data")
    got = (t.shape, t.size, t.ndim, t.dtype)
    assert got == ((2, 3), 6, 2, np.float32), f"(shape, size, ndim, dtype): expected ((2, 3), 6, 2, float32), got {got}"

    a = np.arange(4.0)  # float64
    assert Tensor(a).data is a, "Tensor(ndarray) must store that very array (no copy)"
    assert Tensor(a).dtype == np.float64, f"Tensor(float64 array).dtype: expected float64, got {Tensor(a).dtype}"
    u = Tensor(a)
    assert Tensor(u).data is a, "Tensor(tensor) must share the tensor's array"
    assert Tensor(a, dtype=np.float32).dtype == np.float32, "Tensor(a, dtype=np.float32) must convert"
    assert u.numpy() is a, "numpy() must return the underlying array itself"

    s = Tensor(2.5)
    assert s.shape == () and s.size == 1, f"Tensor(2.5): expected shape () and size 1, got {s.shape} and {s.size}"
    value = s.item()
    assert value == 2.5 and type(value) is float, f"Tensor(2.5).item(): expected the Python float 2.5, got {value!r}"
    expect_error(ValueError, lambda: Tensor([1, 2]).item(), ["(2,)"], "Tensor([1, 2]).item()")

    expected = "Tensor([1. 2.], shape=(2,), dtype=float32)"
    assert repr(Tensor([1, 2])) == expected, f"repr(Tensor([1, 2])): expected {expected!r}, got {repr(Tensor([1, 2]))!r}"
    expect_error(TypeError, lambda: Tensor("abc"), ["str"], 'Tensor("abc")')
    ### BEGIN HIDDEN TESTS
    expected = "Tensor([[1 2]\n        [3 4]], shape=(2, 2), dtype=int64)"
    got = repr(Tensor(np.array([[1, 2], [3, 4]], dtype=np.int64)))
    assert got == expected, f"repr of an int64 matrix: expected {expected!r}, got {got!r}"
    assert repr(Tensor(np.float64(3.5))) == "Tensor(3.5, shape=(), dtype=float64)", repr(Tensor(np.float64(3.5)))
    b = np.ones((2, 0), dtype=np.int16)
    assert Tensor(b).data is b and Tensor(b).size == 0, "Tensor(empty int16 array) must be that array, size 0"
    assert Tensor(Tensor(a), dtype=np.float32).dtype == np.float32, "Tensor(tensor, dtype=...) must convert"
    assert type(Tensor([[7]]).item()) is float, "item() must return a Python number"
    expect_error(TypeError, lambda: Tensor([[1, 2], [3]]), ["list"], "Tensor of a ragged list")
    expect_error(TypeError, lambda: Tensor(None), ["NoneType"], "Tensor(None)")
    expect_error(TypeError, lambda: Tensor(np.array(["a"])), ["ndarray"], "Tensor(str ndarray)")
    expect_error(ValueError, lambda: Tensor(np.zeros((0,))).item(), ["(0,)"], "item() of an empty tensor")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_tensor_creation()

# %% [markdown]
# ### Test: arithmetic, reflected operators, broadcasting and dtypes (15 points)

# %% nbgrader={"grade": true, "grade_id": "test-tensor-arithmetic", "locked": true, "points": 15, "schema_version": 3, "solution": false, "task": false}
def test_tensor_arithmetic():
    x = Tensor([1, 2, 4])
    y = Tensor([2, 2, 2])
    expect_array((x + y).data, [3, 4, 6], np.float32, "Tensor([1, 2, 4]) + Tensor([2, 2, 2])")
    expect_array((x - y).data, [-1, 0, 2], np.float32, "x - y")
    expect_array((x * y).data, [2, 4, 8], np.float32, "x * y")
    expect_array((x / y).data, [0.5, 1, 2], np.float32, "x / y")
    expect_array((x**2).data, [1, 4, 16], np.float32, "x ** 2")
    expect_array((-x).data, [-1, -2, -4], np.float32, "-x")

    # Reflected forms: the number is on the left.
    expect_array((10 - x).data, [9, 8, 6], np.float32, "10 - x")
    expect_array((8 / x).data, [8, 4, 2], np.float32, "8 / x")
    expect_array((2**x).data, [2, 4, 16], np.float32, "2 ** x")
    expect_array((3 + x).data, [4, 5, 7], np.float32, "3 + x")
    expect_array((3 * x).data, [3, 6, 12], np.float32, "3 * x")

    # Python numbers never upcast float32.
    for name, result in [("x + 1.5", x + 1.5), ("x * 0.1", x * 0.1), ("1.0 / x", 1.0 / x), ("x ** 0.5", x**0.5)]:
        assert result.dtype == np.float32, f"{name}: expected dtype float32, got {result.dtype}"

    # Broadcasting: a (2, 3) matrix plus a (3,) row.
    m = Tensor([[0, 0, 0], [10, 10, 10]])
    expect_array((m + x).data, [[1, 2, 4], [11, 12, 14]], np.float32, "(2, 3) + (3,)")

    # NumPy on the left must still give a Tensor.
    got = np.ones(3) + x
    assert isinstance(got, Tensor), f"np.ones(3) + Tensor: expected a Tensor, got {type(got).__name__}"
    got = np.full(3, 10.0) - x
    assert isinstance(got, Tensor), f"ndarray - Tensor: expected a Tensor, got {type(got).__name__}"
    expect_array(got.data, [9, 8, 6], np.float64, "np.full(3, 10.0) - Tensor([1, 2, 4])")

    expect_error(TypeError, lambda: x + "a", ["str"], 'Tensor + "a"')
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(7)
    a = rng.normal(size=(4, 1, 3)).astype(np.float32)
    b = rng.uniform(1, 2, size=(5, 1)).astype(np.float32)
    ta, tb = Tensor(a), Tensor(b)
    for name, got, want in [
        ("a + b", ta + tb, a + b),
        ("a - b", ta - tb, a - b),
        ("b - a", tb - ta, b - a),
        ("a * b", ta * tb, a * b),
        ("a / b", ta / tb, a / b),
        ("b / a", tb / ta, b / a),
        ("b ** a", tb**ta, b**a),
        ("a ** 2", ta**2, a**2),
        ("1.5 - a", 1.5 - ta, 1.5 - a),
        ("3 / b", 3 / tb, 3 / b),
        ("0.5 ** a", 0.5**ta, 0.5**a),
        ("ndarray / tensor", b / ta, b / a),
        ("ndarray ** tensor", b**ta, b**a),
        ("-a", -ta, -a),
    ]:
        expect_array(got.data, want, np.float32, name)
    f64 = Tensor(np.array([1.0, 2.0, 3.0]))
    assert (f64 * 2).dtype == np.float64, "float64 tensor * 2 must stay float64"
    assert (x + f64).dtype == np.float64, "float32 + float64 tensors give float64, as in NumPy"
    assert (x + np.float32(1)).dtype == np.float32, "float32 tensor + np.float32 scalar stays float32"
    assert (x * True).dtype == np.float32, "x * True stays float32"
    expect_array((-Tensor(np.array([3], dtype=np.int32))).data, [-3], np.int32, "-Tensor(int32 array) stays int32")
    expect_error(TypeError, lambda: "a" - x, ["str"], '"a" - Tensor')
    expect_error(TypeError, lambda: x * None, ["NoneType"], "Tensor * None")
    expect_error(TypeError, lambda: x / [1, 2, 3], ["list"], "Tensor / list (wrap it in a Tensor first)")
    expect_error(ValueError, lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones(4)), ["(2,3)", "(4,)"], "(2, 3) + (4,)")
    # Every operator refuses a list (NumPy would take it; we return NotImplemented), both ways round.
    for name, op in [("-", lambda u, v: u - v), ("/", lambda u, v: u / v), ("**", lambda u, v: u**v)]:
        expect_error(TypeError, lambda op=op: op(x, [1, 2, 3]), ["list"], f"Tensor {name} list")
        expect_error(TypeError, lambda op=op: op([1, 2, 3], x), ["list"], f"list {name} Tensor")
    expect_error(TypeError, lambda: x * [1, 2, 3], ["sequence"], "Tensor * list (Python then tries list * Tensor)")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_tensor_arithmetic()

# %% [markdown]
# ### Test: matrix multiplication (10 points)

# %% nbgrader={"grade": true, "grade_id": "test-tensor-matmul", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_tensor_matmul():
    a = Tensor([[1, 2], [3, 4], [5, 6]])  # (3, 2)
    b = Tensor([[1, 0, 2], [0, 1, 3]])  # (2, 3)
    expect_array((a @ b).data, [[1, 2, 8], [3, 4, 18], [5, 6, 28]], np.float32, "(3, 2) @ (2, 3)")
    expect_array(a.matmul(b).data, [[1, 2, 8], [3, 4, 18], [5, 6, 28]], np.float32, "a.matmul(b)")
    expect_array((a @ Tensor([1, 1])).data, [3, 7, 11], np.float32, "(3, 2) @ (2,)")
    got = np.eye(3) @ a
    assert isinstance(got, Tensor), f"ndarray @ Tensor: expected a Tensor, got {type(got).__name__}"
    expect_error(ValueError, lambda: a @ a, ["(3, 2)", "mismatch"], "(3, 2) @ (3, 2)")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3))
    w = rng.normal(size=(3, 5))
    expect_array((Tensor(x) @ Tensor(w)).data, x @ w, np.float64, "batched (2, 4, 3) @ (3, 5)")
    expect_array((Tensor(w[:, 0]) @ Tensor(w)).data, w[:, 0] @ w, np.float64, "(3,) @ (3, 5)")
    expect_array(Tensor(x).matmul(w).data, x @ w, np.float64, "matmul with an ndarray argument")
    for left, right in [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((2, 2, 3), (3, 3, 4))]:
        expect_error(
            ValueError,
            lambda left=left, right=right: Tensor(np.ones(left)) @ Tensor(np.ones(right)),
            [str(left), str(right)],
            f"{left} @ {right}",
        )
    expect_error(ValueError, lambda: Tensor(2.0).matmul(Tensor([1.0])), ["()", "(1,)"], "0-D @ 1-D")
    expect_error(TypeError, lambda: a @ 2, ["int"], "Tensor @ 2")
    expect_array(a.matmul([[1, 0], [0, 1]]).data, a.data, np.float32, "a.matmul(a nested list)")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_tensor_matmul()

# %% [markdown]
# ### Test: reductions, reshape and transpose (10 points)

# %% nbgrader={"grade": true, "grade_id": "test-tensor-reductions-shapes", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_tensor_reductions_and_shapes():
    x = Tensor([[1, 2, 3], [4, 5, 6]])
    total = x.sum()
    assert isinstance(total, Tensor), f"x.sum(): expected a Tensor, got {type(total).__name__}"
    expect_array(total.data, 21, np.float32, "x.sum()")
    expect_array(x.sum(axis=0).data, [5, 7, 9], np.float32, "x.sum(axis=0)")
    expect_array(x.sum(axis=1, keepdims=True).data, [[6], [15]], np.float32, "x.sum(axis=1, keepdims=True)")
    expect_array(x.mean().data, 3.5, np.float32, "x.mean()")
    expect_array(x.mean(axis=0).data, [2.5, 3.5, 4.5], np.float32, "x.mean(axis=0)")
    expect_array(x.mean(axis=1, keepdims=True).data, [[2], [5]], np.float32, "x.mean(axis=1, keepdims=True)")

    expect_array(x.reshape(3, 2).data, [[1, 2], [3, 4], [5, 6]], np.float32, "x.reshape(3, 2)")
    expect_array(x.reshape((6,)).data, [1, 2, 3, 4, 5, 6], np.float32, "x.reshape((6,))")
    expect_array(x.reshape(-1, 1).data, [[1], [2], [3], [4], [5], [6]], np.float32, "x.reshape(-1, 1)")
    expect_array(x.transpose().data, [[1, 4], [2, 5], [3, 6]], np.float32, "x.transpose()")
    assert np.shares_memory(x.reshape(6).data, x.data), "reshape should return a view (shared memory), not a copy"
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(11)
    a = rng.normal(size=(2, 3, 4))
    t = Tensor(a)
    for axis in [None, 0, 1, 2, -1, (0, 2)]:
        for keepdims in [False, True]:
            expect_array(t.sum(axis=axis, keepdims=keepdims).data, a.sum(axis=axis, keepdims=keepdims), np.float64,
                         f"sum(axis={axis}, keepdims={keepdims})")
            expect_array(t.mean(axis=axis, keepdims=keepdims).data, a.mean(axis=axis, keepdims=keepdims), np.float64,
                         f"mean(axis={axis}, keepdims={keepdims})")
    expect_array(t.transpose((1, 0, 2)).data, a.transpose(1, 0, 2), np.float64, "transpose((1, 0, 2))")
    expect_array(t.transpose().data, a.T, np.float64, "transpose() of a 3-D tensor")
    expect_array(t.reshape([4, 6]).data, a.reshape(4, 6), np.float64, "reshape([4, 6])")
    expect_array(t.reshape(2, -1, 2).data, a.reshape(2, 6, 2), np.float64, "reshape(2, -1, 2)")
    expect_array(Tensor([[5.0]]).reshape().data, 5.0, np.float32, "reshape() of a one-element tensor")
    expect_error(ValueError, lambda: t.reshape(5, 5), ["24"], "reshape of 24 elements to (5, 5)")
    assert np.shares_memory(t.transpose().data, a), "transpose should return a view"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_tensor_reductions_and_shapes()

# %% [markdown]
# ## 5. Use: preparing data and running a linear model
#
# With `Tensor` in hand we can already do the forward half of machine learning. A common first step
# is to **standardise** features: shift and scale each column of a dataset so it has mean 0 and
# standard deviation 1, so that no feature dominates just because of its units (metres vs
# millimetres). For a data matrix `x` of shape `(examples, features)`:
#
# $$ z = \frac{x - \mu}{\sigma}, \qquad \mu = \text{mean over examples},\quad
#    \sigma = \sqrt{\text{mean of } (x - \mu)^2} $$
#
# Both `mu` and `sigma` have one value per feature; broadcasting applies them to every row.

# %% nbgrader={"grade": false, "grade_id": "standardize", "locked": false, "schema_version": 3, "solution": true, "task": false}
def standardize(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale each column of the 2-D tensor `x` to mean 0 and standard deviation 1.

    Use only Tensor operations (no `.data`, no NumPy functions). Return a Tensor of x's shape:
    (x - mu) / (sigma + eps), with mu and sigma per column as defined above; eps keeps a
    constant column from dividing by zero.

    EXAMPLE:
    >>> standardize(Tensor([[1, 10], [3, 30]]))
    Tensor([[-1. -1.]
            [ 1.  1.]], shape=(2, 2), dtype=float32)
    """
    ### BEGIN SOLUTION
    mu = x.mean(axis=0, keepdims=True)
    sigma = ((x - mu) ** 2).mean(axis=0, keepdims=True) ** 0.5
    return (x - mu) / (sigma + eps)
    ### END SOLUTION


# %% [markdown]
# <details><summary>Hint</summary>
#
# **standardize, step 1: the idea.** Compute one mean and one standard deviation per column, shaped so that they broadcast over
# the rows: shape (1, features).
#
# <details><summary>Step 2: the details</summary>
#
# - `mu = x.mean(axis=0, keepdims=True)`;
# - `sigma` is the square root (`** 0.5`) of the mean of `(x - mu) ** 2`, again over axis 0 with
#   `keepdims=True`.
#
# </details>
# </details>

# %% [markdown]
# ### Test: standardisation (5 points)

# %% nbgrader={"grade": true, "grade_id": "test-standardize", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_standardize():
    z = standardize(Tensor([[1, 10], [3, 30]]))
    assert isinstance(z, Tensor), f"standardize: expected a Tensor, got {type(z).__name__}"
    expect_array(z.data, [[-1, -1], [1, 1]], np.float32, "standardize([[1, 10], [3, 30]])")
    # With eps = 1 the division by (sigma + eps) shows: mu = [1, 20], sigma = [1, 10].
    z = standardize(Tensor([[0, 10], [2, 30]]), eps=1.0)
    expect_array(z.data, [[-0.5, -10 / 11], [0.5, 10 / 11]], np.float32, "standardize([[0, 10], [2, 30]], eps=1): (x - mu) / (sigma + eps)")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(5)
    data = rng.normal(loc=[3.0, -20.0, 0.0], scale=[0.5, 40.0, 2.0], size=(200, 3)).astype(np.float32)
    z = standardize(Tensor(data))
    expect_array(z.mean(axis=0).data, [0, 0, 0], np.float32, "column means after standardize")
    expect_array((z**2).mean(axis=0).data, [1, 1, 1], np.float32, "column variances after standardize")
    flat = standardize(Tensor([[2.0, 1.0], [2.0, 3.0]]))
    assert np.isfinite(flat.data).all(), f"a constant column must not give inf/nan, got {flat.data.tolist()}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_standardize()

# %% [markdown]
# Now a linear model: a layer with weights `w` of shape `(features, outputs)` and bias `b` of shape
# `(outputs,)` maps a batch `x` of shape `(examples, features)` to `x @ w + b`, shape
# `(examples, outputs)`; the bias broadcasts over the examples. We measure how wrong it is with
# the mean squared error. Here the data are made from known weights, so the true weights give a
# loss of (almost) zero and any other weights do worse: exactly the signal that training, after
# Module 07, will follow downhill.

# %% nbgrader={"grade": false, "grade_id": "use-linear-model", "locked": false, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    rng = np.random.default_rng(0)
    features = standardize(Tensor(rng.normal(size=(64, 3)), dtype=np.float32))
    true_w, true_b = Tensor([[2.0], [-1.0], [0.5]]), Tensor([1.0])
    targets = features @ true_w + true_b

    def mse(w: Tensor, b: Tensor) -> float:
        predictions = features @ w + b  # (64, 3) @ (3, 1) -> (64, 1), plus b (1,) broadcast over rows
        return ((predictions - targets) ** 2).mean().item()

    print(f"features {features.shape} {features.dtype}, targets {targets.shape} {targets.dtype}")
    print(f"loss with the true weights:     {mse(true_w, true_b):.6f}")
    print(f"loss with one weight off by 0.1: {mse(true_w + Tensor([[0.1], [0.0], [0.0]]), true_b):.6f}")
    print(f"loss with all-zero weights:     {mse(Tensor(np.zeros((3, 1), dtype=np.float32)), Tensor([0.0])):.6f}")

# %% [markdown]
# ## 6. Analyze: what things cost
#
# ### Memory per dtype
# The same million numbers in different dtypes:

# %% nbgrader={"grade": false, "grade_id": "analyze-memory", "locked": false, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    for dtype in (np.float64, np.float32, np.float16, np.int8):
        t = Tensor(np.zeros(1_000_000), dtype=dtype)
        print(f"{t.dtype!s:>8}: {t.data.nbytes / 1e6:5.1f} MB for {t.size} numbers")
    print(f"float32 keeps {np.finfo(np.float32).precision} decimal digits, float64 {np.finfo(np.float64).precision}")

# %% [markdown]
# A model with 100 million parameters needs 400 MB of float32 for its weights, and as much again
# for their gradients, and more for optimiser state. Halving the bytes per number is the cheapest
# speed-up in deep learning, which is why float16/bfloat16 training exists too.
#
# ### Vectorised NumPy against a Python loop
# Adding two vectors element by element in Python, and the same with our Tensor (NumPy underneath):

# %% nbgrader={"grade": false, "grade_id": "analyze-speed", "locked": false, "schema_version": 3, "solution": false, "task": false}
import time


def best_time(action, repeats: int = 5) -> float:
    """The fastest of a few runs of `action()`, in seconds (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    n = 100_000
    xs, ys = [float(i) for i in range(n)], [1.0] * n
    tx, ty = Tensor(xs), Tensor(ys)
    python_loop = best_time(lambda: [a + b for a, b in zip(xs, ys, strict=True)])
    vectorised = best_time(lambda: tx + ty)
    print(f"{n} additions: Python loop {python_loop * 1e3:.2f} ms, Tensor {vectorised * 1e3:.3f} ms, "
          f"{python_loop / vectorised:.0f}x faster")

# %% [markdown]
# ### Views and copies
# Reshape and transpose only change how the memory block is read; arithmetic makes new memory.
# `np.shares_memory` tells which is which. Sharing is fast, and also a trap: writing into a view
# changes the original.

# %% nbgrader={"grade": false, "grade_id": "analyze-views", "locked": false, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    x = Tensor(np.arange(6.0).reshape(2, 3))
    for name, result in [("x.reshape(3, 2)", x.reshape(3, 2)), ("x.transpose()", x.transpose()),
                         ("Tensor(x)", Tensor(x)), ("x + 0", x + 0), ("x.sum(axis=0)", x.sum(axis=0))]:
        print(f"{name:<16} shares memory with x: {np.shares_memory(result.data, x.data)}")
    x.reshape(6).data[0] = 100.0
    print(f"after writing 100 into a reshaped view, x.data[0, 0] = {x.data[0, 0]}")

# %% [markdown]
# ### What the wrapper costs
# Every Tensor operation is one NumPy operation plus a little Python: the operand check and a new
# `Tensor` object. On tiny arrays that overhead is visible; on large ones NumPy's work dominates.
# Autograd (Module 07) adds its own bookkeeping per operation on top, which is why `Tensor` stays
# this lean: no copies, no validation beyond one dtype-kind check on the fast path, `__slots__`.

# %% nbgrader={"grade": false, "grade_id": "analyze-overhead", "locked": false, "schema_version": 3, "solution": false, "task": false}
if __name__ == "__main__":
    for size in (10, 100_000):
        a = np.ones(size, dtype=np.float32)
        ta = Tensor(a)
        raw = best_time(lambda a=a: [a * a for _ in range(100)])
        wrapped = best_time(lambda ta=ta: [ta * ta for _ in range(100)])
        print(f"size {size:>9}: NumPy {raw * 1e4:8.2f} us/op, Tensor {wrapped * 1e4:8.2f} us/op, ratio {wrapped / raw:.2f}")

# %% [markdown]
# ### Questions to think about
# 1. `Tensor([1, 2]) + np.float64(1)` is float64, but `Tensor([1, 2]) + 1.0` is float32. Why does
#    NumPy treat the two "same" numbers differently, and which would you want inside a model?
# 2. `x.sum(axis=1)` of a `(32, 10)` tensor has shape `(32,)`. Why does `x - x.sum(axis=1)` fail (or
#    do something wrong), while `x - x.sum(axis=1, keepdims=True)` works?
# 3. If `y = x + b` with `x` of shape `(32, 10)` and `b` of shape `(10,)`, each entry of `b` was used
#    32 times. How should the gradient of a loss with respect to `b` combine those 32 uses? (Module 07
#    answers this with `unbroadcast`.)
#
# ## Summary
# - A tensor is a flat block of numbers read as a grid through its **shape**; every number has the
#   same **dtype**. tinytorch keeps NumPy data as it is and turns Python data into float32.
# - **Broadcasting** aligns shapes on the right and stretches size-1 axes; you implemented the rule.
# - `Tensor` wraps one NumPy array and speaks through Python's operator protocol: `NotImplemented`,
#   reflected methods, and `__array_ufunc__ = None` for NumPy on the left.
# - Matrix multiplication, reductions with `axis`/`keepdims`, `reshape` and `transpose` complete
#   what a neural network's forward pass needs; views make shape changes free.
#
# Next: Module 07 wraps this Tensor in a `Variable` that records each operation, so that one call
# to `backward()` computes every gradient.
