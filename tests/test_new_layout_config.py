"""The README's promise: a new export layout is a config file. Its example config is taken from the README
itself, so the README stays true."""

from __future__ import annotations

import re
from pathlib import Path

import xlsxwriter

from pipelines.lib.ingest import check_export
from pipelines.lib.sources import load_source
from pipelines.settings import PROJECT_ROOT


def readme_example_config() -> str:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### A new export layout is a config file", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_example_config_reads_a_new_layout(tmp_path: Path):
    config = tmp_path / "vpr_marks_region_portal.yaml"
    config.write_text(readme_example_config(), encoding="utf-8")
    spec = load_source(config)

    path = tmp_path / "portal.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["Региональный портал оценки качества"])
    ws.write_row(1, 0, ["ВПР 2025"])
    ws.write_row(2, 0, ["Выгрузка от 01.06.2025"])
    ws.write_row(3, 0, ["Предмет", "Параллель", "Код ОО", "Количество\nобучающихся", '% "2"', "Примечание"])
    ws.write_row(4, 0, ["Математика", 5, "sch470001", 25, "12,5", ""])
    ws.write_row(5, 0, ["Русский язык", 5, "sch470001", 24, 8.33, "пересдача"])
    wb.close()

    frame, result, load = check_export(spec, path, "2024-2025", tmp_path, {"sch470001"})
    assert result.success, [v.describe() for v in result.violations]
    assert load.headers["participants"] == "Количество\nобучающихся"
    assert load.ignored == ("Примечание",)
    assert frame["participants"].to_list() == [25, 24]
    assert frame["mark_2_pct"].to_list() == [12.5, 8.33]
    assert frame["_source_row"].to_list() == [5, 6]
