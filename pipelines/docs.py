"""`make docs`: dbt docs (lineage, models and columns with their Russian labels) and the Great Expectations
Data Docs (every contract and every validation of the loads), as files to open in a browser."""

from __future__ import annotations

import os
import subprocess
import sys

import great_expectations as gx

from pipelines.defs.dbt.assets import dbt_executable
from pipelines.lib.contracts import data_docs_index
from pipelines.settings import DBT_PROJECT_DIR, Settings


def main() -> None:
    settings = Settings.from_env()
    if not settings.warehouse_path.exists():
        print(
            f"Хранилище {settings.warehouse_path} ещё не создано: сначала make demo (или загрузка). / "
            f"The warehouse {settings.warehouse_path} does not exist yet: run `make demo` (or a load) first.",
            file=sys.stderr,
        )
        sys.exit(1)
    env = {**os.environ, "EDUWH_DATA_DIR": str(settings.data_dir)}
    subprocess.run(
        [dbt_executable(), "docs", "generate", "--static", "--quiet", "--profiles-dir", "."],
        cwd=DBT_PROJECT_DIR,
        env=env,
        check=True,
    )
    # dbt writes into its target path: dbt_project/target, or DBT_TARGET_PATH (dbt's own variable) when set
    dbt_docs = DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target") / "static_index.html"
    lines = [f"dbt docs (модели, колонки, происхождение данных / models, columns, lineage): {dbt_docs}"]
    if (settings.data_dir / "gx").exists():
        context = gx.get_context(mode="file", project_root_dir=str(settings.data_dir))
        context.variables.progress_bars = {"globally": False}
        context.build_data_docs()
        lines.append(
            f"Great Expectations Data Docs (контракты и проверки / contracts and validations): "
            f"{data_docs_index(settings.data_dir)}"
        )
    else:
        lines.append("Great Expectations Data Docs: ни одной проверки ещё не было / no validation has run yet")
    print("\n".join(lines))
    print("Откройте файлы в браузере / open the files in a browser (file://…).")


if __name__ == "__main__":
    main()
