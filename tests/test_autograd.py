"""tinytorch.core.autograd, as a package user sees it: every function, operator and rule of its spec."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tinytorch.core import autograd as ag
from tinytorch.core.autograd import (
    Variable,
    add,
    divide,
    exp,
    gradcheck,
    log,
    matmul,
    mean,
    multiply,
    no_grad,
    operation,
    power,
    relu,
    reshape,
    sigmoid,
    softmax_cross_entropy,
    subtract,
    tanh,
    topological_order,
    transpose,
    unbroadcast,
)
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(2026)


def grad(v: Variable) -> np.ndarray:
    assert v.grad is not None, f"expected a gradient on {v!r}, got None"
    assert isinstance(v.grad, Variable) and isinstance(v.grad.data, Tensor), "grad is a Variable holding a Tensor"
    return v.grad.data.data


def normal(*shape: int) -> Variable:
    return Variable(RNG.standard_normal(shape))


def positive(*shape: int) -> Variable:
    return Variable(RNG.uniform(0.5, 2.0, shape))


# --- Variable -------------------------------------------------------------------------------------


def test_python_numbers_and_lists_become_float32_arrays_keep_their_dtype() -> None:
    assert Variable(2.0).dtype == np.float32
    assert Variable(3).dtype == np.float32
    assert Variable([[1, 2], [3, 4]]).dtype == np.float32
    assert Variable(np.ones(3)).dtype == np.float64
    assert Variable(np.ones(3, dtype=np.float32)).dtype == np.float32
    assert Variable(np.arange(3)).dtype.kind == "i"


def test_a_tensor_is_kept_without_copy_and_a_variable_is_unwrapped() -> None:
    t = Tensor(np.ones(2))
    assert Variable(t).data is t
    v = Variable(t)
    assert Variable(v).data is t


@pytest.mark.parametrize("bad", ["text", b"bytes", None, {"a": 1}, ["a", "b"], np.array(["x"]), np.array([None])])
def test_non_numeric_data_raises_type_error(bad) -> None:
    with pytest.raises(TypeError):
        Variable(bad)


def test_attributes_of_a_leaf_and_of_a_computed_variable() -> None:
    x = Variable(np.ones((2, 3)))
    assert (x.requires_grad, x.grad, x.grad_fn, x.is_leaf) == (True, None, None, True)
    assert (x.shape, x.size) == ((2, 3), 6)
    y = x * 2.0
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert Variable(1.0, requires_grad=False).requires_grad is False


def test_repr_shows_values_dtype_requires_grad_and_the_operation() -> None:
    x = Variable([1.0, 2.0])
    assert repr(x) == "Variable([1., 2.], dtype=float32, requires_grad=True)"
    assert repr(x * 2) == "Variable([2., 4.], dtype=float32, requires_grad=True, grad_fn=<multiply>)"


def test_data_is_assignable_and_later_operations_use_the_new_value() -> None:
    w = Variable(1.0)
    w.data = Tensor(np.array(3.0))
    y = w * w
    assert y.data.data.item() == 9.0
    y.backward()
    assert grad(w).item() == 6.0


def test_detach_shares_data_and_stops_the_gradient() -> None:
    x = Variable(3.0)
    d = x.detach()
    assert d.data is x.data and d.requires_grad is False and d.is_leaf
    (d * x).backward()
    assert grad(x).item() == 3.0  # only the x factor carries a gradient
    assert d.grad is None


def test_backward_without_gradient_uses_ones_also_for_non_scalars() -> None:
    x = Variable(np.array([1.0, 2.0, 3.0]))
    (x * x).backward()
    np.testing.assert_allclose(grad(x), [2.0, 4.0, 6.0])


@pytest.mark.parametrize(
    "gradient", [Variable(np.array([1.0, 2.0])), Tensor(np.array([1.0, 2.0])), np.array([1.0, 2.0]), [1.0, 2.0]]
)
def test_backward_accepts_variable_tensor_array_or_list_gradients(gradient) -> None:
    x = Variable(np.array([5.0, 7.0]))
    (x * 3.0).backward(gradient)
    np.testing.assert_allclose(grad(x), [3.0, 6.0])


def test_backward_with_a_number_keeps_float32() -> None:
    x = Variable(2.0)
    (x * x).backward(2.0)
    assert grad(x).item() == 8.0 and grad(x).dtype == np.float32


def test_backward_gradient_of_the_wrong_shape_names_both_shapes() -> None:
    y = Variable(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_on_something_that_needs_no_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Variable(1.0, requires_grad=False).backward()


def test_variables_are_hashed_by_identity() -> None:
    a, b = Variable(1.0), Variable(1.0)
    assert len({a, b}) == 2 and a != b


# --- operators --------------------------------------------------------------------------------------


def test_binary_operators_and_their_gradients() -> None:
    a, b = Variable(6.0), Variable(3.0)
    cases = [
        (lambda: a + b, 9.0, 1.0, 1.0),
        (lambda: a - b, 3.0, 1.0, -1.0),
        (lambda: a * b, 18.0, 3.0, 6.0),
        (lambda: a / b, 2.0, 1 / 3, -6 / 9),
    ]
    for make, value, da, db in cases:
        a.zero_grad()
        b.zero_grad()
        out = make()
        out.backward()
        assert out.data.data.item() == pytest.approx(value)
        assert (grad(a).item(), grad(b).item()) == pytest.approx((da, db))


@pytest.mark.parametrize(
    ("make", "value", "derivative"),
    [
        (lambda x: 2 + x, 6.0, 1.0),
        (lambda x: 2 - x, -2.0, -1.0),
        (lambda x: 2 * x, 8.0, 2.0),
        (lambda x: 2 / x, 0.5, -2 / 16),
        (lambda x: x**3, 64.0, 48.0),
        (lambda x: x**0.5, 2.0, 0.25),
        (lambda x: -x, -4.0, -1.0),
        (lambda x: x + 2, 6.0, 1.0),
        (lambda x: x - 2, 2.0, 1.0),
        (lambda x: x * 2, 8.0, 2.0),
        (lambda x: x / 2, 2.0, 0.5),
    ],
)
def test_operators_with_numbers_unary_minus_and_reflected_forms(make, value, derivative) -> None:
    x = Variable(4.0)
    out = make(x)
    out.backward()
    assert out.data.data.item() == pytest.approx(value)
    assert grad(x).item() == pytest.approx(derivative)
    assert out.dtype == np.float32 and grad(x).dtype == np.float32


def test_numpy_arrays_on_either_side_are_constants() -> None:
    x = Variable(np.ones(3))
    c = np.array([1.0, 2.0, 3.0])
    for out, derivative in [(c + x, 1.0), (c - x, -1.0), (c * x, c), (c / x, -c), (x * c, c)]:
        x.zero_grad()
        assert isinstance(out, Variable)
        out.backward()
        np.testing.assert_allclose(grad(x), np.broadcast_to(derivative, (3,)))


def test_matmul_operator_and_reflected_matmul_with_an_array() -> None:
    w = Variable(np.arange(6.0).reshape(3, 2))
    x = np.ones((4, 3))
    out = x @ w
    assert isinstance(out, Variable) and out.shape == (4, 2)
    out.backward()
    np.testing.assert_allclose(grad(w), np.full((3, 2), 4.0))
    a = Variable(np.eye(2))
    (a @ w.data.data[:2]).backward()
    np.testing.assert_allclose(grad(a), np.tile(w.data.data[:2].sum(axis=1), (2, 1)))


# --- every function: hand-derived values and gradcheck --------------------------------------------


def test_add_subtract_multiply_divide_by_hand_on_arrays() -> None:
    a, b = Variable(np.array([1.0, 2.0])), Variable(np.array([4.0, 8.0]))
    divide(subtract(multiply(a, b), add(a, b)), b).backward()  # (ab - a - b) / b = a - a/b - 1
    np.testing.assert_allclose(grad(a), 1 - 1 / b.data.data)
    np.testing.assert_allclose(grad(b), a.data.data / b.data.data**2)


def test_power_by_hand_and_exponent_must_be_a_number() -> None:
    x = Variable(np.array([1.0, 2.0, 3.0]))
    power(x, 3).backward()
    np.testing.assert_allclose(grad(x), 3 * x.data.data**2)
    for bad in (Variable(2.0), "2", True, np.ones(2)):
        with pytest.raises(TypeError, match="exponent"):
            power(x, bad)


def test_matmul_by_hand() -> None:
    a = Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    b = Variable(np.array([[5.0, 6.0], [7.0, 8.0]]))
    g = np.array([[1.0, 0.0], [2.0, 1.0]])
    matmul(a, b).backward(g)
    np.testing.assert_allclose(grad(a), g @ b.data.data.T)
    np.testing.assert_allclose(grad(b), a.data.data.T @ g)


@pytest.mark.parametrize(
    ("fn", "value", "expected_value", "expected_grad"),
    [
        (exp, 0.5, np.exp(0.5), np.exp(0.5)),
        (log, 4.0, np.log(4.0), 0.25),
        (relu, -2.0, 0.0, 0.0),
        (relu, 3.0, 3.0, 1.0),
        (sigmoid, 0.0, 0.5, 0.25),
        (sigmoid, -1.0, 1 / (1 + np.e), np.e / (1 + np.e) ** 2),
        (tanh, 1.0, np.tanh(1.0), 1 - np.tanh(1.0) ** 2),
    ],
)
def test_elementwise_functions_by_hand(fn, value, expected_value, expected_grad) -> None:
    x = Variable(np.array(value))
    out = fn(x)
    out.backward()
    assert out.data.data.item() == pytest.approx(expected_value)
    assert grad(x).item() == pytest.approx(expected_grad)


def test_sigmoid_and_softmax_do_not_overflow() -> None:
    x = Variable(np.array([-1e4, 0.0, 1e4]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(x)
        s.backward()
        loss = softmax_cross_entropy(Variable(np.array([[1e4, -1e4, 0.0]])), [1])
        loss.backward()
    np.testing.assert_allclose(s.data.data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(grad(x), [0.0, 0.25, 0.0])
    assert loss.data.data.item() == pytest.approx(2e4)


def test_sum_and_mean_by_hand() -> None:
    x = Variable(np.ones((2, 3)))
    ag.sum(x, axis=0).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(grad(x), [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    x.zero_grad()
    mean(x, axis=1, keepdims=True).backward(np.array([[3.0], [6.0]]))
    np.testing.assert_allclose(grad(x), [[1.0] * 3, [2.0] * 3])
    x.zero_grad()
    total = ag.sum(x)
    assert total.shape == () and total.data.data.item() == 6.0
    mean(x).backward()
    np.testing.assert_allclose(grad(x), np.full((2, 3), 1 / 6))


def test_reshape_and_transpose_by_hand() -> None:
    x = Variable(np.arange(6.0).reshape(2, 3))
    g = np.arange(6.0).reshape(3, 2) * 10
    transpose(x).backward(g)
    np.testing.assert_allclose(grad(x), g.T)
    x.zero_grad()
    reshape(x, (3, 2)).backward(g)
    np.testing.assert_allclose(grad(x), g.reshape(2, 3))
    c = Variable(np.zeros((2, 3, 4)))
    gc = RNG.standard_normal((4, 2, 3))
    transpose(c, (2, 0, 1)).backward(gc)
    np.testing.assert_allclose(grad(c), np.transpose(gc, (1, 2, 0)))


def test_softmax_cross_entropy_by_hand() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    z = Variable(logits)
    loss = softmax_cross_entropy(z, np.array([0, 2]))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss.data.data.item() == pytest.approx(-(np.log(p[0, 0]) + np.log(p[1, 2])) / 2)
    loss.backward()
    np.testing.assert_allclose(grad(z), (p - np.eye(3)[[0, 2]]) / 2)


@pytest.mark.parametrize("targets", [[1, 0], np.array([1, 0], dtype=np.int32), Variable([1, 0]), Tensor([1, 0])])
def test_softmax_cross_entropy_targets_as_list_array_variable_or_tensor(targets) -> None:
    z = Variable(np.zeros((2, 2)))
    assert softmax_cross_entropy(z, targets).data.data.item() == pytest.approx(np.log(2))


@pytest.mark.parametrize(
    ("logits_shape", "targets", "error"),
    [
        ((2, 3), [0, 3], ValueError),
        ((2, 3), [0, -1], ValueError),
        ((2, 3), [0], ValueError),
        ((6,), [0], ValueError),
        ((2, 3), np.array([0.5, 1.0]), TypeError),
        ((2, 3), ["a", "b"], TypeError),
    ],
)
def test_softmax_cross_entropy_rejects_bad_targets(logits_shape, targets, error) -> None:
    with pytest.raises(error):
        softmax_cross_entropy(Variable(np.zeros(logits_shape)), targets)


GRADCHECKS = {
    "add": (add, [normal(3, 4), normal(3, 4)]),
    "add broadcast": (add, [normal(3, 1), normal(4)]),
    "subtract": (subtract, [normal(2, 3), normal(2, 3)]),
    "subtract broadcast": (subtract, [normal(3), normal(2, 3)]),
    "multiply": (multiply, [normal(2, 3), normal(2, 3)]),
    "multiply broadcast": (multiply, [normal(2, 1, 3), normal(4, 1)]),
    "divide": (divide, [normal(2, 3), positive(2, 3)]),
    "divide broadcast": (divide, [normal(2, 3), positive(1, 3)]),
    "power 2": (lambda x: power(x, 2), [normal(5)]),
    "power -1": (lambda x: power(x, -1), [positive(5)]),
    "power 0.5": (lambda x: power(x, 0.5), [positive(5)]),
    "matmul": (matmul, [normal(3, 4), normal(4, 2)]),
    "exp": (exp, [normal(2, 3)]),
    "log": (log, [positive(2, 3)]),
    "relu": (relu, [normal(2, 3)]),
    "sigmoid": (sigmoid, [normal(2, 3)]),
    "tanh": (tanh, [normal(2, 3)]),
    "sum": (ag.sum, [normal(2, 3)]),
    "sum axis 1": (lambda x: ag.sum(x, axis=1), [normal(2, 3)]),
    "sum axes (0, 2) keepdims": (lambda x: ag.sum(x, (0, 2), True), [normal(2, 3, 4)]),
    "mean": (mean, [normal(2, 3)]),
    "mean axis -1": (lambda x: mean(x, axis=-1), [normal(2, 3, 4)]),
    "mean axis 0 keepdims": (lambda x: mean(x, 0, keepdims=True), [normal(2, 3)]),
    "reshape": (lambda x: reshape(x, (3, -1)), [normal(2, 3, 2)]),
    "transpose": (transpose, [normal(2, 3)]),
    "transpose axes": (lambda x: transpose(x, (1, 2, 0)), [normal(2, 3, 4)]),
    "softmax_cross_entropy": (lambda z: softmax_cross_entropy(z, [2, 0, 1]), [normal(3, 4)]),
    "mlp": (
        lambda x, w, b: mean(tanh(x @ w + b) ** 2),
        [normal(4, 3), normal(3, 2), normal(2)],
    ),
}


@pytest.mark.parametrize("name", GRADCHECKS)
def test_gradcheck_passes_for_every_function(name: str) -> None:
    fn, inputs = GRADCHECKS[name]
    assert gradcheck(fn, inputs) is True


# --- the engine's rules -----------------------------------------------------------------------------


def test_result_requires_grad_if_any_input_does() -> None:
    a, c = Variable(1.0), Variable(2.0, requires_grad=False)
    assert (a + c).requires_grad and (c + a).requires_grad
    only_constants = c * 3.0 + np.ones(2)
    assert not only_constants.requires_grad and only_constants.grad_fn is None


def test_inputs_that_do_not_require_grad_get_none_and_are_not_recorded() -> None:
    a, c = Variable(np.ones(2)), Variable(np.ones(2), requires_grad=False)
    out = a * c
    assert [v for v, _ in out.grad_fn.edges] == [a]
    out.backward()
    assert c.grad is None and grad(a) is not None


def test_intermediate_values_keep_no_gradient() -> None:
    x = Variable(2.0)
    middle = x * 3.0
    (middle * middle).backward()
    assert middle.grad is None
    assert grad(x).item() == 36.0


def test_no_grad_records_nothing_nests_and_restores_after_errors() -> None:
    x = Variable(np.ones(2))
    with no_grad():
        y = exp(x) * 2.0
        with no_grad():
            pass
        z = y + x
    assert not y.requires_grad and y.grad_fn is None and not z.requires_grad
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert (x * 2.0).requires_grad


@pytest.mark.parametrize(
    ("x_shape", "other_shape"),
    [((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((4, 2, 3), (2, 1)), ((2, 3), ()), ((3,), (2, 3))],
)
def test_each_input_gradient_has_that_inputs_shape(x_shape, other_shape) -> None:
    x, other = Variable(np.ones(x_shape)), Variable(np.full(other_shape, 2.0))
    for op in (add, subtract, multiply, divide):
        x.zero_grad()
        other.zero_grad()
        op(x, other).backward()
        assert grad(x).shape == x_shape and grad(other).shape == other_shape, op.__name__
    x.zero_grad()
    other.zero_grad()
    (x * other).backward()
    out_size = np.broadcast_shapes(x_shape, other_shape)
    np.testing.assert_allclose(grad(other), np.full(other_shape, np.prod(out_size) / np.prod(other_shape)))


def test_unbroadcast_sums_leading_axes_then_size_one_axes() -> None:
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(unbroadcast(g, (3, 4)), g.sum(axis=0))
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_allclose(unbroadcast(g, (1, 1, 4)), g.sum(axis=(0, 1), keepdims=True))
    np.testing.assert_allclose(unbroadcast(g, ()), g.sum())
    assert unbroadcast(g, (2, 3, 4)) is g


ALL_OPS = {
    "add": lambda x: x + 1,
    "radd": lambda x: 1 + x,
    "subtract": lambda x: x - 0.5,
    "rsubtract": lambda x: 0.5 - x,
    "multiply": lambda x: x * 0.5,
    "neg": lambda x: -x,
    "divide": lambda x: x / 3,
    "rdivide": lambda x: 3 / (x + 2),
    "power": lambda x: x**2,
    "matmul": lambda x: x @ x.data.data.T,
    "exp": exp,
    "log": lambda x: log(x + 2),
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "sum": lambda x: ag.sum(x, axis=0),
    "mean": lambda x: mean(x, axis=1),
    "reshape": lambda x: reshape(x, (-1,)),
    "transpose": transpose,
    "softmax_cross_entropy": lambda x: softmax_cross_entropy(x, [0, 1]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ALL_OPS)
def test_dtype_is_kept_by_every_operation_also_with_python_constants(name: str, dtype) -> None:
    x = Variable(np.array([[0.5, 1.0], [1.5, 2.0]], dtype=dtype))
    out = ALL_OPS[name](x)
    assert out.dtype == dtype, f"{name}: {np.dtype(dtype).name} input gave {out.dtype}"
    out.backward()
    assert grad(x).dtype == dtype, f"{name}: {np.dtype(dtype).name} input got a {grad(x).dtype} gradient"


def test_leaves_accumulate_across_backward_calls_and_zero_grad_resets() -> None:
    w = Variable(2.0)
    (w * 3.0).backward()
    (w * w).backward()  # a second, fresh graph from the same leaf
    assert grad(w).item() == 3.0 + 4.0
    w.zero_grad()
    assert w.grad is None
    (w * 5.0).backward()
    assert grad(w).item() == 5.0


def test_backward_twice_through_the_same_graph_adds_up() -> None:
    x = Variable(3.0)
    y = x * x
    y.backward()
    y.backward()
    assert grad(x).item() == 12.0


def test_a_value_used_several_times_gets_the_sum_of_its_uses() -> None:
    x = Variable(2.0)
    (x * x * x + x).backward()
    assert grad(x).item() == 3 * 4 + 1


def test_gradients_of_different_leaves_never_share_an_array() -> None:
    a, b = Variable(np.ones(2)), Variable(np.ones(2))
    g = np.array([1.0, 2.0])
    (a + b).backward(g)
    grad(a)[0] = 100.0
    assert grad(b)[0] == 1.0 and g[0] == 1.0


def counted_identity(counter: list[int]):
    @operation(inputs=1)
    def counted(x):
        def local_grad(g):
            counter[0] += 1
            return g

        return x, (local_grad,)

    return counted


def test_the_2_to_the_60_diamond_visits_every_node_once() -> None:
    calls = [0]
    x = Variable(1.0)
    y = counted_identity(calls)(x)
    for _ in range(60):
        y = y + y
    y.backward()
    assert grad(x).item() == 2**60
    assert calls == [1], f"the gradient passed through x's only edge {calls[0]} times"


def test_backward_work_is_linear_in_the_number_of_operations() -> None:
    for k in (10, 100, 1000):
        calls = [0]
        counted = counted_identity(calls)
        x = Variable(1.0)
        y = x
        for _ in range(k):
            y = counted(y) * 0.5 + counted(y) * 0.5  # two uses of every value: 2^k paths
        y.backward()
        assert calls[0] == 2 * k, f"k={k}: {calls[0]} local-gradient calls, expected {2 * k} (one per edge)"


def test_a_50000_operation_chain_needs_no_recursion() -> None:
    limit = sys.getrecursionlimit()
    x = Variable(1.0)
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.5
    assert len(topological_order(y)) == 100_001
    y.backward()
    assert grad(x).item() == 1.0
    assert sys.getrecursionlimit() == limit


def test_topological_order_lists_each_node_once_inputs_first() -> None:
    x, y = Variable(1.0), Variable(2.0)
    a = x * y
    b = a + x
    c = a * b + y
    order = topological_order(c)
    assert len(order) == len(set(order)) == 6 and order[-1] is c
    position = {v: i for i, v in enumerate(order)}
    for node in order:
        for parent, _ in node.grad_fn.edges if node.grad_fn else []:
            assert position[parent] < position[node]


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [add, subtract, multiply, divide])
def test_elementwise_shape_mismatch_names_both_shapes(op) -> None:
    with pytest.raises(ValueError, match=rf"{op.__name__}.*\(2, 3\).*\(4,\)"):
        op(Variable(np.ones((2, 3))), Variable(np.ones(4)))


@pytest.mark.parametrize(("left", "right"), [((2, 3), (4, 5)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 2), (2, 2))])
def test_matmul_needs_2d_inputs_with_matching_inner_size(left, right) -> None:
    with pytest.raises(ValueError) as error:
        matmul(Variable(np.ones(left)), Variable(np.ones(right)))
    assert str(left) in str(error.value) and str(right) in str(error.value)


def test_reshape_to_an_impossible_shape_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        reshape(Variable(np.ones((2, 3))), (4,))


@pytest.mark.parametrize("bad", ["2", None, [1.0, 2.0], object(), np.array(["a"])])
def test_non_numeric_operands_raise_type_error(bad) -> None:
    x = Variable(np.ones(2))
    with pytest.raises(TypeError):
        x + bad
    with pytest.raises(TypeError):
        multiply(bad, x)


def test_an_operation_must_return_one_local_gradient_per_input() -> None:
    @operation(inputs=1)
    def no_tuple(x):
        return x * 2, (lambda g: g * 2)  # missing trailing comma: not a tuple

    @operation(inputs=2)
    def one_too_few(a, b):
        return a + b, (lambda g: g,)

    with pytest.raises(TypeError, match=r"no_tuple must return \(out, a tuple of 1 local gradient"):
        no_tuple(Variable(1.0))
    with pytest.raises(TypeError, match="one_too_few must return"):
        one_too_few(Variable(1.0), 2.0)


# --- gradcheck --------------------------------------------------------------------------------------


def test_gradcheck_names_input_and_index_on_a_wrong_backward() -> None:
    @operation(inputs=2)
    def wrong_multiply(a, b):
        return a * b, (lambda g: g * b, lambda g: g * b)  # d/db should be g * a

    a, b = Variable(np.array([1.0, 2.0])), Variable(np.array([3.0, 5.0]))
    with pytest.raises(AssertionError, match=r"input 1, index \(0,\): expected ") as error:
        gradcheck(wrong_multiply, [a, b])
    # With the output weighted by w: expected w * a[0] = w * 1, got w * b[0] = w * 3.
    numbers = [float(word) for word in str(error.value).replace(",", " ").split() if word[0].isdigit()]
    assert numbers[-1] == pytest.approx(3 * numbers[-2], rel=1e-4), str(error.value)


def test_gradcheck_reports_plain_derivatives_for_a_scalar_output() -> None:
    @operation(inputs=1)
    def wrong_square(x):
        return x * x, (lambda g: g * x,)

    with pytest.raises(AssertionError, match=r"input 0, index \(\): expected 6 \(central difference\), got 3 \(backward\)"):
        gradcheck(wrong_square, [Variable(3.0)])


def test_gradcheck_catches_a_gradient_of_the_wrong_shape() -> None:
    @operation(inputs=1)
    def wrong_shape(x):
        return x * 2, (lambda g: g.sum(axis=0),)

    with pytest.raises(AssertionError, match=r"input 0 has shape \(2, 3\).*shape \(3,\)"):
        gradcheck(wrong_shape, [Variable(np.ones((2, 3)))], atol=1e-5)


def test_gradcheck_leaves_the_callers_variables_untouched_and_skips_constants() -> None:
    a, b = Variable(np.ones(2), requires_grad=False), Variable(np.ones(2, dtype=np.float32))
    assert gradcheck(lambda p, q: p * q * q, [a, b])
    assert a.grad is None and b.grad is None and b.dtype == np.float32
    np.testing.assert_array_equal(b.data.data, np.ones(2))


def test_gradcheck_tolerances_are_used() -> None:
    @operation(inputs=1)
    def slightly_off(x):
        return x * 2, (lambda g: g * 2.01,)

    x = Variable(np.array([1.0]))
    with pytest.raises(AssertionError):
        gradcheck(slightly_off, [x])
    assert gradcheck(slightly_off, [x], rtol=1e-2)
