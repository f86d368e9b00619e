"""Baseline Pd0: the pandas script an analyst writes for the school figures alone. The same reading and
aggregation as Pd (bench/baseline_pandas.py), one school year's files at a time, but pupil codes are neither read
into the result nor hashed: no figure of `school_year_results` needs them. It is the fair yardstick of the job the
warehouse replaces for an analyst who only wants the school figures.

    python -m bench.baseline_pandas_plain --raw /tmp/bench_helper/tiny/raw --out /tmp/bench_helper/pd0.parquet --years 2024-2025
"""

from bench.baseline_pandas import main

if __name__ == "__main__":
    main(pseudonymised=False)
