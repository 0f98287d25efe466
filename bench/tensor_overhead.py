"""What `Tensor` costs on top of the NumPy operation it wraps, measured against NumPy in the same run.

    .venv/bin/python bench/tensor_overhead.py

Prints, per operation and array size, nanoseconds per call for raw NumPy and for Tensor, and
their ratio. On tiny arrays the ratio shows the Python overhead of the wrapper (operand check,
new Tensor object); on large arrays it should approach 1.0. Construction is compared with `Bare`,
the cheapest wrapper possible. The machine is shared: compare ratios, and rerun when in doubt.
"""

from __future__ import annotations

import timeit

import numpy as np

from tinytorch.core.tensor import Tensor

SIZES = (16, 100_000)


class Bare:
    """The cheapest possible wrapper: the reference for what constructing a Tensor costs."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def nanoseconds(action, number: int) -> float:
    """Best of 5 runs of `number` calls, per call (the least disturbed by other work on the machine)."""
    return min(timeit.repeat(action, number=number, repeat=5)) / number * 1e9


def main() -> None:
    print(f"{'operation':<22} {'size':>8} {'numpy ns':>10} {'Tensor ns':>10} {'ratio':>6}")
    for size in SIZES:
        a = np.linspace(1.0, 2.0, size, dtype=np.float32)
        m = a[: int(size**0.5) ** 2].reshape(int(size**0.5), -1)
        t, tm = Tensor(a), Tensor(m)
        number = 20_000 if size < 1000 else 100
        cases = [
            ("Tensor(a) vs Bare(a)", lambda a=a: Bare(a), lambda a=a: Tensor(a)),
            ("Tensor(0-d scalar)", lambda: Bare(np.asarray(np.float32(1))), lambda: Tensor(np.float32(1))),
            ("t * t", lambda a=a: a * a, lambda t=t: t * t),
            ("t + 1.0", lambda a=a: a + 1.0, lambda t=t: t + 1.0),
            ("2.0 - t (reflected)", lambda a=a: 2.0 - a, lambda t=t: 2.0 - t),
            ("t ** 2", lambda a=a: a**2, lambda t=t: t**2),
            ("t.sum()", lambda a=a: a.sum(), lambda t=t: t.sum()),
            ("m @ m", lambda m=m: m @ m, lambda tm=tm: tm @ tm),
        ]
        for name, raw, wrapped in cases:
            base = nanoseconds(raw, number)
            ours = nanoseconds(wrapped, number)
            print(f"{name:<22} {size:>8} {base:>10.0f} {ours:>10.0f} {ours / base:>6.2f}")


if __name__ == "__main__":
    main()
