"""The sample region's truth: schools, their trajectories and the marks their pupils get.

Everything is drawn from one seeded generator, vectorised over schools x years x grades x subjects,
so the same code makes the embedded region (120 schools) and a national year (40,000 schools).
Tests read this truth to check what the pipeline finds; the loaders never see it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

GRADES = (4, 5, 6, 7, 8)
SUBJECTS = ("Русский язык", "Математика")

# School trajectories the marts must later find.
STABLE, PERSISTENTLY_LOW, IMPROVING, DECLINING = "stable", "persistently_low", "improving", "declining"
SOCIAL_LEVELS = ("low", "medium", "high")

MUNICIPALITY_NAMES = (
    "Озёрский муниципальный район",
    "Городской округ Северск-на-Ладоге",
    "Лесогорский муниципальный район",
    "Заречный муниципальный район",
    "Борский муниципальный район",
    "Красносельский городской округ",
    "Сосновский муниципальный район",
    "Приречный муниципальный район",
)

# Ordered-logit cut points for marks: P(mark <= k) = logistic(cut_k - ability).
# At ability 0 the split is about 10 / 47 / 31 / 12 %, a typical ВПР picture.
MARK_CUTS = np.array([-2.2, 0.3, 2.0])
SOCIAL_EFFECT = np.array([-0.5, 0.0, 0.6])


@dataclass(frozen=True)
class RegionParams:
    seed: int = 20240
    municipalities: int = 6
    schools: int = 120
    years: int = 5
    first_year: int = 2020  # the first school year is first_year-(first_year+1)
    pupils_per_grade: int = 40
    region_code: str = "47"

    @property
    def school_years(self) -> list[str]:
        return [f"{y}-{y + 1}" for y in range(self.first_year, self.first_year + self.years)]


@dataclass
class RegionTruth:
    params: RegionParams
    schools: pl.DataFrame  # one row per school: identity, context, trajectory
    school_names: pl.DataFrame  # school x school year -> full and short name (renames show here)
    vpr_marks: pl.DataFrame  # school x year x grade x subject -> participants and count of each mark

    # One school is re-numbered from the fourth school year on: truth.schools keeps one row per school under its
    # first login (`school_login`) with `renumbered_login` / `renumbered_in_year`; school_names and vpr_marks carry
    # the login valid in each year, so join them to schools through schools_by_login().

    def schools_by_login(self) -> pl.DataFrame:
        """truth.schools with one row per login ever used (the renumbered school twice) and `first_login`,
        the school's login in truth.schools: join per-year frames to it on school_login."""
        first = self.schools.with_columns(pl.col("school_login").alias("first_login"))
        later = first.filter(pl.col("renumbered_login").is_not_null()).with_columns(
            pl.col("renumbered_login").alias("school_login")
        )
        return pl.concat([first, later])

    def summary(self) -> dict:
        renumbered = self.schools.filter(pl.col("renumbered_login").is_not_null())
        return {
            "params": asdict(self.params),
            "profiles": dict(self.schools.group_by("profile").len().sort("profile").iter_rows()),
            "renamed": self.schools.filter(pl.col("renamed_in_year").is_not_null())["school_login"].to_list(),
            "renumbered": renumbered.select("school_login", "renumbered_login", "renumbered_in_year").to_dicts(),
        }


def _municipality_name(i: int) -> str:
    return MUNICIPALITY_NAMES[i] if i < len(MUNICIPALITY_NAMES) else f"Муниципальный район №{i + 1}"


def _assign_profiles(rng: np.random.Generator, social: np.ndarray, rural: np.ndarray) -> np.ndarray:
    """Most schools stable; low groups drawn mostly from socially disadvantaged schools."""
    n = len(social)
    profile = np.full(n, STABLE, dtype=object)
    weight = np.where(social == 0, 6.0, np.where(social == 1, 1.5, 0.3)) * np.where(rural, 1.3, 1.0)
    free = np.ones(n, dtype=bool)
    for name, share, minimum in ((PERSISTENTLY_LOW, 0.08, 3), (IMPROVING, 0.06, 2), (DECLINING, 0.06, 2)):
        k = max(minimum, round(share * n))
        p = np.where(free, weight, 0.0)
        chosen = rng.choice(n, size=k, replace=False, p=p / p.sum())
        profile[chosen] = name
        free[chosen] = False
    return profile


def _trajectory(profile: np.ndarray, base: np.ndarray, years: int) -> np.ndarray:
    """School ability per year (schools x years) on the logit scale."""
    t = np.arange(years)
    ability = np.repeat(base[:, None], years, axis=1)
    # persistently low: about 45% of «2» every year
    ability[profile == PERSISTENTLY_LOW] = -2.0
    # improving: low for two years, then recovers to about 13% of «2»
    ramp_up = np.clip((t - 1) / 2, 0, 1)
    ability[profile == IMPROVING] = -1.9 + 1.6 * ramp_up
    # declining: ordinary for two years, then falls to about 45% of «2»
    ramp_down = np.clip((t - 1) / max(1, years - 2), 0, 1)
    ability[profile == DECLINING] = -0.1 - 1.9 * ramp_down
    return ability


def _ogrn(rng: np.random.Generator, n: int) -> list[str]:
    body = rng.integers(10**11, 10**12, size=n)
    return [f"1{b:012d}"[:13] for b in body]


def simulate_region(params: RegionParams) -> RegionTruth:
    rng = np.random.default_rng(params.seed)
    n, years = params.schools, params.years
    width = max(4, len(str(n)))

    municipality = np.sort(rng.integers(0, params.municipalities, size=n))
    municipality[: params.municipalities] = np.arange(min(n, params.municipalities))  # none left empty
    municipality.sort()
    rural = rng.random(n) < 0.5
    social = np.where(
        rural,
        rng.choice(3, size=n, p=[0.45, 0.45, 0.10]),
        rng.choice(3, size=n, p=[0.15, 0.50, 0.35]),
    )
    profile = _assign_profiles(rng, social, rural)
    school_type = np.where(
        ~rural & (social == 2) & (profile == STABLE) & (rng.random(n) < 0.5),
        np.where(rng.random(n) < 0.5, "гимназия", "лицей"),
        np.where(rural & (rng.random(n) < 0.3), "ООШ", "СОШ"),
    )
    size = np.exp(rng.normal(np.where(rural, np.log(0.45), 0.0), 0.35))
    size = np.where(profile == STABLE, size, np.maximum(size, 0.7))  # profiled schools have reliable n

    # stable schools stay clear of the low group: at most about 22% of «2»
    base = np.maximum(SOCIAL_EFFECT[social] + rng.normal(0, 0.3, n), -0.9)
    ability = _trajectory(profile, base, years)

    # one ordinary urban school is renamed in the third year
    renamed_in = np.full(n, None, dtype=object)
    candidates = np.flatnonzero((profile == STABLE) & ~rural)
    renamed_idx = int(candidates[0]) if len(candidates) else 0
    renamed_in[renamed_idx] = params.school_years[min(2, years - 1)]

    # one ordinary school (stable, not the renamed one) gets a new login from the fourth school year on;
    # drawn from its own generator so that nothing else in the region changes
    renumbered_login = np.full(n, None, dtype=object)
    renumbered_in = np.full(n, None, dtype=object)
    if years >= 4:
        ordinary = (profile == STABLE) & (np.arange(n) != renamed_idx)
        pool = np.flatnonzero(ordinary & (social == 1))
        pool = pool if len(pool) else np.flatnonzero(ordinary)
        if len(pool):
            i = int(np.random.default_rng([params.seed, 101]).choice(pool))
            renumbered_login[i] = f"sch{params.region_code}{n + 1:0{width}d}"
            renumbered_in[i] = params.school_years[3]

    number = np.arange(1, n + 1)
    logins = [f"sch{params.region_code}{i:0{width}d}" for i in number]
    mun_names = [_municipality_name(int(m)) for m in municipality]
    schools = pl.DataFrame(
        {
            "school_login": logins,
            "ogrn": _ogrn(rng, n),
            "municipality": mun_names,
            "school_type": school_type.tolist(),
            "is_rural": rural.tolist(),
            "social_level": [SOCIAL_LEVELS[s] for s in social],
            "profile": profile.tolist(),
            "renamed_in_year": renamed_in.tolist(),
            "renumbered_login": pl.Series(renumbered_login.tolist(), dtype=pl.String),
            "renumbered_in_year": pl.Series(renumbered_in.tolist(), dtype=pl.String),
        }
    )

    name_rows = []
    for i in range(n):
        kind = school_type[i]
        place = "с." if rural[i] else "г."
        old_full = f"Муниципальное общеобразовательное учреждение «{kind if kind.isupper() else kind.capitalize()} №{number[i]}» ({place} {mun_names[i].split()[0]})"
        old_short = f"МОУ {kind} №{number[i]}"
        for y in params.school_years:
            if renamed_in[i] is not None and y >= renamed_in[i]:
                full = f"Муниципальное бюджетное общеобразовательное учреждение «Центр образования №{number[i]}»"
                short = f"МБОУ ЦО №{number[i]}"
            else:
                full, short = old_full, old_short
            name_rows.append((logins[i], y, full, short))
    school_names = pl.DataFrame(
        name_rows, schema=["school_login", "school_year", "school_name", "school_short_name"], orient="row"
    )

    vpr_marks = _simulate_vpr_marks(rng, params, logins, ability, size)
    school_names, vpr_marks = (_login_of_the_year(frame, schools) for frame in (school_names, vpr_marks))
    return RegionTruth(params, schools, school_names, vpr_marks)


def _login_of_the_year(frame: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    """Replace the renumbered school's first login by its new one from the year of renumbering on."""
    for old, new, year in (
        schools.filter(pl.col("renumbered_login").is_not_null())
        .select("school_login", "renumbered_login", "renumbered_in_year")
        .iter_rows()
    ):
        later = (pl.col("school_login") == old) & (pl.col("school_year") >= year)
        frame = frame.with_columns(
            pl.when(later).then(pl.lit(new)).otherwise(pl.col("school_login")).alias("school_login")
        )
    return frame


def _simulate_vpr_marks(
    rng: np.random.Generator, params: RegionParams, logins: list[str], ability: np.ndarray, size: np.ndarray
) -> pl.DataFrame:
    n, years, g, s = len(logins), params.years, len(GRADES), len(SUBJECTS)
    shape = (n, years, g, s)
    procedure_effect = rng.normal(0, 0.15, size=(g, s))
    mu = ability[:, :, None, None] + procedure_effect[None, None] + rng.normal(0, 0.15, size=shape)
    cum = 1 / (1 + np.exp(-(MARK_CUTS[None, None, None, None, :] - mu[..., None])))
    probs = np.diff(np.concatenate([np.zeros(shape + (1,)), cum, np.ones(shape + (1,))], axis=-1), axis=-1)

    enrolled = np.maximum(
        2, np.round(params.pupils_per_grade * size[:, None, None, None] * rng.uniform(0.85, 1.15, shape))
    )
    participants = rng.binomial(enrolled.astype(np.int64), 0.92)
    counts = rng.multinomial(participants, probs)  # (..., 4): marks 2, 3, 4, 5

    idx = np.indices(shape).reshape(4, -1)
    flat = counts.reshape(-1, 4)
    frame = pl.DataFrame(
        {
            "school_login": np.array(logins)[idx[0]],
            "school_year": np.array(params.school_years)[idx[1]],
            "grade": np.array(GRADES)[idx[2]],
            "subject": np.array(SUBJECTS)[idx[3]],
            "participants": participants.reshape(-1),
            "mark_2": flat[:, 0],
            "mark_3": flat[:, 1],
            "mark_4": flat[:, 2],
            "mark_5": flat[:, 3],
        }
    )
    return frame.filter(pl.col("participants") > 0)
