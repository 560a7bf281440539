"""A farm of devices: measure many configurations at once, one device per Dask worker.

Each device (a spec: ``local``, ``ssh://user@host``, ``sdb://serial``) is bound to one worker of a Dask
distributed cluster, and the farm hands a device its next configuration only when its last one came
back, so a board never runs two measurements at once (workers of a cluster the farm starts also carry
one unit of the resource ``board`` that every measurement needs). The cluster is one the farm starts
on this machine (``local:N``, N workers, default one per device, in this process's environment exactly,
so a local device measures there what it measures alone) or an existing scheduler
(``tcp://host:port``). A worker that dies or leaves mid-measurement costs a retry on another device,
never the run: the configuration goes back to the queue and the device is dropped. Measurements come
back as they arrive, so the caller can keep each one at once (the run journal).

The model travels with the tasks (its bytes, scattered once per farm under a key of its own and kept
until the farm closes: scattered anew per call, under the content's key, it raced the release of the
last call's copy and the tasks lost their dependency), so workers on other machines need no shared
file system; the devices' measurement cache lives where each worker runs.

Devices file: one spec per line, then optional ``key=value`` options of that device (``identity``,
``workdir``, ``python``); blank lines and ``#`` comments are ignored.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import BackendConfig, Measurement, MeasureSettings
from devices.errors import DeviceError, DeviceSpecError, require
from devices.schemes import SCHEMES, scheme_of

POLL_SECONDS = 0.5  # how often the farm checks that the workers it waits on are still there


@dataclass(frozen=True)
class DeviceSpec:
    """One device of a farm: its spec and options for ``devices.open_device``."""

    spec: str
    options: tuple[tuple[str, str], ...] = ()


def read_devices(path: str | Path) -> list[DeviceSpec]:
    """The devices listed in ``path`` (see the module docstring); DeviceSpecError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DeviceSpecError(f"{path}: cannot read the devices file ({err})") from None
    devices = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        options = []
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or key not in ("identity", "workdir", "python"):
                raise DeviceSpecError(f"{path}:{number}: {word!r} is not identity=, workdir= or python=")
            options.append((key, value))
        if scheme_of(words[0]) is None:
            kinds = ", ".join(s.short for s in SCHEMES)
            raise DeviceSpecError(f"{path}:{number}: {words[0]!r} is not a device ({kinds})")
        devices.append(DeviceSpec(words[0], tuple(options)))
    if not devices:
        raise DeviceSpecError(f"{path}: lists no device")
    return devices


# --- on the worker -------------------------------------------------------------------------------------

_OPENED: dict = {}  # (spec, options, cache) -> device, per worker process


def _measure_task(device: DeviceSpec, cache: bool, model_name: str, model: bytes, config: BackendConfig,
                  settings: MeasureSettings) -> tuple[str, Measurement]:  # fmt: skip
    """Run on a worker: write the model once into a local folder, measure on the device, return its name."""
    from devices import open_device

    digest = hashlib.sha256(model).hexdigest()
    local = Path(tempfile.gettempdir()) / "nnpart-farm" / digest[:16] / model_name
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + f".{time.time_ns()}.part")
        partial.write_bytes(model)
        partial.replace(local)
    key = (device, cache)
    if key not in _OPENED:
        _OPENED[key] = open_device(device.spec, cache=cache, **dict(device.options))
    opened = _OPENED[key]
    return opened.name, opened.measure(local, config, settings)


# --- the client ----------------------------------------------------------------------------------------


@dataclass
class Farm:
    """Devices bound to the workers of a Dask cluster (see the module docstring).

    ``retries`` counts configurations sent again after their worker was lost; ``lost`` the devices dropped.
    """

    devices: Sequence[DeviceSpec]
    cluster: str = "local"  # "local", "local:N" or "tcp://host:port"
    cache: bool = True  # the devices' measurement cache
    retries: int = 0
    lost: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        distributed = require("distributed", "farm", "measuring on a farm of devices")
        import dask
        if not self.devices:
            raise DeviceSpecError("a farm needs at least one device")
        self._local = None
        self._models: dict[str, object] = {}  # sha256 of a model's bytes -> their future on the cluster
        if self.cluster == "local" or self.cluster.startswith("local:"):
            count = self.cluster.partition(":")[2]
            if count and not (count.isdigit() and int(count) >= 1):
                raise DeviceSpecError(f"--cluster {self.cluster!r}: local:N needs a number of workers N >= 1")
            workers = int(count) if count else len(self.devices)
            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS=1, ... in its workers, and local devices
            # would pass them on to onert: peak RSS read 0.4-1.6 MB lower and times differed from one device's.
            with dask.config.set({"distributed.nanny.pre-spawn-environ": {}}):
                self._local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       resources={"board": 1}, dashboard_address=None,
                                                       silence_logs=40)  # fmt: skip
            self.client = distributed.Client(self._local)
        elif self.cluster.startswith("tcp://"):
            try:
                self.client = distributed.Client(self.cluster, timeout=30)
            except OSError as err:
                raise DeviceError(f"--cluster {self.cluster}: cannot reach the Dask scheduler ({err})") from None
        else:
            raise DeviceSpecError(f"--cluster {self.cluster!r}: use local, local:N or tcp://host:port")
        workers = sorted(self._workers())
        if len(workers) < len(self.devices):
            self.close()
            raise DeviceError(f"the cluster has {len(workers)} worker(s) for {len(self.devices)} devices: one "
                              f"worker per device is needed")  # fmt: skip
        self.bound = dict(zip(range(len(self.devices)), workers))  # device index -> worker address

    @property
    def device_names(self) -> set[str]:
        """The names the devices give their measurements: their specs (``local``, ``ssh://user@host``)."""
        return {d.spec for d in self.devices}

    def measure_many(self, model: Path, configs: Sequence[BackendConfig],
                     settings: MeasureSettings) -> Iterator[tuple[int, Measurement]]:  # fmt: skip
        """``(index into configs, measurement)`` of every configuration, as they arrive.

        Raises DeviceError when every device has been lost before all were measured.
        """
        model = Path(model)
        data = self._scattered(model.read_bytes())
        queue = deque(range(len(configs)))
        running: dict = {}  # future -> (device index, config index)
        idle = deque(self.bound)
        try:
            while queue or running:
                while queue and idle:
                    device, index = idle.popleft(), queue.popleft()
                    future = self.client.submit(
                        _measure_task, self.devices[device], self.cache, model.name, data, configs[index], settings,
                        workers=[self.bound[device]], allow_other_workers=False, pure=False,
                        resources={"board": 1} if self._local is not None else None,
                    )  # fmt: skip
                    running[future] = (device, index)
                if not running:
                    raise DeviceError(f"every device of the farm was lost ({', '.join(self.lost)}); "
                                      f"{len(queue)} configuration(s) not measured")  # fmt: skip
                done = self._next(running)
                if done is None:
                    continue
                future, result = done
                device, index = running.pop(future)
                if result is None:  # its worker was lost: measure it elsewhere, drop the device
                    self.retries += 1
                    self.lost.append(f"{self.devices[device].spec} on {self.bound.pop(device)}")
                    queue.appendleft(index)
                    continue
                idle.append(device)
                yield index, result[1]
        finally:
            for future in running:
                future.cancel()

    def _scattered(self, model: bytes):
        """The future of ``model``'s bytes on every worker, scattered on first use."""
        digest = hashlib.sha256(model).hexdigest()
        if digest not in self._models:
            self._models[digest] = self.client.scatter(model, broadcast=True, hash=False)
        return self._models[digest]

    def _next(self, running: dict) -> tuple | None:
        """A finished future and its result (None: its worker was lost), or None when none finished in a poll."""
        from distributed import wait

        alive = self._workers()
        for future, (device, _) in running.items():
            if self.bound.get(device) not in alive:
                future.cancel()
                return future, None
        try:
            wait(list(running), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return None
        for future, (device, _) in running.items():
            if future.status == "finished":
                return future, self._result(future, device)
            if future.status in ("error", "cancelled"):
                error = future.exception() if future.status == "error" else None
                if error is not None and type(error).__name__ not in ("KilledWorker", "CommClosedError"):
                    raise error
                return future, None
        return None

    def _result(self, future, device: int) -> tuple | None:
        """The result of a finished future, or None when its worker died before the client fetched it.

        The result lives on the device's worker alone; once that worker is gone the scheduler would compute
        the task again, but only there (``allow_other_workers=False``), so an unbounded fetch waits forever
        (seen in tests/assignment/test_farm.py: a worker killed between its task's end and the fetch).
        """
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TimeoutError:
                if self.bound.get(device) not in self._workers():
                    future.cancel()
                    return None

    def _workers(self) -> set[str]:
        """The addresses of the scheduler's workers, asked of the scheduler itself.

        Not ``client.scheduler_info()``: it returns the client's cached identity, which the client's periodic
        refresh (every 2 s, with no workers listed) may overwrite between the fetch and the read; a live
        worker then looked lost, and its device was dropped (a retry, seen under load in tests/assignment/test_farm.py).
        """
        return set(self.client.sync(self.client.scheduler.identity, n_workers=-1)["workers"])

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
