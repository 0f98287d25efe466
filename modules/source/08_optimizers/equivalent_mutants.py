"""Mutants of 08_optimizers' solutions that no graded test can tell from the solution (`tito mutate 08_optimizers`).

Plain data, read by tito/authoring/mutate.py; never shipped to students (it quotes the solution).
Each entry: id (from `tito mutate`), mutant (what it changes, for the reader), reason (one line: why
no graded test can tell it from the solution, or could only by failing answers that follow the instructions).
"""

EQUIVALENT: list[dict] = [
    dict(id="4514ae57bd", mutant="SGD.step: `self.weight_decay != 0` -> `True`",
         reason="with weight_decay 0 it adds 0 * p to g: the same numbers for every finite parameter"),
    dict(id="e654df55e2", mutant="SGD.step: `self.weight_decay != 0` -> `!= -1`",
         reason="weight_decay >= 0 is checked in __init__, so this is always true: adds 0 * p, the same numbers"),
    dict(id="cd96512468", mutant="SGD.step: `self.momentum != 0` -> `True`",
         reason="with momentum 0 the buffer is b = 0 * b + g = g: the same step; it only keeps a buffer it never needs"),
    dict(id="460f88742f", mutant="SGD.step: `self.momentum != 0` -> `!= -1`",
         reason="momentum >= 0 is checked in __init__, so always true: b = 0 * b + g = g, the same step"),
    dict(id="4e0e3eb90e", mutant="SGD.step: `self.buffers[i] *= self.momentum` -> a new array",
         reason="the buffer is the optimizer's own (a copy of g): a new array holding the same values changes nothing"),
    dict(id="13418f5145", mutant="SGD.step: `self.buffers[i] += g` -> a new array",
         reason="the buffer is the optimizer's own: a new array holding the same values changes nothing"),
    dict(id="08af76626b", mutant="Adam.step: `self.weight_decay != 0` -> `!= -1`",
         reason="weight_decay >= 0 is checked in __init__, so always true: adds 0 * p, the same numbers"),
    dict(id="af8c30d8fc", mutant="Adam.step: `self.weight_decay != 0` -> `True`",
         reason="with weight_decay 0 it adds 0 * p to g: the same numbers for every finite parameter"),
    dict(id="1e08754069", mutant="Adam.step: `self.t[i] += 1` -> `self.t[i] = self.t[i] + 1`",
         reason="the step count is a Python int: += and + are the same"),
]
