"""Where a model runs and is measured: local onert, ssh, sdb, and lookup tables of measurements (built by
solver from dumps). Imports nothing else of nnpart."""

from __future__ import annotations

from pathlib import Path

from devices.base import BackendConfig, Device, Measurement, MeasureSettings
from devices.errors import DeviceError, DeviceSpecError, LookupMiss
from devices.schemes import scheme_of, spec_forms

__all__ = [
    "BackendConfig", "Device", "DeviceError", "DeviceSpecError", "LookupMiss", "Measurement", "MeasureSettings",
    "open_device",
]  # fmt: skip


def open_device(
    spec: str, *, cache: bool = True, refresh: bool = False, cache_dir: str | Path | None = None, **options
) -> Device:
    """The device named by ``spec``.

    ``spec`` is ``"local"`` (onert here), ``"ssh://user@host[:port]"`` (the system ssh with the user's
    keys) or ``"sdb://serial"`` (Tizen's sdb), the rows of ``devices.schemes.SCHEMES``. A brute-force dump is
    a file, not a device spec: solver reads it and builds a :class:`devices.lookup.LookupDevice`
    (``solver.assignment.offline.open_spec``).

    Measuring devices go through the on-disk measurement cache (``devices.cache``) unless ``cache`` is
    False (then it is neither read nor written); with ``refresh`` it is not read, and every measurement
    replaces its entry; ``cache_dir`` overrides ``$NNPART_CACHE_DIR`` / ``~/.cache/nnpart``. Other options: for ssh
    ``identity`` (key file), ``ssh_options`` (extra ``-o`` words); for ssh and sdb ``workdir`` (on the
    board, default ``/tmp/nnpart``) and ``python`` (the board's interpreter, default ``python3``).
    """
    from devices.cache import CachedDevice, MeasurementCache, default_cache_dir

    root = Path(cache_dir) if cache_dir else default_cache_dir()
    scheme = scheme_of(spec)
    if scheme is None:
        raise DeviceSpecError(f"{spec!r}: not a device (use {spec_forms()})")
    device = scheme.open(spec, root, options)
    return CachedDevice(device, MeasurementCache(root / "measurements"), refresh) if cache else device
