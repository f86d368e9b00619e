"""Which raw files are new or changed since the last look: decided by content (SHA-256), not by time.

The sensor keeps what it saw as its cursor, `{"<source>|<path under data/raw>": [size, mtime_ns, sha256, years]}`
(years: the folder's school year, or the years read from a multi-year source's file or a sheet-per-year
workbook: the years of the sheets it can read, or when none, those its sheet names give).
A file is hashed again only when its size or modification time moved; it counts as changed only when the
hash differs. A file modified less than `settle_seconds` ago is still being copied: it is left for a later
look (and not recorded, so it is seen then).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.lib.ingest import REGISTRY_SOURCE, export_files, school_years_in, sha256_of
from pipelines.lib.readers import ExportReadError, sheet_school_years
from pipelines.lib.sources import SourceSpec
from pipelines.settings import Settings

Seen = dict[str, list]  # cursor: key -> [size, mtime_ns, sha256, school years it holds]

SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


def is_school_year(name: str) -> bool:
    """`2024-2025` is a school year folder; `2024-2026`, `2024` or `old` are not."""
    m = SCHOOL_YEAR.match(name)
    return bool(m) and int(m.group(2)) == int(m.group(1)) + 1


@dataclass
class RawFileScan:
    changed: dict[str, list[str]] = field(default_factory=dict)  # school year -> sources to load, sorted
    settling: list[Path] = field(default_factory=list)  # files still being written
    seen: Seen = field(default_factory=dict)  # the cursor to keep
    hashed: int = 0  # files whose content was hashed during this look

    def fingerprint(self, school_year: str) -> str:
        """What this year's request is about: the sources and the content of their files."""
        parts = sorted(v[2][:12] for k, v in self.seen.items() if school_year in _years_of(k, v))
        return f"{school_year}:{','.join(self.changed[school_year])}:{'-'.join(parts)}"


def _years_of(key: str, seen: list) -> list[str]:
    """The school years a file holds: its folder's, or those read from a multi-year file."""
    return seen[3] if len(seen) > 3 else [Path(key.split("|", 1)[1]).parent.name]


def school_years_with_files(settings: Settings, spec: SourceSpec) -> list[str]:
    folder = settings.raw_dir / spec.folder
    return sorted(p.name for p in folder.glob("*") if p.is_dir() and is_school_year(p.name))


def _years_of_multi_year_file(spec: SourceSpec, path: Path) -> list[str]:
    """The school years a changed multi-year file holds. A file that cannot be read is still requested (for
    the year its folder names, else the source's last year), so that its load fails and quarantines it."""
    try:
        years = school_years_in(spec, path)
    except ExportReadError:  # unreadable or not this layout: the load will say why
        years = []
    if years:
        return years
    if spec.sheets:  # a workbook refused whole (or unreadable): the years its sheet names give, so the load says why
        try:
            years = sheet_school_years(spec, path)
        except ExportReadError:
            years = []
        if years:
            return years
    if is_school_year(path.parent.name):
        return [path.parent.name]
    return [spec.multi_year.last_school_year] if spec.multi_year.last_school_year else []


def scan_raw_files(
    settings: Settings,
    specs: dict[str, SourceSpec],
    previous: Seen | None = None,
    settle_seconds: float = 0,
    now: float | None = None,
) -> RawFileScan:
    previous = previous or {}
    now = time.time() if now is None else now
    scan = RawFileScan()
    changed: dict[str, set[str]] = {}
    for spec in specs.values():
        if spec.multi_year:
            paths = [(None, p) for p in export_files(spec, settings, "")]
        else:
            paths = [(y, p) for y in school_years_with_files(settings, spec) for p in export_files(spec, settings, y)]
        for school_year, path in paths:
            key = f"{spec.name}|{path.relative_to(settings.raw_dir).as_posix()}"
            stat = path.stat()
            before = previous.get(key)
            if now - stat.st_mtime < settle_seconds:
                scan.settling.append(path)
                if before:
                    scan.seen[key] = before
                continue
            if before and before[:2] == [stat.st_size, stat.st_mtime_ns]:
                scan.seen[key] = before
                continue
            digest = sha256_of(path)
            scan.hashed += 1
            if before and before[2] == digest:  # touched, not changed
                scan.seen[key] = [stat.st_size, stat.st_mtime_ns, digest, *before[3:4]]
                continue
            years = [school_year] if school_year else _years_of_multi_year_file(spec, path)
            scan.seen[key] = [stat.st_size, stat.st_mtime_ns, digest, years]
            for year in years:
                changed.setdefault(year, set()).add(spec.name)
    # a changed registry re-checks the year's files matched against it (their loads name the registry load)
    for school_year, sources in changed.items():
        if REGISTRY_SOURCE in sources:
            sources.update(
                s.name for s in specs.values() if s.registry_match and export_files(s, settings, school_year)
            )
    scan.changed = {year: sorted(sources) for year, sources in sorted(changed.items())}
    return scan
