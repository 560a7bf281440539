"""A device's memory terms fitted to what ``solve partition --calibrate`` measured (docs/memory.md).

Every part measured alone in every calibration round (and the check round) and the whole model, measured once
more here, are the sessions :func:`solver.memory.calibration.fit_memory` fits; the fit is kept in the
measurement cache under the device's identity (``devices.cache.store_calibration``).
"""

from __future__ import annotations

from pathlib import Path

from devices.base import BackendConfig, Device, MeasureSettings
from devices.cache import device_identity, store_calibration
from solver.deploy.calibrate import Calibration
from solver.deploy.coldfile import measure_cold
from solver.io.tflite import uncompressed
from solver.memory.calibration import MemoryCalibration, MemorySample, fit_memory
from solver.memory.lifetimes import LINEAR, Graph
from solver.memory.model import memory_terms
from solver.memory.parts import part_samples
from solver.memory.planner import planner_for


def onert_memory_settings(config: BackendConfig | None) -> tuple[str, str]:
    """The memory planner and executor a configuration runs with: onert's defaults unless its settings say."""
    given = dict(config.settings) if config is not None else {}
    return planner_for(given.get("CPU_MEMORY_PLANNER")), given.get("EXECUTOR", LINEAR)


def fit_device_memory(model_path: str | Path, graph: Graph, calibration: Calibration, config: BackendConfig,
                      device: Device) -> MemoryCalibration:  # fmt: skip
    """Fit ``device``'s memory terms to the parts ``calibration`` measured and the whole model (measured here),
    keep them under the device's identity and return them."""
    planner, executor = onert_memory_settings(config)
    samples = []
    for r in calibration.rounds + ([calibration.check] if calibration.check else []):
        samples += part_samples(graph, r.parts, r.part_ids, r.memory_bytes, f"round {r.round}", planner, executor)
    with uncompressed(model_path) as plain:
        whole = measure_cold(device, Path(plain), config, MeasureSettings(warmup=1, repeats=1))
    if whole.valid and whole.memory is not None:
        samples.append(MemorySample("whole model", memory_terms(graph, None, planner, executor),
                                    whole.memory.session_kb * 1024.0))  # fmt: skip
    identity = device_identity(device.name)
    fitted = fit_memory(identity, samples)
    store_calibration(identity, "memory", fitted.to_json())
    return fitted
