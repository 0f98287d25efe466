"""What the autograd engine costs, as behaviour and counts (never wall-clock; timings are in bench/engine.py).

A graph must die by reference counting as soon as nobody holds it (no reference cycles that wait for
the garbage collector), each recorded operation keeps a fixed, small number of objects alive,
training does not accumulate memory from step to step, gradients of constants are never computed,
and float32 stays float32 through a whole training step.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from tinytorch.core.autograd import Variable, no_grad, operation, relu, softmax_cross_entropy, tanh
from tinytorch.core.optimizers import SGD

# Per recorded operation: the result Variable, its Tensor, its GradFn, the tuple of edges, one
# (input, local_grad) pair per input that needs a gradient, and each local gradient's closure
# (function, closure tuple, cell). A binary op with one constant, like `y * 1.0001`, keeps 8.
MAX_OBJECTS_PER_OPERATION = 8


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Objects can then only die by reference counting: what survives is what is still referenced."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def tracked_objects() -> int:
    return len(gc.get_objects())


def live_variables() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Variable)


def chain(x: Variable, ops: int) -> Variable:
    y = x
    for _ in range(ops // 2):
        y = y * 1.0001 + 0.001
    return y


def test_each_recorded_operation_keeps_a_bounded_number_of_objects(collector_off) -> None:
    x = Variable(1.0)
    before = tracked_objects()
    y = chain(x, 2_000)
    per_op = (tracked_objects() - before) / 2_000
    assert per_op <= MAX_OBJECTS_PER_OPERATION, (
        f"a recorded operation should keep at most {MAX_OBJECTS_PER_OPERATION} objects alive, it keeps {per_op:.2f}"
    )
    assert y.grad_fn is not None


def test_without_recording_an_operation_keeps_only_its_result(collector_off) -> None:
    x = Variable(1.0)
    with no_grad():
        before = tracked_objects()
        results = [x * 2.0 for _ in range(1_000)]
        per_op = (tracked_objects() - before - 1) / 1_000  # - 1: the list itself
    assert per_op <= 2, f"in no_grad an operation should keep only its Variable and Tensor, it keeps {per_op:.2f}"
    assert all(r.grad_fn is None for r in results)


def test_a_graph_dies_by_reference_counting_once_dropped(collector_off) -> None:
    x = Variable(np.ones(3))
    a = Variable(np.ones(3))
    before_objects, before_variables = tracked_objects(), live_variables()
    y = x
    for _ in range(500):
        y = tanh(y * 0.5 + a) * x
    y.backward()
    assert live_variables() > before_variables + 1_000
    del y
    left = live_variables() - before_variables
    assert left == 2, f"after the output is dropped only x.grad and a.grad should remain, {left} Variables did"
    assert tracked_objects() - before_objects <= 4, "the graph left objects that only the garbage collector could free"


def test_backward_leaves_no_reference_cycles(collector_off) -> None:
    x = Variable(np.ones((4, 4)))
    before = tracked_objects()
    for _ in range(3):
        loss = (relu(x @ x - 1.0) * 2.0).__pow__(2)
        loss.backward()
        x.zero_grad()
    del loss
    assert tracked_objects() - before <= 2, "backward created objects that outlive the graph"


def make_mlp(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[Variable]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 16)
    params = [
        Variable((rng.standard_normal((8, 12)) / 3).astype(np.float32)),
        Variable(np.zeros(12, dtype=np.float32)),
        Variable((rng.standard_normal((12, 3)) / 4).astype(np.float32)),
        Variable(np.zeros(3, dtype=np.float32)),
    ]
    return x, labels, params


def train_step(x: np.ndarray, labels: np.ndarray, params: list[Variable], optimizer: SGD) -> Variable:
    w1, b1, w2, b2 = params
    hidden = relu(x @ w1 + b1)
    loss = softmax_cross_entropy(hidden @ w2 + b2, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def test_training_steps_do_not_accumulate_objects_or_memory() -> None:
    x, labels, params = make_mlp()
    optimizer = SGD(params, lr=0.1)
    for _ in range(5):  # warm-up: caches, first gradients
        train_step(x, labels, params, optimizer)
    gc.collect()
    variables_before = live_variables()
    tracemalloc.start()
    try:
        for _ in range(5):
            train_step(x, labels, params, optimizer)
        gc.collect()
        memory_before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            train_step(x, labels, params, optimizer)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - memory_before
    finally:
        tracemalloc.stop()
    assert live_variables() == variables_before, (
        f"live Variables went from {variables_before} to {live_variables()} over 200 training steps"
    )
    assert growth < 20_000, f"200 training steps grew the traced memory by {growth} bytes; the graphs are kept somewhere"


def test_float32_stays_float32_through_a_training_step() -> None:
    x, labels, params = make_mlp()
    w1, b1, w2, b2 = params
    hidden = relu(x @ w1 + b1) * 1.0 + 0.0  # Python numbers must not upcast
    logits = hidden @ w2 + b2
    loss = softmax_cross_entropy(logits, labels)
    for name, value in [("hidden", hidden), ("logits", logits), ("loss", loss)]:
        assert value.dtype == np.float32, f"{name} should be float32, got {value.dtype}"
    optimizer = SGD(params, lr=0.1)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    for number, p in enumerate(params):
        assert p.grad.dtype == np.float32, f"the gradient of parameter {number} should be float32, got {p.grad.dtype}"
        assert p.dtype == np.float32, f"parameter {number} should stay float32 after the step, got {p.dtype}"


def test_the_gradient_of_a_constant_is_never_computed() -> None:
    calls = {"a": 0, "b": 0}

    @operation(inputs=2)
    def counted_multiply(a, b):
        def grad_a(g):
            calls["a"] += 1
            return g * b

        def grad_b(g):
            calls["b"] += 1
            return g * a

        return a * b, (grad_a, grad_b)

    w = Variable(np.ones(3))
    counted_multiply(w, np.full(3, 2.0)).backward()
    counted_multiply(w, Variable(np.ones(3), requires_grad=False)).backward()
    assert calls == {"a": 2, "b": 0}, f"only the input that requires grad should get a local gradient, calls: {calls}"
    np.testing.assert_array_equal(w.grad.data.data, np.full(3, 3.0))


def test_per_op_work_does_not_grow_with_the_graph(collector_off) -> None:
    """Each recorded operation keeps the same number of objects whether the graph is small or large."""
    x = Variable(1.0)
    counts = []
    for ops in (1_000, 10_000):
        before = tracked_objects()
        y = chain(x, ops)
        counts.append((tracked_objects() - before) / ops)
        del y
    assert counts[0] == pytest.approx(counts[1], rel=0.01), f"objects per operation, 1000 vs 10000 ops: {counts}"
