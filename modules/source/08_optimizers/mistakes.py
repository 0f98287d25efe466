"""Plausible student mistakes in 08_optimizers: the catalogue that the mutation tests, `tito mutate` and
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


# Hints shared by entries that are the same slip in SGD and in Adam.
SKIP_HINT = ("Skipping a parameter must not end the step: the loop goes on with the next parameter, and only the one "
             "without a gradient is left out.")

MISTAKES: list[dict] = [
    dict(
        name="zero_grad fills the gradients with zeros instead of None",
        culprit="Optimizer.zero_grad",
        caught_by="test-zero-grad",
        says="zero_grad: every p.grad should be None afterwards",
        wrong={"            p.grad = None\n": "            p.grad = Variable(np.zeros_like(p.data.data), requires_grad=False)\n"},
        match=r"zero_grad\(\) should leave every p\.grad None",
        hint="Forgetting a gradient means having none: None, not zeros. A zero gradient is still a gradient: the next backward adds to it, and momentum or Adam would still step on it.",
    ),
    # The three slips an independent set of student mistakes got past the earlier tests (issue 16).
    dict(
        name="SGD returns at a parameter without a gradient instead of going on to the next",
        culprit="SGD.step",
        caught_by="test-sgd-plain",
        says="a parameter listed after one with grad None must still move",
        wrong={SGD_SKIP: SGD_SKIP.replace("continue", "return")},
        match=r"SGD\(lr=0\.1\)\.step\(\) on \[a parameter with grad None, p with gradient 2\]: p, listed after the skipped parameter, should move",
        hint=SKIP_HINT,
    ),
    dict(
        name="Adam returns at a parameter without a gradient instead of going on to the next",
        culprit="Adam.step",
        caught_by="test-skip-and-dtype",
        says="a parameter listed after one with grad None must still move",
        wrong={ADAM_SKIP: ADAM_SKIP.replace("continue", "return")},
        match=r"Adam\(lr=0\.1\)\.step\(\) on \[a parameter with grad None, p with gradient 2\]: p, listed after the skipped parameter, should move",
        hint=SKIP_HINT,
    ),
    dict(
        name="Adam adds weight decay into p.grad in place (seen only on the second step)",
        culprit="Adam.step",
        caught_by="test-adam-steps",
        says="Adam with weight_decay=0.5, step 2",
        wrong={ADAM_SKIP: ADAM_SKIP.replace("g = g + self.weight_decay", "g += self.weight_decay")},
        match=r"Adam\(lr=0\.1, weight_decay=0\.5\)\.step\(\) changed p\.grad",
        hint="p.grad belongs to the user: build the decayed gradient as a new array of your own. Adding into the gradient's own array changes p.grad, and every later step starts from a gradient that has grown.",
    ),
    dict(
        name="SGD adds weight decay into p.grad in place",
        culprit="SGD.step",
        caught_by="test-sgd-weight-decay",
        says="2 steps",
        wrong={SGD_SKIP: SGD_SKIP.replace("g = g + self.weight_decay", "g += self.weight_decay")},
        match=r"SGD\(lr=0\.5, weight_decay=0\.5\)\.step\(\) \(step 1\) changed p\.grad",
        hint="p.grad belongs to the user: build the decayed gradient as a new array of your own. Adding into the gradient's own array changes p.grad, and the next step decays it again.",
    ),
    dict(
        name="SGD subtracts weight decay from the gradient",
        culprit="SGD.step",
        caught_by="test-sgd-weight-decay",
        says="SGD(lr=0.1, weight_decay=0.1)",
        wrong={SGD_SKIP: SGD_SKIP.replace("g = g + self.weight_decay", "g = g - self.weight_decay")},
        match=r"SGD\(lr=0\.5, weight_decay=0\.5\) at p=4 with gradient 0, step 1: p should be \[3\], got \[5\]",
        hint="Weight decay pulls every weight towards zero: with a zero gradient a positive p must shrink. It is the gradient of (weight_decay / 2) * p**2: which sign does that have where p > 0?",
    ),
    dict(
        name="SGD momentum as an average, b = momentum * b + (1 - momentum) * g",
        culprit="SGD.step",
        caught_by="test-sgd-momentum",
        says="after step 2",
        wrong={"                    self.buffers[i] += g\n": "                    self.buffers[i] += (1 - self.momentum) * g\n"},
        match=r"SGD\(lr=0\.1, momentum=0\.9\) with gradient 1 at every step, after step 2: p should be \[0\.71\], got \[0\.8\]",
        hint="PyTorch's buffer is not an average: the old buffer decays by momentum and the whole new gradient is added to it, so with a constant gradient the steps grow (towards 1 / (1 - momentum) times the first).",
    ),
    dict(
        name="SGD's momentum buffer is p.grad's own array, not a copy",
        culprit="SGD.step",
        caught_by="test-sgd-momentum",
        says="after step 2",
        wrong={"self.buffers[i] = np.array(g, dtype=p.data.data.dtype, copy=True)": "self.buffers[i] = g"},
        match=r"SGD\(lr=0\.1, momentum=0\.9\)\.step\(\) \(step \d\) changed p\.grad",
        hint="The buffer made on the first step must be an array of its own: if it is p.grad's array, updating the buffer in place on the next step writes into the user's gradient.",
    ),
    dict(
        name="SGD replaces the parameter's array instead of updating it in place",
        culprit="SGD.step",
        caught_by="test-sgd-plain",
        says="in place",
        wrong={"            p.data.data -= self.lr * g\n": "            p.data.data = p.data.data - self.lr * g\n"},
        match=r"SGD\(lr=0\.1\)\.step\(\) put a new array into p\.data\.data",
        hint="Write into the array the parameter already has (an in-place operator): the model and the training loop hold that array, and a new one would be seen by no one else (and may change the dtype).",
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
        match=r"first step at g=\[1000, -0\.5, 0, 3\]: every number with a gradient should move by lr=0\.01, they moved by \[0\.03162, 0\.03162, 0, 0\.03162\]",
        hint="m and v start at zero, so for the first steps they are too small, by a factor that depends on the step count t: correct each before using it, and the first step moves every number by exactly lr.",
    ),
    dict(
        name="Adam adds eps inside the square root",
        culprit="Adam.step",
        caught_by="test-adam-steps",
        says="Adam step 1",
        wrong={"denominator = np.sqrt(v) / np.sqrt(1 - beta2**t) + self.eps": "denominator = np.sqrt(v / (1 - beta2**t) + self.eps)"},
        match=r"Adam\(lr=0\.1, eps=1\), first step at g=1: p should move by 0\.05, it moved by 0\.07071",
        hint="eps only guards against dividing by zero: it is added to the square root of v_hat, not to v_hat under the root (with eps=1 the difference shows).",
    ),
    dict(
        name="Adam's second moment from g instead of g squared",
        culprit="Adam.step",
        caught_by="test-adam-first-step",
        says="first step",
        wrong={"            v += (1 - beta2) * g * g\n": "            v += (1 - beta2) * np.abs(g)\n"},
        match=r"opt\.v\[0\] should be \[1, 0\.25\], got \[0\.5, 0\.25\]",
        hint="v is the running mean of the gradient *squared*: its square root then has the size of g, and m / sqrt(v) is about 1 in size whatever the gradient's scale.",
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
        match=r"b's first real step \(the optimizer's second\) should move it by lr=0\.1",
        hint="Each parameter counts its own steps: one that had no gradient so far takes its first real step as a first step, whatever the optimizer's other parameters did.",
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
        match=r"opt\.m\[0\] and opt\.v\[0\] should be float32, got float64",
        hint="Zeros made from a shape alone are float64: make m and v with the parameter's shape *and* dtype, so a float32 network keeps float32 state.",
    ),
    dict(
        name="Adam with decoupled weight decay (AdamW) instead of L2 added to the gradient",
        culprit="Adam.step",
        caught_by="test-adam-steps",
        says="AdamW would give 1.95",
        wrong={ADAM_SKIP: ADAM_SKIP.replace("g = g + self.weight_decay * p.data.data",
                                            "p.data.data -= self.lr * self.weight_decay * p.data.data")},
        match=r"Adam\(lr=0\.1, weight_decay=0\.25\) at p=2 with gradient 0, first step: p should be \[1\.9\], got \[1\.95\]",
        hint="torch.optim.Adam's weight decay is L2: it joins the gradient before m and v, and Adam's own step does the rest. Shrinking p directly is AdamW, a different optimizer.",
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
        match=r"moved p along its gradient \(uphill\)",
        hint="The gradient points uphill, towards a larger loss: a step must go the other way.",
    ),
]
