"""The ``solve`` command line: a thin layer that parses options and calls the library.

Each subcommand lives in ``solver/commands/<module>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``run(args) -> int``. :data:`COMMANDS` names every command with its module and one-line
help, so ``solve --help`` lists them all while only the chosen command's module is imported (the libraries
of all commands together, OR-Tools, pymoo, onert and the like, take seconds to load). Errors of nnpart
(``NnpartError`` and the device and heuristic errors) become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import signal
import sys
import threading
from dataclasses import dataclass

from solver import __version__
from solver.errors import EXIT_BROKEN_PIPE, EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE, USER_ERRORS


@dataclass(frozen=True)
class Command:
    """A subcommand as ``solve --help`` lists it: the module that registers it and its one-line help."""

    module: str
    help: str


# The one-line helps must equal the ones the modules register (tests/test_cli.py checks it).
COMMANDS = {
    "partition": Command(
        "solver.commands.partition", "split a model into K pipeline stages with the least bottleneck; write partition_map.json"
    ),
    "compare": Command("solver.commands.compare", "compare ONE's MinMax, our order search and the exact solver for several K"),
    "place": Command(
        "solver.commands.place",
        "partition a model across heterogeneous devices and links (a platform file) and place the parts",
    ),
    "profile": Command(
        "solver.commands.profile", "measure per-op times of a model on onert (writes a Chrome trace for solve partition)"
    ),
    "oplist": Command(
        "solver.commands.oplist", "write ONE's oplist.json of a model (op types, or op groups by type and data size)"
    ),
    "brute-force": Command(
        "solver.commands.brute_force", "measure every backend assignment of a model and write ONE's brute-force dump"
    ),
    "pareto": Command("solver.commands.pareto", "search the time-vs-memory Pareto front of backend assignments"),
    "split": Command("solver.commands.split", "write one runnable .tflite per part, the connection files, and verify them"),
    "verify": Command("solver.commands.verify", "check that the parts of a split compute the whole model's outputs"),
    "run": Command(
        "solver.commands.run",
        "run the parts of a split one after another on their backends and measure the end-to-end latency",
    ),
    "pipeline": Command(
        "solver.commands.pipeline", "measure the parts of a split as a pipeline against the prediction and the whole model"
    ),
    "show": Command(
        "solver.commands.show", "draw a partition or placement on the model's graph: an HTML report, Model Explorer overlays"
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``solve`` parser; only ``command``'s module is imported, the others are listed by name and help."""
    parser = argparse.ArgumentParser(
        prog="solve",
        description="Partition neural-network models into pipeline stages (exactly, with CP-SAT) and "
        "search backend assignments (Pareto fronts of time and memory).",
        epilog="exit status:\n" + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (nnpart) {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, entry in COMMANDS.items():
        if name == command:
            importlib.import_module(entry.module).register(subparsers)
        else:
            subparsers.add_parser(name, help=entry.help, add_help=False)
    return parser


def chosen_command(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the top level has no valued options)."""
    return next((word for word in argv if not word.startswith("-")), None)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: long work stops the same way and keeps its best answer."""


_signalled = False  # a SIGINT or SIGTERM arrived during this run


def _on_signal(signum, frame) -> None:
    global _signalled
    _signalled = True
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run ``solve`` with ``argv`` (default: the command line) and return its exit status.

    As the program's entry point (``argv`` None), after a Ctrl-C or SIGTERM it leaves with ``os._exit`` once its
    output is flushed: CP-SAT's native threads, stopped but still being torn down, made the interpreter's own
    exit abort in C++ ("terminate called without an active exception") after the answer was printed.
    """
    installed = threading.current_thread() is threading.main_thread()
    if installed:
        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = _main(sys.argv[1:] if argv is None else argv)
    finally:
        if installed and argv is not None:
            # Called in-process (tests, scripts): leave the caller's handlers as they were.
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if _signalled and argv is None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass  # a closed pipe: nothing more can be said
        os._exit(status)
    return status


def _main(argv: list[str]) -> int:
    try:
        parser = build_parser(chosen_command(argv))
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            # argparse's --help and --version leave here with their text still buffered: flush it now, so that a
            # closed pipe is noticed below and not by the interpreter's exit (status 120).
            sys.stdout.flush()
            raise
        if args.command is None:
            parser.print_help()
            status = EXIT_OK
        else:
            status = args.run(args)
        sys.stdout.flush()  # here, so that a closed pipe is noticed below and not at interpreter exit
        return status
    except USER_ERRORS as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return getattr(err, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt as err:
        terminated = isinstance(err, Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a pipe to a worker or a board broke: a real failure
        # The reader of our output went away (``solve ... | head``): stop quietly, like a tool killed by SIGPIPE.
        # Pointing stdout at /dev/null keeps the interpreter's final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reading end is closed (poll reports an error on the writing end)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no fileno (captured stdout) or no poll (Windows)
        return False


if __name__ == "__main__":
    sys.exit(main())
