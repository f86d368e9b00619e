"""Strict configuration: a misspelt or unknown key fails at start-up, naming the file, the key and the nearest
valid key; every shipped config file passes; the committed JSON Schemas are what the models generate."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipelines.check_config import SCHEMA_DIR
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
from pipelines.settings import CONFIG_DIR, PROJECT_ROOT, operations_config

VALIDATORS = {
    "survey_scales.yaml": validate_survey_scales,
    "ingest.yaml": validate_ingest,
    "publishing.yaml": validate_publishing,
    "operations.yaml": validate_operations,
}
SOURCE_FILES = sorted(p.name for p in (CONFIG_DIR / "sources").glob("*.yaml"))


def shipped(relative: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / relative).read_text(encoding="utf-8"))


def scale_names() -> set[str]:
    return set(shipped("survey_scales.yaml"))


def error_of(validate, raw: dict, relative: str, **kwargs) -> str:
    path = CONFIG_DIR / relative
    with pytest.raises(ConfigError) as exc:
        validate(raw, path, **kwargs)
    message = str(exc.value)
    assert message.startswith(f"{path}: "), message
    return message


def rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# --------------------------------------------------------------------------------------- misspelt and unknown keys


def test_misspelt_required_in_a_column_names_required():
    raw = shipped("sources/vpr_pupil_results.yaml")
    rename(raw["columns"]["primary_score"], "required", "requried")
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "unknown key 'columns.primary_score.requried' — did you mean 'required'?" in message
    assert "неизвестный ключ 'columns.primary_score.requried'" in message  # Russian first
    assert message.index("неизвестный ключ") < message.index("unknown key")


def test_maximum_in_a_column_names_max():
    raw = shipped("sources/vpr_pupil_results.yaml")
    rename(raw["columns"]["grade"], "max", "maximum")
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "unknown key 'columns.grade.maximum' — did you mean 'max'?" in message


def test_misspelt_top_level_unique_names_unique():
    raw = shipped("sources/vpr_pupil_results.yaml")
    rename(raw, "unique", "uniqe")
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "unknown key 'uniqe' — did you mean 'unique'?" in message


def test_misspelt_key_in_a_survey_question_names_the_question_key():
    raw = shipped("sources/survey_shnor_mentoring.yaml")
    question = next(q for q in raw["survey"]["questions"] if q["type"] == "scale")
    index = raw["survey"]["questions"].index(question)
    rename(question, "scale", "scael")
    message = error_of(validate_source, raw, "sources/survey_shnor_mentoring.yaml")
    assert f"unknown key 'survey.questions[{index}].scael' — did you mean 'scale'?" in message


def test_misspelt_key_in_ingest_yaml():
    raw = shipped("ingest.yaml")
    rename(raw, "min_match_rate", "min_match_rat")
    message = error_of(validate_ingest, raw, "ingest.yaml")
    assert "unknown key 'min_match_rat' — did you mean 'min_match_rate'?" in message
    assert "missing" not in message  # the misspelt key is reported once, not also as a missing one


def test_misspelt_keys_in_publishing_yaml():
    raw = shipped("publishing.yaml")
    rename(raw["suppression"]["default"], "min_n", "minn")
    rename(raw["targets"]["postgres"], "schema", "shema")
    message = error_of(validate_publishing, raw, "publishing.yaml")
    assert "unknown key 'suppression.default.minn' — did you mean 'min_n'?" in message
    assert "unknown key 'targets.postgres.shema' — did you mean 'schema'?" in message


def test_the_old_min_cell_size_names_its_replacement():
    raw = shipped("publishing.yaml")
    raw["min_cell_size"] = 10
    message = error_of(validate_publishing, raw, "publishing.yaml")
    assert "key 'min_cell_size' was replaced by 'suppression.default.min_n'" in message


def test_misspelt_key_in_operations_yaml():
    raw = shipped("operations.yaml")
    rename(raw["raw_files_sensor"], "settle_seconds", "setle_seconds")
    message = error_of(validate_operations, raw, "operations.yaml")
    assert "unknown key 'raw_files_sensor.setle_seconds' — did you mean 'settle_seconds'?" in message


def test_dbt_runs_in_operations_yaml_refuse_a_misspelt_key_and_an_unknown_level():
    raw = shipped("operations.yaml")
    raw["dbt_runs"] = {"keep_run": 5}
    assert "unknown key 'dbt_runs.keep_run' — did you mean 'keep_runs'?" in error_of(
        validate_operations, raw, "operations.yaml"
    )
    raw["dbt_runs"] = {"log_level_file": "verbose", "keep_runs": 5}
    assert "dbt_runs.log_level_file" in error_of(validate_operations, raw, "operations.yaml")
    raw["dbt_runs"] = {"log_level_file": "debug", "keep_runs": 5}
    assert validate_operations(raw, "operations.yaml").dbt_runs.keep_runs == 5


def test_misspelt_key_in_survey_scales_yaml():
    raw = shipped("survey_scales.yaml")
    rename(raw["agree4"], "top_box", "top_bx")
    message = error_of(validate_survey_scales, raw, "survey_scales.yaml")
    assert "unknown key 'agree4.top_bx' — did you mean 'top_box'?" in message


def test_the_old_table_key_names_family():
    raw = shipped("sources/isbsh_scores.yaml")
    raw["table"] = f"raw.{raw.pop('family')}"
    message = error_of(validate_source, raw, "sources/isbsh_scores.yaml")
    assert "key 'table' was replaced by 'family'" in message


def test_an_unknown_key_with_nothing_near_lists_the_valid_keys():
    raw = shipped("ingest.yaml")
    raw["zzz"] = 1
    message = error_of(validate_ingest, raw, "ingest.yaml")
    assert "unknown key 'zzz', valid keys: min_match_rate, stream_block_bytes, duckdb_memory_limit" in message


def test_every_error_of_a_file_is_reported_not_only_the_first():
    raw = shipped("sources/vpr_pupil_results.yaml")
    rename(raw["columns"]["grade"], "max", "maximum")
    rename(raw, "unique", "uniqe")
    raw["format"] = "xslx"
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "did you mean 'max'?" in message
    assert "did you mean 'unique'?" in message
    assert "'format'" in message


# ----------------------------------------------------------------------------------------- wrong values and types


def test_wrong_format_names_the_allowed_values():
    raw = shipped("sources/vpr_pupil_results.yaml")
    raw["format"] = "xslx"
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "'format': недопустимое значение 'xslx', допустимы: csv, xlsx, xls" in message
    assert "invalid value 'xslx', allowed: csv, xlsx, xls — did you mean 'xlsx'?" in message


def test_wrong_column_type_and_question_type():
    raw = shipped("sources/survey_shnor_mentoring.yaml")
    raw["columns"]["school_login"]["type"] = "text"
    raw["survey"]["questions"][0]["type"] = "multiple"
    message = error_of(validate_source, raw, "sources/survey_shnor_mentoring.yaml")
    assert "'columns.school_login.type': недопустимое значение 'text'" in message
    assert "'survey.questions[0].type': недопустимое значение 'multiple'" in message


def test_wrong_types_are_named():
    raw = shipped("sources/vpr_pupil_results.yaml")
    raw["stream"] = "yes"  # a string, not a YAML boolean: bool("no") would be true
    raw["contract_version"] = "первая"
    raw["columns"]["grade"]["min"] = "4"
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "'stream': ожидается true или false, а не 'yes' / expected true or false, not 'yes'" in message
    assert "'contract_version': ожидается целое число" in message
    assert "'columns.grade.min': ожидается число, а не '4'" in message


def test_a_file_that_is_not_a_mapping():
    message = error_of(validate_operations, None, "operations.yaml")
    assert "expected a mapping of keys, not None" in message


def test_a_missing_required_key():
    raw = shipped("sources/vpr_pupil_results.yaml")
    del raw["family"]
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "нет обязательного ключа 'family' / missing required key 'family'" in message


def test_out_of_range_and_malformed_values():
    raw = shipped("ingest.yaml")
    raw["min_match_rate"] = 95
    assert "'min_match_rate': должно быть не больше 1" in error_of(validate_ingest, raw, "ingest.yaml")
    raw = shipped("operations.yaml")
    raw["daily_marts_refresh"]["timezone"] = "Europe/Moskow"
    assert "unknown time zone 'Europe/Moskow'" in error_of(validate_operations, raw, "operations.yaml")
    raw = shipped("sources/survey_shnor_mentoring.yaml")
    raw["survey"]["questions"][0]["school_years"] = ["2023-2025"]
    message = error_of(validate_source, raw, "sources/survey_shnor_mentoring.yaml")
    assert "'survey.questions[0].school_years[0]': '2023-2025' — не учебный год" in message


# ------------------------------------------------------------------------------------------- rules between keys


def test_a_rule_naming_a_column_that_does_not_exist():
    raw = shipped("sources/vpr_pupil_results.yaml")
    raw["unique"] = [["pupil_cod", "subject_code"]]
    message = error_of(validate_source, raw, "sources/vpr_pupil_results.yaml")
    assert "'unique[0][0]': столбец 'pupil_cod' назван в правиле, но его нет" in message
    assert "'pupil_cod' is used in a rule but is not a column — did you mean 'pupil_code'?" in message


def test_a_question_scale_must_be_in_survey_scales():
    raw = shipped("sources/survey_shnor_mentoring.yaml")
    question = next(q for q in raw["survey"]["questions"] if q["type"] == "scale")
    question["scale"] = "agre4"
    validate_source(copy.deepcopy(raw), CONFIG_DIR / "sources/survey_shnor_mentoring.yaml")  # scales not given
    message = error_of(validate_source, raw, "sources/survey_shnor_mentoring.yaml", scales=scale_names())
    assert "no scale 'agre4' in survey_scales.yaml" in message
    assert "did you mean 'agree4'?" in message


def test_top_box_answers_must_be_among_the_answers():
    raw = shipped("survey_scales.yaml")
    raw["agree4"]["top_box"] = ["Да", "Скорее да"]
    message = error_of(validate_survey_scales, raw, "survey_scales.yaml")
    assert "'agree4.top_box[1]': 'Скорее да' нет среди answers" in message


def test_new_keys_registry_match_by_multi_year_and_survey_groups():
    raw = shipped("sources/survey_shnor_mentoring.yaml")
    raw["registry_match"] = {"by": "inn", "column": "school_inn", "min_match_rate": 0.9}
    raw["columns"]["school_inn"] = raw["columns"].pop("school_login")
    raw["multi_year"] = {"column": "submitted_at", "format": "school_year", "first_school_year": "2022-2023"}
    raw["survey"]["group_column"] = "respondent_role"
    raw["survey"]["groups"] = {"Директор": "head", "Учитель": "teacher"}
    source = validate_source(raw, CONFIG_DIR / "sources/survey_shnor_mentoring.yaml", scales=scale_names())
    assert source.registry_match.by == "inn"
    assert source.multi_year.first_school_year == "2022-2023"
    assert source.survey.groups == {"Директор": "head", "Учитель": "teacher"}

    raw["registry_match"]["by"] = "okpo"
    message = error_of(validate_source, raw, "sources/survey_shnor_mentoring.yaml")
    assert "'registry_match.by': недопустимое значение 'okpo', допустимы: login, ogrn, inn, name" in message


def test_survey_group_column_must_be_a_column():
    raw = shipped("sources/survey_shnor_mentoring.yaml")
    raw["survey"]["group_column"] = "respondent_rol"
    raw["survey"]["groups"] = {"Директор": "head"}
    message = error_of(validate_source, raw, "sources/survey_shnor_mentoring.yaml")
    assert "'survey.group_column': столбец 'respondent_rol' назван в правиле, но его нет" in message


# ------------------------------------------------------------------------------------------- the shipped files


@pytest.mark.parametrize("name", list(VALIDATORS))
def test_every_shipped_settings_file_validates(name: str):
    VALIDATORS[name](shipped(name), CONFIG_DIR / name)


@pytest.mark.parametrize("name", SOURCE_FILES)
def test_every_shipped_source_file_validates(name: str):
    """The source files say `family:` (the raw table is raw.<family>); the old `table:` key is refused."""
    validate_source(shipped(f"sources/{name}"), CONFIG_DIR / "sources" / name, scales=scale_names())


def test_the_committed_json_schemas_are_what_the_models_generate():
    """Regenerate with `python -m pipelines.check_config --write-schemas` after changing a model."""
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(f"{n}.schema.json" for n in SCHEMAS)
    for name, model in SCHEMAS.items():
        assert (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8") == json_schema(model), name


def test_the_json_schemas_accept_the_shipped_files_and_refuse_a_misspelt_key():
    """What an editor (yaml-language-server) checks with the schemas agrees with the models."""

    def schema_errors(schema_name: str, raw: dict) -> list[str]:
        schema = json.loads((SCHEMA_DIR / f"{schema_name}.schema.json").read_text(encoding="utf-8"))
        return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(raw)]

    for name in VALIDATORS:
        assert schema_errors(name.removesuffix(".yaml"), shipped(name)) == [], name
    for name in SOURCE_FILES:
        assert schema_errors("source", shipped(f"sources/{name}")) == [], name
    raw = shipped("sources/vpr_pupil_results.yaml")
    rename(raw["columns"]["grade"], "max", "maximum")
    assert any("'maximum' was unexpected" in e for e in schema_errors("source", raw))


# ----------------------------------------------------------------------------------------- python -m check_config


def run_check_config(*args: str, config_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EDUWH_CONFIG_DIR"}
    if config_dir is not None:
        env["EDUWH_CONFIG_DIR"] = str(config_dir)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.check_config", *args],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A copy of the shipped configuration with `maximum:` for `max:` in one column of one source."""
    copied = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, copied)
    path = copied / "sources" / "vpr_pupil_results.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("max: 11") == 1
    path.write_text(text.replace("max: 11", "maximum: 11"), encoding="utf-8")
    return copied


def test_check_config_reports_the_misspelt_key_and_exits_1(config_copy: Path):
    result = run_check_config("--config-dir", str(config_copy))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    expected_files = 4 + len(list((config_copy / "sources").glob("*.yaml")))
    assert len(lines) == expected_files  # one line per file
    bad = [line for line in lines if not line.endswith(": ok")]
    assert len(bad) == 1
    assert bad[0].startswith(f"{config_copy / 'sources' / 'vpr_pupil_results.yaml'}: ")
    assert "unknown key 'columns.grade.maximum' — did you mean 'max'?" in bad[0]
    assert f"{config_copy / 'sources' / 'vpr_score_distribution.yaml'}: ok" in lines


def test_check_config_reads_eduwh_config_dir_by_default(config_copy: Path):
    result = run_check_config(config_dir=config_copy)
    assert result.returncode == 1
    assert "did you mean 'max'?" in result.stdout


def test_check_config_passes_the_shipped_configuration():
    result = run_check_config("--config-dir", str(CONFIG_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.endswith(": ok") for line in result.stdout.splitlines())


def test_operations_config_refuses_a_misspelt_key(config_copy: Path, monkeypatch: pytest.MonkeyPatch):
    path = config_copy / "operations.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("settle_seconds:", "setle_seconds:"), encoding="utf-8")
    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(config_copy))
    operations_config.cache_clear()
    try:
        with pytest.raises(ConfigError, match="did you mean 'settle_seconds'"):
            operations_config()
    finally:
        operations_config.cache_clear()
