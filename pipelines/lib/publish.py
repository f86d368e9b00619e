"""Publish the marts: data/marts/<mart>.parquet, then the analyst's DuckDB file (and PostgreSQL, see
publish_postgres.py) built from those files.

Every copy is written beside its final name and renamed over it, so a reader sees the previous version or the
new one, never a half-written one. Column labels in Russian travel in the Parquet field metadata
(`label_ru`), the mart's description in the file metadata, and become table and column comments in the
databases. Small cells are blanked once, in the Parquet file, so every target gets the same suppressed rows.

Suppression is a rule per mart (publishing.yaml `suppression`): a mart with an n column (`meta.suppress.n_column`
in its dbt yml) blanks its `meta.suppress.columns` in rows whose n is below the mart's `min_n`, its own under
`suppression.marts` or else `suppression.default`. The rule applied is recorded in the Parquet metadata
(`suppression_n_column`, `suppression_min_n`, `suppression_rule`) and in the analysts' `_publication` table.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from pipelines.lib.config_schema import validate_publishing
from pipelines.settings import config_dir

SUPPRESSED_COLUMN = "is_suppressed"
SUPPRESSED_LABEL = "Значения скрыты: мало участников"
TARGETS_ENV = "EDUWH_PUBLISH_TARGETS"
TARGETS = ("parquet", "analyst_duckdb", "postgres")


PARQUET_BATCH_ROWS = 1 << 17  # rows per batch streamed from DuckDB to Parquet
# analyst.duckdb is read by the DuckDB bundled in BI tools and drivers, often older than the pinned one: it is
# written in this storage format, which DuckDB ANALYST_MIN_DUCKDB and every later version open.
ANALYST_STORAGE_VERSION = "v1.4.0"
ANALYST_MIN_DUCKDB = "1.4.0"


def publishing_config() -> dict:
    """pipelines/config/publishing.yaml (checked against its schema), with EDUWH_PUBLISH_TARGETS
    (comma-separated) overriding `enabled`. The mart names under `suppression.marts` are checked against the
    published marts by marts_from_manifest, when the definitions load."""
    path = _publishing_yaml()
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate_publishing(config, path)
    config["suppression"].setdefault("marts", {})
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


def _publishing_yaml() -> Path:
    return config_dir() / "publishing.yaml"


def _config_error(where: str, message: str) -> ValueError:
    return ValueError(f"{_publishing_yaml()}: {where}: {message}")


def suppression_rule(mart_name: str, config: dict | None = None) -> tuple[int, str]:
    """(min_n, the rule it comes from) for a mart: `suppression.marts.<mart>` of publishing.yaml, else
    `suppression.default`."""
    suppression = (config if config is not None else publishing_config())["suppression"]
    own = suppression["marts"].get(mart_name)
    if own is not None:
        return int(own["min_n"]), f"suppression.marts.{mart_name}"
    return int(suppression["default"]["min_n"]), "suppression.default"


def check_suppression_marts(config: dict, marts: Iterable[MartSpec]) -> None:
    """Every mart named under `suppression.marts` is a published mart with an n column; else a ValueError naming
    the file, the mart and the nearest published mart. Run when the definitions load (marts_from_manifest)."""
    published = {m.name: m for m in marts}
    for name in config["suppression"]["marts"]:
        mart = published.get(name)
        if mart is None:
            nearest = difflib.get_close_matches(str(name), sorted(published), n=1, cutoff=0.0)
            raise _config_error(
                f"suppression.marts.{name}",
                "нет такой публикуемой витрины / not a published mart"
                + (f"; ближайшая / nearest: {nearest[0]}" if nearest else "")
                + f" (опубликованные / published: {', '.join(sorted(published))})",
            )
        if not mart.n_column:
            raise _config_error(
                f"suppression.marts.{name}",
                "у витрины нет столбца n (meta.suppress.n_column в её dbt yml), скрывать нечего / the mart has no n "
                "column (meta.suppress.n_column in its dbt yml): the rule would do nothing",
            )


@dataclass(frozen=True)
class MartSpec:
    name: str
    relation: str  # schema.table in the warehouse
    description: str
    label_ru: str
    column_labels: dict[str, str]
    n_column: str | None = None
    suppressed_columns: tuple[str, ...] = field(default_factory=tuple)
    # the warehouse's own columns, not published (`meta.publish: false` on the column in the dbt yml), e.g. the
    # input fingerprint and build time of a mart incremental by school year
    unpublished_columns: tuple[str, ...] = field(default_factory=tuple)


def marts_from_manifest(manifest: dict, config: dict | None = None) -> list[MartSpec]:
    """The published marts (dbt models with `meta.publish`), after checking that every mart named under
    `suppression.marts` of publishing.yaml (or of `config`) is one of them."""
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
                unpublished_columns=tuple(
                    c for c, col in node.get("columns", {}).items() if (col.get("meta") or {}).get("publish") is False
                ),
            )
        )
    check_suppression_marts(config if config is not None else publishing_config(), marts)
    return sorted(marts, key=lambda m: m.name)


def _select_sql(mart: MartSpec, columns: list[str], min_n: int) -> str:
    """The published rows, in one order whatever order the warehouse returns them in (DuckDB scans in parallel):
    the same mart gives the same file, byte for byte."""
    ordered = ", ".join(str(i) for i in range(1, len(columns) + 1))
    if not mart.n_column:
        return f"select * from {mart.relation} order by {ordered}"
    small = f"({mart.n_column} < {int(min_n)})"
    exprs = [f"case when {small} then null else {c} end as {c}" if c in mart.suppressed_columns else c for c in columns]
    exprs.append(f"coalesce({small}, false) as {SUPPRESSED_COLUMN}")
    return f"select {', '.join(exprs)} from {mart.relation} order by {ordered}"


def publish_parquet(con: duckdb.DuckDBPyConnection, mart: MartSpec, marts_dir: Path) -> dict:
    """Stream the mart into its Parquet file batch by batch: memory stays bounded however many school years
    the mart holds (school_dynamics: tens of millions of rows over six national years).

    A mart with an n column is suppressed by its rule, read from publishing.yaml now (so an edit applies at the
    next run): `suppression.marts.<mart>`, else the default."""
    columns = [
        r[0] for r in con.execute(f"describe {mart.relation}").fetchall() if r[0] not in mart.unpublished_columns
    ]
    rule: dict[str, str] = {}
    min_n = 0
    if mart.n_column:
        min_n, rule_name = suppression_rule(mart.name)
        rule = {"suppression_n_column": mart.n_column, "suppression_min_n": str(min_n), "suppression_rule": rule_name}
    reader = con.sql(_select_sql(mart, columns, min_n)).to_arrow_reader(PARQUET_BATCH_ROWS)
    labels = {**mart.column_labels, SUPPRESSED_COLUMN: SUPPRESSED_LABEL}
    schema = pa.schema(
        [
            f.with_metadata({"label_ru": labels.get(f.name, f.name), **(rule if f.name == SUPPRESSED_COLUMN else {})})
            for f in reader.schema
        ],
        metadata={
            "mart": mart.name,
            "label_ru": mart.label_ru,
            "description": mart.description,
            **rule,
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
    published = {"path": str(target), "rows": rows, "rows_suppressed": suppressed}
    if rule:
        published.update(suppression_min_n=min_n, suppression_rule=rule["suppression_rule"])
    return published


_PUBLICATION_COMMENTS = {
    "suppression_n_column": "Столбец n, по которому скрываются малые ячейки (пусто: не скрываются) / the n column "
    "small cells are suppressed by (empty: none are)",
    "suppression_min_n": "Строки с n меньше этого значения скрыты (is_suppressed) / rows with n below this are blanked",
    "suppression_rule": "Правило из publishing.yaml: suppression.marts.<витрина> или suppression.default / the rule "
    "of publishing.yaml applied",
}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_analyst_database(parquet_paths: list[Path], target: Path, memory_limit: str | None = None) -> dict:
    """One DuckDB file with every published mart as a table, commented in Russian, built aside and renamed
    over the previous file. An analyst's session open on the previous file keeps reading it undisturbed.

    The file is written in the storage format of DuckDB ANALYST_STORAGE_VERSION (not the pinned DuckDB's own),
    so the DuckDB inside BI tools and drivers (ANALYST_MIN_DUCKDB and later) opens it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    tables = []
    # an in-memory connection writing into the attached file; spills (if any) go beside the file being built
    config = {"temp_directory": f"{partial}.tmp", **({"memory_limit": memory_limit} if memory_limit else {})}
    with duckdb.connect(":memory:", config=config) as con:
        con.execute(
            f"attach {_sql_text(str(partial))} as analyst (storage_version {_sql_text(ANALYST_STORAGE_VERSION)})"
        )
        con.execute("use analyst")
        con.execute(
            "create table _publication (mart varchar primary key, label_ru varchar, description varchar, "
            "rows bigint, suppression_n_column varchar, suppression_min_n integer, suppression_rule varchar, "
            "published_at timestamp)"
        )
        con.execute("comment on table _publication is 'Что опубликовано и когда / what was published and when'")
        for column, comment in _PUBLICATION_COMMENTS.items():
            con.execute(f"comment on column _publication.{column} is {_sql_text(comment)}")
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
            min_n = meta.get("suppression_min_n")
            if min_n is None and SUPPRESSED_COLUMN in pq.read_schema(path).names:
                min_n = meta.get("min_cell_size")  # a file published before per-mart rules
            con.execute(
                "insert into _publication values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    meta.get("label_ru", name),
                    meta.get("description", ""),
                    rows,
                    meta.get("suppression_n_column"),
                    int(min_n) if min_n else None,
                    meta.get("suppression_rule"),
                    published_at,
                ],
            )
            tables.append(name)
        con.execute("checkpoint")
        con.execute("use memory")
        con.execute("detach analyst")
    os.replace(partial, target)
    return {"path": str(target), "tables": len(tables), "published_at": published_at.isoformat()}
