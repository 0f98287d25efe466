"""Milestone: read handwritten digits with the autograd engine and optimizer you wrote.

A 64-64-10 network (ReLU, softmax cross-entropy) learns the 8x8 UCI digits (1,797 images,
shipped in milestones/data/digits.npz) with tinytorch alone: Variables, backward, Adam or SGD.

    python milestones/digits_mlp.py [--epochs 20] [--seed 0] [--out milestones/results]
    tito milestone digits [same options]

Prints a line per epoch, saves the loss/accuracy curve (digits_curve.png) and the numbers
(digits_results.json) in --out, and ends with the test accuracy and the wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import Variable, no_grad, relu, softmax_cross_entropy
from tinytorch.core.optimizers import SGD, Adam

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "lib"))
from png_chart import training_curves  # noqa: E402  (milestones/lib is not a package)

DATA = HERE / "data" / "digits.npz"


def load_digits(path: Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    """Images as (1797, 64) float32 in [0, 1] (pixel counts 0..16 divided by 16); labels as int64."""
    with np.load(path) as data:
        images, labels = data["images"], data["labels"]
    return images.reshape(len(images), -1).astype(np.float32) / 16.0, labels.astype(np.int64)


def split(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled indices, cut into (train, test)."""
    order = rng.permutation(n)
    n_test = int(round(n * test_fraction))
    return order[n_test:], order[:n_test]


class MLP:
    """x -> relu(x @ w1 + b1) @ w2 + b2, float32, He-initialised."""

    def __init__(self, sizes: tuple[int, int, int], rng: np.random.Generator) -> None:
        n_in, n_hidden, n_out = sizes
        self.w1 = Variable(rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_hidden)).astype(np.float32))
        self.b1 = Variable(np.zeros(n_hidden, dtype=np.float32))
        self.w2 = Variable(rng.normal(0.0, np.sqrt(1.0 / n_hidden), (n_hidden, n_out)).astype(np.float32))
        self.b2 = Variable(np.zeros(n_out, dtype=np.float32))

    def parameters(self) -> list[Variable]:
        return [self.w1, self.b1, self.w2, self.b2]

    def __call__(self, x: Variable) -> Variable:
        return relu(x @ self.w1 + self.b1) @ self.w2 + self.b2


def evaluate(model: MLP, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean loss, accuracy) on the whole set, without recording a graph."""
    with no_grad():
        logits = model(Variable(x, requires_grad=False))
        loss = softmax_cross_entropy(logits, y)
    return float(loss.data.data), float((logits.data.data.argmax(axis=1) == y).mean())


def bar(done: int, total: int, width: int = 20) -> str:
    filled = width * done // total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def train(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x, y = load_digits()
    train_idx, test_idx = split(len(x), args.test_fraction, rng)
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    model = MLP((64, args.hidden, 10), rng)
    if args.optimizer == "adam":
        optimizer = Adam(model.parameters(), lr=args.lr or 1e-2)
    else:
        optimizer = SGD(model.parameters(), lr=args.lr or 0.1, momentum=0.9)
    print(
        f"digits: {len(x_train)} train / {len(x_test)} test images, MLP 64-{args.hidden}-10, "
        f"{type(optimizer).__name__}(lr={optimizer.lr}), batch {args.batch_size}, seed {args.seed}"
    )
    history: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "train_acc": [], "test_acc": [], "seconds": []}
    live = sys.stdout.isatty()
    batches = range(0, len(x_train), args.batch_size)
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        order = rng.permutation(len(x_train))
        for n, start in enumerate(batches, 1):
            batch = order[start : start + args.batch_size]
            optimizer.zero_grad()
            loss = softmax_cross_entropy(model(Variable(x_train[batch], requires_grad=False)), y_train[batch])
            loss.backward()
            optimizer.step()
            if live:  # a bar that fills during the epoch, on terminals only
                print(f"\repoch {epoch:>3}/{args.epochs} {bar(n, len(batches))} loss {float(loss.data.data):.4f}", end="", flush=True)
        for name, value in zip(["train_loss", "train_acc"], evaluate(model, x_train, y_train), strict=True):
            history[name].append(value)
        for name, value in zip(["test_loss", "test_acc"], evaluate(model, x_test, y_test), strict=True):
            history[name].append(value)
        history["seconds"].append(time.perf_counter() - epoch_start)
        print(
            f"\repoch {epoch:>3}/{args.epochs} {bar(epoch, args.epochs)} loss {history['train_loss'][-1]:.4f}  "
            f"train {history['train_acc'][-1]:6.2%}  test {history['test_acc'][-1]:6.2%}  {history['seconds'][-1]:.2f}s",
            flush=True,
        )
    wall = time.perf_counter() - started
    return {
        "test_accuracy": history["test_acc"][-1],
        "test_correct": int(round(history["test_acc"][-1] * len(x_test))),
        "test_images": len(x_test),
        "wall_seconds": wall,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "history": history,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="digits_mlp", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training set (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the initial weights and the batches")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for the PNG and the JSON results")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.01 for Adam, 0.1 for SGD)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.hidden < 1 or not 0 < args.test_fraction < 1:
        parser.error("--epochs, --batch-size and --hidden must be >= 1, --test-fraction in (0, 1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = train(args)
    args.out.mkdir(parents=True, exist_ok=True)
    curve, numbers = args.out / "digits_curve.png", args.out / "digits_results.json"
    title = f"DIGITS MLP 64-{args.hidden}-10, {args.optimizer}: TEST {results['test_accuracy']:.1%}"
    training_curves(curve, results["history"], title)
    numbers.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="ascii")
    print(f"curve: {curve}  results: {numbers}")
    print(
        f"digits: test accuracy {results['test_accuracy']:.2%} ({results['test_correct']}/{results['test_images']}) "
        f"in {results['wall_seconds']:.1f}s wall time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
