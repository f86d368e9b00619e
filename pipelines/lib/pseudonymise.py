"""Pupil codes are personal data: they are replaced at ingest by HMAC-SHA256 under a key kept outside the
repository, and the raw codes are never stored (not in the warehouse, not in staging, not in quarantine).

The HMAC is computed inside DuckDB, vectorised over each block as it streams in:
    HMAC(K, m) = SHA256((K ⊕ opad) ‖ SHA256((K ⊕ ipad) ‖ m))
so the same code under the same key gives the same pseudonym in every year and every source, and
tests check it against Python's `hmac`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import PROJECT_ROOT

KEY_ENV = "EDUWH_PSEUDONYM_KEY"
KEY_FILE_ENV = "EDUWH_PSEUDONYM_KEY_FILE"
MIN_KEY_LENGTH = 32
BLOCK = 64  # SHA-256 block size in bytes


class PseudonymKeyError(RuntimeError):
    """No usable key: pupil-level files cannot be loaded."""


@dataclass(frozen=True)
class PseudonymKey:
    key: bytes
    origin: str  # where it came from, for messages (never the key itself)

    @property
    def pads(self) -> dict[str, bytes]:
        """The inner and outer HMAC pads, as query parameters for `hmac_sql`."""
        k = self.key if len(self.key) <= BLOCK else hashlib.sha256(self.key).digest()
        k = k.ljust(BLOCK, b"\0")
        return {"hmac_ipad": bytes(b ^ 0x36 for b in k), "hmac_opad": bytes(b ^ 0x5C for b in k)}


def hmac_sql(expression: str) -> str:
    """SQL computing the hex HMAC-SHA256 of a text expression (null stays null); needs the `pads` parameters."""
    return f"sha256($hmac_opad || unhex(sha256($hmac_ipad || encode({expression}))))"


def _check_outside(path: Path, data_dir: Path) -> None:
    resolved = path.expanduser().resolve()
    for forbidden in (PROJECT_ROOT, data_dir.resolve()):
        if resolved.is_relative_to(forbidden):
            raise PseudonymKeyError(
                f"ключ псевдонимизации {resolved} лежит внутри {forbidden}; храните его вне репозитория и данных / "
                f"the pseudonymisation key file {resolved} is inside {forbidden}; keep it outside the repository and the data"
            )


def load_key(default_key_file: str, data_dir: Path) -> PseudonymKey:
    """The key from EDUWH_PSEUDONYM_KEY, else the file EDUWH_PSEUDONYM_KEY_FILE, else the default file."""
    if os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].encode()
        origin = f"${KEY_ENV}"
    else:
        path = Path(os.environ.get(KEY_FILE_ENV) or default_key_file).expanduser()
        _check_outside(path, data_dir)
        if not path.is_file():
            raise PseudonymKeyError(
                f"нет ключа псевдонимизации кодов учеников: задайте {KEY_ENV} или {KEY_FILE_ENV}, либо создайте файл "
                f"{path} (например: python -m pipelines.pseudonym_key {path}) / no key to pseudonymise pupil codes: "
                f"set {KEY_ENV} or {KEY_FILE_ENV}, or create {path} (python -m pipelines.pseudonym_key {path})"
            )
        key = path.read_bytes().strip()
        origin = str(path)
    if len(key) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"ключ псевдонимизации из {origin} короче {MIN_KEY_LENGTH} символов / "
            f"the pseudonymisation key from {origin} is shorter than {MIN_KEY_LENGTH} characters"
        )
    return PseudonymKey(key, origin)


def create_key_file(path: Path, data_dir: Path) -> bool:
    """Write a new random key (readable by the owner only) unless the file exists. True if written."""
    path = path.expanduser()
    _check_outside(path, data_dir)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return True
