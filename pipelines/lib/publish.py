"""Publish the marts: data/marts/<mart>.parquet, then the analyst's DuckDB file (and PostgreSQL, see
publish_postgres.py) built from those files.

Every copy is written beside its final name and renamed over it, so a reader sees the previous version or the
new one, never a half-written one. Column labels in Russian travel in the Parquet field metadata
(`label_ru`), the mart's description in the file metadata, and become table and column comments in the
databases. Small cells are blanked once, in the Parquet file, so every target gets the same suppressed rows
(see publishing.yaml).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from pipelines.settings import CONFIG_DIR

SUPPRESSED_COLUMN = "is_suppressed"
SUPPRESSED_LABEL = "Значения скрыты: мало участников"
TARGETS_ENV = "EDUWH_PUBLISH_TARGETS"
TARGETS = ("parquet", "analyst_duckdb", "postgres")


PARQUET_BATCH_ROWS = 1 << 17  # rows per batch streamed from DuckDB to Parquet


def publishing_config() -> dict:
    """pipelines/config/publishing.yaml, with EDUWH_PUBLISH_TARGETS (comma-separated) overriding `enabled`."""
    config = yaml.safe_load((CONFIG_DIR / "publishing.yaml").read_text(encoding="utf-8"))
    chosen = os.environ.get(TARGETS_ENV)
    if chosen is not None:
        names = {n.strip() for n in chosen.split(",") if n.strip()}
        unknown = names - set(TARGETS)
        if unknown:
            raise ValueError(
                f"{TARGETS_ENV}: неизвестные цели публикации / unknown publishing targets {sorted(unknown)}; "
                f"known: {', '.join(TARGETS)}"
            )
        for name in TARGETS:
            config["targets"][name]["enabled"] = name in names or name == "parquet"
    return config


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
    """Stream the mart into its Parquet file batch by batch: memory stays bounded however many school years
    the mart holds (school_dynamics: tens of millions of rows over six national years)."""
    columns = [r[0] for r in con.execute(f"describe {mart.relation}").fetchall()]
    reader = con.sql(_select_sql(mart, columns, min_cell_size)).to_arrow_reader(PARQUET_BATCH_ROWS)
    labels = {**mart.column_labels, SUPPRESSED_COLUMN: SUPPRESSED_LABEL}
    schema = pa.schema(
        [f.with_metadata({"label_ru": labels.get(f.name, f.name)}) for f in reader.schema],
        metadata={
            "mart": mart.name,
            "label_ru": mart.label_ru,
            "description": mart.description,
            "min_cell_size": str(min_cell_size),
            "column_labels_ru": json.dumps(labels, ensure_ascii=False),
        },
    )
    marts_dir.mkdir(parents=True, exist_ok=True)
    target = marts_dir / f"{mart.name}.parquet"
    partial = marts_dir / f".{mart.name}.parquet.partial"
    rows = suppressed = 0
    with pq.ParquetWriter(partial, schema) as writer:
        for batch in reader:
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
            rows += batch.num_rows
            if SUPPRESSED_COLUMN in schema.names:
                suppressed += pc.sum(batch.column(SUPPRESSED_COLUMN).cast(pa.int64())).as_py() or 0
    os.replace(partial, target)
    return {"path": str(target), "rows": rows, "rows_suppressed": suppressed}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_analyst_database(parquet_paths: list[Path], target: Path, memory_limit: str | None = None) -> dict:
    """One DuckDB file with every published mart as a table, commented in Russian, built aside and renamed
    over the previous file. An analyst's session open on the previous file keeps reading it undisturbed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    tables = []
    with duckdb.connect(str(partial), config={"memory_limit": memory_limit} if memory_limit else {}) as con:
        con.execute(
            "create table _publication (mart varchar primary key, label_ru varchar, description varchar, "
            "rows bigint, min_cell_size integer, published_at timestamp)"
        )
        con.execute("comment on table _publication is 'Что опубликовано и когда / what was published and when'")
        for path in sorted(parquet_paths):
            meta = {k.decode(): v.decode() for k, v in (pq.read_schema(path).metadata or {}).items()}
            name = meta.get("mart", path.stem)
            labels = json.loads(meta.get("column_labels_ru", "{}"))
            con.execute(f'create table "{name}" as select * from read_parquet(?)', [str(path)])
            con.execute(f'comment on table "{name}" is {_sql_text(meta.get("label_ru", name))}')
            for field in pq.read_schema(path):
                label = labels.get(field.name)
                if label:
                    con.execute(f'comment on column "{name}"."{field.name}" is {_sql_text(label)}')
            rows = con.execute(f'select count(*) from "{name}"').fetchone()[0]
            con.execute(
                "insert into _publication values (?, ?, ?, ?, ?, ?)",
                [
                    name,
                    meta.get("label_ru", name),
                    meta.get("description", ""),
                    rows,
                    int(meta.get("min_cell_size", 0)),
                    published_at,
                ],
            )
            tables.append(name)
        con.execute("checkpoint")
    os.replace(partial, target)
    return {"path": str(target), "tables": len(tables), "published_at": published_at.isoformat()}
