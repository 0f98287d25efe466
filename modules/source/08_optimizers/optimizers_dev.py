# %% [markdown]
# # Module 08: Optimizers
#
# In Module 07 you built an engine that answers one question: *if I nudge this parameter, how
# does the loss change?* That answer, the gradient, is all a network needs to learn, but
# something still has to act on it. This module writes that something: the **optimizer**, the
# piece of code that turns gradients into better parameters, one step at a time.
#
# You will build the two optimizers that train most networks today, with exactly the update
# rules PyTorch uses, so that what you learn here carries over line for line:
#
# | you write | what it does | PyTorch |
# | --- | --- | --- |
# | `Optimizer.zero_grad()` | forgets last step's gradients | `torch.optim.Optimizer.zero_grad` |
# | `SGD.step()` | gradient descent, with weight decay and momentum | `torch.optim.SGD` |
# | `Adam.step()` | per-parameter step sizes from running gradient statistics | `torch.optim.Adam` |
#
# At the end you train a small network with your own autograd and your own Adam, and the
# course's first milestone (`tito milestone digits`) uses exactly this code to read
# handwritten digits.
#
# **Before you start:** Module 07 (`tinytorch.core.autograd`) must be exported, because an
# optimizer works on its `Variable`s. The code you write here is exported to
# `tinytorch.core.optimizers`.

# %% nbgrader={"grade": false, "grade_id": "optimizers-imports", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.optimizers
#| export
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinytorch.core.autograd import Variable

# %% [markdown]
# ## 1. Learning is a loop of four lines
#
# Every training loop in this course, and in PyTorch, has the same four lines:
#
# ```python
# optimizer.zero_grad()        # 1. forget the gradients of the previous step
# loss = loss_fn(model(x), y)  # 2. forward: build the graph, compute the loss
# loss.backward()              # 3. backward: every parameter p gets p.grad = dL/dp
# optimizer.step()             # 4. move every parameter a little, against its gradient
# ```
#
# The gradient `p.grad` points in the direction in which the loss grows fastest, so a small
# step the other way lowers the loss. How *far* to step, and whether to use anything besides
# the current gradient, is the whole art of optimization, and it is what this module is about.
#
# An optimizer is handed the list of parameters when it is made and keeps it. It never builds a
# graph: it reads each parameter's values `p.data.data` and gradient `p.grad.data.data`
# (plain NumPy arrays) and writes new values into `p.data.data`. Because it changes the
# arrays **in place**, like PyTorch does, anything holding a reference to a parameter (your
# model, your training loop) sees the new values without being told.
#
# Two rules hold for every optimizer here, as in PyTorch:
#
# - A parameter whose `.grad` is `None` did not take part in the last backward pass (or was
#   frozen): the optimizer **skips** it, leaving its values and its optimizer state untouched.
# - An update keeps the parameter's **dtype**: a float32 network stays float32. NumPy's
#   in-place operators (`a -= b`) write into `a`'s existing dtype, which is what we want.

# %% [markdown]
# ## 2. The base class, and forgetting gradients
#
# Module 07's leaves *accumulate* gradients: calling `backward()` twice adds the two gradients.
# That is what you want when a gradient is built from several pieces, and exactly wrong between
# two optimizer steps, where each step should see only its own batch. So every step starts
# by forgetting the old gradients.
#
# There are two ways to forget: set `p.grad` to zeros, or set it to `None`. PyTorch sets it to
# `None` (the default since PyTorch 2.0), and so do we: it costs no memory, and it keeps
# "this parameter got no gradient" (`None`, so the optimizer skips it) apart from "its gradient
# was exactly zero" (a real gradient that, with momentum or Adam, still moves it).
#
# **Your task:** write `Optimizer.zero_grad()`. The constructor, which checks the parameters, is
# given.

# %% nbgrader={"grade": false, "grade_id": "optimizer-base", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class Optimizer:
    """Base class: holds the parameters (a list of `Variable`s) that `step()` updates."""

    def __init__(self, params: Iterable[Variable]) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for index, p in enumerate(self.params):
            if not isinstance(p, Variable):
                raise TypeError(f"{type(self).__name__}: parameter {index} is a {type(p).__name__}, not a Variable")

    def zero_grad(self) -> None:
        """Forget every parameter's gradient: set `p.grad = None` for each `p` in `self.params`.

        After this, a parameter that gets no new gradient before the next `step()` is skipped.
        """
        ### BEGIN SOLUTION
        for p in self.params:
            p.grad = None
        ### END SOLUTION

    def step(self) -> None:
        """Update every parameter that has a gradient (each optimizer defines how)."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")


# %% [markdown]
# A test helper: parameters whose gradients we set by hand, so that every expected value in the
# tests below can be worked out on paper, without running backward.

# %% nbgrader={"grade": false, "grade_id": "test-helpers", "locked": false, "schema_version": 3, "solution": false, "task": false}
def param(values, grad=None, dtype=np.float64) -> Variable:
    """A leaf Variable holding `values`, with `.grad` set to `grad` (None: no gradient)."""
    p = Variable(np.array(values, dtype=dtype), requires_grad=True)
    if grad is not None:
        p.grad = Variable(np.array(grad, dtype=dtype), requires_grad=False)
    return p


def values(p: Variable) -> np.ndarray:
    return p.data.data


# %% nbgrader={"grade": true, "grade_id": "test-zero-grad", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_zero_grad():
    a, b = param([1.0, 2.0], grad=[0.5, 0.5]), param([3.0], grad=[1.0])
    opt = Optimizer([a, b])
    opt.zero_grad()
    assert a.grad is None and b.grad is None, (
        f"zero_grad: every p.grad should be None afterwards, got {a.grad!r} and {b.grad!r}"
    )
    opt.zero_grad()  # forgetting twice is fine
    assert a.grad is None, f"zero_grad twice: p.grad should stay None, got {a.grad!r}"
    assert np.array_equal(values(a), [1.0, 2.0]), f"zero_grad must not change the values, got {values(a)}"
    ### BEGIN HIDDEN TESTS
    c = param([[1.0]], grad=None)
    Optimizer([c, a]).zero_grad()
    assert c.grad is None and a.grad is None
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_zero_grad()

# %% [markdown]
# ## 3. Stochastic gradient descent
#
# The simplest rule there is: step against the gradient, scaled by a **learning rate** `lr`:
#
# $$\theta \leftarrow \theta - \text{lr}\cdot g, \qquad g = \partial L / \partial \theta .$$
#
# ("Stochastic" because in practice `g` comes from a random mini-batch of the data, not from
# all of it.) Two additions make it the SGD everyone uses.
#
# **Weight decay** pulls every weight a little towards zero, which keeps a network from leaning
# on a few huge weights. It is the gradient of an extra loss term $\frac{\lambda}{2}\lVert\theta
# \rVert^2$, so it is added to the gradient before anything else happens:
# $g \leftarrow g + \lambda\,\theta$.
#
# **Momentum** remembers where we were going. A buffer `b` (one per parameter, same shape)
# accumulates gradients, decaying the old ones by `momentum` ($\mu$, typically 0.9):
#
# $$b \leftarrow \mu\, b + g \quad(\text{on the very first step: } b \leftarrow g), \qquad
# \theta \leftarrow \theta - \text{lr}\cdot b .$$
#
# Where successive gradients agree, `b` grows towards $g/(1-\mu)$, ten times the gradient for
# $\mu = 0.9$: the optimizer speeds up along a long gentle slope. Where they flip sign from step
# to step (a narrow valley), they cancel in `b` and the zig-zag calms down.
#
# Careful, two other conventions exist and are **not** what PyTorch does: some texts write
# $b \leftarrow \mu b + (1-\mu) g$ (an average, which makes steps ten times smaller), and some
# fold `lr` into the buffer. We follow `torch.optim.SGD` exactly (with `dampening=0`,
# `nesterov=False`), so that your optimizer and PyTorch's trace the same path.
#
# **Your task:** write `SGD.step()`: for each parameter `p` (number `i` in `self.params`) that has
# a gradient, the update above, written into `p.data.data` in place (so it keeps its dtype).
# `self.buffers[i]` holds parameter `i`'s momentum buffer (`None` until its first step). Never
# change the array of `p.grad`: the gradient belongs to the user.

# %% nbgrader={"grade": false, "grade_id": "sgd-class", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay (PyTorch's update rule).

    For every parameter p with a gradient g, on each `step()`:
        g = g + weight_decay * p                 (if weight_decay != 0)
        b = g (first step), else momentum * b + g (if momentum != 0), and then g = b
        p = p - lr * g                           (in place; p keeps its dtype)
    Parameters whose `.grad` is None are skipped.
    """

    def __init__(self, params: Iterable[Variable], lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params)
        for name, value in [("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)]:
            if not value >= 0.0:
                raise ValueError(f"SGD: {name} must be >= 0, got {value}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        # One momentum buffer per parameter, created on that parameter's first step.
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient (see the class docstring)."""
        ### BEGIN SOLUTION
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data.data
            if self.momentum != 0:
                if self.buffers[i] is None:
                    self.buffers[i] = np.array(g, dtype=p.data.data.dtype, copy=True)
                else:
                    self.buffers[i] *= self.momentum
                    self.buffers[i] += g
                g = self.buffers[i]
            p.data.data -= self.lr * g
        ### END SOLUTION


# %% [markdown]
# <details><summary>Hint</summary>
#
# **SGD.step, step 1: the idea.** Work on a gradient of your own for each parameter: weight decay first, then momentum (the
# buffer), then the step. A buffer stored on the first step must be an array of its own, or a later
# in-place update of the buffer would write into someone else's array.
#
# <details><summary>Step 2: the steps</summary>
#
# 1. `g = p.grad.data.data`, plus `weight_decay * p.data.data` if `weight_decay` is not 0 (a new
#    array: do not add into `p.grad`'s);
# 2. if `momentum` is not 0: `b = g` copied on the first step (when `self.buffers[i]` is `None`),
#    else `b = momentum * b + g`; store it in `self.buffers[i]` and use `b` as `g`;
# 3. `p.data.data -= lr * g` (in place: this keeps the dtype).
#
# </details>
# </details>

# %% nbgrader={"grade": true, "grade_id": "test-sgd-plain", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_sgd_plain():
    # p - lr * g = [1 - 0.1*0.5, -2 - 0.1*0.25] = [0.95, -2.025]
    p = param([1.0, -2.0], grad=[0.5, 0.25])
    SGD([p], lr=0.1).step()
    assert np.allclose(values(p), [0.95, -2.025]), f"SGD(lr=0.1): expected [0.95, -2.025], got {values(p)}"
    assert np.array_equal(p.grad.data.data, [0.5, 0.25]), f"step() must not change p.grad, got {p.grad.data.data}"
    # A second step with the same gradient moves by the same amount again (no hidden state).
    opt = SGD([p], lr=0.1)
    opt.step()
    opt.step()
    assert np.allclose(values(p), [0.85, -2.075]), f"SGD(lr=0.1), 2 more steps: expected [0.85, -2.075], got {values(p)}"
    # A parameter without a gradient is skipped; the parameters after it still move.
    frozen = param([5.0], grad=None)
    SGD([frozen, p], lr=0.1).step()
    assert np.array_equal(values(frozen), [5.0]), f"a parameter with grad None must not move, got {values(frozen)}"
    assert np.allclose(values(p), [0.8, -2.1]), (
        f"SGD: a parameter listed after one with grad None must still move, to [0.8, -2.1], got {values(p)} "
        "(skip the parameter without a gradient with `continue`; `return` or `break` would skip the rest too)"
    )
    # The update is in place: the parameter keeps its array, so everything holding it sees the new values.
    array = values(p)
    SGD([p], lr=0.1).step()
    assert values(p) is array, "SGD.step() must update p.data.data in place (p.data.data -= ...), not replace the array"
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(0)
    w0, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    w = param(w0, grad=g)
    opt = SGD([w], lr=0.03)
    for _ in range(5):
        opt.step()
    assert np.allclose(values(w), w0 - 5 * 0.03 * g)
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_sgd_plain()

# %% [markdown]
# ### How big a step?
#
# On $f(w) = \frac{1}{2}w^2$ the gradient is $w$ itself, so one SGD step is
# $w \leftarrow (1 - \text{lr})\,w$. That one line shows the three regimes every learning rate
# falls into: below 1 it creeps towards the minimum, between 1 and 2 it overshoots and
# oscillates in but still converges, and above 2 every step lands further out than the last.
# On a real network the boundary is set by the steepest direction of the loss, which nobody
# knows in advance; that is why learning rates are tuned, and why Adam (below) is popular.

# %% nbgrader={"grade": false, "grade_id": "learning-rate-demo", "locked": false, "schema_version": 3, "solution": false, "task": false}
def sgd_trajectory(lr: float, steps: int = 6) -> list[float]:
    """The values of w while SGD minimises f(w) = w^2 / 2 from w = 1."""
    w = Variable(np.array(1.0))
    opt = SGD([w], lr=lr)
    path = [1.0]
    for _ in range(steps):
        w.grad = Variable(np.array(w.data.data), requires_grad=False)  # df/dw = w
        opt.step()
        path.append(float(w.data.data))
    return path


if __name__ == "__main__":
    for lr in (0.3, 1.5, 2.5):
        print(f"lr={lr}: " + "  ".join(f"{v:+.3f}" for v in sgd_trajectory(lr)))

# %% nbgrader={"grade": true, "grade_id": "test-sgd-weight-decay", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_sgd_weight_decay():
    # g = [0.5 + 0.1*1, 0.25 + 0.1*(-2)] = [0.6, 0.05];  p - 0.1*g = [0.94, -2.005]
    p = param([1.0, -2.0], grad=[0.5, 0.25])
    SGD([p], lr=0.1, weight_decay=0.1).step()
    assert np.allclose(values(p), [0.94, -2.005]), (
        f"SGD(lr=0.1, weight_decay=0.1): g + 0.1*p = [0.6, 0.05], so expected [0.94, -2.005], got {values(p)}"
    )
    # With a zero gradient, weight decay alone shrinks p by the factor (1 - lr*wd) = 0.75 per step.
    q = param([4.0], grad=[0.0])
    opt = SGD([q], lr=0.5, weight_decay=0.5)
    opt.step()
    opt.step()
    assert np.allclose(values(q), [2.25]), f"zero gradient, lr=0.5, weight_decay=0.5, 2 steps: 4*0.75*0.75 = 2.25, got {values(q)}"
    ### BEGIN HIDDEN TESTS
    # Weight decay is added before momentum: the buffer holds g + wd*p.
    r = param([2.0], grad=[1.0])
    opt = SGD([r], lr=0.1, momentum=0.5, weight_decay=0.5)
    opt.step()  # g = 1 + 1 = 2, b = 2, r = 2 - 0.2 = 1.8
    opt.step()  # g = 1 + 0.9 = 1.9, b = 0.5*2 + 1.9 = 2.9, r = 1.8 - 0.29 = 1.51
    assert np.allclose(values(r), [1.51]), values(r)
    s = param([3.0], grad=[1.0])
    SGD([s], lr=0.1, weight_decay=1.0).step()  # g = 1 + 1*3 = 4
    assert np.allclose(values(s), [2.6]), f"SGD(lr=0.1, weight_decay=1.0), p=3, g=1: g + p = 4, expected 2.6, got {values(s)}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_sgd_weight_decay()

# %% nbgrader={"grade": true, "grade_id": "test-sgd-momentum", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_sgd_momentum():
    # lr = 0.1, momentum = 0.9, the gradient is 1 on every step:
    #   step 1: b = 1                    p = 1 - 0.1*1    = 0.9
    #   step 2: b = 0.9*1 + 1 = 1.9      p = 0.9 - 0.19   = 0.71
    #   step 3: b = 0.9*1.9 + 1 = 2.71   p = 0.71 - 0.271 = 0.439
    p = param([1.0], grad=[1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    for step, expected in enumerate([0.9, 0.71, 0.439], start=1):
        opt.step()
        assert np.allclose(values(p), [expected]), (
            f"SGD(lr=0.1, momentum=0.9), gradient 1, after step {step}: expected {expected}, got {values(p)[0]:.6g}"
            + (" (the buffer starts as g itself, and b = momentum*b + g has no (1 - momentum))" if step <= 2 else "")
        )
    # The buffer is per parameter: two parameters with different gradients do not mix.
    a, b = param([0.0], grad=[1.0]), param([0.0], grad=[-2.0])
    opt = SGD([a, b], lr=1.0, momentum=0.5)
    opt.step()
    opt.step()  # a: -1 - 1.5 = -2.5;  b: 2 + 3 = 5
    assert np.allclose(values(a), [-2.5]) and np.allclose(values(b), [5.0]), (
        f"two parameters, lr=1, momentum=0.5, 2 steps: expected a=-2.5, b=5, got a={values(a)[0]}, b={values(b)[0]}"
    )
    # The user's gradient array is not modified by the momentum buffer.
    g = np.array([1.0])
    c = param([0.0])
    c.grad = Variable(g, requires_grad=False)
    opt = SGD([c], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()
    assert np.array_equal(c.grad.data.data, [1.0]), f"step() must not write into p.grad (copy g into the buffer), got {c.grad.data.data}"
    ### BEGIN HIDDEN TESTS
    # A constant gradient: after k steps b_k = g (1 - mu^k) / (1 - mu) and p moves by lr * sum(b_j).
    rng = np.random.default_rng(1)
    w0, g = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    w = param(w0, grad=g)
    mu, lr, k = 0.8, 0.05, 6
    opt = SGD([w], lr=lr, momentum=mu)
    for _ in range(k):
        opt.step()
    total = sum((1 - mu**j) / (1 - mu) for j in range(1, k + 1))
    assert np.allclose(values(w), w0 - lr * total * g)
    # momentum=1 keeps every gradient: b = 1, 2, 3 for a constant gradient 1.
    u = param([0.0], grad=[1.0])
    opt = SGD([u], lr=0.1, momentum=1.0)
    for _ in range(3):
        opt.step()
    assert np.allclose(values(u), [-0.6]), f"SGD(lr=0.1, momentum=1.0), g=1, 3 steps: b = 1, 2, 3, expected -0.6, got {values(u)}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_sgd_momentum()

# %% [markdown]
# ### What momentum buys
#
# Take the long narrow bowl $f(x, y) = \frac{1}{2}(x^2 + 50\,y^2)$. Its gradient is $(x, 50y)$:
# steep across the valley, gentle along it. The learning rate has to be small enough for the
# steep direction (above $2/50$ the $y$ steps overshoot and blow up), which makes progress along
# $x$ painfully slow. Momentum lets the small, consistent $x$ gradients add up while the $y$
# gradients, which alternate in sign, cancel. Count the steps each needs to get within 0.001 of
# the minimum:

# %% nbgrader={"grade": false, "grade_id": "momentum-demo", "locked": false, "schema_version": 3, "solution": false, "task": false}
def steps_to_minimum(make_optimizer, limit: int = 5000) -> int:
    """Minimise f(x, y) = (x^2 + 50 y^2) / 2 from (1, 1); the number of steps until |(x, y)| < 1e-3."""
    xy = Variable(np.array([1.0, 1.0]))
    opt = make_optimizer([xy])
    for step in range(1, limit + 1):
        opt.zero_grad()
        x, y = xy.data.data
        xy.grad = Variable(np.array([x, 50.0 * y]), requires_grad=False)  # the gradient of f, by hand
        opt.step()
        if np.linalg.norm(xy.data.data) < 1e-3:
            return step
    return limit


if __name__ == "__main__":
    plain = steps_to_minimum(lambda ps: SGD(ps, lr=0.035))
    heavy = steps_to_minimum(lambda ps: SGD(ps, lr=0.035, momentum=0.7))
    print(f"plain SGD: {plain} steps;  SGD with momentum 0.7: {heavy} steps")

# %% [markdown]
# ## 4. Adam
#
# SGD uses one learning rate for every parameter. But gradients of different parameters can
# differ in size by orders of magnitude (a bias next to a weight, an early layer next to a late
# one), and one `lr` can't suit them all. **Adam** (Kingma and Ba, 2015) gives every number in
# every parameter its own step size, from two running averages of its gradient:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1)\, g \qquad\text{(the mean gradient: a smoothed direction)}$$
# $$v \leftarrow \beta_2 v + (1-\beta_2)\, g^2 \qquad\text{(the mean squared gradient: its typical size)}$$
#
# and then steps by the direction divided by the size:
#
# $$\theta \leftarrow \theta - \text{lr}\cdot\frac{\hat m}{\sqrt{\hat v} + \epsilon},
# \qquad \hat m = \frac{m}{1-\beta_1^t},\quad \hat v = \frac{v}{1-\beta_2^t}.$$
#
# **Why the hats (bias correction)?** `m` and `v` start at zero. After the first step,
# $m = 0.1\,g$ and $v = 0.001\,g^2$ (with the usual $\beta_1 = 0.9, \beta_2 = 0.999$): both are
# far too small, simply because they started at zero. Dividing by $1-\beta^t$ (0.1 and 0.001 at
# $t = 1$) undoes exactly that, and the correction fades away as $t$ grows.
#
# One consequence is worth remembering: on the first step $\hat m = g$ and $\sqrt{\hat v} = |g|$,
# so **every number moves by almost exactly `lr`**, whatever the size of its gradient. Adam's
# `lr` is a step length in parameter space, which is why `1e-3` works for so many networks.
#
# The details, as `torch.optim.Adam` has them:
#
# - `t` counts the steps *of that parameter*: a parameter skipped on some step (no gradient)
#   does not advance its count, so its bias correction stays right.
# - `eps` is added *after* the square root ($\sqrt{\hat v} + \epsilon$, not $\sqrt{\hat v + \epsilon}$); it only
#   guards against dividing by zero.
# - `weight_decay` is plain L2, added to the gradient first, $g \leftarrow g + \lambda\theta$, as
#   in SGD. (`torch.optim.AdamW` decays the weights directly instead; that is a different rule.)
#
# **Your task:** write `Adam.step()`: for each parameter `p` (number `i`) that has a gradient, the
# update above, written into `p.data.data` in place (so it keeps its dtype). `self.m[i]` and
# `self.v[i]` hold its running averages (`None` until its first step, then arrays of `p`'s shape
# and dtype) and `self.t[i]` counts its steps.

# %% nbgrader={"grade": false, "grade_id": "adam-class", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction and L2 weight decay (PyTorch's update rule).

    For every parameter p with a gradient g, on each `step()`, with t counting that parameter's steps:
        g = g + weight_decay * p                           (if weight_decay != 0)
        m = beta1 * m + (1 - beta1) * g                    (m and v start at zero)
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)
    Updates are in place and keep p's dtype; parameters whose `.grad` is None are skipped.
    """

    def __init__(
        self,
        params: Iterable[Variable],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        for name, value in [("lr", lr), ("eps", eps), ("weight_decay", weight_decay)]:
            if not value >= 0.0:
                raise ValueError(f"Adam: {name} must be >= 0, got {value}")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: betas[{index}] must be in [0, 1), got {beta}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        # Per-parameter state: running mean m, running mean of squares v, and step count t.
        self.m: list[np.ndarray | None] = [None] * len(self.params)
        self.v: list[np.ndarray | None] = [None] * len(self.params)
        self.t: list[int] = [0] * len(self.params)

    def step(self) -> None:
        """Apply one Adam update to every parameter that has a gradient (see the class docstring)."""
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data.data
            if self.t[i] == 0:
                self.m[i] = np.zeros_like(p.data.data)
                self.v[i] = np.zeros_like(p.data.data)
            self.t[i] += 1
            m, v, t = self.m[i], self.v[i], self.t[i]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            # Bias correction, in the order torch.optim.Adam computes it.
            step_size = self.lr / (1 - beta1**t)
            denominator = np.sqrt(v) / np.sqrt(1 - beta2**t) + self.eps
            p.data.data -= step_size * m / denominator
        ### END SOLUTION


# %% [markdown]
# <details><summary>Hint</summary>
#
# **Adam.step, step 1: the idea.** Per parameter: the gradient (with weight decay), the step count, the two running averages,
# their bias corrections, then the step. `self.betas` is a pair: `beta1, beta2 = self.betas`.
#
# <details><summary>Step 2: the steps</summary>
#
# 1. `g = p.grad.data.data`, plus `weight_decay * p.data.data` if `weight_decay` is not 0;
# 2. `self.t[i] += 1`; on the first step create `self.m[i]` and `self.v[i]` as zeros with `p`'s
#    shape and dtype (`np.zeros_like`);
# 3. update `m` and `v` as above (in place, or by assigning new arrays to `self.m[i]`, `self.v[i]`);
# 4. `p.data.data -= lr * m_hat / (np.sqrt(v_hat) + eps)`.
#
# </details>
# </details>

# %% nbgrader={"grade": true, "grade_id": "test-adam-first-step", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_adam_first_step():
    # First step: m_hat = g and sqrt(v_hat) = |g|, so each number moves by lr * g / (|g| + eps):
    # by lr against the sign of its gradient, whether the gradient is 1000 or 0.001. Zero stays put.
    p = param([1.0, -1.0, 0.5, 2.0], grad=[1000.0, -0.001, 0.0, 3.0])
    Adam([p], lr=0.01).step()
    expected = [1.0 - 0.01, -1.0 + 0.01, 0.5, 2.0 - 0.01]
    assert np.allclose(values(p), expected, rtol=0, atol=1e-7), (
        f"Adam(lr=0.01), first step: every number moves by lr against its gradient's sign, "
        f"expected {expected}, got {values(p)} (bias correction: m / (1 - beta1**t), v / (1 - beta2**t))"
    )
    ### BEGIN HIDDEN TESTS
    q = param([[0.0, 0.0], [0.0, 0.0]], grad=[[1e-4, -5.0], [2.0, -1e3]])
    Adam([q], lr=0.1, betas=(0.8, 0.99)).step()
    assert np.allclose(values(q), [[-0.1, 0.1], [-0.1, 0.1]], atol=1e-5)
    # The state after one step: m = (1 - beta1) g, v = (1 - beta2) g^2, one step counted.
    r = param([1.0, 1.0], grad=[2.0, -4.0])
    opt = Adam([r], lr=0.1, betas=(0.8, 0.9))
    opt.step()
    assert np.allclose(opt.m[0], [0.4, -0.8]), f"Adam state: after one step opt.m[0] should be (1 - beta1) * g = [0.4, -0.8], got {opt.m[0]}"
    assert np.allclose(opt.v[0], [0.4, 1.6]), f"Adam state: after one step opt.v[0] should be (1 - beta2) * g**2 = [0.4, 1.6], got {opt.v[0]}"
    assert opt.t == [1], f"Adam state: after one step opt.t should be [1], got {opt.t}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_adam_first_step()

# %% nbgrader={"grade": true, "grade_id": "test-adam-steps", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_adam_steps():
    # lr=0.1, betas=(0.5, 0.75), eps=0.1 (large, so that where eps goes matters); p = 1,
    # gradients 2 then 1:
    #   step 1: m = 0.5*2 = 1,         v = 0.25*4 = 1,         m_hat = 1/0.5 = 2,  v_hat = 1/0.25 = 4
    #           p = 1 - 0.1 * 2 / (sqrt(4) + 0.1)
    #   step 2: m = 0.5*1 + 0.5*1 = 1, v = 0.75*1 + 0.25*1 = 1, m_hat = 1/0.75,   v_hat = 1/0.4375
    #           p = p - 0.1 * (1/0.75) / (sqrt(1/0.4375) + 0.1)
    p = param([1.0], grad=[2.0])
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.1)
    opt.step()
    after_one = 1 - 0.1 * 2 / (np.sqrt(4) + 0.1)
    assert np.allclose(values(p), [after_one]), f"Adam step 1: expected {after_one:.6f}, got {values(p)[0]:.6f}"
    p.grad = Variable(np.array([1.0]), requires_grad=False)
    opt.step()
    after_two = after_one - 0.1 * (1 / 0.75) / (np.sqrt(1 / 0.4375) + 0.1)
    assert np.allclose(values(p), [after_two]), (
        f"Adam step 2: expected {after_two:.6f}, got {values(p)[0]:.6f} "
        "(m and v carry over between steps; eps is added after the square root)"
    )
    # Weight decay is L2 added to the gradient: g = 0 + 0.25 * 2 = 0.5, and a first step moves by lr.
    w = param([2.0], grad=[0.0])
    Adam([w], lr=0.1, weight_decay=0.25).step()
    assert np.allclose(values(w), [1.9]), (
        f"Adam(lr=0.1, weight_decay=0.25), p=2, g=0: g + 0.25*p = 0.5 and a first step moves by lr, "
        f"expected 1.9, got {values(w)[0]:.6f} (torch.optim.Adam adds weight decay to g; AdamW would give 1.95)"
    )
    # Weight decay over two steps (lr=0.1, betas=(0.5, 0.75), eps=0.1, weight_decay=0.5; p = 2, g = 1 both times):
    #   step 1: g + 0.5*p = 2, m = 1, v = 1, m_hat = 2, v_hat = 4:  p = 2 - 0.1 * 2 / (2 + 0.1)
    #   step 2: g + 0.5*p with the new p; m and v carry over, as above
    d = param([2.0], grad=[1.0])
    opt = Adam([d], lr=0.1, betas=(0.5, 0.75), eps=0.1, weight_decay=0.5)
    opt.step()
    after_one = 2 - 0.1 * 2 / (2 + 0.1)
    assert np.allclose(values(d), [after_one]), (
        f"Adam(lr=0.1, betas=(0.5, 0.75), eps=0.1, weight_decay=0.5), p=2, g=1, step 1: g + 0.5*p = 2, "
        f"expected {after_one:.6f}, got {values(d)[0]:.6f}"
    )
    opt.step()
    g2 = 1 + 0.5 * after_one
    m2, v2 = 0.5 * 1 + 0.5 * g2, 0.75 * 1 + 0.25 * g2**2
    after_two = after_one - 0.1 * (m2 / 0.75) / (np.sqrt(v2 / 0.4375) + 0.1)
    assert np.allclose(values(d), [after_two]), (
        f"Adam with weight_decay=0.5, step 2: g + 0.5*p = {g2:.6f}, expected {after_two:.6f}, got {values(d)[0]:.6f}"
    )
    assert np.array_equal(d.grad.data.data, [1.0]), (
        f"Adam.step() must not change p.grad: add weight decay into a new array (g = g + wd * p), got {d.grad.data.data}"
    )
    ### BEGIN HIDDEN TESTS
    # A constant gradient keeps m_hat = g and v_hat = g^2 on every step: each step moves lr*g/(|g|+eps).
    rng = np.random.default_rng(2)
    w0, g = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    w = param(w0, grad=g)
    opt = Adam([w], lr=0.02, eps=1e-3)
    for _ in range(7):
        opt.step()
    assert np.allclose(values(w), w0 - 7 * 0.02 * g / (np.abs(g) + 1e-3))
    # weight_decay=1 (eps=1 so the size of g shows): g = 1 + 1*1 = 2, p = 1 - 0.1 * 2 / (2 + 1)
    e = param([1.0], grad=[1.0])
    Adam([e], lr=0.1, eps=1.0, weight_decay=1.0).step()
    assert np.allclose(values(e), [1 - 0.1 * 2 / 3]), f"Adam(lr=0.1, eps=1, weight_decay=1), p=1, g=1: expected 0.933333, got {values(e)}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_adam_steps()

# %% [markdown]
# ## 5. Skipped parameters and dtypes
#
# Two details that are easy to get wrong and hard to notice, because the network still trains:
#
# - Adam's bias correction must use the step count *of that parameter*. A parameter that had no
#   gradient for a while (a frozen layer, an embedding row nobody used) takes its first real step
#   as a first step.
# - A float32 network must stay float32. `np.zeros(shape)` is float64; `np.zeros_like(p)` has
#   `p`'s dtype. And `p.data.data = p.data.data - update` would silently take the dtype of
#   `update`, while `p.data.data -= update` keeps `p`'s.

# %% nbgrader={"grade": true, "grade_id": "test-skip-and-dtype", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_skip_and_dtype():
    a, b = param([1.0], grad=[1.0]), param([1.0], grad=None)
    opt = Adam([a, b], lr=0.1)
    opt.step()
    assert np.array_equal(values(b), [1.0]), f"Adam: a parameter with grad None must not move, got {values(b)}"
    b.grad = Variable(np.array([5.0]), requires_grad=False)
    opt.step()
    assert np.allclose(values(b), [0.9]), (
        f"Adam: b's first real step (at the optimizer's step 2) should move it by lr, to 0.9, got {values(b)[0]:.6f} "
        "(count steps per parameter)"
    )
    frozen, c = param([1.0], grad=None), param([1.0], grad=[2.0])
    Adam([frozen, c], lr=0.1).step()
    assert np.allclose(values(c), [0.9]), (
        f"Adam: a parameter listed after one with grad None must still move, to 0.9, got {values(c)[0]:.6f} "
        "(skip the parameter without a gradient with `continue`; `return` or `break` would skip the rest too)"
    )
    for make in [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), lambda ps: Adam(ps, weight_decay=0.01)]:
        p = param([[1.0, 2.0]], grad=[[0.5, -0.5]], dtype=np.float32)
        opt = make([p])
        opt.step()
        opt.step()
        name = type(opt).__name__
        assert values(p).dtype == np.float32, f"{name}: a float32 parameter should stay float32, got {values(p).dtype}"
        assert values(p).shape == (1, 2), f"{name}: the parameter's shape should stay (1, 2), got {values(p).shape}"
    ### BEGIN HIDDEN TESTS
    p = param([1.0, 2.0], grad=[0.5, -0.5], dtype=np.float32)
    opt = Adam([p], lr=0.1)
    opt.step()
    assert opt.m[0].dtype == np.float32 and opt.v[0].dtype == np.float32, (
        f"Adam state: m and v should have the parameter's dtype float32 (np.zeros_like), got {opt.m[0].dtype} and {opt.v[0].dtype}"
    )
    s = param([3.0], grad=None)
    opt = SGD([s], lr=0.1, momentum=0.9)
    opt.step()
    assert opt.buffers[0] is None and np.array_equal(values(s), [3.0])
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_skip_and_dtype()

# %% [markdown]
# ## 6. Train a network with your own engine
#
# Everything is in place. The data: points in the plane, labelled by whether $x$ and $y$ have the
# same sign (the XOR pattern: no straight line separates the classes, so the network needs its
# hidden layer). The model: `Linear(2, 16) -> ReLU -> Linear(16, 2)`, written directly with
# `Variable`s. The loss: Module 07's `softmax_cross_entropy`. The optimizer: yours.

# %% nbgrader={"grade": false, "grade_id": "xor-setup", "locked": false, "schema_version": 3, "solution": false, "task": false}
from tinytorch.core.autograd import relu, softmax_cross_entropy


def xor_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform in [-1, 1]^2; label 1 where x*y > 0, else 0."""
    points = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))
    return points, (points[:, 0] * points[:, 1] > 0).astype(np.int64)


def train_xor(make_optimizer, steps: int = 300, seed: int = 0) -> tuple[float, float]:
    """Train a 2-16-2 MLP on XOR data with full-batch steps; returns (final loss, test accuracy)."""
    rng = np.random.default_rng(seed)
    w1 = Variable(rng.normal(0, 1.0, size=(2, 16)))
    b1 = Variable(np.zeros(16))
    w2 = Variable(rng.normal(0, 0.25, size=(16, 2)))
    b2 = Variable(np.zeros(2))
    opt = make_optimizer([w1, b1, w2, b2])
    model = lambda x: relu(x @ w1 + b1) @ w2 + b2
    x_train, y_train = xor_data(200, seed)
    for _ in range(steps):
        opt.zero_grad()
        loss = softmax_cross_entropy(model(Variable(x_train, requires_grad=False)), y_train)
        loss.backward()
        opt.step()
    x_test, y_test = xor_data(500, seed + 1)
    predictions = model(Variable(x_test, requires_grad=False)).data.data.argmax(axis=1)
    return float(loss.data.data), float((predictions == y_test).mean())


if __name__ == "__main__":
    for name, make in [("SGD(lr=0.5, momentum=0.9)", lambda ps: SGD(ps, lr=0.5, momentum=0.9)),
                       ("Adam(lr=0.05)", lambda ps: Adam(ps, lr=0.05))]:
        loss, accuracy = train_xor(make)
        print(f"{name:<26} final loss {loss:.4f}   test accuracy {accuracy:.1%}")

# %% nbgrader={"grade": true, "grade_id": "test-training", "locked": true, "points": 10, "schema_version": 3, "solution": false, "task": false}
def test_training():
    loss, accuracy = train_xor(lambda ps: Adam(ps, lr=0.05))
    assert accuracy >= 0.9, f"Adam(lr=0.05) on XOR, 300 steps: expected test accuracy >= 90%, got {accuracy:.1%} (loss {loss:.4f})"
    ### BEGIN HIDDEN TESTS
    loss, accuracy = train_xor(lambda ps: SGD(ps, lr=0.5, momentum=0.9), seed=3)
    assert accuracy >= 0.85, (loss, accuracy)
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_training()

# %% [markdown]
# ## Where to start when tests fail
#
# One mistake can fail several tests: an Adam that steps the wrong way fails its own tests and the
# training too. So when tests fail, `tito check` and your feedback begin with one line such as
#
#     Start here: `SGD.step` -- SGD(lr=0.1).step() put a new array into p.data.data ... (2 failing tests use SGD.step)
#
# naming the one function most likely at fault. It comes from the probes in the next cell. Each
# probe tries ONE function you wrote, alone, on small parameters whose gradients are set by hand,
# and checks what every optimizer here must do: skip a parameter without a gradient and go on
# with the next, leave `p.grad` alone, update `p.data.data` in place, and take the steps that the
# rules in this notebook give on paper (the same numbers as the tests). Each failing test is then
# pinned on the first broken function it called. Run them yourself with `run_probes()`.

# %% nbgrader={"grade": false, "grade_id": "diagnosis-probes", "locked": true, "schema_version": 3, "solution": false, "task": false}
class ProbeFailure(AssertionError):
    """What a probe found wrong in one function."""


def shown(value) -> str:
    """A short number or array for a message: 2, -0.6667, [0.95, -2.025]."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{array.item():.4g}"
    return " ".join(np.array2string(array, separator=", ", formatter={"float_kind": lambda v: f"{v:.4g}"}).split())


def probe_param(values, grad=None, dtype=np.float64) -> Variable:
    """A leaf Variable holding `values`, with `.grad` set by hand (None: no gradient)."""
    p = Variable(np.array(values, dtype=dtype), requires_grad=True)
    if grad is not None:
        p.grad = Variable(np.array(grad, dtype=dtype), requires_grad=False)
    return p


def grad_of(p: Variable):
    """p.grad's array, or None."""
    return None if p.grad is None else np.asarray(getattr(getattr(p.grad, "data", p.grad), "data", p.grad))


def expect_values(p: Variable, expected, what: str) -> None:
    if not np.allclose(p.data.data, expected, rtol=1e-6, atol=1e-9):
        raise ProbeFailure(f"{what}: p should be {shown(expected)}, got {shown(p.data.data)}")


def expect_grad_kept(p: Variable, before: np.ndarray, what: str) -> None:
    """The user's gradient is read, never written."""
    now = grad_of(p)
    if now is None or now.shape != before.shape or not np.array_equal(now, before):
        raise ProbeFailure(f"{what} changed p.grad from {shown(before)} to {'None' if now is None else shown(now)}")


def expect_skip_then_move(make, name: str) -> None:
    """A parameter without a gradient stays where it is; the one listed after it still moves."""
    frozen, p = probe_param([5.0]), probe_param([1.0], grad=[2.0])
    make([frozen, p]).step()
    what = f"{name}.step() on [a parameter with grad None, p with gradient 2]"
    if not np.array_equal(frozen.data.data, [5.0]):
        raise ProbeFailure(f"{what}: the parameter with grad None should stay at 5, got {shown(frozen.data.data)}")
    if np.array_equal(p.data.data, [1.0]):
        raise ProbeFailure(f"{what}: p, listed after the skipped parameter, should move, it stayed at 1")


def expect_in_place(make, name: str) -> None:
    """The update goes into the parameter's own array, which keeps its dtype and shape."""
    p = probe_param([[1.0, 2.0]], grad=[[0.5, -0.5]], dtype=np.float32)
    array = p.data.data
    make([p]).step()
    if p.data.data is not array:
        raise ProbeFailure(f"{name}.step() put a new array into p.data.data (it should write into the array p already has)")
    if p.data.data.dtype != np.float32 or p.data.data.shape != (1, 2):
        raise ProbeFailure(f"{name}.step() on a float32 parameter of shape (1, 2): got {p.data.data.dtype}, shape {p.data.data.shape}")


def probe_zero_grad() -> None:
    a, b = probe_param([1.0, 2.0], grad=[0.5, 0.5]), probe_param([3.0], grad=[1.0])
    Optimizer([a, b]).zero_grad()
    for p in (a, b):
        if p.grad is not None:
            raise ProbeFailure(f"Optimizer.zero_grad() should leave every p.grad None, got a {type(p.grad).__name__} "
                               f"holding {shown(grad_of(p))}")
    if not np.array_equal(a.data.data, [1.0, 2.0]):
        raise ProbeFailure(f"Optimizer.zero_grad() changed the values of a parameter from [1, 2] to {shown(a.data.data)}")


def probe_sgd() -> None:
    expect_skip_then_move(lambda ps: SGD(ps, lr=0.1), "SGD(lr=0.1)")
    p = probe_param([1.0, -2.0], grad=[0.5, 0.25])
    array = p.data.data
    SGD([p], lr=0.1).step()
    expect_grad_kept(p, np.array([0.5, 0.25]), "SGD(lr=0.1).step()")
    if p.data.data is not array:
        raise ProbeFailure("SGD(lr=0.1).step() put a new array into p.data.data (it should write into the array p already has)")
    expect_values(p, [0.95, -2.025], "SGD(lr=0.1), one step at p=[1, -2] with gradient [0.5, 0.25]")
    expect_in_place(lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), "SGD(lr=0.1, momentum=0.9, weight_decay=0.01)")
    # Weight decay alone, with a zero gradient: p shrinks by the factor 1 - lr * weight_decay per step.
    q = probe_param([4.0], grad=[0.0])
    opt = SGD([q], lr=0.5, weight_decay=0.5)
    for step, expected in enumerate([3.0, 2.25], start=1):
        opt.step()
        expect_grad_kept(q, np.array([0.0]), f"SGD(lr=0.5, weight_decay=0.5).step() (step {step})")
        expect_values(q, [expected], f"SGD(lr=0.5, weight_decay=0.5) at p=4 with gradient 0, step {step}")
    for start, grad, decay, expected in ((2.0, 1.0, 0.5, 1.8), (2.0, 0.5, 1.0, 1.75)):  # with a gradient: g + weight_decay * p
        s = probe_param([start], grad=[grad])
        SGD([s], lr=0.1, weight_decay=decay).step()
        expect_values(s, [expected], f"SGD(lr=0.1, weight_decay={decay:g}) at p={start:g} with gradient {grad:g}, one step")
    # Momentum alone, the same gradient 1 at every step.
    r = probe_param([1.0], grad=[1.0])
    opt = SGD([r], lr=0.1, momentum=0.9)
    for step, expected in enumerate([0.9, 0.71, 0.439], start=1):
        opt.step()
        expect_grad_kept(r, np.array([1.0]), f"SGD(lr=0.1, momentum=0.9).step() (step {step})")
        expect_values(r, [expected], f"SGD(lr=0.1, momentum=0.9) with gradient 1 at every step, after step {step}")
    # One buffer per parameter: gradients of two parameters do not mix.
    a, b = probe_param([0.0], grad=[1.0]), probe_param([0.0], grad=[-2.0])
    opt = SGD([a, b], lr=1.0, momentum=0.5)
    opt.step()
    opt.step()
    expect_values(b, [5.0], "SGD(lr=1, momentum=0.5) on [a with gradient 1, p with gradient -2], after 2 steps")
    u = probe_param([0.0], grad=[2.0])
    opt = SGD([u], lr=0.5, momentum=1.0)
    opt.step()
    opt.step()
    expect_values(u, [-3.0], "SGD(lr=0.5, momentum=1) at p=0 with gradient 2 at every step, after step 2")


def probe_adam() -> None:
    expect_skip_then_move(lambda ps: Adam(ps, lr=0.1), "Adam(lr=0.1)")
    d = probe_param([2.0], grad=[1.0])
    Adam([d], lr=0.1, weight_decay=0.5).step()
    expect_grad_kept(d, np.array([1.0]), "Adam(lr=0.1, weight_decay=0.5).step()")
    # The state after one step, from betas=(0.5, 0.75) and g=[2, -1].
    r = probe_param([1.0, 1.0], grad=[2.0, -1.0])
    opt = Adam([r], lr=0.1, betas=(0.5, 0.75))
    opt.step()
    for name, state, expected in (("m", opt.m, [1.0, -0.5]), ("v", opt.v, [1.0, 0.25])):
        got = state[0]
        if got is None or np.shape(got) != (2,) or not np.allclose(got, expected):
            raise ProbeFailure(f"Adam(betas=(0.5, 0.75)), one step at g=[2, -1]: opt.{name}[0] should be {shown(expected)}, "
                               f"got {'None' if got is None else shown(got)}")
    if list(opt.t) != [1]:
        raise ProbeFailure(f"Adam, one step of one parameter: opt.t should be [1], got {list(opt.t)}")
    f = probe_param([1.0, 2.0], grad=[0.5, -0.5], dtype=np.float32)
    opt = Adam([f])
    opt.step()
    kinds = [getattr(opt.m[0], "dtype", None), getattr(opt.v[0], "dtype", None)]
    if kinds != [np.float32, np.float32]:
        raise ProbeFailure(f"Adam's state for a float32 parameter: opt.m[0] and opt.v[0] should be float32, got {kinds[0]} and {kinds[1]}")
    # The first step: every number with a gradient moves by lr, against its gradient, whatever its size.
    g = np.array([1000.0, -0.5, 0.0, 3.0])
    p = probe_param([1.0, -1.0, 0.5, 2.0], grad=g)
    Adam([p], lr=0.01).step()
    moved = p.data.data - np.array([1.0, -1.0, 0.5, 2.0])
    what = "Adam(lr=0.01), first step at g=[1000, -0.5, 0, 3]"
    if np.any(moved * g > 0):
        raise ProbeFailure(f"{what} moved p along its gradient (uphill): p went from [1, -1, 0.5, 2] to {shown(p.data.data)}")
    if not np.allclose(np.abs(moved), np.where(g != 0, 0.01, 0.0), rtol=1e-5, atol=1e-9):
        raise ProbeFailure(f"{what}: every number with a gradient should move by lr=0.01, they moved by {shown(np.abs(moved))}")
    e = probe_param([1.0], grad=[1.0])
    Adam([e], lr=0.1, eps=1.0).step()
    if not np.isclose(1.0 - e.data.data[0], 0.05):
        raise ProbeFailure(f"Adam(lr=0.1, eps=1), first step at g=1: p should move by 0.05, it moved by {shown(1.0 - e.data.data[0])}")
    # m and v carry over: a second step with another gradient.
    s = probe_param([1.0], grad=[2.0])
    opt = Adam([s], lr=0.1, betas=(0.5, 0.75), eps=0.1)
    opt.step()
    s.grad = Variable(np.array([1.0]), requires_grad=False)
    opt.step()
    after_one = 1 - 0.1 * 2 / (np.sqrt(4) + 0.1)
    expect_values(s, [after_one - 0.1 * (1 / 0.75) / (np.sqrt(1 / 0.4375) + 0.1)],
                  "Adam(lr=0.1, betas=(0.5, 0.75), eps=0.1) at p=1 with gradient 2 and then 1, after step 2")
    # Steps are counted per parameter.
    a, b = probe_param([1.0], grad=[1.0]), probe_param([1.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    b.grad = Variable(np.array([5.0]), requires_grad=False)
    opt.step()
    if not np.isclose(1.0 - b.data.data[0], 0.1):
        raise ProbeFailure("Adam(lr=0.1) on [a, b], b without a gradient on the first step: b's first real step (the "
                           f"optimizer's second) should move it by lr=0.1, it moved by {shown(1.0 - b.data.data[0])}")
    w = probe_param([2.0], grad=[0.0])
    Adam([w], lr=0.1, weight_decay=0.25).step()
    expect_values(w, [1.9], "Adam(lr=0.1, weight_decay=0.25) at p=2 with gradient 0, first step")
    for start, grad, decay in ((2.0, 1.0, 0.5), (3.0, 0.5, 1.0)):  # eps=1, so that the size of the decayed gradient shows
        x = probe_param([start], grad=[grad])
        Adam([x], lr=0.1, eps=1.0, weight_decay=decay).step()
        g = grad + decay * start
        expect_values(x, [start - 0.1 * g / (g + 1.0)],
                      f"Adam(lr=0.1, eps=1, weight_decay={decay:g}) at p={start:g} with gradient {grad:g}, first step")
    expect_in_place(lambda ps: Adam(ps, weight_decay=0.01), "Adam(weight_decay=0.01)")


# (function, probe) in the order the functions build on each other: tito pins each failing test
# on the first broken one it called.
DIAGNOSIS_PROBES = [
    ("Optimizer.zero_grad", probe_zero_grad),
    ("SGD.step", probe_sgd),
    ("Adam.step", probe_adam),
]


def run_probes() -> None:
    """Run every probe and print what it finds, e.g. `FAIL  SGD.step  SGD(lr=0.1).step() changed p.grad ...`."""
    for name, probe in DIAGNOSIS_PROBES:
        try:
            probe()
            print(f"ok    {name}")
        except Exception as error:  # any error is a finding: show it and go on with the next probe
            print(f"FAIL  {name}  {type(error).__name__}: {error}")

# %% [markdown]
# ## Summary
#
# You wrote the last piece of a training loop:
#
# - `zero_grad()` forgets gradients by setting them to `None`, so that a parameter without a
#   new gradient is skipped;
# - `SGD` steps against the gradient, with weight decay added to the gradient and a momentum
#   buffer `b = momentum * b + g`;
# - `Adam` divides a running mean of the gradient by the root of a running mean of its square,
#   corrects both for starting at zero, and counts steps per parameter;
# - both update in place and keep each parameter's dtype, exactly as `torch.optim` does: the
#   tinytorch project's benchmark runs these optimizers and PyTorch's side by side.
#
# **Milestone.** Run `tito milestone digits`: your engine and your Adam train a 64-64-10
# network on 1,797 scanned handwritten digits and should read more than 95% of the held-out
# ones correctly, in a few seconds.
