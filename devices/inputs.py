"""Deterministic model inputs: the same seed gives the same arrays on every device."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

InputSpec = tuple[tuple[int, ...], str]  # (shape, numpy dtype name)


def seeded_inputs(specs: Sequence[InputSpec], seed: int = 0,
                  float_range: tuple[float, float] | None = None) -> list[np.ndarray]:
    """One array per input spec, drawn from ``seed``; dynamic dimensions (-1) become 1.

    Floats are standard normal, or uniform in ``[lo, hi)`` when ``float_range`` is given; integers lie in
    [0, 10), booleans are fair coins.
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, dtype in specs:
        shape = tuple(max(int(d), 1) for d in shape)
        kind = np.dtype(dtype).kind
        if kind == "f":
            drawn = rng.standard_normal(shape) if float_range is None else rng.uniform(*float_range, shape)
            arrays.append(drawn.astype(dtype))
        elif kind == "b":
            arrays.append(rng.integers(0, 2, shape).astype(bool))
        else:
            arrays.append(rng.integers(0, 10, shape).astype(dtype))
    return arrays


def onert_input_specs(session) -> list[InputSpec]:
    """Input specs of an ``onert.infer.session``."""
    return [(tuple(info.dims[: info.rank]), str(info.dtype)) for info in session.get_inputs_tensorinfo()]
