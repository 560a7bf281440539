"""The lookup device: answers from a table of measurements keyed by ONE's solution ids (offline evaluation).

It runs nothing and reads no file: whoever builds it (``solver.assignment.offline`` from a parsed
brute-force dump) gives it the measurements by id and the function that turns a configuration into its
id, so the id encoding lives in one place (the search space). A configuration or id the table cannot
answer raises :class:`LookupMiss`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from devices.base import BackendConfig, Measurement, MeasureSettings
from devices.errors import DeviceSpecError, LookupMiss
from devices.workerdevice import file_digest


class LookupDevice:
    """Measurements looked up by id (see the module docstring).

    ``id_of(config)`` returns the id of a configuration or raises ValueError saying why it has none;
    ``model_sha256`` (when known) is the digest of the only model the table answers for.
    """

    def __init__(
        self,
        name: str,
        backends: tuple[str, ...],
        measurements: Mapping[int, Measurement],
        id_of: Callable[[BackendConfig], int],
        model_sha256: str | None = None,
    ):
        self.name = name
        self.backend_names = tuple(backends)
        self.measurements = measurements
        self._encode = id_of
        self.model_sha256 = model_sha256

    def backends(self) -> dict[str, frozenset[str] | None]:
        """The table's backends, in the order its ids number them; what each can run is unknown (None)."""
        return {b: None for b in self.backend_names}

    def id_of(self, config: BackendConfig) -> int:
        """ONE's solution id of ``config``; LookupMiss when the ids cannot express it."""
        try:
            return self._encode(config)
        except ValueError as err:
            raise LookupMiss(f"{self.name}: {err}") from None

    def measure_id(self, solution_id: int) -> Measurement:
        """The measurement of ``solution_id``; LookupMiss when the table lacks it."""
        try:
            return self.measurements[solution_id]
        except KeyError:
            raise LookupMiss(f"{self.name}: no solution with id {solution_id}") from None

    def measure(self, model: Path | None, config: BackendConfig, settings: MeasureSettings) -> Measurement:
        """The answer for ``config``; the model (None: not checked) must be the one measured when known."""
        if self.model_sha256 and model is not None and file_digest(model) != self.model_sha256:
            raise DeviceSpecError(f"{self.name}: the dump was measured on another model than {model}")
        return self.measure_id(self.id_of(config))
