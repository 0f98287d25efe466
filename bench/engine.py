"""tinytorch's autograd engine against PyTorch's CPU autograd and a hand-written NumPy step, same run.

    make bench                                   # installs the `bench` extra (torch==2.13.0), runs this
    .venv/bin/python bench/engine.py [--reps 9] [--quick]

Three workloads, each timed forward + backward (+ graph teardown), with the cyclic GC on as users run:

1. scalar chain: `y = y * 1.0001 + 0.001` on a 0-d float32 value, microseconds per operation;
2. 8x8 float64 ops: `y = tanh(y * 0.5 + a)`, microseconds per operation;
3. one training step of a 64-128-10 MLP (batch 64, float32, ReLU, softmax cross-entropy, SGD),
   also written by hand in NumPy (the floor for any engine built on NumPy).

The garbage collector stays on, as users run it. Once set up, the script calls `gc.freeze()`:
the collector's full passes then skip the objects that imports made (importing torch makes about
150,000; a process with only tinytorch has about 20,000), which would otherwise be rescanned at
tinytorch's expense (its graph is made of Python objects, PyTorch's is not). The scalar chain is
also reported without the freeze, and in a process of its own that never imports torch (what a
tinytorch user sees).

The engines take turns within each repetition (so load on the shared machine hits them alike);
the table shows medians and the ratios tinytorch/PyTorch and tinytorch/NumPy. Then: the dtype
through a float32 step, the time per operation as the chain grows from 10^3 to 10^5 operations,
and the peak memory (tracemalloc) of the 10^5-operation chain.
"""

from __future__ import annotations

import os

# NumPy's BLAS (OpenBLAS) would start threads for 64x128 products; on a 2-core machine shared with
# other work they wait for each other and make both NumPy contestants (tinytorch and the
# hand-written step) up to 10x slower and erratic. One thread for NumPy, unless you set it yourself.
# PyTorch keeps its default threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from tinytorch.core.autograd import Variable, relu, softmax_cross_entropy, tanh  # noqa: E402
from tinytorch.core.autograd import sum as tt_sum  # noqa: E402
from tinytorch.core.optimizers import SGD  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: `make bench` installs it
    torch = None

BATCH, INPUTS, HIDDEN, CLASSES, LR = 64, 64, 128, 10, 0.1


# --- workload 1: scalar chain --------------------------------------------------------------
def chain_tinytorch(ops: int) -> None:
    y = x = Variable(1.0)
    for _ in range(ops // 2):
        y = y * 1.0001 + 0.001
    y.backward()
    assert x.grad is not None


def chain_torch(ops: int) -> None:
    y = x = torch.tensor(1.0, requires_grad=True)
    for _ in range(ops // 2):
        y = y * 1.0001 + 0.001
    y.backward()
    assert x.grad is not None


# --- workload 2: 8x8 float64 ------------------------------------------------------------------
START_8x8 = np.random.default_rng(0).standard_normal((2, 8, 8))


def small_tinytorch(ops: int) -> None:
    y, a = Variable(START_8x8[0].copy()), Variable(START_8x8[1].copy())
    start = y
    for _ in range(ops // 3):
        y = tanh(y * 0.5 + a)
    tt_sum(y).backward()
    assert start.grad is not None and a.grad is not None


def small_torch(ops: int) -> None:
    y = torch.tensor(START_8x8[0], requires_grad=True)
    a = torch.tensor(START_8x8[1], requires_grad=True)
    start = y
    for _ in range(ops // 3):
        y = torch.tanh(y * 0.5 + a)
    y.sum().backward()
    assert start.grad is not None and a.grad is not None


# --- workload 3: MLP training step ----------------------------------------------------------
def mlp_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, INPUTS)).astype(np.float32)
    labels = rng.integers(0, CLASSES, BATCH)
    params = [
        (rng.standard_normal((INPUTS, HIDDEN)) / np.sqrt(INPUTS)).astype(np.float32),
        np.zeros(HIDDEN, dtype=np.float32),
        (rng.standard_normal((HIDDEN, CLASSES)) / np.sqrt(HIDDEN)).astype(np.float32),
        np.zeros(CLASSES, dtype=np.float32),
    ]
    return x, labels, params


def mlp_tinytorch() -> tuple[Callable[[], None], list[Variable]]:
    x, labels, arrays = mlp_data()
    params = [Variable(a) for a in arrays]
    w1, b1, w2, b2 = params
    optimizer = SGD(params, lr=LR)

    def step() -> None:
        loss = softmax_cross_entropy(relu(x @ w1 + b1) @ w2 + b2, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step.loss = loss

    return step, params


def mlp_torch() -> tuple[Callable[[], None], list]:
    x, labels, arrays = mlp_data()
    x, labels = torch.from_numpy(x), torch.from_numpy(labels)
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    w1, b1, w2, b2 = params
    optimizer = torch.optim.SGD(params, lr=LR)
    functional = torch.nn.functional

    def step() -> None:
        loss = functional.cross_entropy(functional.relu(x @ w1 + b1) @ w2 + b2, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, params


def mlp_numpy() -> tuple[Callable[[], None], list[np.ndarray]]:
    """The same step by hand: forward, the gradients of the parameters only, in-place update."""
    x, labels, params = mlp_data()
    w1, b1, w2, b2 = params
    rows = np.arange(BATCH)

    def step() -> None:
        pre = x @ w1 + b1
        hidden = np.maximum(pre, 0)
        logits = hidden @ w2 + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        step.loss = (np.log(sums[:, 0]) - shifted[rows, labels]).sum() / BATCH
        d_logits = exps / sums
        d_logits[rows, labels] -= 1
        d_logits /= BATCH
        d_hidden = (d_logits @ w2.T) * (pre > 0)
        grads = (x.T @ d_hidden, d_hidden.sum(axis=0), hidden.T @ d_logits, d_logits.sum(axis=0))
        for p, g in zip(params, grads, strict=True):
            p -= LR * g

    return step, params


# --- measuring ----------------------------------------------------------------------------------
def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def race(contestants: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds per call of each contestant, after one warm-up call each.

    They take turns, in a rotating order, with a short pause before each turn, so that load on
    the machine and threads still winding down from the previous turn hit all of them alike.
    """
    for action in contestants.values():
        action()
    names = list(contestants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            time.sleep(0.02)
            samples[name].append(seconds(contestants[name]))
    return {name: statistics.median(times) for name, times in samples.items()}


def chain_in_own_process(ops: int, reps: int) -> float:
    """Median seconds of the tinytorch chain in a fresh process that imports neither torch nor gc.freeze."""
    code = (
        "import statistics, sys, time; sys.path.insert(0, sys.argv[1]); sys.modules['torch'] = None\n"
        "import engine\n"
        "engine.chain_tinytorch(int(sys.argv[2]))\n"
        "times = []\n"
        "for _ in range(int(sys.argv[3])):\n"
        "    started = time.perf_counter(); engine.chain_tinytorch(int(sys.argv[2]))\n"
        "    times.append(time.perf_counter() - started)\n"
        "print(statistics.median(times))\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    python = [sys.executable, "-S"] if sys.flags.no_site else [sys.executable]  # same interpreter flags
    result = subprocess.run([*python, "-c", code, here, str(ops), str(reps)], capture_output=True, text=True, check=True)
    return float(result.stdout)


def check_float32_step() -> str:
    """Train one step in float32 and list the dtypes of parameters, gradients and loss."""
    step, params = mlp_tinytorch()
    step()
    kinds = {str(p.dtype) for p in params} | {str(p.grad.dtype) for p in params} | {str(step.loss.dtype)}
    return "float32 kept (parameters, gradients, loss)" if kinds == {"float32"} else f"UPCAST: dtypes seen {kinds}"


def engines(ours: Callable[[], object], theirs: Callable[[], object] | None = None, **more) -> dict:
    contestants = {"tinytorch": ours, **more}
    if torch is not None and theirs is not None:
        contestants["pytorch"] = theirs
    return contestants


def print_table(rows: list, reps: int) -> None:
    print(f"\nmedians of {reps} repetitions (engines take turns); a ratio below 1 means tinytorch is faster\n")
    print(f"| {'workload':<28} | {'tinytorch':>10} | {'PyTorch':>10} | {'NumPy':>10} | {'tt/PyTorch':>10} | {'tt/NumPy':>8} |")
    print(f"| {'-' * 28} | {'-' * 10}:| {'-' * 10}:| {'-' * 10}:| {'-' * 10}:| {'-' * 8}:|")
    for workload, scale, medians in rows:
        ours = medians["tinytorch"] * scale
        times = [f"{medians[e] * scale:.2f} us" if e in medians else "-" for e in ("tinytorch", "pytorch", "numpy")]
        ratios = [f"{ours / (medians[e] * scale):.2f}x" if e in medians else "-" for e in ("pytorch", "numpy")]
        print(f"| {workload:<28} | {times[0]:>10} | {times[1]:>10} | {times[2]:>10} | {ratios[0]:>10} | {ratios[1]:>8} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per workload (median reported)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions, no 10^5 scaling run")
    args = parser.parse_args()
    reps = 3 if args.quick else args.reps

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cpus, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min)")
    if torch is None:
        print("PyTorch: NOT INSTALLED (make bench installs torch==2.13.0): its columns are empty")
    else:
        print(f"PyTorch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()} (the default)")
    print(f"NumPy BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")

    chain_ops, small_ops, steps = 10_000, 3_000, 100
    mlp_steps = {"tinytorch": mlp_tinytorch()[0], "numpy": mlp_numpy()[0]}
    if torch is not None:
        mlp_steps["pytorch"] = mlp_torch()[0]

    def steps_of(step: Callable[[], None]) -> Callable[[], None]:
        return lambda: [step() for _ in range(steps)]

    chain = engines(lambda: chain_tinytorch(chain_ops), lambda: chain_torch(chain_ops))
    small = engines(lambda: small_tinytorch(small_ops), lambda: small_torch(small_ops))
    mlp = {name: steps_of(step) for name, step in mlp_steps.items()}

    unfrozen = race(chain, reps)  # first, while the collector still scans everything the imports made
    alone = {"tinytorch": chain_in_own_process(chain_ops, reps)}
    if "pytorch" in unfrozen:
        alone["pytorch"] = unfrozen["pytorch"]
    gc.collect()
    gc.freeze()
    rows = [
        ("scalar chain, per op", 1e6 / chain_ops, race(chain, reps)),
        ("8x8 float64, per op", 1e6 / small_ops, race(small, reps)),
        ("MLP 64-128-10 step", 1e6 / steps, race(mlp, reps)),
        ("scalar chain, no gc.freeze", 1e6 / chain_ops, unfrozen),
        ("  tinytorch alone, no freeze", 1e6 / chain_ops, alone),
    ]
    if torch is not None:  # for context only: the targets are against PyTorch's default threads
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        rows.append(("MLP step, PyTorch 1 thread", 1e6 / steps, race({**mlp, "pytorch": steps_of(mlp_torch()[0])}, reps)))
        torch.set_num_threads(threads)
    print_table(rows, reps)
    print(f"\n{chain_ops} ops per chain, {small_ops} per 8x8 run, {steps} steps per MLP run; GC on throughout")

    print(f"\nfloat32 through a training step: {check_float32_step()}")

    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    print("\nscalar chain, time per op as the graph grows (flat: total time linear in the graph size):")
    base = None
    for ops in sizes:
        growth = engines(lambda n=ops: chain_tinytorch(n), lambda n=ops: chain_torch(n))
        medians = race(growth, max(3, reps * 1_000 // ops))
        per_op = {name: seconds_ / ops * 1e6 for name, seconds_ in medians.items()}
        base = base or per_op
        cells = ", ".join(f"{name} {v:6.2f} us/op ({v / base[name]:.2f}x)" for name, v in per_op.items())
        print(f"  {ops:>7} ops: {cells}")

    tracemalloc.start()
    chain_tinytorch(sizes[-1])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\npeak memory (tracemalloc) of the {sizes[-1]}-op tinytorch chain, forward + backward: "
          f"{peak / 2**20:.1f} MiB, {peak / sizes[-1]:.0f} bytes per op")


if __name__ == "__main__":
    main()
