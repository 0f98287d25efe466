# %% [markdown]
# # Module 01: Tensor
#
# A placeholder start of the tensor module: the full teaching module replaces it.

# %% nbgrader={"grade": false, "grade_id": "tensor-imports", "locked": false, "schema_version": 3, "solution": false, "task": false}
#| default_exp core.tensor
#| export
from __future__ import annotations

import numpy as np

# %% nbgrader={"grade": false, "grade_id": "tensor-class", "locked": false, "schema_version": 3, "solution": true, "task": false}
#| export
class Tensor:
    """An n-dimensional array of numbers, stored as a NumPy array in `.data`."""

    def __init__(self, data, dtype=None) -> None:
        ### BEGIN SOLUTION
        # NumPy arrays keep their dtype (no copy); Python numbers and lists become float32.
        if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
            dtype = np.float32
        self.data = np.asarray(data, dtype=dtype)
        ### END SOLUTION

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

# %% nbgrader={"grade": true, "grade_id": "test-tensor-class", "locked": true, "points": 5, "schema_version": 3, "solution": false, "task": false}
def test_tensor_class():
    t = Tensor([[1, 2], [3, 4]])
    assert t.shape == (2, 2), f"Tensor([[1, 2], [3, 4]]).shape should be (2, 2), got {t.shape}"
    ### BEGIN HIDDEN TESTS
    assert Tensor([1, 2, 3]).shape == (3,)
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_tensor_class()
