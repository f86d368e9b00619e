"""Where the warehouse keeps its files. One environment variable moves them all.

EDUWH_DATA_DIR (default: <repo>/data) holds raw/, marts/, quarantine/, sample_truth/ and warehouse.duckdb;
EDUWH_CONFIG_DIR (default: pipelines/config) the configuration.
dbt reads the same variable in dbt_project/profiles.yml, so Dagster and dbt always open the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from pipelines.lib.config_schema import Operations, validate_operations

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
CONFIG_DIR = Path(__file__).resolve().parent / "config"  # the shipped configuration


def config_dir() -> Path:
    """Where the configuration is read from: EDUWH_CONFIG_DIR (a region's own copy of pipelines/config/), else
    the shipped pipelines/config/. Read at call time, so a test or a deployment can point elsewhere."""
    return Path(os.environ.get("EDUWH_CONFIG_DIR", CONFIG_DIR)).resolve()


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


def operations_settings() -> Operations:
    """operations.yaml validated, with the defaults of its optional sections (services, alerts, run_end_sensors)
    filled in."""
    path = config_dir() / "operations.yaml"
    return validate_operations(yaml.safe_load(path.read_text(encoding="utf-8")), path)


@cache
def operations_config() -> dict:
    """pipelines/config/operations.yaml: sensor, schedule and retry settings (checked: a misspelt key fails)."""
    path = config_dir() / "operations.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate_operations(raw, path)
    return raw
