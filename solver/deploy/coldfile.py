"""A model measured as a device reads it from disk, not as the page cache holds a file just written or read."""

from __future__ import annotations

from pathlib import Path

from devices.base import BackendConfig, Device, Measurement, MeasureSettings
from devices.workerdevice import file_digest
from solver.io.files import drop_page_cache


def measure_cold(device: Device, path: Path, config: BackendConfig, settings: MeasureSettings) -> Measurement:
    """``device.measure`` of ``path`` read cold from disk. A file just written, or read by anyone but a device's
    digest (which drops what it read), sits in the page cache in large folios that onert's loader then maps whole:
    up to the file's size of extra peak (solver.io.files.drop_page_cache). So the digest is taken first (it is
    remembered per path and modification time) and the file written back and dropped from the cache after it."""
    file_digest(path)
    drop_page_cache(path)
    return device.measure(path, config, settings)
