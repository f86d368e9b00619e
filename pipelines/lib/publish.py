"""Publish the marts: data/marts/<mart>/ Parquet parts, then the analyst's DuckDB file (and PostgreSQL, see
publish_postgres.py) built from those files.

Layout: a mart with a `school_year` column is published as one file per school year,
data/marts/<mart>/<school year>.parquet (e.g. school_dynamics/2024-2025.parquet); a mart without one as
data/marts/<mart>/all.parquet (and so is a mart with no rows: one empty part, so readers find its columns).
Every part has all the mart's columns (school_year included), the same metadata,
and its rows sorted by all columns, so the same rows give the same bytes. Read a mart as
read_parquet('data/marts/<mart>/*.parquet') (DuckDB), pl.read_parquet(...) or pq.read_table('data/marts/<mart>').

Only what changed is rewritten. Each part's file metadata holds a `fingerprint`: SHA-256 of the part's row count
and the sum (hugeint) of DuckDB's hash() of each published row, after suppression (order-independent; duplicate
rows add up, they do not cancel), together with a digest of the schema, Russian labels, suppression rule and
PART_FORMAT. One grouped query over the mart gives every part's fingerprint; a part is written only if its file is
missing or its footer's fingerprint differs, and parts of school years no longer in the mart are removed. New parts
are written as .<part>.parquet.partial beside their final name and renamed into place together at the end: a
failure leaves the previous publication readable and nothing half-written (a crash during the renames themselves
can leave some parts new and some old, each complete). The analysts' file and PostgreSQL record the fingerprints
they were filled from (`_publication_parts`) and replace only the parts that differ.

Every copy is written beside its final name and renamed over it, so a reader sees the previous version or the
new one, never a half-written one. Column labels in Russian travel in the Parquet field metadata
(`label_ru`), the mart's description in the file metadata, and become table and column comments in the
databases. Small cells are blanked once, in the Parquet files, so every target gets the same suppressed rows.

Suppression is a rule per mart (publishing.yaml `suppression`): a mart with an n column (`meta.suppress.n_column`
in its dbt yml) blanks its `meta.suppress.columns` in rows whose n is below the mart's `min_n`, its own under
`suppression.marts` or else `suppression.default`. The rule applied is recorded in the Parquet metadata
(`suppression_n_column`, `suppression_min_n`, `suppression_rule`) and in the analysts' `_publication` table; it is
part of the fingerprint, so changing a mart's min_n rewrites all its parts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
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


PARTITION_COLUMN = "school_year"
UNPARTITIONED_PART = "all"  # the one part of a mart without a school_year column
PART_SUFFIX = ".parquet"
# Changed when the way a part is written changes (writer settings, metadata keys), so that every part is rewritten.
PART_FORMAT = "1"


@dataclass(frozen=True)
class Part:
    """One published Parquet file of a mart: data/marts/<mart>/<part>.parquet (a school year, or `all`)."""

    mart: str
    name: str
    path: Path
    fingerprint: str | None  # None: a file without one (not made by publish_parquet), always republished
    rows: int


def part_name_of(value: object) -> str:
    """The part (file name without .parquet) holding the rows of a school year."""
    text = "" if value is None else str(value)
    if not text or text.startswith(".") or "/" in text or "\\" in text or text == UNPARTITIONED_PART:
        raise ValueError(
            f"недопустимое значение {PARTITION_COLUMN} для имени файла части витрины: {value!r} / "
            f"{PARTITION_COLUMN} value {value!r} cannot name a part file"
        )
    return text


def _file_metadata(path: Path) -> tuple[dict[str, str], int]:
    """The key-value metadata and the row count of a Parquet file, from its footer alone."""
    footer = pq.read_metadata(path)
    return {k.decode(): v.decode() for k, v in (footer.metadata or {}).items()}, footer.num_rows


def mart_parts(source: Path, unreadable_ok: bool = False) -> tuple[str, list[Part]]:
    """(mart, its parts) of a published mart: `source` is its directory data/marts/<mart>/ (the *.parquet in it,
    sorted by name), or a single Parquet file (one part, `all`, named after the file unless its metadata says).
    `unreadable_ok`: a file whose footer cannot be read is a part without a fingerprint (to be written again)."""
    source = Path(source)
    files = sorted(source.glob(f"*{PART_SUFFIX}")) if source.is_dir() else [source]
    mart = source.name if source.is_dir() else source.stem
    parts = []
    for path in files:
        try:
            meta, rows = _file_metadata(path)
        except (OSError, pa.ArrowException):
            if not unreadable_ok:
                raise
            meta, rows = {}, 0
        mart = meta.get("mart") or mart
        name = path.stem if source.is_dir() else UNPARTITIONED_PART
        parts.append(Part(mart, name, path, meta.get("fingerprint"), rows))
    return mart, parts


def mart_glob(marts_dir: Path, name: str) -> str:
    """What DuckDB's read_parquet and polars read for a mart: data/marts/<mart>/*.parquet."""
    return str(Path(marts_dir) / name / f"*{PART_SUFFIX}")


def _published_exprs(mart: MartSpec, columns: list[str], min_n: int) -> list[tuple[str, str]]:
    """(expression, name) of every published column: the suppressed columns blanked where n < min_n."""
    if not mart.n_column:
        return [(f'"{c}"', c) for c in columns]
    small = f'("{mart.n_column}" < {int(min_n)})'
    exprs = [
        (f'case when {small} then null else "{c}" end', c) if c in mart.suppressed_columns else (f'"{c}"', c)
        for c in columns
    ]
    exprs.append((f"coalesce({small}, false)", SUPPRESSED_COLUMN))
    return exprs


def _select_sql(mart: MartSpec, exprs: list[tuple[str, str]], where: str = "true") -> str:
    """The published rows, in one order whatever order the warehouse returns them in (DuckDB scans in parallel):
    the same rows give the same file, byte for byte."""
    ordered = ", ".join(str(i) for i in range(1, len(exprs) + 1))
    select = ", ".join(f'{e} as "{n}"' for e, n in exprs)
    return f"select {select} from {mart.relation} where {where} order by {ordered}"


def _schema_digest(schema: pa.Schema) -> str:
    """What a part's bytes depend on besides its rows: column names and types, labels, the suppression rule."""
    described = {
        "format": PART_FORMAT,
        "fields": [
            [f.name, str(f.type), f.nullable, sorted((k.decode(), v.decode()) for k, v in (f.metadata or {}).items())]
            for f in schema
        ],
        "metadata": sorted((k.decode(), v.decode()) for k, v in (schema.metadata or {}).items()),
    }
    return hashlib.sha256(json.dumps(described, ensure_ascii=False).encode()).hexdigest()


def _fingerprint(schema_digest: str, part: str, rows: int, row_hash_sum: str) -> str:
    return hashlib.sha256(f"{schema_digest}|{part}|{rows}|{row_hash_sum}".encode()).hexdigest()


def part_fingerprints(
    con: duckdb.DuckDBPyConnection, mart: MartSpec, exprs: list[tuple[str, str]], schema_digest: str
) -> dict[str, dict]:
    """{part: {"fingerprint", "rows", "suppressed", "value"}} of every part of the mart, in ONE grouped pass.

    A part's content is summarised order-independently by its row count and the sum (as hugeint, so no
    overflow, and duplicate rows add up instead of cancelling as with xor) of DuckDB's 64-bit hash of each
    published row (after suppression); the fingerprint is a SHA-256 of that, the part's name and the schema
    digest (names, types, Russian labels, the suppression rule, PART_FORMAT)."""
    names = [n for _, n in exprs]
    row_hash = f"sum(hash({', '.join(e for e, _ in exprs)})::hugeint)::varchar"
    suppressed = f'count(*) filter (where "{SUPPRESSED_COLUMN}")' if SUPPRESSED_COLUMN in names else "0"
    inner = ", ".join(f'{e} as "{n}"' for e, n in exprs)
    if PARTITION_COLUMN in names:
        rows = con.execute(
            f"select {PARTITION_COLUMN}, count(*), {row_hash}, {suppressed} "
            f"from (select {inner} from {mart.relation}) group by all"
        ).fetchall()
        if any(value is None for value, *_ in rows):
            raise ValueError(
                f"витрина {mart.name}: строки без {PARTITION_COLUMN} не могут быть опубликованы по годам / "
                f"mart {mart.name}: rows without a {PARTITION_COLUMN} cannot be published by school year"
            )
        found = {part_name_of(value): (value, n, h, s) for value, n, h, s in rows}
    else:
        [(n, h, s)] = con.execute(
            f"select count(*), {row_hash}, {suppressed} from (select {inner} from {mart.relation})"
        ).fetchall()
        found = {UNPARTITIONED_PART: (None, n, h, s)}
    if not found:  # a mart without rows is still published, as one empty part: readers find its columns
        found = {UNPARTITIONED_PART: (None, 0, None, 0)}
    return {
        part: {"fingerprint": _fingerprint(schema_digest, part, n, str(h)), "rows": n, "suppressed": s, "value": v}
        for part, (v, n, h, s) in found.items()
    }


def _partial_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.partial")


def publish_parquet(con: duckdb.DuckDBPyConnection, mart: MartSpec, marts_dir: Path) -> dict:
    """Publish the mart as data/marts/<mart>/<school year>.parquet (or all.parquet), rewriting only the parts
    whose fingerprint (see part_fingerprints) differs from the one in the existing file's footer, or is missing;
    removing the parts of school years no longer in the mart. Each part is streamed batch by batch (memory stays
    bounded however large the mart) into .<part>.parquet.partial beside its final name; the partial files are
    renamed into place at the end, so a failure leaves the previous publication whole and nothing half-written.

    A mart with an n column is suppressed by its rule, read from publishing.yaml now (so an edit applies at the
    next run): `suppression.marts.<mart>`, else the default."""
    started = time.perf_counter()
    columns = [
        r[0] for r in con.execute(f"describe {mart.relation}").fetchall() if r[0] not in mart.unpublished_columns
    ]
    rule: dict[str, str] = {}
    min_n = 0
    if mart.n_column:
        min_n, rule_name = suppression_rule(mart.name)
        rule = {"suppression_n_column": mart.n_column, "suppression_min_n": str(min_n), "suppression_rule": rule_name}
    exprs = _published_exprs(mart, columns, min_n)
    partitioned = PARTITION_COLUMN in columns
    labels = {**mart.column_labels, SUPPRESSED_COLUMN: SUPPRESSED_LABEL}
    arrow_schema = con.sql(_select_sql(mart, exprs, "false")).to_arrow_reader(PARQUET_BATCH_ROWS).schema
    schema = pa.schema(
        [
            f.with_metadata({"label_ru": labels.get(f.name, f.name), **(rule if f.name == SUPPRESSED_COLUMN else {})})
            for f in arrow_schema
        ],
        metadata={
            "mart": mart.name,
            "label_ru": mart.label_ru,
            "description": mart.description,
            **rule,
            "column_labels_ru": json.dumps(labels, ensure_ascii=False),
            **({"partition_column": PARTITION_COLUMN} if partitioned else {}),
        },
    )
    schema_digest = _schema_digest(schema)
    wanted = part_fingerprints(con, mart, exprs, schema_digest)
    fingerprint_seconds = time.perf_counter() - started

    mart_dir = marts_dir / mart.name
    mart_dir.mkdir(parents=True, exist_ok=True)
    for leftover in mart_dir.glob(".*.partial"):  # of a publication that failed half-way
        leftover.unlink()
    existing = {p.name: p for p in mart_parts(mart_dir, unreadable_ok=True)[1]}
    changed = sorted(
        p for p, w in wanted.items() if existing.get(p) is None or existing[p].fingerprint != w["fingerprint"]
    )
    removed = sorted(set(existing) - set(wanted))

    written_rows = 0
    partials: list[tuple[Path, Path]] = []
    try:
        for part in changed:
            final = mart_dir / f"{part}{PART_SUFFIX}"
            partial = _partial_path(final)
            value = wanted[part]["value"]
            where = f"{PARTITION_COLUMN} = {_sql_text(str(value))}" if value is not None else "true"
            reader = con.sql(_select_sql(mart, exprs, where)).to_arrow_reader(PARQUET_BATCH_ROWS)
            part_schema = schema.with_metadata(
                {**_metadata_of(schema), "part": part, "fingerprint": wanted[part]["fingerprint"]}
            )
            rows = 0
            with pq.ParquetWriter(partial, part_schema) as writer:
                partials.append((partial, final))
                for batch in reader:
                    writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=part_schema))
                    rows += batch.num_rows
            if rows != wanted[part]["rows"]:
                raise RuntimeError(
                    f"витрина {mart.name} изменилась во время публикации (часть {part}: {rows} строк вместо "
                    f"{wanted[part]['rows']}) / mart {mart.name} changed while being published"
                )
            written_rows += rows
    except BaseException:
        for partial, _ in partials:
            partial.unlink(missing_ok=True)
        raise
    for partial, final in partials:
        os.replace(partial, final)
    for part in removed:
        existing[part].path.unlink(missing_ok=True)
    old_layout = marts_dir / f"{mart.name}{PART_SUFFIX}"  # a mart published before the per-year layout
    old_layout.unlink(missing_ok=True)

    published = {
        "path": str(mart_dir),
        "rows": sum(w["rows"] for w in wanted.values()),
        "rows_suppressed": sum(w["suppressed"] for w in wanted.values()),
        "parts_written": len(changed),
        "parts_kept": len(wanted) - len(changed),
        "parts_removed": len(removed),
        "rows_written": written_rows,
        "written": ", ".join(changed),
        "fingerprint_seconds": round(fingerprint_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if rule:
        published.update(suppression_min_n=min_n, suppression_rule=rule["suppression_rule"])
    return published


def _metadata_of(schema: pa.Schema) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}


_PUBLICATION_COMMENTS = {
    "suppression_n_column": "Столбец n, по которому скрываются малые ячейки (пусто: не скрываются) / the n column "
    "small cells are suppressed by (empty: none are)",
    "suppression_min_n": "Строки с n меньше этого значения скрыты (is_suppressed) / rows with n below this are blanked",
    "suppression_rule": "Правило из publishing.yaml: suppression.marts.<витрина> или suppression.default / the rule "
    "of publishing.yaml applied",
    "published_at": "Когда содержимое витрины последний раз изменилось (UTC) / when the mart's content last changed "
    "(UTC)",
}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _analyst_file_reusable(path: Path) -> bool:
    """The previous analysts' file can be updated in place (of a copy): it opens, is in ANALYST_STORAGE_VERSION's
    format and has the tables an update reads."""
    if not path.exists():
        return False
    try:
        with duckdb.connect(":memory:") as con:
            con.execute(f"attach {_sql_text(str(path))} as previous (read_only)")
            tags = con.execute("select tags from duckdb_databases() where database_name = 'previous'").fetchone()[0]
            tables = {
                r[0]
                for r in con.execute(
                    "select table_name from duckdb_tables() where database_name = 'previous'"
                ).fetchall()
            }
            con.execute("detach previous")
    except duckdb.Error:
        return False
    version = (tags or {}).get("storage_version", "")
    return version.rstrip("+") == ANALYST_STORAGE_VERSION and {"_publication", "_publication_parts"} <= tables


def _create_publication_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table _publication (mart varchar primary key, label_ru varchar, description varchar, "
        "rows bigint, suppression_n_column varchar, suppression_min_n integer, suppression_rule varchar, "
        "published_at timestamp)"
    )
    con.execute("comment on table _publication is 'Что опубликовано и когда / what was published and when'")
    for column, comment in _PUBLICATION_COMMENTS.items():
        con.execute(f"comment on column _publication.{column} is {_sql_text(comment)}")
    con.execute(
        "create table _publication_parts (mart varchar, part varchar, fingerprint varchar, rows bigint, "
        "primary key (mart, part))"
    )
    con.execute(
        "comment on table _publication_parts is 'Части витрин (учебный год или all) и их отпечатки: обновляются "
        "только изменившиеся / the parts of each mart (a school year or all) and their fingerprints: only the "
        "changed ones are replaced'"
    )


def _describe(con: duckdb.DuckDBPyConnection, relation: str, params: list | None = None) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe {relation}", params or []).fetchall()]


def _read_parts_sql(parts: list[Part]) -> str:
    return "read_parquet([" + ", ".join(_sql_text(str(p.path)) for p in parts) + "])"


def build_analyst_database(sources: list[Path], target: Path, memory_limit: str | None = None) -> dict:
    """One DuckDB file with every published mart as a table, commented in Russian, built aside and renamed
    over the previous file. An analyst's session open on the previous file keeps reading it undisturbed.

    `sources`: the marts' directories data/marts/<mart>/ (or single Parquet files). The previous file, if it is
    readable and in ANALYST_STORAGE_VERSION's format, is copied aside and updated: per mart only the parts whose
    fingerprint differs from its `_publication_parts` row are replaced (rows of that school year deleted, the
    part's file inserted), parts gone are deleted; a mart whose columns changed, an unpartitioned mart that
    changed, or one the file does not know is created again whole. Otherwise the file is built from scratch.

    The file is written in the storage format of DuckDB ANALYST_STORAGE_VERSION (not the pinned DuckDB's own),
    so the DuckDB inside BI tools and drivers (ANALYST_MIN_DUCKDB and later) opens it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    marts = dict(mart_parts(Path(s)) for s in sources)
    reused = _analyst_file_reusable(target)
    if reused:
        shutil.copyfile(target, partial)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    stats = {"parts_written": 0, "parts_kept": 0, "parts_removed": 0, "rows_written": 0, "marts_recreated": 0}
    # an in-memory connection writing into the attached file; spills (if any) go beside the file being built
    config = {"temp_directory": f"{partial}.tmp", **({"memory_limit": memory_limit} if memory_limit else {})}
    with duckdb.connect(":memory:", config=config) as con:
        con.execute(
            f"attach {_sql_text(str(partial))} as analyst (storage_version {_sql_text(ANALYST_STORAGE_VERSION)})"
        )
        con.execute("use analyst")
        if not reused:
            _create_publication_tables(con)
        known: dict[str, dict[str, str]] = {}
        for mart, part, fingerprint in con.execute("select mart, part, fingerprint from _publication_parts").fetchall():
            known.setdefault(mart, {})[part] = fingerprint
        tables = {
            r[0]
            for r in con.execute("select table_name from duckdb_tables() where database_name = 'analyst'").fetchall()
        }
        previous_times = dict(con.execute("select mart, published_at from _publication").fetchall())
        for gone in sorted((set(previous_times) | set(known)) - set(marts)):
            con.execute(f'drop table if exists "{gone}"')
            con.execute("delete from _publication where mart = ?", [gone])
            con.execute("delete from _publication_parts where mart = ?", [gone])
        for name in sorted(marts):
            parts = marts[name]
            if not parts:
                continue
            meta, _ = _file_metadata(parts[0].path)
            old = known.get(name, {})
            new = {p.name: p for p in parts}
            changed = [p for p in parts if p.fingerprint is None or old.get(p.name) != p.fingerprint]
            removed = sorted(set(old) - set(new))
            wanted_columns = _describe(con, f"select * from {_read_parts_sql(parts)}")
            partitioned = all(p.name != UNPARTITIONED_PART for p in parts) and PARTITION_COLUMN in {
                c for c, _ in wanted_columns
            }
            recreate = (
                name not in tables
                or not old
                or _describe(con, f'"{name}"') != wanted_columns
                or (not partitioned and (changed or removed))
            )
            if recreate:
                con.execute(f'drop table if exists "{name}"')
                con.execute(f'create table "{name}" as select * from {_read_parts_sql(parts)}')
                con.execute("delete from _publication_parts where mart = ?", [name])
                written, stats["marts_recreated"] = parts, stats["marts_recreated"] + 1
                stats["parts_removed"] += len(set(old) - set(new))
            else:
                for part in [*removed, *(p.name for p in changed)]:
                    con.execute(f'delete from "{name}" where {PARTITION_COLUMN} = ?', [part])
                    con.execute("delete from _publication_parts where mart = ? and part = ?", [name, part])
                for part in changed:
                    con.execute(f'insert into "{name}" select * from read_parquet(?)', [str(part.path)])
                written = changed
                stats["parts_removed"] += len(removed)
            if written:
                con.executemany(
                    "insert into _publication_parts values (?, ?, ?, ?)",
                    [[name, p.name, p.fingerprint, p.rows] for p in written],
                )
            stats["parts_written"] += len(written)
            stats["parts_kept"] += len(parts) - len(written)
            stats["rows_written"] += sum(p.rows for p in written)
            labels = json.loads(meta.get("column_labels_ru", "{}"))
            con.execute(f'comment on table "{name}" is {_sql_text(meta.get("label_ru", name))}')
            for column, _ in wanted_columns:
                label = labels.get(column)
                if label:
                    con.execute(f'comment on column "{name}"."{column}" is {_sql_text(label)}')
            min_n = meta.get("suppression_min_n")
            if min_n is None and SUPPRESSED_COLUMN in {c for c, _ in wanted_columns}:
                min_n = meta.get("min_cell_size")  # a file published before per-mart rules
            unchanged = not written and not removed and previous_times.get(name) is not None
            con.execute("delete from _publication where mart = ?", [name])
            con.execute(
                "insert into _publication values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    meta.get("label_ru", name),
                    meta.get("description", ""),
                    sum(p.rows for p in parts),
                    meta.get("suppression_n_column"),
                    int(min_n) if min_n else None,
                    meta.get("suppression_rule"),
                    previous_times[name] if unchanged else published_at,
                ],
            )
        count = con.execute("select count(*) from _publication").fetchone()[0]
        con.execute("checkpoint")
        con.execute("use memory")
        con.execute("detach analyst")
    os.replace(partial, target)
    return {
        "path": str(target),
        "tables": count,
        "published_at": published_at.isoformat(),
        "updated_in_place": reused,
        **stats,
    }
