"""What the two baselines share and that is not what they are timed on: where the files are, which encoding a
file is in, the pseudonymisation key, the reference data (dbt seeds and vars) and the mart's columns.

The baselines read the same data/raw-shaped folders as the pipeline:
    raw_dir/<source folder>/<school year>/<one *.csv>
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import yaml

from pipelines.lib.readers import detect_encoding

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"
DBT_PROJECT_YML = REPO_ROOT / "dbt_project" / "dbt_project.yml"

# source -> folder under raw_dir (the pipeline's configs: pipelines/config/sources/<source>.yaml `folder`)
FOLDERS: dict[str, str] = {
    "registry": "school_registry",
    "vpr": "vpr_pupil_results",
    "oge": "oge_pupil_results",
    "ege": "ege_pupil_results",
}

KEY_ENV = "EDUWH_PSEUDONYM_KEY"
KEY_FILE_ENV = "EDUWH_PSEUDONYM_KEY_FILE"

# The grain of the mart and every column it has, in its order (dbt_project/models/marts/school_year_results.sql).
KEY_COLUMNS: tuple[str, ...] = ("school_year", "school_login", "procedure_id")
WEIGHTED_COLUMNS: tuple[str, ...] = (
    "mark_2_pct",
    "pass_rate_pct",
    "quality_rate_pct",
    "mean_primary_score",
    "mean_test_score",
    "mean_mark",
    "below_minimum_pct",
    "high_80_99_pct",
    "score_100_pct",
)
MART_COLUMNS: tuple[str, ...] = (
    "school_year",
    "school_login",
    "school_name",
    "municipality_name",
    "procedure_id",
    "assessment_name",
    "grade",
    "subject_name",
    "source_level",
    "participants",
    "reliability_band",
    "mark_2_pct",
    "mark_3_pct",
    "mark_4_pct",
    "mark_5_pct",
    "pass_rate_pct",
    "quality_rate_pct",
    "mean_primary_score",
    "mean_test_score",
    "mean_mark",
    "min_test_score",
    "below_minimum_pct",
    "high_80_99_count",
    "high_80_99_pct",
    "score_100_count",
    "score_100_pct",
    "municipal_participants",
    *(f"municipal_{c}" for c in WEIGHTED_COLUMNS),
    "regional_participants",
    *(f"regional_{c}" for c in WEIGHTED_COLUMNS),
)
TEXT_COLUMNS: tuple[str, ...] = (
    "school_year",
    "school_login",
    "school_name",
    "municipality_name",
    "procedure_id",
    "assessment_name",
    "subject_name",
    "source_level",
    "reliability_band",
)


def export_file(raw_dir: Path, source: str, school_year: str) -> Path:
    """The one CSV of a source for a school year."""
    folder = raw_dir / FOLDERS[source] / school_year
    files = sorted(folder.glob("*.csv"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected one *.csv in {folder}, found {len(files)}")
    return files[0]


def sniff_encoding(path: Path) -> str:
    """'utf-8-sig' (BOM), 'utf-8' or 'cp1251', decided as the pipeline's `encoding: auto` decides it."""
    return detect_encoding(path, "auto")


def header_names(path: Path, encoding: str, separator: str = ";") -> list[str]:
    """The header line's cells."""
    with path.open("rb") as f:
        line = f.readline()
    return [c.strip() for c in line.decode(encoding).lstrip("\ufeff").rstrip("\r\n").split(separator)]


def key_from_env() -> bytes:
    """The pseudonymisation key as the pipeline reads it: $EDUWH_PSEUDONYM_KEY, else the file named by
    $EDUWH_PSEUDONYM_KEY_FILE (stripped)."""
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    if os.environ.get(KEY_FILE_ENV):
        return Path(os.environ[KEY_FILE_ENV]).expanduser().read_bytes().strip()
    raise SystemExit(f"no pseudonymisation key: set {KEY_ENV} or {KEY_FILE_ENV}")


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer HMAC-SHA256 pads of a key (RFC 2104), for computing HMAC in SQL."""
    k = key if len(key) <= 64 else hashlib.sha256(key).digest()
    k = k.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def reliability_thresholds() -> tuple[int, int]:
    """(informative, indicative) minimum n: dbt vars reliability_informative_min_n, reliability_indicative_min_n."""
    config = yaml.safe_load(DBT_PROJECT_YML.read_text(encoding="utf-8"))["vars"]
    return int(config["reliability_informative_min_n"]), int(config["reliability_indicative_min_n"])


def parse_cli(prog: str, description: str, out_flag: str, out_help: str) -> tuple[Path, Path, list[str]]:
    """--raw DIR, the output flag, --years Y1,Y2,... (default: every school-year folder of the registry)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--raw", type=Path, required=True, help="data/raw-shaped folder")
    p.add_argument(out_flag, dest="out", type=Path, required=True, help=out_help)
    p.add_argument("--years", default="", help="comma-separated school years, e.g. 2020-2021,2021-2022")
    a = p.parse_args()
    years = [y.strip() for y in a.years.split(",") if y.strip()]
    if not years:
        years = sorted(d.name for d in (a.raw / FOLDERS["registry"]).iterdir() if d.is_dir())
    return a.raw, a.out, years
