"""The run journal: every measurement appended to a JSON-lines file as it arrives, so nothing is measured twice.

A run killed at any moment (even by SIGKILL) loses at most the measurement in flight: each line is
written, flushed and fsynced before the search goes on. Running the same command again reads the
journal back and answers those points from it. One line per measurement::

    {"model_sha256": ..., "device": ..., "measure": {warmup, repeats, ...}, "config": {backends, op_types,
     op_indices, settings}, "measurement": {valid, reason, times_ms, peak_rss_kb, ...}, "at": unix time}

A line is reused when it was measured on the same model, with the same measurement settings, on one of
the devices of this run, and its configuration is a point of this run's space; every other line is kept
in the file but not used, and :class:`Reuse` says why (so a run with changed options tells what it
reuses and what it cannot). A torn last line (the process died while writing it) is skipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from devices.base import BackendConfig, Measurement, MeasureSettings, SessionMemory
from solver.assignment.space import SearchSpace


def journal_path(out: Path) -> Path:
    """The journal kept next to an output file."""
    return out.with_name(out.name + ".journal.jsonl")


@dataclass
class Reuse:
    """What a journal gave a run: the points reused and, per reason, the lines not used."""

    path: Path
    reused: dict[tuple[int, ...], Measurement] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)  # reason -> lines
    rounds: dict[tuple[int, ...], list[Measurement]] = field(default_factory=dict)  # later rounds of a point

    def describe(self) -> str:
        """One line for the user, e.g. 'journal run.journal.jsonl: reused 12 measurements; not reused: 3 other
        measurement settings (repeats 3, ...)'; empty when the journal held nothing."""
        if not self.reused and not self.skipped:
            return ""
        text = f"journal {self.path}: reused {len(self.reused)} measurement(s)"
        if self.skipped:
            text += "; not reused: " + ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())
        return text


def _config_json(config: BackendConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _config(document: dict) -> BackendConfig:
    return BackendConfig(
        tuple(document["backends"]),
        tuple((t, b) for t, b in document["op_types"]),
        tuple((int(i), b) for i, b in document["op_indices"]),
        tuple((k, v) for k, v in document["settings"]),
    )


def _measurement(document: dict) -> Measurement:
    known = {f.name for f in dataclasses.fields(Measurement)}
    fields = {k: v for k, v in document.items() if k in known}
    if fields.get("memory") is not None:
        fields["memory"] = SessionMemory(int(fields["memory"]["before_kb"]), int(fields["memory"]["peak_kb"]))
    return Measurement(**fields)


class Journal:
    """Appends measurements of one model under one set of measurement settings (see the module docstring)."""

    def __init__(self, path: Path, model_sha256: str, measure: MeasureSettings, device: str):
        self.path = Path(path)
        self.model_sha256 = model_sha256
        self.measure = dataclasses.asdict(measure)
        self.device = device  # the device name recorded when the measurer does not name one

    def record(self, config: BackendConfig, measurement: Measurement, measure: MeasureSettings | None = None,
               device: str | None = None) -> None:  # fmt: skip
        """Append one measurement (made with ``measure``, default the journal's: another round) and make it
        durable before returning."""
        line = {
            "model_sha256": self.model_sha256,
            "device": device or self.device,
            "measure": dataclasses.asdict(measure) if measure is not None else self.measure,
            "config": _config_json(config),
            "measurement": {k: v for k, v in dataclasses.asdict(measurement).items() if k != "trace"},
            "at": round(time.time(), 3),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def load(self, space: SearchSpace, devices: set[str]) -> Reuse:
        """The measurements of this journal that this run may reuse; later rounds of a point add their runs."""
        reuse = Reuse(self.path)
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return reuse
        for text in lines:
            try:
                line = json.loads(text)
                config, measurement = _config(line["config"]), _measurement(line["measurement"])
            except (ValueError, KeyError, TypeError):
                reuse.skipped["unreadable line(s)"] += 1
                continue
            why = self._mismatch(line, devices)
            if why is None:
                try:
                    genes = space.genes_of_id(space.id_of_config(config))
                    why = None if space.config(genes) == config else "configuration(s) outside this space"
                except ValueError:
                    why = "configuration(s) outside this space"
            if why is not None:
                reuse.skipped[why] += 1
            elif genes in reuse.reused and line["measure"].get("round", 0):
                reuse.rounds[genes] = reuse.rounds.get(genes, []) + [measurement]
            else:
                reuse.reused[genes] = measurement
        return reuse

    def _mismatch(self, line: dict, devices: set[str]) -> str | None:
        if line.get("model_sha256") != self.model_sha256:
            return "of another model"
        other = dict(line.get("measure") or {})
        if {**other, "round": 0, "layout": 0} != {**self.measure, "round": 0, "layout": 0}:  # both vary by round
            changed = ", ".join(f"{k} {other.get(k)}" for k in self.measure if other.get(k) != self.measure[k])
            return f"under other measurement settings ({changed})"
        if line.get("device") not in devices:
            return f"from device {line.get('device')}"
        return None
