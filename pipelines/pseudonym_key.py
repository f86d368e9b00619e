"""Create the key that pseudonymises pupil codes: python -m pipelines.pseudonym_key [path]

Without a path the key goes to the default file of pipelines/config/ingest.yaml (~/.config/eduwh/pseudonym.key).
An existing key is never overwritten: a new key would give every pupil a new pseudonym.
"""

import sys
from pathlib import Path

import yaml

from pipelines.lib.pseudonymise import create_key_file
from pipelines.settings import Settings, config_dir


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    default = yaml.safe_load((config_dir() / "ingest.yaml").read_text(encoding="utf-8"))["default_key_file"]
    path = Path(args[0] if args else default).expanduser()
    if create_key_file(path, Settings.from_env().data_dir):
        print(f"Ключ создан / key written: {path} (права 600). Храните его в секрете и не теряйте.")
    else:
        print(f"Ключ уже есть / key exists, left as is: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
