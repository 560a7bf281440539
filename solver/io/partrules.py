"""circle-partitioner's partition file (``.part``), read as ONE's current source reads it.

```ini
[partition]
backends=cpu,acl_cl
default=cpu
comply=opcode

[OPCODE]
_=cpu
DIV=acl_cl

[OPNAME]
Reduction_indices=acl_cl
```

ONE's reader (circle-partitioner ``PartitionRead.cpp`` over crew's ``read_ini``), whose dialect differs from
Python's configparser:
- A line is a section (``[name]``, the name up to the first ``]``), a comment (its first character ``#`` or
  ``;``; there are no comments after a value) or an item: the key is everything before the *first* ``=`` and
  the value everything after it, neither stripped, so ``StatefulPartitionedCall:0=npu`` names an op with a
  ``:`` in its name. ``\\;`` in a key stands for ``;`` (op names such as ``some/node/add2;and/another``).
- Within a section the first of duplicate keys wins; between two ``[OPCODE]`` (or ``[OPNAME]``) sections too,
  while a later ``[partition]`` section replaces an earlier one's settings.
- ``[partition]`` needs ``backends`` (CSV), ``default`` and ``comply`` (``opcode`` or ``opname``; ONE throws
  without it). ``comply=opcode`` applies ``[OPCODE]`` (op types), ``comply=opname`` applies ``[OPNAME]`` (op
  names: luci names a node by its first output tensor). The key ``_`` sets the default, but only in the section
  that ``comply`` selects.
- circle-partitioner's ``--backends`` and ``--default`` override the file's; then the default and every rule's
  backend must be one of the backends (circle-partitioner checks the opcode rules; we check the opname rules too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from solver.errors import PlatformError

COMPLY = ("opcode", "opname")
SECTIONS = {"opcode": "OPCODE", "opname": "OPNAME"}


@dataclass(frozen=True)
class PartitionRules:
    """A partition file: the backends, the default one, and the rules that ``comply`` selects."""

    backends: tuple[str, ...]
    default: str
    comply: str = "opcode"
    by_opcode: dict[str, str] = field(default_factory=dict)
    by_opname: dict[str, str] = field(default_factory=dict)
    source: str = "the partition rules"

    def __post_init__(self) -> None:
        if not self.backends:
            raise PlatformError(f"{self.source}: 'backends' lists no backend")
        if self.comply not in COMPLY:
            raise PlatformError(f"{self.source}: comply={self.comply!r} is not one of {', '.join(COMPLY)}")
        named = [("default", self.default)] + [(f"OPCODE {k}", b) for k, b in self.by_opcode.items()]
        named += [(f"OPNAME {k}", b) for k, b in self.by_opname.items()]
        for what, backend in named:
            if backend not in self.backends:
                raise PlatformError(f"{self.source}: {what}={backend} is not one of the backends {','.join(self.backends)}")

    def rule(self, op_type: str, op_name: str | None) -> str | None:
        """The backend a rule names for this op, or None when the default applies."""
        if self.comply == "opcode":
            return self.by_opcode.get(op_type)
        return self.by_opname.get(op_name) if op_name is not None else None

    def backend(self, op_type: str, op_name: str | None) -> str:
        """circle-partitioner's group of an op: its rule's backend, else the default."""
        return self.rule(op_type, op_name) or self.default


def parse_sections(text: str, source: str) -> list[tuple[str, dict[str, str]]]:
    """crew's INI dialect: the sections in file order, each with its items (first of duplicate keys kept).

    Raises
    ------
    PlatformError
        An item before any section, a section line without ``]``, or an item line without ``=``.
    """
    sections: list[tuple[str, dict[str, str]]] = []
    for number, line in enumerate(re.split(r"[\r\n]", text), start=1):
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            end = line.find("]")
            if end < 0:
                raise PlatformError(f"{source}: line {number}: a section line without ']'")
            sections.append((line[1:end], {}))
            continue
        if not sections or not sections[-1][0]:
            raise PlatformError(f"{source}: line {number}: an item before any section")
        key, sep, value = line.partition("=")
        if not sep:
            raise PlatformError(f"{source}: line {number}: no '=' in {line[:60]!r}")
        sections[-1][1].setdefault(key.replace("\\;", ";"), value)
    return sections


def parse_rules(text: str, source: str, backends: str | None = None, default: str | None = None) -> PartitionRules:
    """The rules of a partition file's text; ``backends`` (CSV) and ``default`` override its own, as
    circle-partitioner's ``--backends`` and ``--default`` do. Raises PlatformError naming ``source``."""
    sections = parse_sections(text, source)
    main: dict[str, str] | None = None
    for name, items in sections:
        if name == "partition":
            for key in ("backends", "default", "comply"):
                if key not in items:
                    raise PlatformError(f"{source}: '{key}' is required in [partition]")
            if items["comply"] not in COMPLY:
                raise PlatformError(f"{source}: comply={items['comply']!r} is not one of {', '.join(COMPLY)}")
            main = items
    if main is None:
        raise PlatformError(f"{source}: no [partition] section")
    comply, chosen_default = main["comply"], main["default"]
    rules: dict[str, dict[str, str]] = {"OPCODE": {}, "OPNAME": {}}
    for name, items in sections:
        if name not in rules:
            continue
        for key, value in items.items():
            if key != "_":
                rules[name].setdefault(key, value)
            elif SECTIONS[comply] == name:
                chosen_default = value
    if default is not None:
        chosen_default = default
    if not chosen_default:
        raise PlatformError(f"{source}: 'default' names no backend")
    return PartitionRules(
        backends=_csv(backends if backends is not None else main["backends"]),
        default=chosen_default,
        comply=comply,
        by_opcode=rules["OPCODE"],
        by_opname=rules["OPNAME"],
        source=source,
    )


def read_rules(path: str | Path, backends: str | None = None, default: str | None = None) -> PartitionRules:
    """Read a ``.part`` file (:func:`parse_rules`).

    Raises
    ------
    PlatformError
        The file cannot be read or is not UTF-8, lacks [partition] or one of its keys, names an unknown
        comply, or a rule names a backend not in backends.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PlatformError(f"{path}: cannot read the partition file ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise PlatformError(f"{path}: not a partition file: not UTF-8 text ({err.reason})") from err
    return parse_rules(text, str(path), backends, default)


def _csv(text: str) -> tuple[str, ...]:
    """pepper's csv_to_vector: the items between commas, empty ones left out."""
    return tuple(item for item in text.split(",") if item)
