"""Command-line options shared by the commands that measure: the device and a backend configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

from devices.base import BackendConfig, Device
from devices.schemes import SCHEMES
from solver.errors import UsageError
from solver.io.optypes import ONERT_TYPES


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device`` and how to reach it."""
    group = parser.add_argument_group("device")
    group.add_argument("--device", default="local", metavar="SPEC",
                       help="where to measure: " + ", ".join(_described(s) for s in SCHEMES)
                            + ", or a brute-force dump .json")  # fmt: skip
    group.add_argument("--identity", metavar="KEY", help="ssh: private key file (default: your ssh configuration)")
    group.add_argument("--board-python", metavar="PATH", help="ssh/sdb: Python with onert on the board (default python3)")
    group.add_argument("--workdir", metavar="DIR", help="ssh/sdb: work directory on the board (default /tmp/nnpart)")
    group.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the measurement cache ($NNPART_CACHE_DIR or ~/.cache/nnpart)")
    group.add_argument("--refresh", action="store_true",
                       help="measure again and replace what the measurement cache holds")


def _described(scheme) -> str:
    """A kind of device in the ``--device`` help: ``local (onert here, the default)``."""
    default = ", the default" if scheme.name == "local" else ""
    return f"{scheme.form} ({scheme.what}{default})"


def add_memory_arguments(parser: argparse.ArgumentParser) -> None:
    """``--memory-figure`` and ``--layouts``: how a live measurement counts a point's memory (docs/memory.md)."""
    group = parser.add_argument_group("memory figure (live measurements)")
    group.add_argument("--memory-figure", choices=("process", "session"), default="process",
                       help="rank points by the measuring process's peak RSS (process, ONE's figure, the default) "
                            "or by what the session added to it (session: the interpreter and onert's import left "
                            "out)")  # fmt: skip
    group.add_argument("--layouts", action="store_true",
                       help="measure round r under process layout r, so the median of the rounds is not one draw "
                            "of glibc's allocation history (needs --rounds of 2 or more to matter)")


def add_farm_arguments(parser: argparse.ArgumentParser) -> None:
    """``--devices FILE`` and ``--cluster``: measure on a farm of devices through Dask (devices.farm)."""
    group = parser.add_argument_group("farm of devices (needs the extra 'farm': dask distributed)")
    group.add_argument("--devices", type=Path, metavar="FILE",
                       help="measure on every device listed in FILE (one spec per line: "
                            + ", ".join(s.short for s in SCHEMES)
                            + ", then key=value options), one measurement per device at a time")  # fmt: skip
    group.add_argument("--cluster", metavar="ADDRESS",
                       help="the Dask cluster of the farm: local:N (start N local workers; default one per device) "
                            "or tcp://HOST:PORT (an existing scheduler with a worker per device)")  # fmt: skip


def device_from_args(args: argparse.Namespace, spec: str | None = None) -> Device:
    """The device ``spec`` (default: ``--device``) names, reached as the options say (a dump .json is a
    lookup device: ``open_spec`` decides)."""
    from solver.assignment.offline import open_spec

    options = {}
    if args.identity:
        options["identity"] = args.identity
    if args.board_python:
        options["python"] = args.board_python
    if args.workdir:
        options["workdir"] = args.workdir
    if args.refresh:
        options["refresh"] = True
    return open_spec(spec or args.device, cache=not args.no_cache, **options)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """A backend configuration: default backend list, per-op-type and per-op-index backends, settings."""
    group = parser.add_argument_group("backend configuration")
    group.add_argument("--backends", default="cpu", metavar="B1,B2",
                       help="backends to load; the first runs every op not assigned otherwise (default cpu)")
    group.add_argument("--op-type", action="append", default=[], metavar="TYPE=BACKEND",
                       help="run every op of an onert op type on a backend (OP_BACKEND_<TYPE>), e.g. Conv2D=ruy; "
                            "a TFLite name (CONV_2D) is turned into onert's; repeatable")  # fmt: skip
    group.add_argument("--op-map", default="", metavar="I=B;...",
                       help="run single ops (by TFLite operator index) on backends (OP_BACKEND_MAP), e.g. '0=ruy;5=ruy'")
    group.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                       help="other onert variables, e.g. EXECUTOR=Dataflow or NUM_THREADS=1; repeatable")


def _pairs(words: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"{what} {word!r} is not NAME=VALUE")
        key, value = key.strip(), value.strip()
        # onert reads NUM_THREADS as an integer and fails deep inside a session on anything else
        if key == "NUM_THREADS" and not value.lstrip("-").isdigit():
            raise UsageError(f"{what} {word!r}: NUM_THREADS takes a whole number")
        pairs.append((key, value))
    return pairs


def split_backends(text: str) -> tuple[str, ...]:
    """``"cpu,ruy"`` (or ``"cpu;ruy"``) -> ("cpu", "ruy")."""
    names = tuple(b.strip() for b in text.replace(";", ",").split(",") if b.strip())
    if not names:
        raise UsageError("--backends needs at least one backend")
    return names


def config_from_args(args: argparse.Namespace) -> BackendConfig:
    """The configuration the options describe; every backend used is loaded."""
    backends = list(split_backends(args.backends))
    # onert configures backends per IR op type (OP_BACKEND_Conv2D) and silently ignores a TFLite name (CONV_2D).
    op_types = [(ONERT_TYPES.get(name, name), backend) for name, backend in _pairs(args.op_type, "--op-type")]
    op_indices = []
    for index, backend in _pairs([w for w in args.op_map.split(";") if w.strip()], "--op-map entry"):
        if not index.isdigit():
            raise UsageError(f"--op-map: {index!r} is not an operator index")
        op_indices.append((int(index), backend))
    for _, backend in op_types + op_indices:
        if backend not in backends:
            backends.append(backend)
    return BackendConfig(tuple(backends), tuple(op_types), tuple(op_indices), tuple(_pairs(args.setting, "--setting")))
