"""The links of a placed run fitted again right after it, against the calibration's fits: a link's drift.

Why: the calibrated prediction rests on each link's fit (``overhead + bytes / bandwidth``, a ping-pong through the
engine before the run, ``solver.deploy.placed.calibrate_links``). A link-bound row moved by 9% between two
sessions with the same tbf rate, and nothing said whether the link or the model had moved. So, like the parts'
compute (``solver.deploy.partcompute.drift``), every link the run used is timed again right after the timed
requests by the same ping-pong and fitted the same way, and the calibrated prediction is made again with those
fits (the caller's: deploy does not import placement) as a second figure beside the first.

Model of the drift of one link (a -> b): its time per request in the calibrated prediction (its messages' bytes
over the fitted bandwidth plus one overhead per message), ``before_us`` with the calibration's fit and ``after_us``
with the re-fit (the same prediction made again). The link drifted when ``|after_us - before_us|`` exceeds
``LINK_DRIFT_TOLERANCE`` of the calibrated period (the figure the verdict rests on: a link carrying 2 ms of a
40 ms period may move by 50% and move no verdict; on a link-bound map the period is the link's own time, so the
tolerance is relative to it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from solver.deploy.partcompute import DRIFT_TOLERANCE
from solver.io.linkfile import LinkFit
from solver.io.platform import Platform

LINK_DRIFT_TOLERANCE = DRIFT_TOLERANCE  # the compute's: half the 10% a prediction aims at
AFTER_RUN = "after-run"  # the label of the prediction made again with the links re-fitted after the run


@dataclass(frozen=True)
class LinkCheck:
    """What a placed run needs to re-fit its links after the timed requests: the platform (its bandwidths size the
    ping-pong, as the calibration's), the calibration's fits, the calibrated prediction (``Prediction`` of
    ``solver.deploy.placed``) and ``repredict``: the same prediction made with other fits (every fit of
    ``fits`` with the re-fitted ones in their place), labelled ``AFTER_RUN``."""

    platform: Platform
    fits: Sequence[LinkFit]
    prediction: object
    repredict: Callable[[list[LinkFit]], object]


@dataclass(frozen=True)
class LinkDrift:
    """One link the run used: its fit before the run (the calibration's) and right after it, and its time per
    request in the calibrated prediction with each (module docstring); ``scale_us``, the calibrated period."""

    source: str
    target: str
    before: LinkFit
    after: LinkFit
    before_us: float
    after_us: float
    scale_us: float

    @property
    def change(self) -> float:
        return self.after_us / self.before_us - 1 if self.before_us > 0 else float("nan")

    @property
    def moved_us(self) -> float:
        return self.after_us - self.before_us

    @property
    def drifted(self) -> bool:
        return abs(self.moved_us) > LINK_DRIFT_TOLERANCE * self.scale_us

    def to_json(self) -> dict:
        change = self.change
        return {"from": self.source, "to": self.target, "before": self.before.to_json(), "after": self.after.to_json(),
                "before_us": self.before_us, "after_us": self.after_us, "change": change if change == change else None,
                "moved_us": self.moved_us, "scale_us": self.scale_us, "drifted": self.drifted}  # fmt: skip


def replaced(fits: Sequence[LinkFit], refits: Sequence[LinkFit]) -> list[LinkFit]:
    """``fits`` with each link re-fitted in ``refits`` in its place (the others kept)."""
    new = {(f.source, f.target): f for f in refits}
    return [new.get((f.source, f.target), f) for f in fits]


def link_drifts(check: LinkCheck, refits: Sequence[LinkFit], after) -> list[LinkDrift]:
    """Per re-fitted link, its drift (module docstring): ``after`` is ``check.repredict`` of the re-fitted links."""
    before = {(f.source, f.target): f for f in check.fits}
    drifts = []
    for f in refits:
        pair = (f.source, f.target)
        drifts.append(LinkDrift(*pair, before[pair], f, check.prediction.link_us.get(pair, 0.0),
                                after.link_us.get(pair, 0.0), check.prediction.period_us))  # fmt: skip
    return drifts
