"""Reading the published Parquet marts for the справка, and printing their numbers the Russian way.

Only the published files are read (data/marts/<mart>/*.parquet: one part per school year, or all.parquet), never
the warehouse: a cell blanked by the small-cell rule stays blank here and is printed with the rule's wording
(«скрыто (менее 10)»), never as 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

# Thousands separator: NARROW NO-BREAK SPACE (U+202F), the thin space that does not break a number across lines.
THOUSANDS = "\u202f"
DASH = "—"  # no value (not published, not applicable); never printed for a suppressed cell


def fmt_number(value: object, decimals: int | None = None) -> str:
    """12345.6 -> «12 345,6» (decimal comma, U+202F thousands). Decimals: as given, else the Decimal's own
    scale, else 0 for integers and 2 for floats. None -> «—»."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, str):
        return value
    if decimals is None:
        if isinstance(value, Decimal):
            decimals = max(0, -value.as_tuple().exponent)
        elif isinstance(value, int):
            decimals = 0
        else:
            decimals = 2
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_HALF_UP")
    text = f"{abs(number) if number == 0 else number:,f}"  # no «−0,00»
    if text.startswith("-"):
        text = "−" + text[1:]  # U+2212 MINUS SIGN, as Russian typesetting has it
    return text.replace(",", THOUSANDS).replace(".", ",")


def suppressed_text(min_n: int) -> str:
    """What a suppressed cell says: the rule of its mart (publishing.yaml min_n)."""
    return f"скрыто (менее {min_n})"


@dataclass
class Mart:
    """One published mart: its directory of parts, its rule and when it was last published."""

    name: str
    path: Path  # data/marts/<mart>/
    label_ru: str
    published_at: datetime
    min_n: int | None
    rule: str | None

    @property
    def glob(self) -> str:
        """Every part of the mart, as read_parquet reads them."""
        return str(self.path / "*.parquet")

    @classmethod
    def open(cls, marts_dir: Path, name: str) -> Mart:
        path = marts_dir / name
        parts = sorted(path.glob("*.parquet")) if path.is_dir() else []
        if not parts:
            raise FileNotFoundError(
                f"нет опубликованной витрины {path}/*.parquet (сначала make demo) / published mart {path}/*.parquet "
                "is missing (run make demo first)"
            )
        meta = {k.decode(): v.decode() for k, v in (pq.read_schema(parts[0]).metadata or {}).items()}
        published = meta.get("published_at")
        # each part is renamed into place when its content changes (unchanged parts are kept as they are): the
        # newest part's time is when the mart last changed
        when = (
            datetime.fromisoformat(published)
            if published
            else datetime.fromtimestamp(max(p.stat().st_mtime for p in parts), UTC)
        )
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        min_n = meta.get("suppression_min_n")
        return cls(
            name=name,
            path=path,
            label_ru=meta.get("label_ru", name),
            published_at=when.astimezone(UTC),
            min_n=int(min_n) if min_n else None,
            rule=meta.get("suppression_rule"),
        )

    def rows(self, where: str = "true", params: list | None = None, order: str = "1") -> list[dict]:
        with duckdb.connect() as con:
            cursor = con.execute(
                f"select * from read_parquet(?) where {where} order by {order}", [self.glob, *(params or [])]
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def cell(self, row: dict, column: str, decimals: int | None = None) -> str:
        """A figure of a row: «скрыто (менее N)» where the row is suppressed and the figure blanked."""
        value = row.get(column)
        if value is None and row.get("is_suppressed") and self.min_n is not None:
            return suppressed_text(self.min_n)
        return fmt_number(value, decimals)

    def source(self, selection: str) -> str:
        """The source line under a table or chart: mart, filter, publication time, suppression rule."""
        line = (
            f"Источник: витрина «{self.label_ru}» ({self.name}/*.parquet); отбор: {selection}; опубликована "
            f"{self.published_at:%d.%m.%Y %H:%M} UTC."
        )
        if self.min_n is not None:
            line += f" Ячейки строк с n менее {self.min_n} скрыты ({self.rule})."
        return line
