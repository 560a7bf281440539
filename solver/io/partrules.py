"""circle-partitioner's partition file (``.part``, INI), read as its README and sources define it.

```ini
[partition]
backends=cpu,acl_cl      ; the groups ops may go to (CSV)
default=cpu              ; the group of every op no rule names; one of backends
comply=opcode            ; opcode: rules by op type ([OPCODE]); opname: rules by op name ([OP])

[OPCODE]
_=cpu                    ; '_' overrides the default
DIV=acl_cl

[OP]
Reduction_indices=acl_cl
```

- ``backends`` and ``default`` are required; ``comply`` is ``opcode`` (also when absent, as the README's first
  examples have no other) or ``opname``.
- With ``comply=opcode`` only ``[OPCODE]`` applies, with ``opname`` only ``[OP]`` (an op's name is the name of
  its first output tensor, as luci names nodes); ``_`` in ``[OPCODE]`` sets the default in both modes, as
  circle-partitioner's reader does.
- Keys are case-sensitive (op codes are upper case, op names are the model's); every backend a rule names and
  the default must be one of ``backends`` (circle-partitioner refuses the same).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from solver.errors import PlatformError

COMPLY = ("opcode", "opname")


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
        named += [(f"OP {k}", b) for k, b in self.by_opname.items()]
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


def read_rules(path: str | Path, backends: str | None = None, default: str | None = None) -> PartitionRules:
    """Read a ``.part`` file; ``backends`` (CSV) and ``default`` override its own, as circle-partitioner's
    ``--backends`` and ``--default`` do.

    Raises
    ------
    PlatformError
        The file is missing or not INI, lacks [partition], backends or default, names an unknown comply,
        or a rule names a backend not in backends.
    """
    path = Path(path)
    parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    parser.optionxform = str  # op codes and names are case-sensitive
    try:
        with path.open(encoding="utf-8") as stream:
            parser.read_file(stream)
    except OSError as err:
        raise PlatformError(f"{path}: cannot read the partition file ({err.strerror})") from err
    except (configparser.Error, UnicodeDecodeError) as err:
        raise PlatformError(f"{path}: not a partition file in INI format ({' '.join(str(err).split())})") from err
    if not parser.has_section("partition"):
        raise PlatformError(f"{path}: no [partition] section")
    main = parser["partition"]
    for key in ("backends", "default"):
        if key not in main:
            raise PlatformError(f"{path}: '{key}' is required in [partition]")
    by_opcode = dict(parser["OPCODE"]) if parser.has_section("OPCODE") else {}
    chosen_default = by_opcode.pop("_", main["default"])
    return PartitionRules(
        backends=_csv(backends if backends is not None else main["backends"]),
        default=default if default is not None else chosen_default,
        comply=main.get("comply", "opcode").strip(),
        by_opcode={k: v.strip() for k, v in by_opcode.items()},
        by_opname={k: v.strip() for k, v in parser["OP"].items()} if parser.has_section("OP") else {},
        source=str(path),
    )


def _csv(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())
