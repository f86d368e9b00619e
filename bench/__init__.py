"""Benchmark of the pipeline against three hand-written baselines over pupil-level ВПР, ОГЭ and ЕГЭ files.

- `bench.data`: the benchmark inputs (registry + three pupil-level sources) at two sizes, `tiny` and `national`.
- `bench.baseline_duckdb` (D): a bare DuckDB script, the practical limit.
- `bench.baseline_pandas` (Pd): what an analyst writes today with pandas.
- `bench.baseline_pandas_plain` (Pd0): the same without pupil codes, for the school figures alone.

The baselines produce the figures of the mart `marts.school_year_results` restricted to pupil-level sources.
"""
