"""tinytorch's SGD and Adam against torch.optim, step by step, on the same gradients.

    .venv/bin/pip install torch      # a CPU build is enough; torch is not a tinytorch dependency
    .venv/bin/python bench/optimizers_vs_torch.py [--steps 50]

For each configuration, both optimizers start from the same parameters and receive the same
sequence of random gradients; the script prints the largest difference of the parameters over all
steps (float64 and float32), then the time per step of each on a 512x512 parameter, as a ratio.
Exits 1 if a difference exceeds its tolerance, 2 if torch is missing.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tinytorch.core.autograd import Variable
from tinytorch.core.optimizers import SGD, Adam

CONFIGS = [
    ("SGD lr=0.1", SGD, "SGD", dict(lr=0.1)),
    ("SGD momentum=0.9", SGD, "SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD weight_decay=0.01", SGD, "SGD", dict(lr=0.1, weight_decay=0.01)),
    ("SGD momentum + decay", SGD, "SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("Adam defaults", Adam, "Adam", dict()),
    ("Adam lr=0.05 betas", Adam, "Adam", dict(lr=0.05, betas=(0.8, 0.99))),
    ("Adam eps=0.1 decay", Adam, "Adam", dict(lr=0.01, eps=0.1, weight_decay=0.05)),
]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def compare(torch, ours_class, torch_name: str, kwargs: dict, dtype, steps: int, seed: int) -> float:
    """Largest |ours - torch| over all steps and parameters; one parameter skips every third step."""
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    starts = [rng.normal(size=s).astype(dtype) for s in shapes]
    ours = [Variable(a.copy()) for a in starts]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in starts]
    ours_opt = ours_class(ours, **kwargs)
    torch_opt = getattr(torch.optim, torch_name)(theirs, **kwargs)
    worst = 0.0
    for step in range(steps):
        ours_opt.zero_grad()
        torch_opt.zero_grad()
        for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
            if i == 2 and step % 3 == 2:
                continue  # no gradient: both must skip it (and Adam must not count the step)
            g = rng.normal(size=shapes[i]).astype(dtype)
            p.grad = Variable(g.copy(), requires_grad=False)
            q.grad = torch.tensor(g.copy())
        ours_opt.step()
        torch_opt.step()
        for p, q in zip(ours, theirs, strict=True):
            assert p.data.data.dtype == dtype, f"dtype changed to {p.data.data.dtype}"
            worst = max(worst, float(np.abs(p.data.data - q.detach().numpy()).max()))
    return worst


def time_per_step(make_step, repeats: int = 200) -> float:
    make_step()  # warm up: creates the state
    started = time.perf_counter()
    for _ in range(repeats):
        make_step()
    return (time.perf_counter() - started) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("optimizers_vs_torch: torch is not installed (.venv/bin/pip install torch); nothing compared")
        return 2
    torch.set_num_threads(1)
    print(f"tinytorch vs torch {torch.__version__}, numpy {np.__version__}, {args.steps} steps, same gradients")
    failed = 0
    for label, ours_class, torch_name, kwargs in CONFIGS:
        cells = []
        for dtype in (np.float64, np.float32):
            worst = compare(torch, ours_class, torch_name, kwargs, dtype, args.steps, seed=0)
            ok = worst <= TOLERANCE[dtype]
            failed += not ok
            cells.append(f"{np.dtype(dtype).name} max diff {worst:.2e} {'ok' if ok else 'FAIL'}")
        print(f"  {label:<24} " + "   ".join(cells))

    rng = np.random.default_rng(1)
    start, grad = rng.normal(size=(512, 512)).astype(np.float32), rng.normal(size=(512, 512)).astype(np.float32)
    for label, ours_class, torch_name, kwargs in [CONFIGS[1], CONFIGS[4]]:
        p = Variable(start.copy())
        p.grad = Variable(grad, requires_grad=False)
        q = torch.tensor(start.copy(), requires_grad=True)
        q.grad = torch.tensor(grad)
        ours_opt = ours_class([p], **kwargs)
        torch_opt = getattr(torch.optim, torch_name)([q], foreach=False, **kwargs)
        ours_s, torch_s = time_per_step(ours_opt.step), time_per_step(torch_opt.step)
        print(f"  step time 512x512 float32, {label:<18} tinytorch {ours_s * 1e6:8.1f} us  torch {torch_s * 1e6:8.1f} us  ratio {ours_s / torch_s:.2f}x")
    print("optimizers_vs_torch: all match" if not failed else f"optimizers_vs_torch: {failed} mismatch(es)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
