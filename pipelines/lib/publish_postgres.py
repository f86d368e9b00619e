"""Publish the marts' Parquet parts (see publish.py) to PostgreSQL: one table <schema>.<mart> per mart, updated by
school year.

The schema holds a table `_publication_parts (mart, part, fingerprint, rows)`: the parts (school years, or `all`)
each table was last filled from. Per mart, in ONE transaction (publishers of a schema take turns on an advisory lock):
  - if the table exists with the same columns (names and types) and the mart is published by school year, only the
    parts whose fingerprint differs from `_publication_parts` are replaced: that school year's rows are deleted and
    the part's file is COPYed in; the rows of school years no longer published are deleted. A reader sees the old
    rows or the new ones (MVCC), never a mix;
  - otherwise (no table yet, columns changed, no parts recorded, an unpartitioned mart that changed) the table is
    rebuilt whole and swapped in:
      1. a new table <schema>.<mart>__loading is created and filled with COPY;
      2. it gets its comments (COMMENT ON TABLE: the mart's Russian label and description; COMMENT ON COLUMN: each
         column's Russian label) and is analysed;
      3. the old <schema>.<mart> is dropped and the new table renamed to <mart>;
Either way `_publication_parts` is updated in the same transaction and the comments are set again, and then commit.
Until the commit no other session sees the new table (uncommitted catalog rows are invisible to it), and the old table
is left alone until step 3, which takes its ACCESS EXCLUSIVE lock a moment before the commit. A reader that asks for
<schema>.<mart> in that moment waits on the lock; once it is granted PostgreSQL looks the name up again and finds the
new table, complete. So a reader sees the previous complete table or the new complete one, never an empty or half-loaded
one; a load that fails rolls back whole, leaving the old table as it was and no __loading table behind.

Caveats of the swap:
  - a reader in a REPEATABLE READ or SERIALIZABLE transaction whose snapshot was taken before the swap sees the new table
    empty (DDL is not MVCC-safe in PostgreSQL); autocommit and READ COMMITTED readers, as BI tools use, are fine;
  - the table is rebuilt: privileges, indexes and views on the old table do not carry over (a view that depends on the
    table makes the DROP fail, and the old table stays);
  - the DROP waits for readers that are in the middle of a query on the old table, and new readers queue behind it;
  - each mart is its own transaction: marts are replaced one after the other, not all at once;
  - a year-by-year update keeps the table (privileges, indexes and views stay); a rebuild does not.
Publishers of the same schema are serialised by a transaction-level advisory lock.

Arrow type -> PostgreSQL type:
  bool -> boolean; int8, int16, uint8 -> smallint; int32, uint16 -> integer; int64, uint32 -> bigint;
  uint64 -> numeric(20,0); float16, float32 -> real; float64 -> double precision; decimal(p,s) -> numeric(p,s);
  string, large_string, string_view -> text; date32, date64 -> date; timestamp -> timestamp without time zone,
  or timestamp with time zone if the Arrow type has a time zone; time32, time64 -> time without time zone;
  dictionary -> the type of its values. Anything else (lists, structs, maps, binary, intervals, ...) -> text,
  holding the value's JSON rendering (bytes: hex).
Rows travel as CSV made by Arrow (strings always quoted, NULL as an unquoted empty field, so '' and NULL stay apart).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pipelines.lib.publish import PARTITION_COLUMN, UNPARTITIONED_PART, Part, mart_parts

LOADING_SUFFIX = "__loading"
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated
BATCH_ROWS = 65_536


class PostgresPublishError(RuntimeError):
    """Publishing to PostgreSQL failed; the message is in Russian and English and never holds a password."""


def pg_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type (see the module docstring)."""
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "numeric(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp without time zone"
    if pa.types.is_time(t):
        return "time without time zone"
    return "text"


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return json.dumps(value, ensure_ascii=False, default=str)


def _csv_column(column: pa.Array) -> pa.Array:
    """A column in a form Arrow's CSV writer renders the way PostgreSQL's COPY reads it for the column's pg_type."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    t, target = column.type, pg_type(column.type)
    if target == "text" and not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        if pa.types.is_string_view(t):
            return pc.cast(column, pa.string())
        return pa.array([_as_text(v) for v in column.to_pylist()], pa.string())
    if pa.types.is_float16(t):
        return pc.cast(column, pa.float32())
    if pa.types.is_date64(t):
        return pc.cast(column, pa.date32())
    return column


def _csv_chunks(parquet: pq.ParquetFile) -> Iterator[bytes]:
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        batch = pa.RecordBatch.from_arrays([_csv_column(c) for c in batch.columns], names=batch.schema.names)
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, options)
        yield sink.getvalue().to_pybytes()


def _identifier(name: str, what: str) -> str:
    if not name or len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise PostgresPublishError(
            f"недопустимое имя ({what}) для PostgreSQL: {name!r}, нужно от 1 до {MAX_IDENTIFIER_BYTES} байт / "
            f"invalid PostgreSQL {what} name {name!r}: it must be 1 to {MAX_IDENTIFIER_BYTES} bytes long"
        )
    return name


def _loading_name(mart: str) -> str:
    """<mart>__loading, with the mart part cut so that the whole fits in an identifier."""
    room = MAX_IDENTIFIER_BYTES - len(LOADING_SUFFIX)
    return mart.encode()[:room].decode(errors="ignore") + LOADING_SUFFIX


def _advisory_key(schema: str) -> int:
    digest = hashlib.blake2b(f"eduwh.publish_postgres:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _metadata(schema: pa.Schema) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}


def _column_labels(schema: pa.Schema, file_meta: dict[str, str]) -> dict[str, str]:
    """Each column's Russian label: the field's own `label_ru`, else the file's `column_labels_ru` map."""
    try:
        labels: dict[str, str] = json.loads(file_meta.get("column_labels_ru") or "{}")
    except json.JSONDecodeError:
        labels = {}
    for f in schema:
        own = (f.metadata or {}).get(b"label_ru")
        if own is not None:
            labels[f.name] = own.decode()
    return {f.name: labels[f.name] for f in schema if labels.get(f.name)}


def _table_comment(file_meta: dict[str, str]) -> str | None:
    parts = [file_meta.get("label_ru", "").strip(), file_meta.get("description", "").strip()]
    return "\n\n".join(p for p in parts if p) or None


def _connect(conninfo: str) -> psycopg.Connection[Any]:
    """Connect, or raise PostgresPublishError naming host, port, database and user (never the password)."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:
        # libpq's parse error quotes parts of the string, which may be the password: not shown
        raise PostgresPublishError(
            "не удалось разобрать строку подключения к PostgreSQL (не показана: в ней может быть пароль) / "
            "could not parse the PostgreSQL connection string (not shown: it may hold a password)"
        ) from None
    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    user = params.get("user") or os.environ.get("PGUSER") or getpass.getuser()
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
    where = f"host={host} port={port} dbname={dbname} user={user}"
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as err:
        reason = " ".join(str(err).split())
        for secret in {params.get("password"), os.environ.get("PGPASSWORD")} - {None, ""}:
            reason = reason.replace(str(secret), "***")
        raise PostgresPublishError(
            f"не удалось подключиться к PostgreSQL ({where}) / could not connect to PostgreSQL ({where}): {reason}"
        ) from None


PARTS_TABLE = "_publication_parts"


def _parts_table(schema: str) -> sql.Composed:
    return sql.Identifier(schema, PARTS_TABLE)


def _existing_columns(cur: psycopg.Cursor[Any], schema: str, table: str) -> list[tuple[str, str]] | None:
    """[(column, type as format_type writes it)] of <schema>.<table>, or None if there is no such table."""
    cur.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a"
        " join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p') and a.attnum > 0"
        " and not a.attisdropped order by a.attnum",
        (schema, table),
    )
    rows = cur.fetchall()
    return [(name, kind) for name, kind in rows] if rows else None


def _copy_parts(cur: psycopg.Cursor[Any], table: sql.Composed, names: sql.Composable, parts: list[Part]) -> int:
    rows = 0
    for part in parts:
        parquet = pq.ParquetFile(part.path)
        with cur.copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(table, names)) as copy:
            for chunk in _csv_chunks(parquet):
                copy.write(chunk)
        rows += cur.rowcount if cur.rowcount >= 0 else parquet.metadata.num_rows
    return rows


def _comment(cur: psycopg.Cursor[Any], table: sql.Composed, arrow_schema: pa.Schema, file_meta: dict[str, str]) -> None:
    # COMMENT takes no bind parameters: the texts go in as quoted literals
    comment = _table_comment(file_meta)
    if comment:
        cur.execute(sql.SQL("comment on table {} is {}").format(table, sql.Literal(comment)))
    for column, label in _column_labels(arrow_schema, file_meta).items():
        cur.execute(sql.SQL("comment on column {}.{} is {}").format(table, sql.Identifier(column), sql.Literal(label)))


def _publish_one(conn: psycopg.Connection[Any], schema: str, mart: str, parts: list[Part]) -> dict:
    arrow_schema = pq.read_schema(parts[0].path)
    file_meta = _metadata(arrow_schema)
    _identifier(mart, "таблица / table")
    for f in arrow_schema:
        _identifier(f.name, "столбец / column")
    target = sql.Identifier(schema, mart)
    loading = sql.Identifier(schema, _loading_name(mart))
    wanted = [(f.name, pg_type(f.type)) for f in arrow_schema]
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in wanted)
    names = sql.SQL(", ").join(sql.Identifier(n) for n, _ in wanted)
    partitioned = PARTITION_COLUMN in arrow_schema.names and all(p.name != UNPARTITIONED_PART for p in parts)
    new = {p.name: p for p in parts}

    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (_advisory_key(schema),))
        cur.execute(sql.SQL("select part, fingerprint from {} where mart = %s").format(_parts_table(schema)), (mart,))
        old = dict(cur.fetchall())
        changed = [p for p in parts if p.fingerprint is None or old.get(p.name) != p.fingerprint]
        removed = sorted(set(old) - set(new))
        existing = _existing_columns(cur, schema, mart)
        recreate = (
            existing is None
            or not old
            or [(n, _normalised_type(t)) for n, t in existing] != [(n, _normalised_type(t)) for n, t in wanted]
            or (not partitioned and (changed or removed))
        )
        if recreate:
            # the table is loaded aside and swapped in: the old table is locked only from the drop to the commit
            cur.execute(sql.SQL("drop table if exists {}").format(loading))
            cur.execute(sql.SQL("create table {} ({})").format(loading, columns))
            rows_written = _copy_parts(cur, loading, names, parts)
            _comment(cur, loading, arrow_schema, file_meta)
            cur.execute(sql.SQL("analyze {}").format(loading))
            cur.execute(sql.SQL("drop table if exists {}").format(target))
            cur.execute(sql.SQL("alter table {} rename to {}").format(loading, sql.Identifier(mart)))
            cur.execute(sql.SQL("delete from {} where mart = %s").format(_parts_table(schema)), (mart,))
            written = parts
        else:
            # only the changed school years: their rows deleted and their parts copied in, in this transaction
            for part in [*removed, *(p.name for p in changed)]:
                cur.execute(
                    sql.SQL("delete from {} where {} = %s").format(target, sql.Identifier(PARTITION_COLUMN)), (part,)
                )
                cur.execute(
                    sql.SQL("delete from {} where mart = %s and part = %s").format(_parts_table(schema)), (mart, part)
                )
            rows_written = _copy_parts(cur, target, names, changed)
            _comment(cur, target, arrow_schema, file_meta)
            if changed or removed:
                cur.execute(sql.SQL("analyze {}").format(target))
            written = changed
        if written:
            cur.executemany(
                sql.SQL("insert into {} values (%s, %s, %s, %s)").format(_parts_table(schema)),
                [(mart, p.name, p.fingerprint, p.rows) for p in written],
            )
    return {
        "mart": mart,
        "table": f"{schema}.{mart}",
        "rows": sum(p.rows for p in parts),
        "columns": len(arrow_schema),
        "recreated": bool(recreate),
        "parts_written": len(written),
        "parts_kept": len(parts) - len(written),
        "parts_removed": len(removed),
        "rows_written": rows_written,
    }


def _normalised_type(pg: str) -> str:
    """A column type as pg_type names it and as format_type gives it back, in one spelling."""
    return pg.replace(", ", ",")


def publish_to_postgres(conninfo: str, schema: str, sources: list[Path]) -> list[dict]:
    """Create or update table <schema>.<mart> for each published mart, atomically for readers (see the module
    docstring). `sources`: the marts' directories data/marts/<mart>/ (or single Parquet files). The schema and its
    `_publication_parts` table are created if missing. Returns, per mart: {"mart", "table": "schema.mart", "rows",
    "columns", "recreated", "parts_written", "parts_kept", "parts_removed", "rows_written"}."""
    _identifier(schema, "схема / schema")
    marts = [mart_parts(Path(s)) for s in sources]
    names = [m for m, _ in marts]
    repeated = sorted({m for m in names if names.count(m) > 1})
    if repeated:
        raise PostgresPublishError(
            f"несколько файлов для одной витрины: {repeated} / several files publish the same mart: {repeated}"
        )
    with _connect(conninfo) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_advisory_key(schema),))
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL(
                    "create table if not exists {} (mart text, part text, fingerprint text, rows bigint, "
                    "primary key (mart, part))"
                ).format(_parts_table(schema))
            )
            conn.execute(
                sql.SQL("comment on table {} is {}").format(
                    _parts_table(schema),
                    sql.Literal(
                        "Части витрин (учебный год или all) и их отпечатки: обновляются только изменившиеся / the "
                        "parts of each mart (a school year or all) and their fingerprints: only the changed ones "
                        "are replaced"
                    ),
                )
            )
        published = []
        for mart, parts in marts:
            if not parts:
                continue
            try:
                published.append(_publish_one(conn, schema, mart, parts))
            except psycopg.Error as err:
                # the mart's transaction is rolled back: its table, if any, is as it was
                raise PostgresPublishError(
                    f"не удалось опубликовать витрину {mart} в схему {schema} (таблица не изменена) / "
                    f"could not publish mart {mart} to schema {schema} (table left unchanged): {err}"
                ) from err
        return published
