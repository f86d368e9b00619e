"""Check every configuration file without loading any data.

    python -m pipelines.check_config [--config-dir DIR]     one line per file: ok, or all its errors; exit 1 on any
    python -m pipelines.check_config --write-schemas        regenerate pipelines/config/schemas/*.schema.json

The configuration directory defaults to the one the pipeline reads (EDUWH_CONFIG_DIR, else pipelines/config/).
Checked: survey_scales.yaml, ingest.yaml, publishing.yaml, operations.yaml and sources/*.yaml (question scales
against survey_scales.yaml, source names unique).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipelines import settings
from pipelines.lib.config_schema import (
    SCHEMAS,
    ConfigError,
    json_schema,
    validate_ingest,
    validate_operations,
    validate_publishing,
    validate_source,
    validate_survey_scales,
)

SCHEMA_DIR = settings.CONFIG_DIR / "schemas"  # beside the shipped configuration, not a region's copy of it


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: файл не найден / file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: не YAML / not valid YAML: {' '.join(str(exc).split())}") from None


def check(config_dir: Path) -> list[tuple[Path, str | None]]:
    """(file, None when it is valid, else the ConfigError message naming all its errors) for every file."""
    results: list[tuple[Path, str | None]] = []

    def run(path: Path, validate: Callable[[Any, Path], Any]) -> Any:
        try:
            model = validate(_read(path), path)
        except ConfigError as exc:
            results.append((path, str(exc)))
            return None
        results.append((path, None))
        return model

    scales = run(config_dir / "survey_scales.yaml", validate_survey_scales)
    scale_names = set(scales.root) if scales else None
    run(config_dir / "ingest.yaml", validate_ingest)
    run(config_dir / "publishing.yaml", validate_publishing)
    run(config_dir / "operations.yaml", validate_operations)
    first_of: dict[str, Path] = {}
    for path in sorted((config_dir / "sources").glob("*.yaml")):
        source = run(path, lambda raw, p: validate_source(raw, p, scale_names))
        if source is None:
            continue
        first = first_of.setdefault(source.name, path)
        if first != path:
            clash = (
                f"имя {source.name!r} уже занято файлом {first.name} / name {source.name!r} is used by {first.name} too"
            )
            results[-1] = (path, f"{path}: {clash}")
    return results


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = directory / f"{name}.schema.json"
        path.write_text(json_schema(model), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.check_config", description=__doc__.split("\n")[0])
    parser.add_argument("--config-dir", type=Path, help="default: EDUWH_CONFIG_DIR, else pipelines/config")
    parser.add_argument(
        "--write-schemas", action="store_true", help="regenerate pipelines/config/schemas/*.schema.json from the models"
    )
    args = parser.parse_args(argv)
    if args.write_schemas:
        for path in write_schemas():
            print(f"записано / written: {path}")
        return 0
    results = check(args.config_dir or settings.config_dir())
    for path, error in results:
        print(error or f"{path}: ok")
    return 1 if any(error for _, error in results) else 0


if __name__ == "__main__":
    sys.exit(main())
