"""Mutants of 07_autograd's solutions that no graded test can tell from the solution (`tito mutate 07_autograd`).

Plain data, read by tito/authoring/mutate.py; never shipped to students (it quotes the solution).
Each entry: id (from `tito mutate`), mutant (what it changes, for the reader), reason (one line: why
no graded test can tell it from the solution, or could only by failing answers that follow the instructions).
"""

FIRST_CHECK = "Tensor() refuses non-numeric data itself (TypeError naming the type) and the dtype check after it refuses complex"

EQUIVALENT: list[dict] = [
    dict(id="77ad547571", mutant="Variable.__init__: the check before Tensor(data) left out", reason=FIRST_CHECK),
    dict(id="1705acb969", mutant="Variable.__init__: the check before Tensor(data) -> `if False`", reason=FIRST_CHECK),
    dict(id="0731ca4fde", mutant="Variable.__init__: `not isinstance(data, (np.ndarray, int, float))` -> without `not`",
         reason=FIRST_CHECK),
    dict(id="9b573aaed5", mutant="Variable.__init__: the first `raise TypeError` -> `pass`", reason=FIRST_CHECK),
    dict(id="369a47faf4", mutant="topological_order: `continue` after `order.append(node)` -> `pass`",
         reason="the node was marked visited when first popped, so the next line's `if node in visited: continue` skips it"),
    dict(id="967e55a47c", mutant="topological_order: `if parent not in visited` -> `if True`",
         reason="a visited parent pushed again is skipped when popped: the same order, a longer stack"),
    dict(id="1056f59387", mutant="unbroadcast: `if extra > 0` -> `extra >= 0`",
         reason="with extra == 0 it sums over no axes: the same values"),
    dict(id="df03ad6de9", mutant="unbroadcast: `if extra > 0` -> `if True`",
         reason="extra is never negative (a gradient has at least its input's axes); with 0 it sums over no axes"),
    dict(id="1273ad2971", mutant="unbroadcast: `if extra > 0` -> `extra > -1`",
         reason="extra is never negative; with 0 it sums over no axes: the same values"),
    dict(id="222c80a379", mutant="unbroadcast: `if stretched` -> `if True`",
         reason="summing over an empty tuple of axes with keepdims changes nothing"),
    dict(id="49c66e1562", mutant="mean: `count = np.size(x) // ...` -> `/`",
         reason="the sizes divide exactly, and dividing a float32 array by a Python float keeps float32"),
    dict(id="a9b1e15d34", mutant="mean: `max(np.size(out), 1)` -> `max(np.size(out), 0)`",
         reason="differs only when the mean is empty (0 // 0), where the TODO's own `np.size(x) // np.size(out)` fails alike"),
    dict(id="a1a5e25bed", mutant="mean: `max(np.size(out), 1)` -> `max(1, np.size(out))`", reason="max is symmetric"),
    dict(id="2823b30e41", mutant="relu: `np.maximum(x, 0)` -> `np.maximum(0, x)`",
         reason="np.maximum is symmetric, and a Python 0 takes x's dtype on either side"),
    dict(id="67923953e9", mutant="softmax_cross_entropy: `sums[:, 0]` -> `sums[:, -1]`",
         reason="sums has shape (n, 1): column -1 is column 0"),
    dict(id="914585ce09", mutant="softmax_cross_entropy: `probs[rows, t] -= 1` -> `probs[rows, t] = probs[rows, t] - 1`",
         reason="rows are all different (np.arange(n)), so the fancy-index assignment is the same as the in-place one"),
]
