"""Plausible student mistakes in 08_optimizers: the catalogue that the mutation tests, `tito mutate` and
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

SGD_SKIP = """            if p.grad is None:
                continue
            g = p.grad.data.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data.data
            if self.momentum != 0:
"""
ADAM_SKIP = """            if p.grad is None:
                continue
            g = p.grad.data.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data.data
            if self.t[i] == 0:
"""

MISTAKES: list[dict] = [
    dict(
        name="zero_grad fills the gradients with zeros instead of None",
        culprit="Optimizer.zero_grad",
        caught_by="test-zero-grad",
        says="zero_grad: every p.grad should be None afterwards",
        wrong={"            p.grad = None\n": "            p.grad = Variable(np.zeros_like(p.data.data), requires_grad=False)\n"},
    ),
    # The three slips an independent set of student mistakes got past the earlier tests (issue 16).
    dict(
        name="SGD returns at a parameter without a gradient instead of going on to the next",
        culprit="SGD.step",
        caught_by="test-sgd-plain",
        says="a parameter listed after one with grad None must still move",
        wrong={SGD_SKIP: SGD_SKIP.replace("continue", "return")},
    ),
    dict(
        name="Adam returns at a parameter without a gradient instead of going on to the next",
        culprit="Adam.step",
        caught_by="test-skip-and-dtype",
        says="a parameter listed after one with grad None must still move",
        wrong={ADAM_SKIP: ADAM_SKIP.replace("continue", "return")},
    ),
    dict(
        name="Adam adds weight decay into p.grad in place (seen only on the second step)",
        culprit="Adam.step",
        caught_by="test-adam-steps",
        says="Adam with weight_decay=0.5, step 2",
        wrong={ADAM_SKIP: ADAM_SKIP.replace("g = g + self.weight_decay", "g += self.weight_decay")},
    ),
    dict(
        name="SGD adds weight decay into p.grad in place",
        culprit="SGD.step",
        caught_by="test-sgd-weight-decay",
        says="2 steps",
        wrong={SGD_SKIP: SGD_SKIP.replace("g = g + self.weight_decay", "g += self.weight_decay")},
    ),
    dict(
        name="SGD subtracts weight decay from the gradient",
        culprit="SGD.step",
        caught_by="test-sgd-weight-decay",
        says="SGD(lr=0.1, weight_decay=0.1)",
        wrong={SGD_SKIP: SGD_SKIP.replace("g = g + self.weight_decay", "g = g - self.weight_decay")},
    ),
    dict(
        name="SGD momentum as an average, b = momentum * b + (1 - momentum) * g",
        culprit="SGD.step",
        caught_by="test-sgd-momentum",
        says="after step 2",
        wrong={"                    self.buffers[i] += g\n": "                    self.buffers[i] += (1 - self.momentum) * g\n"},
    ),
    dict(
        name="SGD's momentum buffer is p.grad's own array, not a copy",
        culprit="SGD.step",
        caught_by="test-sgd-momentum",
        says="after step 2",
        wrong={"self.buffers[i] = np.array(g, dtype=p.data.data.dtype, copy=True)": "self.buffers[i] = g"},
    ),
    dict(
        name="SGD replaces the parameter's array instead of updating it in place",
        culprit="SGD.step",
        caught_by="test-sgd-plain",
        says="in place",
        wrong={"            p.data.data -= self.lr * g\n": "            p.data.data = p.data.data - self.lr * g\n"},
    ),
    dict(
        name="Adam without bias correction",
        culprit="Adam.step",
        caught_by="test-adam-first-step",
        says="first step: every number moves by lr",
        wrong={
            "step_size = self.lr / (1 - beta1**t)": "step_size = self.lr",
            "denominator = np.sqrt(v) / np.sqrt(1 - beta2**t) + self.eps": "denominator = np.sqrt(v) + self.eps",
        },
    ),
    dict(
        name="Adam adds eps inside the square root",
        culprit="Adam.step",
        caught_by="test-adam-steps",
        says="Adam step 1",
        wrong={"denominator = np.sqrt(v) / np.sqrt(1 - beta2**t) + self.eps": "denominator = np.sqrt(v / (1 - beta2**t) + self.eps)"},
    ),
    dict(
        name="Adam's second moment from g instead of g squared",
        culprit="Adam.step",
        caught_by="test-adam-first-step",
        says="first step",
        wrong={"            v += (1 - beta2) * g * g\n": "            v += (1 - beta2) * np.abs(g)\n"},
    ),
    dict(
        name="Adam counts steps for the whole optimizer instead of per parameter",
        culprit="Adam.step",
        caught_by="test-skip-and-dtype",
        says="count steps per parameter",
        wrong={
            "        beta1, beta2 = self.betas\n": "        beta1, beta2 = self.betas\n        step_number = max(self.t) + 1\n",
            "m, v, t = self.m[i], self.v[i], self.t[i]": "m, v, t = self.m[i], self.v[i], step_number",
        },
    ),
    dict(
        name="Adam's m and v made with np.zeros, float64 whatever the parameter's dtype",
        culprit="Adam.step",
        caught_by="test-skip-and-dtype",
        says="should have the parameter's dtype float32",
        wrong={
            "self.m[i] = np.zeros_like(p.data.data)": "self.m[i] = np.zeros(p.data.data.shape)",
            "self.v[i] = np.zeros_like(p.data.data)": "self.v[i] = np.zeros(p.data.data.shape)",
        },
    ),
    dict(
        name="Adam with decoupled weight decay (AdamW) instead of L2 added to the gradient",
        culprit="Adam.step",
        caught_by="test-adam-steps",
        says="AdamW would give 1.95",
        wrong={ADAM_SKIP: ADAM_SKIP.replace("g = g + self.weight_decay * p.data.data",
                                            "p.data.data -= self.lr * self.weight_decay * p.data.data")},
    ),
]


# The training cell uses everything above: a mistake that breaks training is caught there too.
MISTAKES += [
    dict(
        name="Adam steps up the gradient, in training",
        culprit="Adam.step",
        caught_by="test-training",
        says="Adam(lr=0.05) on XOR",
        wrong={"            p.data.data -= step_size * m / denominator\n": "            p.data.data += step_size * m / denominator\n"},
    ),
]
