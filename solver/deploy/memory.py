"""A device's memory terms fitted to what ``solve partition --calibrate`` measured (docs/memory.md).

Every part measured alone in every calibration round (and the check round) and the whole model, measured once
more here, are the sessions :func:`solver.memory.calibration.fit_memory` fits; the fit is kept in the
measurement cache under the device's identity (``devices.cache.store_calibration``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from devices.base import BackendConfig, Device, Measurement, MeasureSettings
from devices.cache import device_identity, store_calibration
from devices.workerdevice import file_digest
from solver.io.files import drop_page_cache
from solver.io.tflite import uncompressed
from solver.memory.calibration import MemoryCalibration, MemorySample, fit_memory
from solver.memory.lifetimes import LINEAR, Graph
from solver.memory.model import memory_terms
from solver.memory.parts import part_samples
from solver.memory.planner import planner_for

if TYPE_CHECKING:  # calibrate measures its parts with measure_cold below
    from solver.deploy.calibrate import Calibration


def onert_memory_settings(config: BackendConfig | None) -> tuple[str, str]:
    """The memory planner and executor a configuration runs with: onert's defaults unless its settings say."""
    given = dict(config.settings) if config is not None else {}
    return planner_for(given.get("CPU_MEMORY_PLANNER")), given.get("EXECUTOR", LINEAR)


def measure_cold(device: Device, path: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
    """``device.measure`` of ``path`` read cold from disk. A device reads the file once for its digest (remembered
    per path and modification time), which leaves it in the page cache in large folios that onert's loader then
    maps whole: up to the file's size of extra peak (solver.io.files.drop_page_cache). So the digest is taken
    first and the file dropped from the cache after it."""
    file_digest(path)
    drop_page_cache(path)
    return device.measure(path, config, settings)


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
