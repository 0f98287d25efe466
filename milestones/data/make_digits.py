"""Rebuild digits.npz from scikit-learn's copy of the UCI digits (run once; not needed at run time).

    pip download --no-deps scikit-learn -d /tmp/skl && unzip /tmp/skl/*.whl 'sklearn/datasets/data/digits.csv.gz' -d /tmp/skl
    python milestones/data/make_digits.py /tmp/skl/sklearn/datasets/data/digits.csv.gz

Each CSV row is 64 pixel counts (0..16, row-major 8x8) followed by the label (0..9).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np


def main(csv_gz: str) -> None:
    with gzip.open(csv_gz, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    assert table.shape == (1797, 65), table.shape
    images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = table[:, 64].astype(np.uint8)
    assert images.max() == 16 and labels.max() == 9
    out = Path(__file__).with_name("digits.npz")
    np.savez_compressed(out, images=images, labels=labels)
    print(f"wrote {out} ({out.stat().st_size} bytes): images {images.shape} uint8, labels {labels.shape} uint8")


if __name__ == "__main__":
    main(sys.argv[1])
