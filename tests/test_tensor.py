"""The exported `tinytorch.core.tensor`, used the way a user (and the autograd module) uses it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinytorch.core.tensor import DEFAULT_DTYPE, NUMERIC_KINDS, Tensor, as_array, broadcast_shape


def assert_tensor(got: object, expected: object, dtype: object) -> None:
    assert isinstance(got, Tensor), f"expected a Tensor, got {type(got).__name__}: {got!r}"
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"expected shape {expected.shape}, got {got.shape}"
    assert got.dtype == np.dtype(dtype), f"expected dtype {np.dtype(dtype)}, got {got.dtype}"
    np.testing.assert_allclose(got.data, expected, rtol=1e-6, err_msg="values differ")


# --- construction and the dtype rules ---


@pytest.mark.parametrize(
    "data, values",
    [([1, 2, 3], [1, 2, 3]), ([[1.5], [2.5]], [[1.5], [2.5]]), ((1, 2), [1, 2]), (7, 7), (2.5, 2.5), (True, 1.0),
     ([True, False], [1.0, 0.0]), ([], np.zeros(0))],
    ids=["ints", "nested-floats", "tuple", "int", "float", "bool", "bools", "empty-list"],
)
def test_python_data_becomes_float32(data: object, values: object) -> None:
    assert_tensor(Tensor(data), values, np.float32)
    assert DEFAULT_DTYPE == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_])
def test_a_numpy_array_is_stored_as_is(dtype: type) -> None:
    array = np.ones((2, 3), dtype=dtype)
    t = Tensor(array)
    assert t.data is array, "Tensor(ndarray) must store that very array"
    assert t.dtype == dtype, f"expected {np.dtype(dtype)}, got {t.dtype}"


@pytest.mark.parametrize("scalar", [np.float64(2.5), np.float32(2.5), np.int8(-3), np.uint16(9), np.bool_(True)])
def test_numpy_scalars_keep_their_dtype(scalar: np.generic) -> None:
    t = Tensor(scalar)
    assert isinstance(t.data, np.ndarray) and t.shape == (), f"expected a 0-d array, got {t.data!r}"
    assert t.dtype == scalar.dtype, f"expected {scalar.dtype}, got {t.dtype}"
    assert t.item() == scalar.item()


def test_an_explicit_dtype_wins() -> None:
    assert_tensor(Tensor([1, 2], dtype=np.int32), [1, 2], np.int32)
    assert_tensor(Tensor(3, dtype="float64"), 3.0, np.float64)
    assert_tensor(Tensor(1 + 2j, dtype=np.complex64), 1 + 2j, np.complex64)
    f64 = np.array([1.5, 2.5])
    converted = Tensor(f64, dtype=np.float32)
    assert_tensor(converted, [1.5, 2.5], np.float32)
    assert f64.dtype == np.float64, "converting must not change the caller's array"
    f32 = np.ones(2, dtype=np.float32)
    assert Tensor(f32, dtype=np.float32).data is f32, "a dtype the array already has must not copy"


def test_a_tensor_shares_its_array() -> None:
    t = Tensor([1.0, 2.0])
    assert Tensor(t).data is t.data
    converted = Tensor(t, dtype=np.float64)
    assert converted.dtype == np.float64 and t.dtype == np.float32, (converted.dtype, t.dtype)


def test_a_list_of_tensors_becomes_one_tensor() -> None:
    assert_tensor(Tensor([Tensor([1, 2]), Tensor([3, 4])]), [[1, 2], [3, 4]], np.float32)


# --- bad input ---


@pytest.mark.parametrize(
    "data, named",
    [
        ("abc", "str"),
        ("1.5", "str"),
        (b"12", "bytes"),
        (None, "NoneType"),
        (object(), "object"),
        ({"a": 1}, "dict"),
        ({1, 2}, "set"),
        ([1, "a"], "str"),
        ([[1.0], [None]], "NoneType"),
        ([[1, 2], [3]], "list"),
        (((1, 2), (3,)), "tuple"),
        (np.array(["a", "b"]), "ndarray"),
        (np.array([1, 2], dtype=object), "ndarray"),
        (np.datetime64("2026-01-01"), "datetime64"),
        (2j, "complex"),
        (2**80, "int"),
    ],
    ids=["str", "numeric-str", "bytes", "None", "object", "dict", "set", "list-with-str", "list-with-None",
         "ragged-list", "ragged-tuple", "str-array", "object-array", "datetime", "complex", "huge-int"],
)
def test_non_numeric_data_raises_type_error_naming_the_type(data: object, named: str) -> None:
    with pytest.raises(TypeError) as error:
        Tensor(data)
    assert named in str(error.value), f"the message should name {named!r}: {error.value}"


def test_a_non_numeric_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1, 2], dtype=str)
    with pytest.raises(TypeError, match="dtype"):
        Tensor(np.ones(2), dtype=object)


def test_tensors_have_no_attribute_dictionary() -> None:
    t = Tensor([1.0])
    with pytest.raises(AttributeError):
        t.grad = 1  # __slots__ keeps Tensor lean: autograd keeps its state in its own objects


# --- describing a tensor ---


@pytest.mark.parametrize(
    "shape, size", [((), 1), ((0,), 0), ((4,), 4), ((2, 3), 6), ((2, 3, 4), 24), ((3, 0, 2), 0)]
)
def test_shape_size_ndim(shape: tuple[int, ...], size: int) -> None:
    t = Tensor(np.zeros(shape))
    assert (t.shape, t.size, t.ndim) == (shape, size, len(shape))


def test_item_returns_a_python_number() -> None:
    assert type(Tensor([[2.5]]).item()) is float and Tensor([[2.5]]).item() == 2.5
    assert type(Tensor(np.int64(4)).item()) is int and Tensor(np.int64(4)).item() == 4
    assert type(Tensor(np.bool_(True)).item()) is bool
    for shape in [(2,), (0,), (1, 2)]:
        with pytest.raises(ValueError, match=rf"shape {str(shape).replace('(', '[(]').replace(')', '[)]')}"):
            Tensor(np.zeros(shape)).item()


def test_numpy_returns_the_array_itself() -> None:
    t = Tensor([1.0, 2.0])
    assert t.numpy() is t.data
    t.numpy()[0] = 5.0
    assert t.data[0] == 5.0


def test_numpy_can_read_a_tensor() -> None:
    t = Tensor([1.0, 2.0])
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    copied = np.array(t)
    assert not np.shares_memory(copied, t.data) and copied.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(t, [1.0, 2.0])


@pytest.mark.parametrize(
    "tensor, text",
    [
        (Tensor([1, 2]), "Tensor([1. 2.], shape=(2,), dtype=float32)"),
        (Tensor(np.float64(3.5)), "Tensor(3.5, shape=(), dtype=float64)"),
        (Tensor(np.array([[1, 2], [3, 4]])), "Tensor([[1 2]\n        [3 4]], shape=(2, 2), dtype=int64)"),
        (Tensor(np.zeros((0, 2), dtype=np.float32)), "Tensor([], shape=(0, 2), dtype=float32)"),
    ],
    ids=["vector", "scalar", "matrix", "empty"],
)
def test_repr_shows_values_shape_and_dtype(tensor: Tensor, text: str) -> None:
    assert repr(tensor) == text


# --- arithmetic ---

OPERATORS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
SHAPE_PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (5,)), ((2, 1, 3), (4, 1)), ((), (2, 2)), ((2, 2), ())]


@pytest.mark.parametrize("name", OPERATORS)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_operators_broadcast_like_numpy(name: str, shapes: tuple) -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(0.5, 2.0, size=s).astype(np.float32) for s in shapes)
    op = OPERATORS[name]
    expected = op(a, b)
    assert_tensor(op(Tensor(a), Tensor(b)), expected, np.float32)
    assert_tensor(op(Tensor(a), b), expected, np.float32)  # Tensor <op> ndarray
    assert_tensor(op(a, Tensor(b)), expected, np.float32)  # ndarray <op> Tensor: NumPy defers to us


@pytest.mark.parametrize("name", OPERATORS)
@pytest.mark.parametrize("number", [3, 0.5, True], ids=["int", "float", "bool"])
def test_python_numbers_work_on_both_sides_and_keep_float32(name: str, number: float) -> None:
    a = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    op = OPERATORS[name]
    assert_tensor(op(Tensor(a), number), op(a, number), np.float32)
    assert_tensor(op(number, Tensor(a)), op(number, a), np.float32)


def test_reflected_operators_keep_the_operand_order() -> None:
    t = Tensor([1.0, 2.0, 4.0])
    assert_tensor(10 - t, [9, 8, 6], np.float32)
    assert_tensor(8 / t, [8, 4, 2], np.float32)
    assert_tensor(2**t, [2, 4, 16], np.float32)
    assert_tensor(np.full(3, 10.0) - t, [9, 8, 6], np.float64)


def test_negation() -> None:
    assert_tensor(-Tensor([1.0, -2.0]), [-1.0, 2.0], np.float32)
    assert_tensor(-Tensor(np.array([3], dtype=np.int32)), [-3], np.int32)


def test_dtypes_follow_numpy_promotion() -> None:
    f32, f64 = Tensor([1.0, 2.0]), Tensor(np.array([1.0, 2.0]))
    assert (f64 * 2).dtype == np.float64
    assert (f32 + f64).dtype == np.float64
    assert (f32 + np.float32(1)).dtype == np.float32
    ints = Tensor(np.array([1, 2], dtype=np.int64))
    assert (ints + 1).dtype == np.int64
    assert (ints / 2).dtype == np.float64  # true division


def test_operations_return_new_tensors_and_leave_inputs_alone() -> None:
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    for result in (a + b, a - b, a * b, a / b, a**b, -a, a @ b, a.sum(), a.mean()):
        assert isinstance(result, Tensor) and result is not a
        assert not np.shares_memory(result.data, a.data)
    assert a.data.tolist() == [1.0, 2.0] and b.data.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("other", ["a", None, [1.0, 2.0], {"x": 1}], ids=["str", "None", "list", "dict"])
def test_unsupported_operands_raise_type_error(other: object) -> None:
    t = Tensor([1.0, 2.0])
    assert t.__add__(other) is NotImplemented, "unsupported operands must give Python's NotImplemented"
    with pytest.raises(TypeError, match=f"'Tensor' and '{type(other).__name__}'"):
        t + other
    for op in (*OPERATORS.values(), lambda a, b: a @ b):
        # (str and list answer `*` themselves, as sequence repetition, with their own TypeError)
        with pytest.raises(TypeError):
            op(t, other)
        with pytest.raises(TypeError):
            op(other, t)


def test_other_types_get_their_turn_through_not_implemented() -> None:
    class Wrapper:  # e.g. autograd's Variable, which wraps a Tensor
        def __radd__(self, other: object) -> str:
            return "Wrapper.__radd__"

        def __rmul__(self, other: object) -> str:
            return "Wrapper.__rmul__"

        def __rmatmul__(self, other: object) -> str:
            return "Wrapper.__rmatmul__"

    t = Tensor([1.0])
    assert (t + Wrapper(), t * Wrapper(), t @ Wrapper()) == ("Wrapper.__radd__", "Wrapper.__rmul__", "Wrapper.__rmatmul__")


def test_mismatched_shapes_raise_value_error_naming_them() -> None:
    with pytest.raises(ValueError, match=r"\(2,3\) \(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))


def test_numpy_ufuncs_refuse_tensors() -> None:
    # __array_ufunc__ = None: NumPy functions must be applied to `.data`, so nothing silently
    # returns an array of Python objects.
    with pytest.raises(TypeError):
        np.add(np.ones(2), Tensor([1.0, 2.0]))


# --- matrix multiplication ---


@pytest.mark.parametrize(
    "left, right",
    [((3, 2), (2, 4)), ((2,), (2, 4)), ((3, 2), (2,)), ((5,), (5,)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 1)),
     ((1, 3, 4), (5, 4, 2))],
    ids=str,
)
def test_matmul_matches_numpy(left: tuple, right: tuple) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=left).astype(np.float32), rng.normal(size=right).astype(np.float32)
    expected = a @ b
    assert_tensor(Tensor(a) @ Tensor(b), expected, np.float32)
    assert_tensor(Tensor(a).matmul(Tensor(b)), expected, np.float32)
    assert_tensor(Tensor(a).matmul(b), expected, np.float32)
    assert_tensor(Tensor(a) @ b, expected, np.float32)
    assert_tensor(a @ Tensor(b), expected, np.float32)


def test_matmul_accepts_python_lists_through_the_method() -> None:
    assert_tensor(Tensor([[1, 2], [3, 4]]).matmul([1, 1]), [3, 7], np.float32)


@pytest.mark.parametrize(
    "left, right", [((2, 3), (2, 3)), ((3,), (4,)), ((2, 3), (4, 5)), ((4, 2), (3,)), ((2, 2, 3), (3, 3, 4)), ((), (2,)),
                    ((2,), ())],
    ids=str,
)
def test_matmul_mismatch_raises_value_error_naming_both_shapes(left: tuple, right: tuple) -> None:
    with pytest.raises(ValueError) as error:
        Tensor(np.ones(left)) @ Tensor(np.ones(right))
    message = str(error.value)
    assert str(left) in message and str(right) in message, message
    # Say which rule broke: inner sizes (or a 0-D operand), or batch axes that don't broadcast.
    expected = "batch axes" if len(left) == len(right) == 3 else ("at least 1-D" if () in (left, right) else "mismatch")
    assert expected in message, f"expected the message to say {expected!r}: {message}"


def test_matmul_with_a_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Tensor([[1.0]]) @ 2
    with pytest.raises(TypeError):
        2 @ Tensor([[1.0]])


# --- reductions and shapes ---


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_reductions_match_numpy(reduction: str, axis: object, keepdims: bool) -> None:
    a = np.random.default_rng(2).normal(size=(2, 3, 4)).astype(np.float32)
    got = getattr(Tensor(a), reduction)(axis=axis, keepdims=keepdims)
    assert_tensor(got, getattr(a, reduction)(axis=axis, keepdims=keepdims), np.float32)


def test_reduction_defaults_reduce_everything() -> None:
    t = Tensor([[1, 2], [3, 4]])
    assert_tensor(t.sum(), 10, np.float32)
    assert_tensor(t.mean(), 2.5, np.float32)
    assert t.sum().item() == 10.0


def test_reshape_accepts_sizes_a_tuple_or_a_list() -> None:
    t = Tensor(np.arange(6, dtype=np.float32))
    expected = np.arange(6).reshape(2, 3)
    for got in (t.reshape(2, 3), t.reshape((2, 3)), t.reshape([2, 3]), t.reshape(2, -1), t.reshape((-1, 3))):
        assert_tensor(got, expected, np.float32)
    assert_tensor(Tensor([[4.0]]).reshape(), 4.0, np.float32)
    assert np.shares_memory(t.reshape(3, 2).data, t.data), "reshape of a contiguous tensor is a view"


def test_reshape_to_a_wrong_size_raises_value_error() -> None:
    with pytest.raises(ValueError, match="6"):
        Tensor(np.arange(6)).reshape(4, 2)


def test_transpose() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(a)
    assert_tensor(t.transpose(), a.transpose(), np.float64)
    assert_tensor(t.transpose((1, 0, 2)), a.transpose(1, 0, 2), np.float64)
    assert_tensor(t.transpose(axes=(2, 0, 1)), a.transpose(2, 0, 1), np.float64)
    assert np.shares_memory(t.transpose().data, a)
    with pytest.raises(ValueError):
        t.transpose((0, 1))


# --- as_array and broadcast_shape, the module's exported helpers ---


def test_as_array_follows_the_same_rules() -> None:
    array = np.arange(3)
    assert as_array(array) is array
    assert as_array([1, 2]).dtype == np.float32
    assert set(NUMERIC_KINDS) == set("biufc")
    with pytest.raises(TypeError, match="str"):
        as_array("x")


def test_broadcast_shape_matches_numpy_on_random_shapes() -> None:
    rng = np.random.default_rng(3)
    checked = failed = 0
    for _ in range(500):
        shapes = [tuple(int(s) for s in rng.choice([0, 1, 2, 3], size=rng.integers(0, 4))) for _ in range(rng.integers(1, 4))]
        try:
            expected = np.broadcast_shapes(*shapes)
        except ValueError:
            with pytest.raises(ValueError, match="cannot broadcast"):
                broadcast_shape(*shapes)
            failed += 1
            continue
        assert broadcast_shape(*shapes) == expected, shapes
        checked += 1
    assert checked > 100 and failed > 100, (checked, failed)  # both outcomes really exercised


def test_broadcast_shape_names_the_shapes_and_the_axis() -> None:
    with pytest.raises(ValueError) as error:
        broadcast_shape((2, 3), (4,))
    assert str(error.value) == "cannot broadcast shapes (2, 3) and (4,): sizes 3 and 4 clash at axis -1"
    assert broadcast_shape() == ()


def test_importing_the_tensor_needs_numpy_alone() -> None:
    code = (
        "import sys, tinytorch.core.tensor\n"
        "heavy = {'jupytext', 'nbgrader', 'nbdev', 'nbformat', 'IPython', 'pytest'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import tinytorch.core.tensor loaded course/test packages: {out}"
