"""numpy helpers the DAG code and its users share."""

from __future__ import annotations

import numpy as np


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of a 1-d array: its values sorted, each once, found by sorting. numpy 2.4's
    ``np.unique`` hashes when no index, inverse or counts are asked for, and hashing is the slow way here:
    2 ms for 5,000 integers, 6 s for 2 million (the partition checker's tensor/part pairs of a million-op graph),
    where sorting takes 0.3 s."""
    out = np.sort(np.asarray(values).ravel())
    if len(out):
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out
