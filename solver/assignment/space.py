"""The search space of backend assignments: decisions, allowed backends, global onert settings, ONE's ids.

A point of the space is a vector of *genes*, one per free decision and one per settings variable:

- a **decision** chooses the backend of one onert op type (name mode, ``oplist[k]``) or of one group of
  ops with the same (TFLite op name, data size) (index mode, ``opmap[i] == k``). Its allowed backends are
  those the device can run for every op type the decision covers, so no point the device cannot run is
  ever proposed. A decision with a single allowed backend is fixed and has no gene.
- a **settings variable** (``EXECUTOR``, ``CPU_MEMORY_PLANNER``, ``NUM_THREADS``) chooses one of its values.

The gene of a decision is a position in its list of allowed backends; the gene of a setting a position in
its values. ONE's solution id is kept: decision k is the base-b digit k of the id (b = number of backends,
least significant first; digit = backend number in ``backends``), and the settings follow as mixed-radix
digits above the b**n backend ids, so a space without settings has exactly ONE's ids. Index mode has one
digit per group, ``max(opmap) + 1`` digits (ONE's index mode used ``max(opmap)``, one too few, so its last
group could never leave backend 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from devices.base import BackendConfig
from solver.assignment.oneids import digits_to_id, id_to_digits
from solver.assignment.settings import Setting
from solver.errors import DumpError, UsageError

if TYPE_CHECKING:
    from solver.assignment.planned import PlannerModel

@dataclass(frozen=True)
class Decision:
    """One digit of ONE's id: the backend of an op type (name mode) or of an op group (index mode)."""

    label: str  # the op type, or "group k (<op types>)"
    op_types: frozenset[str]  # onert op types of the ops it covers
    ops: tuple[int, ...]  # op indices it covers (index mode; empty in name mode)
    allowed: tuple[int, ...]  # backend numbers the device can run for all of op_types


@dataclass(frozen=True)
class SearchSpace:
    """Decisions and settings over a numbered backend list, with conversions genes <-> id <-> config."""

    mode: str  # "name" or "index"
    backends: tuple[str, ...]  # backend number -> backend name (a digit's value)
    decisions: tuple[Decision, ...]
    settings: tuple[Setting, ...] = ()
    oplist: tuple[str, ...] = ()  # ONE's oplist: unique onert op types
    opmap: tuple[int, ...] | None = None  # index mode: group of op i
    opname_by_indx: tuple[str, ...] | None = None  # index mode: onert op type of op i
    # the model's memory planner over these decisions (solver.assignment.planned), when the model is at hand
    planned: PlannerModel | None = field(default=None, compare=False, repr=False)

    @property
    def free(self) -> tuple[int, ...]:
        """Indices of the decisions with more than one allowed backend (those with a gene)."""
        return tuple(k for k, d in enumerate(self.decisions) if len(d.allowed) > 1)

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Number of values of each gene: free decisions first, then settings."""
        return tuple(len(self.decisions[k].allowed) for k in self.free) + tuple(
            len(s.values) for s in self.settings
        )

    @property
    def num_genes(self) -> int:
        return len(self.cardinalities)

    @property
    def size(self) -> int:
        """Number of points (runnable configurations) in the space."""
        return math.prod(self.cardinalities)

    def point(self, ordinal: int) -> tuple[int, ...]:
        """The point number ``ordinal`` (0..size-1): genes as mixed-radix digits, least significant first."""
        if not 0 <= ordinal < self.size:
            raise ValueError(f"point {ordinal} is outside a space of {self.size} points")
        genes = []
        for card in self.cardinalities:
            ordinal, gene = divmod(ordinal, card)
            genes.append(gene)
        return tuple(genes)

    def points(self) -> Iterator[tuple[int, ...]]:
        """Every point in order of its number (the one enumeration of the space, for every brute force)."""
        for ordinal in range(self.size):
            yield self.point(ordinal)

    def check_genes(self, genes: Sequence[int]) -> tuple[int, ...]:
        """``genes`` as a tuple of ints, or ValueError when it is not a point of this space."""
        genes = tuple(int(g) for g in genes)
        cards = self.cardinalities
        if len(genes) != len(cards) or any(not 0 <= g < c for g, c in zip(genes, cards)):
            raise ValueError(f"{genes} is not a point of a space with gene cardinalities {cards}")
        return genes

    def digits(self, genes: Sequence[int]) -> list[int]:
        """Backend number of every decision (ONE's digits) at the point ``genes``."""
        genes = self.check_genes(genes)
        digits = [d.allowed[0] for d in self.decisions]
        for gene, k in zip(genes, self.free):
            digits[k] = self.decisions[k].allowed[gene]
        return digits

    def setting_values(self, genes: Sequence[int]) -> tuple[tuple[str, str], ...]:
        """(name, value) of every settings variable at the point ``genes``."""
        genes = self.check_genes(genes)
        chosen = genes[len(self.free) :]
        return tuple((s.name, s.values[g]) for s, g in zip(self.settings, chosen))

    def point_id(self, genes: Sequence[int]) -> int:
        """ONE's id of a point: backend digits in base b, then the settings as mixed-radix digits above."""
        genes = self.check_genes(genes)
        backend_id = digits_to_id(self.digits(genes), len(self.backends))
        settings_index = 0
        for setting, gene in reversed(list(zip(self.settings, genes[len(self.free) :]))):
            settings_index = settings_index * len(setting.values) + gene
        return backend_id + len(self.backends) ** len(self.decisions) * settings_index

    def genes_of_id(self, point_id: int) -> tuple[int, ...]:
        """The point whose id is ``point_id``; ValueError when the id puts a decision on a backend it
        cannot run or lies outside the space."""
        base = len(self.backends)
        settings_index, backend_id = divmod(point_id, base ** len(self.decisions))
        digits = id_to_digits(backend_id, base, len(self.decisions))
        genes = []
        for k in self.free:
            if digits[k] not in self.decisions[k].allowed:
                raise ValueError(f"id {point_id} puts {self.decisions[k].label} on a backend it cannot run")
            genes.append(self.decisions[k].allowed.index(digits[k]))
        for k, decision in enumerate(self.decisions):
            if len(decision.allowed) == 1 and digits[k] != decision.allowed[0]:
                raise ValueError(f"id {point_id} puts {decision.label} on a backend it cannot run")
        for setting in self.settings:
            settings_index, gene = divmod(settings_index, len(setting.values))
            genes.append(gene)
        if settings_index:
            raise ValueError(f"id {point_id} is outside the space")
        return tuple(genes)

    def id_of_config(self, config: BackendConfig) -> int:
        """ONE's id of any configuration over this space's decisions, point of the space or not.

        Precedence as in onert: an op's entry in ``op_indices``, then its op type in ``op_types``, then the
        default backend. ValueError when the ids cannot express ``config``: a backend not numbered, ops of
        one index-mode group on different backends, per-index entries in name mode, unknown settings.
        """
        per_type = dict(config.op_types)
        if self.mode == "name":
            if config.op_indices:
                raise ValueError("a name-mode space cannot express a per-op-index configuration")
            names = [per_type.get(d.label, config.backends[0]) for d in self.decisions]
        else:
            per_index = dict(config.op_indices)
            names = []
            for k, decision in enumerate(self.decisions):
                chosen = {per_index.get(i) or per_type.get(self.opname_by_indx[i]) or config.backends[0]
                          for i in decision.ops}  # fmt: skip
                if len(chosen) > 1:
                    raise ValueError(f"the configuration splits op group {k} across backends")
                names.append(chosen.pop())
        unknown = [b for b in names if b not in self.backends]
        if unknown:
            raise ValueError(f"the space has no backend {unknown[0]!r} ({', '.join(self.backends)})")
        values = dict(config.settings)
        extra = sorted(set(values) - {s.name for s in self.settings})
        if extra:
            raise ValueError(f"the space holds no onert setting {extra[0]} ({config.env_string()})")
        settings_index = 0
        for setting in reversed(self.settings):
            value = values.get(setting.name, setting.values[0])
            if value not in setting.values:
                raise ValueError(f"{setting.name}={value} is not one of {', '.join(setting.values)}")
            settings_index = settings_index * len(setting.values) + setting.values.index(value)
        backend_id = digits_to_id([self.backends.index(b) for b in names], len(self.backends))
        return backend_id + len(self.backends) ** len(self.decisions) * settings_index

    def config(self, genes: Sequence[int]) -> BackendConfig:
        """The onert configuration of a point: every decision's ops on its backend, plus the settings."""
        names = [self.backends[d] for d in self.digits(genes)]
        settings = self.setting_values(genes)
        if self.mode == "name":
            op_types = tuple((d.label, b) for d, b in zip(self.decisions, names))
            return BackendConfig(backends=self.backends, op_types=op_types, settings=settings)
        op_indices = tuple(sorted((i, b) for d, b in zip(self.decisions, names) for i in d.ops))
        return BackendConfig(backends=self.backends, op_indices=op_indices, settings=settings)

    def describe(self) -> str:
        """One line: mode, decisions (free of total), settings and size."""
        settings = ", ".join(s.name for s in self.settings) or "no settings"
        return (
            f"{self.mode} mode: {len(self.free)} free of {len(self.decisions)} decisions over "
            f"{'/'.join(self.backends)}, {settings}; {self.size} points"
        )


def env_lines(config: BackendConfig) -> list[str]:
    """The configuration as the environment lines onert reads (``BACKENDS`` first), ready to export."""
    lines = [f'BACKENDS="{";".join(config.backends)}"']
    for key, value in config.environment().items():
        lines.append(f'{key}="{value}"' if ";" in value or " " in value else f"{key}={value}")
    return lines


def restrict_to_ids(space: SearchSpace, ids: Sequence[int]) -> SearchSpace:
    """``space`` with each decision allowed only the backends some id of ``ids`` puts it on.

    A brute-force dump of a device lists only what the device can run: this recovers that from its ids.
    """
    base, n = len(space.backends), len(space.decisions)
    backend_ids = np.asarray(ids, dtype=np.int64) % base**n
    digits = (backend_ids[:, None] // base ** np.arange(n, dtype=np.int64)[None, :]) % base
    decisions = []
    for k, decision in enumerate(space.decisions):
        seen = set(np.unique(digits[:, k]).tolist())
        allowed = tuple(b for b in decision.allowed if b in seen)
        if not allowed:
            raise DumpError(f"no solution of the dump runs {decision.label} on a backend that can run it")
        decisions.append(replace(decision, allowed=allowed))
    return replace(space, decisions=tuple(decisions))


def _ordered(capabilities: Mapping[str, frozenset[str] | None]) -> tuple[str, ...]:
    # The first backend is onert's default for ops nobody assigns: one that runs every op type.
    return tuple(sorted(capabilities, key=lambda b: capabilities[b] is not None))


def _allowed(op_types: frozenset[str], backends: Sequence[str], capabilities: Mapping) -> tuple[int, ...]:
    can = capabilities
    return tuple(b for b, name in enumerate(backends) if can[name] is None or op_types <= can[name])


def name_space(
    oplist: Sequence[str],
    capabilities: Mapping[str, frozenset[str] | None],
    settings: Sequence[Setting] = (),
) -> SearchSpace:
    """The name-mode space: one decision per onert op type of ``oplist``.

    ``capabilities`` is ``device.backends()``: backend -> the op types it can run (None: all); its order
    numbers the backends (digit values), except that a backend running every op type comes first.
    """
    backends = _ordered(capabilities)
    decisions = []
    for op_type in oplist:
        allowed = _allowed(frozenset([op_type]), backends, capabilities)
        if not allowed:
            raise UsageError(f"no backend of {', '.join(backends)} can run op type {op_type}")
        decisions.append(Decision(op_type, frozenset([op_type]), (), allowed))
    return SearchSpace("name", backends, tuple(decisions), tuple(settings), tuple(oplist))


def index_space(
    opmap: Sequence[int],
    opname_by_indx: Sequence[str],
    capabilities: Mapping[str, frozenset[str] | None],
    settings: Sequence[Setting] = (),
) -> SearchSpace:
    """The index-mode space: one decision per op group ``k`` (the ops ``i`` with ``opmap[i] == k``).

    ``opname_by_indx[i]`` is the onert op type of op i. Groups are numbered 0..max(opmap); every number must
    hold at least one op.
    """
    if len(opmap) != len(opname_by_indx):
        raise DumpError(f"opmap has {len(opmap)} entries but opname_by_indx has {len(opname_by_indx)}")
    backends = _ordered(capabilities)
    num_groups = max(opmap) + 1 if opmap else 0
    members: list[list[int]] = [[] for _ in range(num_groups)]
    for i, group in enumerate(opmap):
        members[group].append(i)
    decisions = []
    for group, ops in enumerate(members):
        if not ops:
            raise DumpError(f"opmap has no op in group {group} (groups must be numbered 0..{num_groups - 1})")
        types = frozenset(opname_by_indx[i] for i in ops)
        allowed = _allowed(types, backends, capabilities)
        if not allowed:
            raise UsageError(f"no backend of {', '.join(backends)} can run op group {group} ({', '.join(types)})")
        decisions.append(Decision(f"group {group} ({'/'.join(sorted(types))})", types, tuple(ops), allowed))
    oplist = tuple(dict.fromkeys(opname_by_indx))
    return SearchSpace("index", backends, tuple(decisions), tuple(settings), oplist, tuple(opmap), tuple(opname_by_indx))
