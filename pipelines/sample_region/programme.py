"""Context and programme exports of the sample region: ИСБШ and social passports, ФИС ОКО context,
official lists and bias markers, monitoring surveys, mentoring register, teacher diagnostics,
olympiads, network programmes.

Every family draws from its own generator np.random.default_rng([seed, family]) (programme_common), lists each
school under the login valid in the year (the renumbered school changes login), and leaves its truth in truth_dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample_region.model import RegionTruth
from pipelines.sample_region.programme_common import school_year_frame
from pipelines.sample_region.programme_context import simulate_context, write_context
from pipelines.sample_region.programme_ids import school_inns
from pipelines.sample_region.programme_indicators import (
    simulate_diagnostics,
    simulate_network_programmes,
    simulate_olympiads,
    write_indicators,
)
from pipelines.sample_region.programme_lists import (
    NSU,
    SHNOR,
    bias_duplicate_year,
    membership_status,
    on_list,
    simulate_bias_markers,
    simulate_memberships,
    text_date_years,
    write_bias_markers,
    write_lists,
)
from pipelines.sample_region.programme_mentoring import (
    choose_mentors,
    simulate_register,
    with_year_logins,
    write_register,
    write_surveys,
)


def write_programme_exports(truth: RegionTruth, raw_dir: Path, truth_dir: Path) -> list[Path]:
    """Write every context and programme family; return the files written."""
    years = truth.params.school_years
    frame = school_year_frame(truth)
    index = {login: i for i, login in enumerate(truth.schools["school_login"])}

    context = simulate_context(truth, frame)
    written, quirks = write_context(truth, context, raw_dir)

    memberships = simulate_memberships(truth)
    written += write_lists(truth, frame, memberships, raw_dir)
    shnor, nsu = on_list(truth, memberships, SHNOR), on_list(truth, memberships, NSU)
    mentors = choose_mentors(truth, shnor | nsu)

    markers = simulate_bias_markers(truth, frame, set(mentors))
    written += write_bias_markers(truth, markers, raw_dir)

    files, survey_expected, respondents = write_surveys(truth, frame, shnor, mentors, raw_dir)
    written += files
    network, teacher, events = simulate_register(truth, shnor, mentors, respondents)
    network = with_year_logins(frame, network, {"first_login": "school_login", "partner_first_login": "partner_login"})
    teacher = with_year_logins(
        frame, teacher, {"mentor_first_login": "mentor_login", "mentee_first_login": "mentee_login"}
    )
    written += write_register(truth, network, teacher, events, raw_dir)
    mentored = np.zeros_like(shnor)
    for login, sy in network.select("first_login", "school_year").iter_rows():
        mentored[index[login], years.index(sy)] = True

    diagnostics = simulate_diagnostics(truth, context, shnor, mentored)
    olympiads = simulate_olympiads(truth, context, shnor)
    network_programmes = simulate_network_programmes(truth, context, mentored)
    files, more_quirks = write_indicators(truth, diagnostics, olympiads, network_programmes, raw_dir)
    written += files
    quirks |= more_quirks
    quirks["official_school_lists"] = {"dates_as_text_years": text_date_years(truth)}
    quirks["vpr_bias_markers"] = {
        "duplicated_block_year": bias_duplicate_year(truth),
        "no_marker_empty_spring_years": [int(y[-4:]) for y in years if int(y[-4:]) % 2 == 1],
        "no_marker_zero_spring_years": [int(y[-4:]) for y in years if int(y[-4:]) % 2 == 0],
    }
    renumbered = truth.schools.filter(pl.col("renumbered_login").is_not_null())
    quirks["school_registry"] = {
        "renumbered": renumbered.select("school_login", "renumbered_login", "renumbered_in_year").to_dicts()
    }

    truth_dir.mkdir(parents=True, exist_ok=True)
    context.drop("t", "i").write_parquet(truth_dir / "school_context.parquet")
    school_inns(truth).join(
        truth.schools.select("school_login", "ogrn", "renumbered_login", "renumbered_in_year"), on="school_login"
    ).write_parquet(truth_dir / "school_identifiers.parquet")
    memberships.drop("start_t", "end_t").write_parquet(truth_dir / "official_lists.parquet")
    membership_status(truth, frame, memberships).write_parquet(truth_dir / "official_list_status.parquet")
    markers.write_parquet(truth_dir / "bias_markers.parquet")
    network.drop("school_login_name", "partner_login_name").write_parquet(truth_dir / "mentoring_network_pairs.parquet")
    teacher.drop("mentor_login_name", "mentee_login_name").write_parquet(truth_dir / "mentoring_pairs.parquet")
    events.write_parquet(truth_dir / "mentoring_events.parquet")
    diagnostics.write_parquet(truth_dir / "teacher_diagnostics.parquet")
    olympiads.write_parquet(truth_dir / "olympiads.parquet")
    network_programmes.write_parquet(truth_dir / "network_programmes.parquet")
    survey_expected["mentor_first_logins"] = mentors
    _dump(truth_dir / "survey_expected.json", survey_expected)
    _dump(truth_dir / "programme_quirks.json", quirks)
    return written


def _dump(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
