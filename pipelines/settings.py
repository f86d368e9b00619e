"""Where the warehouse keeps its files. One environment variable moves them all.

EDUWH_DATA_DIR (default: <repo>/data) holds raw/, marts/, quarantine/, sample_truth/ and warehouse.duckdb.
dbt reads the same variable in dbt_project/profiles.yml, so Dagster and dbt always open the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
CONFIG_DIR = Path(__file__).resolve().parent / "config"


@dataclass(frozen=True)
class Settings:
    data_dir: Path

    @classmethod
    def from_env(cls) -> Settings:
        return cls(Path(os.environ.get("EDUWH_DATA_DIR", PROJECT_ROOT / "data")).resolve())

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def marts_dir(self) -> Path:
        return self.data_dir / "marts"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def truth_dir(self) -> Path:
        return self.data_dir / "sample_truth"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


@cache
def operations_config() -> dict:
    """pipelines/config/operations.yaml: sensor, schedule and retry settings."""
    return yaml.safe_load((CONFIG_DIR / "operations.yaml").read_text(encoding="utf-8"))
