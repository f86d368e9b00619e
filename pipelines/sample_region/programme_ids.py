"""Identifiers the registry carries beside the login: ИНН of each school, stable across years and logins."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.sample_region.model import RegionTruth

INN_WEIGHTS = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])


def school_inns(truth: RegionTruth) -> pl.DataFrame:
    """first login (truth.schools.school_login) -> ИНН of a legal entity: region code, tax office, serial, check digit."""
    n = truth.schools.height
    rng = np.random.default_rng([truth.params.seed, 102])
    region = int(truth.params.region_code[-2:]) if truth.params.region_code[-2:].isdigit() else 77
    office = rng.integers(1, 30, size=n)
    serial = rng.choice(100_000, size=n, replace=False)  # distinct serials, so distinct ИНН
    body = region * 10**7 + office * 10**5 + serial
    digits = (body[:, None] // 10 ** np.arange(8, -1, -1)[None, :]) % 10
    check = (digits @ INN_WEIGHTS) % 11 % 10
    inn = body * 10 + check
    return pl.DataFrame({"school_login": truth.schools["school_login"], "inn": [f"{v:010d}" for v in inn]})
