"""Baseline D, "the practical limit": a bare DuckDB script that does what the pipeline does for pupil-level
ВПР, ОГЭ and ЕГЭ files, and nothing else (no contracts, no staging, no load log, no quarantine, no dbt).

For each school year given it reads the school registry and the three pupil-level CSV files (cp1251 or UTF-8,
`;`; pyarrow streams and transcodes them, DuckDB reads the Arrow stream), replaces pupil codes by the
pipeline's HMAC-SHA256 pseudonyms (computed in SQL), and stores the rows in a DuckDB file, replacing that
year's rows if it was loaded before, so one more year can be appended to an existing database. It then
recomputes `school_year_results`: the rows and figures of the mart `marts.school_year_results` for
pupil-level sources (school × school year × procedure, municipal and regional values weighted by participants).

Reference data comes straight from the dbt seeds (subjects, assessments, ege_minimum_scores) and the
reliability bands from the dbt vars.

    EDUWH_PSEUDONYM_KEY_FILE=~/.config/eduwh/pseudonym.key  # or EDUWH_PSEUDONYM_KEY=<the key>
    python -m bench.baseline_duckdb --raw /tmp/bench_helper/tiny/raw --db /tmp/bench_helper/d.duckdb --years 2024-2025
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from bench.common import (
    SEEDS_DIR,
    WEIGHTED_COLUMNS,
    export_file,
    header_names,
    hmac_pads,
    key_from_env,
    parse_cli,
    reliability_thresholds,
    sniff_encoding,
)

BLOCK_BYTES = 16 << 20  # pyarrow's streaming block, as the pipeline's stream_block_bytes

# HMAC-SHA256(key, code) = SHA256((K ^ opad) || SHA256((K ^ ipad) || code)), hex: the pipeline's pseudonym
PSEUDONYM = "sha256($opad || unhex(sha256($ipad || encode(trim({code})))))"

TABLES_DDL = """
create table if not exists school_registry (
    school_year varchar, school_login varchar, ogrn varchar, inn varchar, school_name varchar,
    school_short_name varchar, municipality varchar, school_type varchar, settlement_type varchar,
    previous_login varchar
);
create table if not exists vpr_pupil_results (
    school_year varchar, grade integer, subject_code varchar, school_login varchar, pupil_code varchar,
    primary_score integer, is_absent boolean, mark integer
);
create table if not exists oge_pupil_results (
    school_year varchar, exam_year integer, school_login varchar, pupil_code varchar, subject varchar,
    primary_score integer, geometry_score integer, literacy_score integer, mark integer
);
create table if not exists ege_pupil_results (
    school_year varchar, exam_year integer, school_login varchar, pupil_code varchar, subject varchar,
    primary_score integer, test_score integer
);
"""

# what each file's columns become (the export shapes of pipelines/config/sources/*.yaml); `src` is the file
INSERTS: dict[str, str] = {
    "registry": """
        insert into school_registry
        select $school_year, nullif(trim("Логин ОО"), ''), nullif(trim("ОГРН"), ''), nullif(trim("ИНН"), ''),
               nullif(trim("Полное наименование ОО"), ''), nullif(trim("Краткое наименование"), ''),
               nullif(trim("Муниципальное образование"), ''), nullif(trim("Тип ОО"), ''),
               nullif(trim("Тип местности"), ''), nullif(trim("Прежний логин ОО"), '')
        from src
    """,
    "vpr": f"""
        insert into vpr_pupil_results
        select $school_year,
               cast(trim("Класс") as integer),
               upper(trim("Код предмета")),
               trim("ОО"),
               {PSEUDONYM.format(code='"Код ученика"')},
               try_cast(trim("Балл") as integer),                -- «х» / «X»: no score
               lower(trim("Отметка")) = 'отсутствовал',
               try_cast(trim("Отметка") as integer)              -- «отсутствовал»: no mark
        from src
        where trim("Класс") <> 'Класс'                           -- the header line repeated inside the file
    """,
    "oge": f"""
        insert into oge_pupil_results
        select $school_year, cast(trim("Год") as integer), trim("Логин ОО"),
               {PSEUDONYM.format(code='"Код участника"')},
               trim("Предмет"), cast(trim("Первичный балл") as integer),
               try_cast(trim("Баллы по геометрии") as integer), try_cast(trim("Баллы за грамотность") as integer),
               cast(trim("Отметка") as integer)
        from src
        where trim("Год") <> 'Год'
    """,
    "ege": f"""
        insert into ege_pupil_results
        select $school_year, cast(trim("Год") as integer), trim("Логин ОО"),
               {PSEUDONYM.format(code='"Код участника"')},
               trim("Предмет"), cast(trim("Первичный балл") as integer), cast(trim("Тестовый балл") as integer)
        from src
        where trim("Год") <> 'Год'
    """,
}
TABLES = {
    "registry": "school_registry",
    "vpr": "vpr_pupil_results",
    "oge": "oge_pupil_results",
    "ege": "ege_pupil_results",
}

REFERENCE_SQL = f"""
create or replace table ref_subjects as select * from read_csv('{SEEDS_DIR / "subjects.csv"}', header = true);
create or replace table ref_assessments as select * from read_csv('{SEEDS_DIR / "assessments.csv"}', header = true);
-- the ЕГЭ minimum that "below the minimum" counts against: the certificate one where a subject has it,
-- else the university one
create or replace table ref_ege_minimum as
select exam_year, lower(subject) as subject_lower,
       coalesce(max(min_test_score) filter (where purpose = 'attestat'),
                max(min_test_score) filter (where purpose = 'university')) as min_test_score
from read_csv('{SEEDS_DIR / "ege_minimum_scores.csv"}', header = true)
group by all;
"""


def _weighted(prefix: str) -> str:
    """A group's values among all its participants: school values weighted by participants; a school without
    the value counts in neither numerator nor denominator."""
    parts = [f"sum(participants) as {prefix}_participants"]
    parts += [
        f"sum(participants * {c}) / nullif(sum(participants) filter (where {c} is not null), 0) as {prefix}_{c}"
        for c in WEIGHTED_COLUMNS
    ]
    return ",\n        ".join(parts)


def results_sql() -> str:
    """The school_year_results table from the stored pupil rows of every school year."""
    informative, indicative = reliability_thresholds()
    pct = "100.0 * {n} / nullif(participants, 0)"
    rounded = ",\n        ".join(f"round(m.municipal_{c}, 2) as municipal_{c}" for c in WEIGHTED_COLUMNS)
    rounded_r = ",\n        ".join(f"round(r.regional_{c}, 2) as regional_{c}" for c in WEIGHTED_COLUMNS)
    return f"""
create or replace table school_year_results as
with vpr as (
    select v.school_year, v.school_login, 'vpr' as assessment_code, v.grade, s.subject_code, s.subject_name,
           count(*) filter (where not v.is_absent) as participants,
           count(*) filter (where v.mark = 2) as n2, count(*) filter (where v.mark = 3) as n3,
           count(*) filter (where v.mark = 4) as n4, count(*) filter (where v.mark = 5) as n5,
           avg(v.primary_score) as mean_primary_score, null::double as mean_test_score,
           avg(v.mark) as mean_mark, null::integer as min_test_score,
           null::bigint as n_below_minimum, null::bigint as n_80_99, null::bigint as n_100
    from vpr_pupil_results v
    join ref_subjects s on lower(v.subject_code) = s.subject_name_in_source
    group by all
),
oge as (
    select o.school_year, o.school_login, 'oge' as assessment_code, 9 as grade, s.subject_code, s.subject_name,
           count(*) as participants,
           count(*) filter (where o.mark = 2) as n2, count(*) filter (where o.mark = 3) as n3,
           count(*) filter (where o.mark = 4) as n4, count(*) filter (where o.mark = 5) as n5,
           avg(o.primary_score) as mean_primary_score, null::double as mean_test_score,
           avg(o.mark) as mean_mark, null::integer as min_test_score,
           count(*) filter (where o.mark = 2) as n_below_minimum, null::bigint as n_80_99, null::bigint as n_100
    from oge_pupil_results o
    join ref_subjects s on lower(o.subject) = s.subject_name_in_source
    group by all
),
ege as (
    select e.school_year, e.school_login, 'ege' as assessment_code, 11 as grade, s.subject_code, s.subject_name,
           count(*) as participants,
           null::bigint as n2, null::bigint as n3, null::bigint as n4, null::bigint as n5,
           avg(e.primary_score) as mean_primary_score, avg(e.test_score) as mean_test_score,
           null::double as mean_mark, max(m.min_test_score) as min_test_score,
           count(*) filter (where e.test_score < m.min_test_score) as n_below_minimum,
           count(*) filter (where e.test_score between 80 and 99) as n_80_99,
           count(*) filter (where e.test_score = 100) as n_100
    from ege_pupil_results e
    join ref_subjects s on lower(e.subject) = s.subject_name_in_source
    left join ref_ege_minimum m on m.exam_year = e.exam_year and m.subject_lower = lower(e.subject)
    group by all
),
counts as (
    select * from vpr union all select * from oge union all select * from ege
),
school as (
    select c.school_year, c.school_login, g.school_name, g.municipality as municipality_name,
           c.assessment_code || '-' || c.grade || '-' || c.subject_code as procedure_id,
           a.assessment_name, c.grade, c.subject_name, 'pupil' as source_level,
           c.participants::bigint as participants,
           {pct.format(n="n2")} as mark_2_pct,
           {pct.format(n="n3")} as mark_3_pct,
           {pct.format(n="n4")} as mark_4_pct,
           {pct.format(n="n5")} as mark_5_pct,
           {pct.format(n="(n3 + n4 + n5)")} as pass_rate_pct,
           {pct.format(n="(n4 + n5)")} as quality_rate_pct,
           c.mean_primary_score, c.mean_test_score, c.mean_mark, c.min_test_score,
           {pct.format(n="n_below_minimum")} as below_minimum_pct,
           n_80_99 as high_80_99_count, {pct.format(n="n_80_99")} as high_80_99_pct,
           n_100 as score_100_count, {pct.format(n="n_100")} as score_100_pct
    from counts c
    join school_registry g on g.school_year = c.school_year and g.school_login = c.school_login
    join ref_assessments a on a.assessment_code = c.assessment_code
),
municipal as (
    select school_year, procedure_id, municipality_name,
        {_weighted("municipal")}
    from school
    group by school_year, procedure_id, municipality_name
),
regional as (
    select school_year, procedure_id,
        {_weighted("regional")}
    from school
    group by school_year, procedure_id
)
select s.school_year, s.school_login, s.school_name, s.municipality_name, s.procedure_id, s.assessment_name,
       s.grade, s.subject_name, s.source_level, s.participants,
       case when s.participants >= {informative} then 'informative'
            when s.participants >= {indicative} then 'indicative'
            else 'unreliable' end as reliability_band,
       round(s.mark_2_pct, 2) as mark_2_pct, round(s.mark_3_pct, 2) as mark_3_pct,
       round(s.mark_4_pct, 2) as mark_4_pct, round(s.mark_5_pct, 2) as mark_5_pct,
       round(s.pass_rate_pct, 2) as pass_rate_pct, round(s.quality_rate_pct, 2) as quality_rate_pct,
       round(s.mean_primary_score, 2) as mean_primary_score, round(s.mean_test_score, 2) as mean_test_score,
       round(s.mean_mark, 2) as mean_mark, s.min_test_score, round(s.below_minimum_pct, 2) as below_minimum_pct,
       s.high_80_99_count, round(s.high_80_99_pct, 2) as high_80_99_pct,
       s.score_100_count, round(s.score_100_pct, 2) as score_100_pct,
       m.municipal_participants::bigint as municipal_participants,
       {rounded},
       r.regional_participants::bigint as regional_participants,
       {rounded_r}
from school s
join municipal m using (school_year, procedure_id, municipality_name)
join regional r using (school_year, procedure_id)
"""


def _stream(path: Path) -> pa.RecordBatchReader:
    """The file's rows as text, block by block, transcoded to UTF-8 by pyarrow."""
    encoding = sniff_encoding(path)
    names = header_names(path, encoding)
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding="utf8" if encoding.startswith("utf-8") else encoding, block_size=BLOCK_BYTES
        ),
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}),
    )


def load_year(con: duckdb.DuckDBPyConnection, raw_dir: Path, school_year: str, pads: tuple[bytes, bytes]) -> dict:
    """Replace one school year's rows of the four tables by its files (one transaction). Returns rows per table."""
    params = {"school_year": school_year, "ipad": pads[0], "opad": pads[1]}
    loaded = {}
    con.execute("begin transaction")
    try:
        for source, insert in INSERTS.items():
            table = TABLES[source]
            con.execute(f"delete from {table} where school_year = ?", [school_year])
            con.register("src", _stream(export_file(raw_dir, source, school_year)))
            try:
                con.execute(insert, {k: v for k, v in params.items() if f"${k}" in insert})
            finally:
                con.unregister("src")
            loaded[table] = con.execute(
                f"select count(*) from {table} where school_year = ?", [school_year]
            ).fetchone()[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return loaded


def run(raw_dir: Path, db_path: Path, key: bytes, school_years: list[str]) -> dict:
    """Load the given school years into db_path (appending to what it holds) and recompute
    school_year_results over every year it holds. Returns rows loaded and seconds per step."""
    timings: dict[str, float] = {}
    rows: dict[str, dict[str, int]] = {}
    pads = hmac_pads(key)
    con = duckdb.connect(str(db_path), config={"preserve_insertion_order": False})
    try:
        con.execute(TABLES_DDL)
        con.execute(REFERENCE_SQL)
        for school_year in school_years:
            t0 = time.perf_counter()
            rows[school_year] = load_year(con, Path(raw_dir), school_year, pads)
            timings[f"load {school_year}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute(results_sql())
        timings["school_year_results"] = time.perf_counter() - t0
        result_rows = con.execute("select count(*) from school_year_results").fetchone()[0]
    finally:
        con.close()
    return {"rows": rows, "school_year_results": result_rows, "seconds": timings}


def main() -> None:
    raw_dir, db_path, years = parse_cli(
        "python -m bench.baseline_duckdb", __doc__.split("\n\n")[0], "--db", "DuckDB file (created or appended to)"
    )
    started = time.perf_counter()
    summary = run(raw_dir, db_path, key_from_env(), years)
    print(summary | {"total_seconds": round(time.perf_counter() - started, 2)})


if __name__ == "__main__":
    main()
