"""Try a file against a source's config and contract without loading anything:

    python -m pipelines.check_export <source> <file> <school year>

Prints the header found, the columns mapped and ignored, rows read and dropped, and every violation, in the
words the quarantine report would use. Use it when writing the config of a new export layout.
"""

import sys
import tempfile
from pathlib import Path

from pipelines.lib.ingest import check_export, load_registry
from pipelines.lib.readers import ExportReadError
from pipelines.lib.sources import load_sources
from pipelines.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    specs = load_sources()
    if len(args) != 3 or args[0] not in specs:
        print(__doc__.strip(), file=sys.stderr)
        print(f"\nsources: {', '.join(sorted(specs))}", file=sys.stderr)
        return 2
    spec, path, school_year = specs[args[0]], Path(args[1]), args[2]
    settings = Settings.from_env()
    registry = load_registry(settings, school_year) if spec.registry_match and settings.warehouse_path.exists() else []
    if spec.registry_match and not registry:
        print(f"(реестр ОО {school_year} не загружен: проверка школ по реестру покажет все школы неизвестными)")
    with tempfile.TemporaryDirectory() as work:
        try:
            frame, result, load = check_export(spec, path, school_year, Path(work), registry)
        except ExportReadError as exc:
            print(f"НЕ ЧИТАЕТСЯ / UNREADABLE: {exc}")
            return 1
    print(f"{path}: источник/source {spec.name} ({spec.config_path})")
    for column, header in load.headers.items():
        print(f"  «{header}» -> {column}")
    if load.ignored:
        print(f"  не используются/ignored: {list(load.ignored)}")
    for note in load.notes:  # a sheet of a sheet-per-year workbook that does not fit
        print(f"  замечание/note: {note}")
    print(
        f"  строк в файле/rows read {load.rows_read}; отброшено/dropped {load.dropped or 0}; строк после разбора/rows checked {frame.height}"
    )
    if result.success:
        print(f"КОНТРАКТ ВЫПОЛНЕН / CONTRACT PASSED ({result.expectations} expectations)")
        return 0
    print("КОНТРАКТ НАРУШЕН / CONTRACT BROKEN:")
    for v in result.violations:
        print(f"  - {v.describe()}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
