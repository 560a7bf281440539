"""heuristics.arrays: unique_sorted is np.unique's values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from heuristics.arrays import unique_sorted


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62), max_size=60), st.integers(1, 5))
def test_unique_sorted_is_numpy_unique(values, repeat):
    x = np.asarray(values * repeat, dtype=np.int64)
    got = unique_sorted(x)
    assert got.dtype == np.unique(x).dtype and got.tolist() == np.unique(x).tolist()
