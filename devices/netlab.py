"""Real links on one machine: devices as Dask workers in their own network namespaces, joined by shaped veths.

Model
-----
A lab gets a tag ``<prefix><our pid>-<serial>`` (the serial counts the labs of this process) and a network
``10.<net>.0.0/16`` no other lab or interface of this machine uses: under a lock (``LOCK``, a file every lab
takes while it picks its network and builds it: namespaces, veths and shaping, a second or two), the first
``<net>`` from ``16 + pid % 240`` on that no address or route of the root namespace mentions (every lab puts its
scheduler's address and a route to each device there). So two labs started at once, in two processes or in one,
never share addresses. For device i of its devices it builds:

- a network namespace ``<tag>-<i>`` with ``lo`` up and the device's address ``10.<net>.0.<i+1>/32`` on it
  (the addresses live inside the namespaces except the scheduler's);
- a control veth ``<prefix><net>h<i>`` (root namespace) <-> ``host`` (device namespace), not shaped: the scheduler, the
  client, model files and the stream's inputs and outputs use it. The root end carries the route to the
  device, the device's default route goes through it; the scheduler listens on ``10.<net>.255.254``, an
  address on the root end of device 0's control veth;
- one point-to-point veth per linked pair {a, b}: ``d<b>`` in a's namespace <-> ``d<a>`` in b's, with a
  host route to the other's address and a ``tc tbf`` on each end shaping what that end sends to the link's
  bandwidth in that direction (a direction without a link stays unshaped: it only carries requests and
  acknowledgements). Pairs without a link get an ``unreachable`` route, so nothing crosses them unseen;
- a Dask worker (``--no-nanny``, one thread, named after the device, Dask's profiler off: ``DASK_ENV``) started
  in the namespace with ``ip netns exec``, pinned to a CPU with ``taskset`` when the device names one, registered with a Dask
  scheduler this lab starts in the root namespace.

Point-to-point pairs rather than a bridge: each directed link gets its own queue and rate, as the platform's
links do (a bridge would need a class per pair). Latency is left at zero (netem is not available here);
``tbf`` bursts ``BURST_SECONDS`` of traffic at most, so a message's time is its bytes over the rate.

Everything made is recorded as it is made and removed again by :meth:`NetLab.close` (workers and the
scheduler by their process groups, then the namespaces, which take their veths with them, then the control
links), which the context manager calls also on exceptions, Ctrl-C and SIGTERM/SIGHUP (turned into
KeyboardInterrupt while the lab is open). A lab whose owner was killed with SIGKILL leaves its namespaces:
:func:`sweep` removes those of dead owners (``python -m devices.netlab sweep``). Needs root and ``ip``,
``tc`` and ``taskset``: :func:`unavailable` says why not, for tests to skip.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devices.errors import DeviceError, DeviceSpecError, require

PREFIX = "nnp"
MAX_DEVICES = 250
NETS = range(16, 256)  # the second byte of a lab's 10.<net>.0.0/16
# Held while a lab picks its network and builds it. One path for the machine, not $TMPDIR's: namespaces and the
# root namespace's addresses are the machine's, and two processes with different TMPDIRs must meet at one lock.
LOCK = Path("/tmp/nnpart-netlab.lock")
_SERIAL = itertools.count()  # labs of this process, for their tags
BURST_SECONDS = 0.004  # tbf's bucket: 4 ms of the rate (the kernel's timer tick at HZ=250), at least 4 frames
MIN_BURST = 4 * 1514
QUEUE_SECONDS = 2.0  # tbf's queue: 2 s of the rate, so TCP meets a slow link, not drops
MIN_QUEUE = 1 << 18
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_TIMEOUT = 60.0  # seconds for the scheduler and every worker to come up
# Dask's statistical profiler samples a worker's running task every 10 ms: CPU taken from the device's core for
# nothing a run reads (measured: about 1 ms per request of a 25 ms part), so the lab's workers run without it.
DASK_ENV = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


class NetLabError(DeviceError):
    """A lab could not be built (a command failed, a worker died while starting)."""


@dataclass(frozen=True)
class LabDevice:
    """A device of a lab: its name (the Dask worker's) and the CPU it is pinned to (None: not pinned)."""

    name: str
    cpu: int | None = None


@dataclass(frozen=True)
class LabLink:
    """A directed link: what ``source`` sends to ``target`` is shaped to ``bandwidth`` bytes/s."""

    source: str
    target: str
    bandwidth: float


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why a lab cannot be built on this machine, or None when it can (tried once: a namespace holding a veth
    shaped with tbf is made and removed)."""
    if os.geteuid() != 0:
        return "network namespaces and tc need root"
    missing = [tool for tool in ("ip", "tc", "taskset") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (packages iproute2, util-linux)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    with _locked(LOCK):  # two threads asking at once would make the same namespace
        try:
            _ip("netns", "add", probe)
            _ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
            _shape(probe, "p0", 1e6)
        except NetLabError as err:
            return f"this machine does not allow it ({err})"
        finally:
            subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@dataclass
class NetLab:
    """Devices as Dask workers in network namespaces joined by rate-limited veths (see the module docstring).

    Use as a context manager; ``address`` is the scheduler's, ``workers`` maps device names to worker addresses.
    """

    devices: Sequence[LabDevice]
    links: Sequence[LabLink]
    prefix: str = PREFIX
    python: str = sys.executable
    worker_env: dict[str, str] = field(default_factory=dict)  # extra environment of the workers
    address: str = ""
    workers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [d.name for d in self.devices]
        if not names or len(names) > MAX_DEVICES:
            raise DeviceSpecError(f"a lab holds 1 to {MAX_DEVICES} devices, got {len(names)}")
        if len(set(names)) != len(names):
            raise DeviceSpecError(f"device names must be unique: {names}")
        for link in self.links:
            if link.source not in names or link.target not in names or link.source == link.target:
                raise DeviceSpecError(f"link {link.source} -> {link.target}: not two different devices of the lab")
            if not link.bandwidth > 0:
                raise DeviceSpecError(f"link {link.source} -> {link.target}: bandwidth must be positive")
        if not self.prefix.isalnum() or len(self.prefix) > 4:
            raise DeviceSpecError(f"prefix {self.prefix!r}: at most 4 letters or digits")
        self.tag = f"{self.prefix}{os.getpid()}-{next(_SERIAL)}"
        self.net: int | None = None  # picked when built (:func:`free_net`)
        self.namespaces: list[str] = []
        self.host_links: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self._dir: Path | None = None
        self._handlers: dict[int, object] = {}

    # --- addresses ---
    def device_ip(self, i: int) -> str:
        return f"10.{self.net}.0.{i + 1}"

    @property
    def scheduler_ip(self) -> str:
        return f"10.{self.net}.255.254"

    def namespace(self, i: int) -> str:
        return f"{self.tag}-{i}"

    def host_link(self, i: int) -> str:
        """The root end of device i's control veth (named by the network: unique among live labs, and short)."""
        return f"{self.prefix}{self.net}h{i}"

    def reshape(self, source: str, target: str, bandwidth: float) -> None:
        """Set the rate of the lab's link ``source -> target`` to ``bandwidth`` bytes/s (``tc qdisc change`` of its
        tbf, bucket and queue scaled as when built): a link that changes speed under a running lab, as a real one
        may. NetLabError for a direction the lab did not shape."""
        index = {d.name: i for i, d in enumerate(self.devices)}
        if not self.namespaces:
            raise NetLabError(f"link {source} -> {target}: the lab is not running")
        if not any(l.source == source and l.target == target for l in self.links):
            raise NetLabError(f"link {source} -> {target}: not a shaped link of this lab")
        if not bandwidth > 0:
            raise NetLabError(f"link {source} -> {target}: bandwidth must be positive")
        _shape(self.namespace(index[source]), f"d{index[target]}", bandwidth, "change")

    # --- life cycle ---
    def __enter__(self) -> NetLab:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS[1:]:
                self._handlers[sig] = signal.signal(sig, _interrupt)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _build(self) -> None:
        why = unavailable()
        if why:
            raise NetLabError(f"cannot build a network lab: {why}")
        self._dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        with _locked(LOCK):
            self.net = free_net(_root_addresses(), os.getpid())
            self._build_network()
        self._start_scheduler()
        for i, device in enumerate(self.devices):
            self._start_worker(i, device)
        self._wait_for_workers()

    def _build_network(self) -> None:
        n = len(self.devices)
        for i in range(n):
            ns = self.namespace(i)
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{self.device_ip(i)}/32", "dev", "lo")
            root_end = self.host_link(i)
            _ip("link", "add", root_end, "type", "veth", "peer", "name", "host", "netns", ns)
            self.host_links.append(root_end)
            _ip("link", "set", root_end, "up")
            _ip("-n", ns, "link", "set", "host", "up")
            if i == 0:
                _ip("addr", "add", f"{self.scheduler_ip}/32", "dev", root_end)
            _ip("route", "add", f"{self.device_ip(i)}/32", "dev", root_end, "src", self.scheduler_ip)
            _ip("-n", ns, "route", "add", "default", "dev", "host", "src", self.device_ip(i))
        index = {d.name: i for i, d in enumerate(self.devices)}
        rates = {(index[l.source], index[l.target]): l.bandwidth for l in self.links}
        for a in range(n):
            for b in range(a + 1, n):
                if (a, b) not in rates and (b, a) not in rates:
                    _ip("-n", self.namespace(a), "route", "add", "unreachable", f"{self.device_ip(b)}/32")
                    _ip("-n", self.namespace(b), "route", "add", "unreachable", f"{self.device_ip(a)}/32")
                    continue
                _ip("link", "add", f"d{b}", "netns", self.namespace(a), "type", "veth", "peer", "name", f"d{a}",
                    "netns", self.namespace(b))  # fmt: skip
                for x, y in ((a, b), (b, a)):
                    ns, dev = self.namespace(x), f"d{y}"
                    _ip("-n", ns, "link", "set", dev, "up")
                    _ip("-n", ns, "route", "add", f"{self.device_ip(y)}/32", "dev", dev, "src", self.device_ip(x))
                    if (x, y) in rates:
                        _shape(ns, dev, rates[(x, y)])

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen:
        """Start ``argv`` in its own process group (so Ctrl-C reaches us, and we end it whole), logging to a file."""
        env = {**os.environ, **DASK_ENV, **self.worker_env}
        env["DASK_TEMPORARY_DIRECTORY"] = str(self._dir)  # Dask's scratch space goes with the lab
        try:
            with open(self._dir / log, "wb") as out:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)  # fmt: skip
        except OSError as err:
            raise NetLabError(f"cannot start {log.removesuffix('.log')}: {err}") from None
        self.processes.append(proc)
        return proc

    def _start_scheduler(self) -> None:
        file = self._dir / "scheduler.json"
        proc = self._spawn([self.python, "-m", "distributed.cli.dask_scheduler", "--host", self.scheduler_ip,
                            "--port", "0", "--no-dashboard", "--scheduler-file", str(file)], "scheduler.log")  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not file.exists():
            self._check_alive(proc, "the scheduler", "scheduler.log", deadline)
            time.sleep(0.1)
        while True:
            try:
                self.address = json.loads(file.read_text())["address"]
                return
            except (ValueError, KeyError):  # written but not complete yet
                self._check_alive(proc, "the scheduler", "scheduler.log", deadline)
                time.sleep(0.1)

    def _start_worker(self, i: int, device: LabDevice) -> None:
        pin = ["taskset", "-c", str(device.cpu)] if device.cpu is not None else []
        self._spawn(["ip", "netns", "exec", self.namespace(i), *pin, self.python, "-m", "distributed.cli.dask_worker",
                     self.address, "--host", self.device_ip(i), "--name", device.name, "--nthreads", "1",
                     "--no-nanny", "--no-dashboard", "--death-timeout", str(int(START_TIMEOUT))],
                    f"worker-{i}.log")  # fmt: skip

    def _wait_for_workers(self) -> None:
        distributed = require("distributed", "farm", "a network lab")
        deadline = time.monotonic() + START_TIMEOUT
        with distributed.Client(self.address, timeout=START_TIMEOUT) as client:
            while True:
                info = client.sync(client.scheduler.identity, n_workers=-1)["workers"]
                found = {w["name"]: address for address, w in info.items()}
                if all(d.name in found for d in self.devices):
                    self.workers = {d.name: found[d.name] for d in self.devices}
                    return
                for i, proc in enumerate(self.processes[1:]):
                    self._check_alive(proc, f"the worker of {self.devices[i].name}", f"worker-{i}.log", deadline)
                time.sleep(0.2)

    def _check_alive(self, proc: subprocess.Popen, what: str, log: str, deadline: float) -> None:
        if proc.poll() is not None:
            raise NetLabError(f"{what} ended while starting (exit {proc.returncode}): {_tail(self._dir / log)}")
        if time.monotonic() > deadline:
            raise NetLabError(f"{what} did not start within {START_TIMEOUT:g} s: {_tail(self._dir / log)}")

    def close(self) -> None:
        """Remove everything the lab made, in reverse: processes, namespaces, control links, the log folder.

        Ctrl-C, SIGTERM and SIGHUP are ignored meanwhile: a second signal (``timeout`` sends one to the child
        and one to its group) must not stop the cleanup half-way.
        """
        main = threading.current_thread() is threading.main_thread()
        held = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _SIGNALS} if main else {}
        try:
            self._remove()
        finally:
            for sig, handler in held.items():
                signal.signal(sig, handler)
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)
            self._handlers.clear()

    def _remove(self) -> None:
        for proc in reversed(self.processes):
            _end(proc)
        self.processes.clear()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()
        for link in reversed(self.host_links):  # gone with their peers already; kept in case a peer was not made
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        self.host_links.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def free_net(used: str, pid: int) -> int:
    """The first ``net`` of ``NETS``, from ``16 + pid % 240`` on and round, that ``used`` (the text of the root
    namespace's addresses and routes) does not mention as ``10.<net>.``: NetLabError when every one is taken."""
    taken = {int(m) for m in re.findall(r"(?<![\d.])10\.(\d{1,3})\.", used)}
    start = pid % len(NETS)
    for k in range(len(NETS)):
        net = NETS[(start + k) % len(NETS)]
        if net not in taken:
            return net
    raise NetLabError(f"no free network 10.N.0.0/16 for a lab (N in {NETS.start}..{NETS.stop - 1}): all in use")


def _root_addresses() -> str:
    """The root namespace's IPv4 addresses and routes (every table), as ``ip`` prints them."""
    return "\n".join(subprocess.run(["ip", "-4", *args], capture_output=True, text=True).stdout
                     for args in (["-o", "addr", "show"], ["route", "show", "table", "all"]))  # fmt: skip


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) for the block: labs of any process, one at a time.
    The file is opened without following a link (a world-writable folder; we are root)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file lets the lock go


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _ip(*args: str) -> None:
    _run(["ip", *args])


def _shape(ns: str, dev: str, bandwidth: float, verb: str = "add") -> None:
    """Limit what ``dev`` in ``ns`` sends to ``bandwidth`` bytes/s with a token bucket (tbf); ``verb`` ``change``
    sets the rate of the tbf already there."""
    burst = max(MIN_BURST, int(bandwidth * BURST_SECONDS))
    limit = max(MIN_QUEUE, int(bandwidth * QUEUE_SECONDS))
    _run(["ip", "netns", "exec", ns, "tc", "qdisc", verb, "dev", dev, "root", "tbf", "rate", f"{int(bandwidth * 8)}bit",
          "burst", str(burst), "limit", str(limit)])  # fmt: skip


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise NetLabError(f"'{' '.join(argv)}' failed: {done.stderr.strip() or done.returncode}")


def _end(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """End ``proc``'s process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # the leader may be gone while others of its group linger
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


def lab_namespaces(prefix: str = PREFIX) -> list[str]:
    """The network namespaces of labs with ``prefix`` on this machine."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix) and "-" in n and n[len(prefix):].split("-")[0].isdigit()]


def sweep(prefix: str = PREFIX) -> list[str]:
    """Remove the namespaces of labs whose owner process is gone (killed with SIGKILL); returns their names."""
    removed = []
    for ns in lab_namespaces(prefix):
        owner = int(ns[len(prefix):].split("-")[0])
        if not Path(f"/proc/{owner}").exists():
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            removed.append(ns)
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*-*"):
        owner = folder.name[len(prefix):].split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _kill_users(folder)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


def _kill_users(folder: Path) -> None:
    """Kill the processes whose command line names ``folder`` (a dead lab's scheduler, in the root namespace)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(folder).encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def _device_arg(text: str) -> LabDevice:
    name, _, cpu = text.partition("@")
    if not name or (cpu and not cpu.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME or NAME@CPU")
    return LabDevice(name, int(cpu) if cpu else None)


def _link_arg(text: str) -> LabLink:
    try:
        source, target, bandwidth = text.split(",")
        return LabLink(source, target, float(bandwidth))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use FROM,TO,BYTES_PER_SECOND") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m devices.netlab up --device A@0 --device B@1 --link A,B,1.25e8 --link B,A,1.25e8``: build a lab,
    print its scheduler and workers as JSON, hold it until Ctrl-C or SIGTERM, then remove it; ``sweep``: remove
    the namespaces of labs whose owner was killed."""
    parser = argparse.ArgumentParser(prog="python -m devices.netlab", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="build a lab and hold it until interrupted")
    up.add_argument("--device", action="append", type=_device_arg, required=True, metavar="NAME[@CPU]")
    up.add_argument("--link", action="append", type=_link_arg, default=[], metavar="FROM,TO,BYTES_PER_S")
    commands.add_parser("sweep", help="remove the namespaces of labs whose owner is gone")
    args = parser.parse_args(argv)
    if args.command == "sweep":
        for ns in sweep():
            print(f"removed {ns}")
        return 0
    try:
        with NetLab(args.device, args.link) as lab:
            print(json.dumps({"scheduler": lab.address, "workers": lab.workers}), flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        return 130
    except DeviceError as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
