"""Optional libraries: import one, or say which extra of nnpart installs it.

The core install (``pip install -e .``) partitions models and graphs. The onert runtime, plotting and
TensorFlow come with the extras ``onert``, ``plot`` and ``keras`` (all three with ``test``). devices/ raises
``devices.errors.MissingExtraError`` for onert with the same words (it cannot import solver/).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from devices.errors import missing_extra_message
from solver.errors import MissingExtraError, UsageError

PLOT_FORMATS = ("png", "svg", "pdf")


def require(module: str, extra: str, what: str) -> ModuleType:
    """The imported ``module``; if it is not installed, :class:`MissingExtraError` naming ``extra``.

    ``what`` says what needs it ("plotting the front"), for the message. Call it where the library is
    needed (inside the function), so that importing the caller stays cheap.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(missing_extra_message(module, extra, what)) from err


def require_installed(module: str, extra: str, what: str) -> None:
    """Like :func:`require`, without importing ``module`` here (for libraries used in a child process)."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(missing_extra_message(module, extra, what))


def pyplot(what: str) -> ModuleType:
    """matplotlib's pyplot drawing to files (the Agg backend, no display), or MissingExtraError naming ``plot``."""
    matplotlib = require("matplotlib", "plot", what)
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "plot", what)


def plot_format(path: str | Path) -> str:
    """The image format a plot's file name asks for (png, svg or pdf); a UsageError for any other extension.

    Commands check it before their work, so a misnamed plot file fails at once, not after a long search.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise UsageError(f"{path}: a plot is written as {', '.join(PLOT_FORMATS)}, named by the file's extension")
    return suffix
