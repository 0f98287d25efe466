"""tinytorch.core.optimizers: SGD and Adam follow torch.optim's update rules, checked step by step
against values worked out by hand (bench/optimizers_vs_torch.py compares with PyTorch itself)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core import autograd
from tinytorch.core.autograd import Variable
from tinytorch.core.optimizers import SGD, Adam, Optimizer


def param(values, grad=None, dtype=np.float64) -> Variable:
    p = Variable(np.array(values, dtype=dtype), requires_grad=True)
    if grad is not None:
        set_grad(p, grad)
    return p


def set_grad(p: Variable, grad) -> None:
    p.grad = Variable(np.array(grad, dtype=p.data.data.dtype), requires_grad=False)


def values(p: Variable) -> np.ndarray:
    return p.data.data


def assert_values(p: Variable, expected, what: str) -> None:
    assert np.allclose(values(p), expected, rtol=1e-12, atol=1e-12), f"{what}: expected {expected}, got {values(p)}"


# --- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps)], ids=["SGD", "Adam"])
def test_an_empty_parameter_list_is_refused(make) -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        make([])
    with pytest.raises(ValueError, match="empty parameter list"):
        make(p for p in [])


def test_a_parameter_that_is_not_a_variable_is_named() -> None:
    with pytest.raises(TypeError, match="parameter 1 is a ndarray, not a Variable"):
        SGD([param([1.0]), np.zeros(3)], lr=0.1)


def test_params_may_be_any_iterable() -> None:
    ps = [param([1.0], grad=[1.0]), param([2.0], grad=[1.0])]
    opt = SGD(iter(ps), lr=0.5)
    opt.step()
    assert_values(ps[0], [0.5], "SGD from an iterator, first parameter")
    assert_values(ps[1], [1.5], "SGD from an iterator, second parameter")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: SGD(ps, lr=-0.1), "SGD: lr must be >= 0, got -0.1"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "SGD: momentum must be >= 0, got -0.5"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "SGD: weight_decay must be >= 0, got -1"),
        (lambda ps: SGD(ps, lr=float("nan")), "SGD: lr must be >= 0, got nan"),
        (lambda ps: Adam(ps, lr=-1e-3), "Adam: lr must be >= 0"),
        (lambda ps: Adam(ps, eps=-1.0), "Adam: eps must be >= 0"),
        (lambda ps: Adam(ps, weight_decay=-0.1), "Adam: weight_decay must be >= 0"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
        (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"Adam: betas\[1\] must be in \[0, 1\), got -0.1"),
    ],
)
def test_bad_hyperparameters_are_refused_with_their_name(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make([param([1.0])])


def test_adam_defaults_are_pytorchs() -> None:
    opt = Adam([param([1.0])])
    got = (opt.lr, opt.betas, opt.eps, opt.weight_decay)
    assert got == (1e-3, (0.9, 0.999), 1e-8, 0.0), f"Adam defaults: expected lr=1e-3, betas=(0.9, 0.999), eps=1e-8, wd=0, got {got}"


def test_the_base_class_has_no_update_rule() -> None:
    with pytest.raises(NotImplementedError, match="Optimizer does not define step"):
        Optimizer([param([1.0])]).step()


# --- zero_grad ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps)], ids=["SGD", "Adam"])
def test_zero_grad_sets_every_gradient_to_none(make) -> None:
    a, b, c = param([1.0], grad=[1.0]), param([[2.0, 3.0]], grad=[[1.0, 1.0]]), param([4.0])
    make([a, b, c]).zero_grad()
    assert (a.grad, b.grad, c.grad) == (None, None, None), f"zero_grad: expected all None, got {a.grad}, {b.grad}, {c.grad}"
    assert_values(b, [[2.0, 3.0]], "zero_grad must not touch the values")


def test_zero_grad_then_backward_gives_the_fresh_gradient_only() -> None:
    # Leaves accumulate: without zero_grad the second backward would add to the first.
    w = param([3.0])
    opt = SGD([w], lr=0.0)
    autograd.sum(w * w).backward()
    opt.zero_grad()
    autograd.sum(w * w).backward()
    assert np.allclose(w.grad.data.data, [6.0]), f"d(w^2)/dw at 3 after zero_grad: expected 6, got {w.grad.data.data}"


# --- SGD ----------------------------------------------------------------------------------------


def test_sgd_steps_against_the_gradient() -> None:
    p = param([1.0, -2.0], grad=[0.5, 0.25])
    opt = SGD([p], lr=0.1)
    opt.step()
    assert_values(p, [0.95, -2.025], "SGD(lr=0.1), step 1: p - 0.1*g")
    set_grad(p, [-1.0, 2.0])
    opt.step()
    assert_values(p, [1.05, -2.225], "SGD(lr=0.1), step 2 with a new gradient")


def test_sgd_weight_decay_is_added_to_the_gradient() -> None:
    # g = [0.5 + 0.1*1, 0.25 + 0.1*(-2)] = [0.6, 0.05]
    p = param([1.0, -2.0], grad=[0.5, 0.25])
    SGD([p], lr=0.1, weight_decay=0.1).step()
    assert_values(p, [0.94, -2.005], "SGD(lr=0.1, weight_decay=0.1)")


def test_sgd_momentum_step_by_step() -> None:
    # b1 = g1 = 1; b2 = 0.9*1 + 2 = 2.9; b3 = 0.9*2.9 - 1 = 1.61
    p = param([0.0], grad=[1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    expected = []
    for grad, position in [(1.0, -0.1), (2.0, -0.1 - 0.29), (-1.0, -0.1 - 0.29 - 0.161)]:
        set_grad(p, [grad])
        opt.step()
        expected.append(position)
        assert np.allclose(values(p), [position], rtol=0, atol=1e-12), (
            f"SGD(lr=0.1, momentum=0.9), gradients 1, 2, -1: positions should be {expected}, got {values(p)[0]!r} last"
        )
    assert np.allclose(opt.buffers[0], [1.61]), f"momentum buffer after 3 steps: expected 1.61, got {opt.buffers[0]}"


def test_sgd_weight_decay_goes_into_the_momentum_buffer() -> None:
    r = param([2.0], grad=[1.0])
    opt = SGD([r], lr=0.1, momentum=0.5, weight_decay=0.5)
    opt.step()  # g = 1 + 0.5*2 = 2, b = 2, r = 2 - 0.2 = 1.8
    assert_values(r, [1.8], "SGD momentum + weight decay, step 1")
    opt.step()  # g = 1 + 0.5*1.8 = 1.9, b = 0.5*2 + 1.9 = 2.9, r = 1.8 - 0.29 = 1.51
    assert_values(r, [1.51], "SGD momentum + weight decay, step 2")


def test_sgd_constant_gradient_matches_the_closed_form() -> None:
    # With a constant g, b_k = g (1 - mu^k) / (1 - mu).
    rng = np.random.default_rng(1)
    w0, g = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    w = param(w0, grad=g)
    mu, lr, k = 0.8, 0.05, 6
    opt = SGD([w], lr=lr, momentum=mu)
    for _ in range(k):
        opt.step()
    total = sum((1 - mu**j) / (1 - mu) for j in range(1, k + 1))
    assert np.allclose(values(w), w0 - lr * total * g), "SGD momentum, constant gradient: closed form differs"


# --- Adam ---------------------------------------------------------------------------------------


def test_adam_first_step_moves_each_number_by_lr() -> None:
    p = param([1.0, -1.0, 0.5, 2.0], grad=[1000.0, -0.001, 0.0, 3.0])
    Adam([p], lr=0.01).step()
    # lr * g / (|g| + eps): exactly 0.01 * 1000 / (1000 + 1e-8), etc.
    expected = [1.0 - 0.01 * 1000 / (1000 + 1e-8), -1.0 + 0.01 * 0.001 / (0.001 + 1e-8), 0.5, 2.0 - 0.01 * 3 / (3 + 1e-8)]
    assert_values(p, expected, "Adam(lr=0.01), first step")


def test_adam_two_steps_by_hand() -> None:
    # betas (0.5, 0.75), eps 0.1, gradients 2 then 1:
    #   m1 = 1, v1 = 1, m_hat = 1/0.5, v_hat = 1/0.25;   m2 = 1, v2 = 1, m_hat = 1/0.75, v_hat = 1/0.4375
    p = param([1.0], grad=[2.0])
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.1)
    opt.step()
    one = 1 - 0.1 * 2 / (2 + 0.1)
    assert_values(p, [one], "Adam step 1")
    assert (opt.m[0][0], opt.v[0][0], opt.t[0]) == (1.0, 1.0, 1), f"Adam state after step 1: got m={opt.m[0]}, v={opt.v[0]}"
    set_grad(p, [1.0])
    opt.step()
    two = one - 0.1 * (1 / 0.75) / (math.sqrt(1 / 0.4375) + 0.1)
    assert_values(p, [two], "Adam step 2 (eps after the square root)")


def test_adam_weight_decay_is_l2_added_to_the_gradient_not_adamw() -> None:
    w = param([2.0], grad=[0.0])
    Adam([w], lr=0.1, weight_decay=0.25).step()  # g = 0.5: a first step moves by lr
    assert np.allclose(values(w), [2.0 - 0.1 * 0.5 / (0.5 + 1e-8)]), f"Adam L2 decay: expected ~1.9 (AdamW: 1.95), got {values(w)}"


def test_adam_counts_steps_per_parameter() -> None:
    a, b = param([1.0], grad=[1.0]), param([1.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    assert_values(b, [1.0], "Adam: a parameter without gradient does not move")
    assert opt.t == [1, 0], f"Adam step counts after one step with b skipped: expected [1, 0], got {opt.t}"
    set_grad(b, [5.0])
    opt.step()
    assert np.allclose(values(b), [0.9]), f"Adam: b's first real step moves it by lr to 0.9, got {values(b)}"
    assert opt.t == [2, 1], f"Adam step counts: expected [2, 1], got {opt.t}"


def test_adam_constant_gradient_matches_the_closed_form() -> None:
    # Bias correction makes m_hat = g and v_hat = g^2 exactly, on every step.
    rng = np.random.default_rng(2)
    w0, g = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    w = param(w0, grad=g)
    opt = Adam([w], lr=0.02, eps=1e-3)
    for _ in range(7):
        opt.step()
    assert np.allclose(values(w), w0 - 7 * 0.02 * g / (np.abs(g) + 1e-3)), "Adam, constant gradient: closed form differs"


# --- rules shared by both ------------------------------------------------------------------------

BOTH = [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.01),
]


@pytest.mark.parametrize("make", BOTH, ids=["SGD", "Adam"])
def test_parameters_without_gradient_are_skipped_and_keep_no_state(make) -> None:
    frozen, live = param([3.0, 4.0]), param([1.0], grad=[1.0])
    opt = make([frozen, live])
    opt.step()
    opt.step()
    assert_values(frozen, [3.0, 4.0], f"{type(opt).__name__}: a parameter without gradient")
    state = opt.buffers[0] if isinstance(opt, SGD) else opt.m[0]
    assert state is None, f"{type(opt).__name__}: a skipped parameter should have no state yet, got {state}"
    assert values(live)[0] < 1.0, f"{type(opt).__name__}: the parameter with a gradient should have moved, got {values(live)}"


@pytest.mark.parametrize("make", BOTH, ids=["SGD", "Adam"])
def test_updates_keep_dtype_shape_and_array_and_leave_the_gradient_alone(make) -> None:
    p = param([[1.0, 2.0], [3.0, 4.0]], grad=[[0.5, -0.5], [0.25, 0.0]], dtype=np.float32)
    array, grad = values(p), p.grad.data.data.copy()
    opt = make([p])
    for _ in range(3):
        opt.step()
    name = type(opt).__name__
    assert values(p).dtype == np.float32, f"{name}: float32 should stay float32, got {values(p).dtype}"
    assert values(p) is array, f"{name}: the update should be in place (same array), got a new array"
    assert not np.array_equal(values(p), [[1.0, 2.0], [3.0, 4.0]]), f"{name}: nothing moved"
    assert np.array_equal(p.grad.data.data, grad), f"{name}: the gradient should be unchanged, got {p.grad.data.data}"


def test_float32_matches_float64_closely() -> None:
    runs = {}
    for dtype in (np.float32, np.float64):
        p = param([0.3, -0.7, 1.1], dtype=dtype)
        opt = Adam([p], lr=0.05)
        for k in range(10):
            set_grad(p, np.cos(np.arange(3) + k))
            opt.step()
        runs[dtype] = values(p).astype(np.float64)
    assert np.allclose(runs[np.float32], runs[np.float64], atol=1e-5), f"float32 {runs[np.float32]} vs float64 {runs[np.float64]}"


# --- with the real engine ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.05, momentum=0.9), lambda ps: Adam(ps, lr=0.1)],
    ids=["SGD", "SGD-momentum", "Adam"],
)
def test_minimising_a_quadratic_with_backward(make) -> None:
    # L(w) = sum((w - target)^2), minimum at target.
    target = np.array([3.0, -1.0, 0.5])
    w = param([0.0, 0.0, 0.0])
    opt = make([w])
    for _ in range(300):
        opt.zero_grad()
        loss = autograd.sum((w - target) ** 2)
        loss.backward()
        opt.step()
    assert np.allclose(values(w), target, atol=1e-3), f"{type(opt).__name__}: expected w -> {target}, got {values(w)}"
