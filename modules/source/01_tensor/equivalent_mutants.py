"""Mutants of 01_tensor's solutions that no graded test can tell from the solution (`tito mutate 01_tensor`).

Plain data, read by tito/authoring/mutate.py; never shipped to students (it quotes the solution).
Each entry: id (from `tito mutate`), mutant (what it changes, for the reader), reason (one line: why
no graded test can tell it from the solution, or could only by failing answers that follow the instructions).
"""

EQUIVALENT: list[dict] = [
    dict(id="4b45f19e72", mutant="broadcast_shape: `max(..., default=0)` -> `default=-1`",
         reason="with no shapes, [1] * -1 is [] just as [1] * 0 is: the result is () either way"),
    dict(id="1d940a59ea", mutant="Tensor.__init__: the ndarray fast path -> `if False`",
         reason="only slower: as_array returns a numeric ndarray itself when no dtype is given"),
    dict(id="12e6341c7b", mutant="Tensor.__init__: the Tensor case -> `elif False`",
         reason="only slower: as_array(data.data, None) returns that very array"),
    dict(id="cc94c15c56", mutant="Tensor.__init__: `data.data if isinstance(data, Tensor) else data` -> `data`",
         reason="as_array reads a Tensor through __array__ without a copy: the same array and dtype"),
    dict(id="cf1742c112", mutant="Tensor.matmul: `other.data if isinstance(other, Tensor) else ...` -> always `Tensor(other).data`",
         reason="only slower: Tensor(a Tensor) shares its array"),
    dict(id="865612053a", mutant="Tensor.reshape: `isinstance(shape[0], ...)` -> `shape[-1]`",
         reason="checked only when len(shape) == 1, where shape[-1] is shape[0]"),
    dict(id="1a4c678202", mutant="Tensor.reshape: `tuple(shape[0])` -> `tuple(shape[-1])`",
         reason="reached only when len(shape) == 1, where shape[-1] is shape[0]"),
    dict(id="0d2c12c616", mutant="standardize: `mu = x.mean(axis=0, keepdims=True)` -> `keepdims=False`",
         reason="x is 2-D: a (features,) mean broadcasts over the rows exactly as a (1, features) one"),
    dict(id="03216b3711", mutant="standardize: `mu = x.mean(axis=0, keepdims=True)` -> `x.mean(axis=0)`",
         reason="x is 2-D: a (features,) mean broadcasts over the rows exactly as a (1, features) one"),
    dict(id="65c0e7bf7c", mutant="standardize: sigma's `mean(axis=0, keepdims=True)` -> `mean(axis=0)`",
         reason="x is 2-D: a (features,) sigma broadcasts over the rows exactly as a (1, features) one"),
    dict(id="6570a10f58", mutant="standardize: sigma's `keepdims=True` -> `keepdims=False`",
         reason="x is 2-D: a (features,) sigma broadcasts over the rows exactly as a (1, features) one"),
    dict(id="fa5415cfed", mutant="standardize: `(x - mu) ** 2` -> `(mu - x) ** 2`",
         reason="a square: (mu - x) ** 2 is (x - mu) ** 2"),
]
