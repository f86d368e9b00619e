"""Publish a mart from the warehouse to data/marts/<mart>.parquet.

The file is written beside its final name and renamed over it, so a reader sees the previous file or the
new one, never a half-written one. Column labels in Russian travel in the Parquet field metadata
(`label_ru`), the mart's description in the file metadata. Small cells are blanked (see publishing.yaml).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

SUPPRESSED_COLUMN = "is_suppressed"
SUPPRESSED_LABEL = "Значения скрыты: мало участников"


@dataclass(frozen=True)
class MartSpec:
    name: str
    relation: str  # schema.table in the warehouse
    description: str
    label_ru: str
    column_labels: dict[str, str]
    n_column: str | None = None
    suppressed_columns: tuple[str, ...] = field(default_factory=tuple)


def marts_from_manifest(manifest: dict) -> list[MartSpec]:
    marts = []
    for node in manifest["nodes"].values():
        meta = node.get("config", {}).get("meta") or node.get("meta") or {}
        if node["resource_type"] != "model" or not meta.get("publish"):
            continue
        suppress = meta.get("suppress") or {}
        marts.append(
            MartSpec(
                name=node["name"],
                relation=f"{node['schema']}.{node['alias'] or node['name']}",
                description=node.get("description", ""),
                label_ru=meta.get("label_ru", node["name"]),
                column_labels={
                    c: (col.get("meta") or {}).get("label_ru", c) for c, col in node.get("columns", {}).items()
                },
                n_column=suppress.get("n_column"),
                suppressed_columns=tuple(suppress.get("columns", [])),
            )
        )
    return sorted(marts, key=lambda m: m.name)


def _select_sql(mart: MartSpec, columns: list[str], min_cell_size: int) -> str:
    if not mart.n_column:
        return f"select * from {mart.relation}"
    small = f"({mart.n_column} < {int(min_cell_size)})"
    exprs = [f"case when {small} then null else {c} end as {c}" if c in mart.suppressed_columns else c for c in columns]
    exprs.append(f"coalesce({small}, false) as {SUPPRESSED_COLUMN}")
    return f"select {', '.join(exprs)} from {mart.relation}"


def publish_parquet(con: duckdb.DuckDBPyConnection, mart: MartSpec, marts_dir: Path, min_cell_size: int) -> dict:
    columns = [r[0] for r in con.execute(f"describe {mart.relation}").fetchall()]
    table = con.sql(_select_sql(mart, columns, min_cell_size)).to_arrow_table()
    labels = {**mart.column_labels, SUPPRESSED_COLUMN: SUPPRESSED_LABEL}
    schema = pa.schema(
        [f.with_metadata({"label_ru": labels.get(f.name, f.name)}) for f in table.schema],
        metadata={
            "mart": mart.name,
            "label_ru": mart.label_ru,
            "description": mart.description,
            "min_cell_size": str(min_cell_size),
            "column_labels_ru": json.dumps(labels, ensure_ascii=False),
        },
    )
    table = table.cast(schema)
    marts_dir.mkdir(parents=True, exist_ok=True)
    target = marts_dir / f"{mart.name}.parquet"
    partial = marts_dir / f".{mart.name}.parquet.partial"
    pq.write_table(table, partial)
    os.replace(partial, target)
    suppressed = int(sum(table.column(SUPPRESSED_COLUMN).to_pylist())) if SUPPRESSED_COLUMN in table.column_names else 0
    return {"path": str(target), "rows": table.num_rows, "rows_suppressed": suppressed}
