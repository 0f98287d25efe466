"""The seed module's six test cells, re-expressed against the exported package (same assertions)."""

from __future__ import annotations

from tinytorch.core.autograd import Variable, add, multiply, subtract
from tinytorch.core.tensor import Tensor


def test_variable_class() -> None:
    x = Variable(5.0, requires_grad=True)
    assert x.requires_grad is True, "Variable should require gradients"
    assert x.is_leaf is True, "Variable should be a leaf node"
    assert x.grad is None, "Gradient should be None initially"
    assert x.data.data.item() == 5.0, "Data should be accessible"
    assert x.shape == (), "Scalar should have empty shape"
    assert x.size == 1, "Scalar should have size 1"
    y = Variable([1, 2, 3], requires_grad=True)
    assert y.shape == (3,), "List should create 1D tensor"
    assert y.size == 3, "Size should be 3"
    z = Variable(10.0, requires_grad=False)
    assert z.requires_grad is False, "Should not require gradients"
    x.grad = Variable(1.0)
    x.zero_grad()
    assert x.grad is None, "zero_grad should reset gradient to None"


def test_add_operation() -> None:
    x = Variable(2.0, requires_grad=True)
    y = Variable(3.0, requires_grad=True)
    z = add(x, y)
    assert z.data.data.item() == 5.0, "Addition result should be 5.0"
    assert z.requires_grad is True, "Result should require gradients"
    assert z.is_leaf is False, "Result should not be a leaf node"
    z.backward()
    assert x.grad is not None, "x should have gradient"
    assert y.grad is not None, "y should have gradient"
    assert x.grad.data.data.item() == 1.0, "dz/dx should be 1.0"
    assert y.grad.data.data.item() == 1.0, "dz/dy should be 1.0"
    a = Variable(5.0, requires_grad=True)
    b = add(a, 3.0)
    assert b.data.data.item() == 8.0, "Addition with scalar should work"
    b.backward()
    assert a.grad.data.data.item() == 1.0, "Gradient through scalar addition should be 1.0"


def test_multiply_operation() -> None:
    x = Variable(2.0, requires_grad=True)
    y = Variable(3.0, requires_grad=True)
    z = multiply(x, y)
    assert z.data.data.item() == 6.0, "Multiplication result should be 6.0"
    assert z.requires_grad is True, "Result should require gradients"
    z.backward()
    assert x.grad is not None, "x should have gradient"
    assert y.grad is not None, "y should have gradient"
    assert x.grad.data.data.item() == 3.0, "dz/dx should be y = 3.0"
    assert y.grad.data.data.item() == 2.0, "dz/dy should be x = 2.0"
    a = Variable(4.0, requires_grad=True)
    b = multiply(a, 2.0)
    assert b.data.data.item() == 8.0, "Multiplication with scalar should work"
    b.backward()
    assert a.grad.data.data.item() == 2.0, "Gradient through scalar multiplication should be the scalar"


def test_subtract_operation() -> None:
    x = Variable(5.0, requires_grad=True)
    y = Variable(3.0, requires_grad=True)
    z = subtract(x, y)
    assert z.data.data.item() == 2.0, "Subtraction result should be 2.0"
    assert z.requires_grad is True, "Result should require gradients"
    z.backward()
    assert x.grad is not None, "x should have gradient"
    assert y.grad is not None, "y should have gradient"
    assert x.grad.data.data.item() == 1.0, "dz/dx should be 1.0"
    assert y.grad.data.data.item() == -1.0, "dz/dy should be -1.0"
    a = Variable(4.0, requires_grad=True)
    b = subtract(a, 2.0)
    assert b.data.data.item() == 2.0, "Subtraction with scalar should work"
    b.backward()
    assert a.grad.data.data.item() == 1.0, "Gradient through scalar subtraction should be 1.0"


def test_chain_rule() -> None:
    x = Variable(3.0, requires_grad=True)
    y = Variable(2.0, requires_grad=True)
    sum_xy = add(x, y)
    diff_xy = subtract(x, y)
    result = multiply(sum_xy, diff_xy)
    assert result.data.data.item() == 5.0, "Forward pass should compute 5.0"
    result.backward()
    expected_x_grad = 2 * x.data.data.item()
    expected_y_grad = -2 * y.data.data.item()
    assert abs(x.grad.data.data.item() - expected_x_grad) < 1e-6, f"x gradient should be {expected_x_grad}"
    assert abs(y.grad.data.data.item() - expected_y_grad) < 1e-6, f"y gradient should be {expected_y_grad}"
    x2 = Variable(1.0, requires_grad=True)
    term1 = add(x2, 1.0)
    term2 = add(x2, 2.0)
    term3 = add(x2, 3.0)
    product1 = multiply(term1, term2)
    result2 = multiply(product1, term3)
    assert result2.data.data.item() == 24.0, "Complex expression should compute 24.0"
    result2.backward()
    expected_grad = 3 * (1.0**2) + 12 * 1.0 + 11
    assert abs(x2.grad.data.data.item() - expected_grad) < 1e-6, f"Complex gradient should be {expected_grad}"


def test_neural_network_training() -> None:
    w = Variable(0.1, requires_grad=True)
    b = Variable(0.0, requires_grad=True)
    x_data = [1.0, 2.0, 3.0, 4.0]
    y_data = [3.0, 5.0, 7.0, 9.0]
    learning_rate = 0.01
    for _ in range(100):
        total_loss = Variable(0.0)
        for x_val, y_val in zip(x_data, y_data, strict=True):
            x = Variable(x_val, requires_grad=False)
            target = Variable(y_val, requires_grad=False)
            prediction = add(multiply(w, x), b)
            error = subtract(prediction, target)
            loss = multiply(error, error)
            total_loss = add(total_loss, loss)
        w.zero_grad()
        b.zero_grad()
        total_loss.backward()
        if w.grad is not None:
            w.data = Tensor(w.data.data - learning_rate * w.grad.data.data)
        if b.grad is not None:
            b.data = Tensor(b.data.data - learning_rate * b.grad.data.data)
    final_w = w.data.data.item()
    final_b = b.data.data.item()
    assert abs(final_w - 2.0) < 0.1, f"Weight should be close to 2.0, got {final_w}"
    assert abs(final_b - 1.0) < 0.1, f"Bias should be close to 1.0, got {final_b}"
    test_x = Variable(5.0, requires_grad=False)
    test_prediction = add(multiply(w, test_x), b)
    prediction_error = abs(test_prediction.data.data.item() - 11.0)
    assert prediction_error < 0.5, f"Prediction error should be small, got {prediction_error}"
