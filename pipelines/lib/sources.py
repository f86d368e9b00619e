"""Source configuration: one commented YAML file per source in pipelines/config/sources/.

A file says where the source's exports lie, how to read them, which header texts map to which canonical
column, and the source's data contract (types, required columns, ranges, allowed values, keys).
The file is checked when it is loaded, so a typo in a region's config fails at start-up, not mid-load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.settings import CONFIG_DIR

COLUMN_TYPES = {"string", "int", "float"}


class ConfigError(ValueError):
    """A source configuration file is wrong."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    headers: tuple[str, ...]
    required: bool = True
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    regex: str | None = None


@dataclass(frozen=True)
class RowSumSpec:
    name: str
    columns: tuple[str, ...]
    min: float
    max: float


@dataclass(frozen=True)
class RegistryMatchSpec:
    column: str
    mostly: float = 1.0


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title_ru: str
    folder: str
    file_glob: str
    format: str
    table: str
    contract_version: int
    columns: tuple[ColumnSpec, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    row_sums: tuple[RowSumSpec, ...] = ()
    registry_match: RegistryMatchSpec | None = None
    school_year_column: str | None = None
    csv: dict = field(default_factory=dict)
    config_path: Path | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _parse(raw: dict, path: Path) -> SourceSpec:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{path}: {msg}")

    for key in ("name", "title_ru", "folder", "file_glob", "format", "table", "contract_version", "columns"):
        if key not in raw:
            raise fail(f"missing key '{key}'")
    if raw["format"] not in {"csv", "xlsx"}:
        raise fail(f"format must be csv or xlsx, not {raw['format']!r}")
    columns = []
    for name, c in raw["columns"].items():
        if c.get("type") not in COLUMN_TYPES:
            raise fail(f"column {name}: type must be one of {sorted(COLUMN_TYPES)}")
        if not c.get("headers"):
            raise fail(f"column {name}: list at least one header under 'headers'")
        if c.get("regex"):
            re.compile(c["regex"])
        columns.append(
            ColumnSpec(
                name=name,
                type=c["type"],
                headers=tuple(str(h) for h in c["headers"]),
                required=bool(c.get("required", True)),
                min=c.get("min"),
                max=c.get("max"),
                allowed=tuple(c["allowed"]) if c.get("allowed") else None,
                regex=c.get("regex"),
            )
        )
    known = {c.name for c in columns} | {"school_year"}
    unique = tuple(tuple(u) for u in raw.get("unique", []))
    row_sums = tuple(
        RowSumSpec(r["name"], tuple(r["columns"]), float(r["min"]), float(r["max"])) for r in raw.get("row_sums", [])
    )
    referenced = [c for u in unique for c in u] + [c for r in row_sums for c in r.columns]
    registry_match = RegistryMatchSpec(**raw["registry_match"]) if raw.get("registry_match") else None
    if registry_match:
        referenced.append(registry_match.column)
    if raw.get("school_year_column"):
        referenced.append(raw["school_year_column"])
    for c in referenced:
        if c not in known:
            raise fail(f"'{c}' is used in a rule but is not a column")
    return SourceSpec(
        name=raw["name"],
        title_ru=raw["title_ru"],
        folder=raw["folder"],
        file_glob=raw["file_glob"],
        format=raw["format"],
        table=raw["table"],
        contract_version=int(raw["contract_version"]),
        columns=tuple(columns),
        unique=unique,
        row_sums=row_sums,
        registry_match=registry_match,
        school_year_column=raw.get("school_year_column"),
        csv=raw.get("csv", {}),
        config_path=path,
    )


def load_source(path: Path) -> SourceSpec:
    with path.open(encoding="utf-8") as f:
        return _parse(yaml.safe_load(f), path)


def load_sources(config_dir: Path = CONFIG_DIR / "sources") -> dict[str, SourceSpec]:
    specs = [load_source(p) for p in sorted(config_dir.glob("*.yaml"))]
    return {s.name: s for s in specs}
