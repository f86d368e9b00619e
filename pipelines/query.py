"""Run SQL against the warehouse (read-only) and the published Parquet marts, and print the result.

.venv/bin/python -m pipelines.query "select * from marts.school_year_results limit 5"
.venv/bin/python -m pipelines.query "select school_year, count(*) from 'data/marts/school_year_results/*.parquet' group by 1"

A published mart is a folder of Parquet parts, one per school year (or all.parquet for a mart without school_year):
read it as 'data/marts/<mart>/*.parquet'.
"""

from __future__ import annotations

import sys

import duckdb

from pipelines.settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit(__doc__)
    path = Settings.from_env().warehouse_path
    con = duckdb.connect(str(path), read_only=True) if path.exists() else duckdb.connect()
    con.sql(args[0]).show(max_rows=50, max_width=200)


if __name__ == "__main__":
    main()
