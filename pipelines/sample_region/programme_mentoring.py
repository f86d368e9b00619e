"""Network mentoring of ШНОР: the monitoring surveys of a municipal monitoring report and the methodological service's register."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample_region.model import DECLINING, IMPROVING, PERSISTENTLY_LOW, STABLE, RegionTruth
from pipelines.sample_region.programme_common import (
    RNG_REGISTER,
    RNG_SURVEY,
    family_rng,
    out_path,
    start_year,
    write_csv,
    write_xlsx,
)

SURVEY_YEAR = "2022-2023"
SHNOR_FOLDER, MENTOR_FOLDER = "survey_shnor_mentoring", "survey_mentor_schools"
SHNOR_FILE, MENTOR_FILE = "Анкета ШНОР (ответы).csv", "Анкета школ-наставников (ответы).xlsx"

Q_MOTIVES = "Чем руководствовалась ваша школа при включении в работу по сетевому наставничеству?"
MOTIVES = (
    "Распоряжение органа управления образованием",
    "Получить помощь от коллег из школ с высокими результатами",
    "Ожидание поддержки в развитии профессиональных компетенций",
    "Стремление к совместному решению новых задач",
)
Q_EXPECTATIONS = "Насколько оправдались ваши ожидания от совместной работы со школой-партнёром?"
Q_SUPPORT = "Оцените поддержку вашей школы школой-наставником в решении школьных проблем (от 1 до 5)"
Q_SUPPORT_2 = "Оцените поддержку школы со стороны школы-наставника (1–5)"
Q_SATISFACTION = "Удовлетворены ли вы совместной работой со школой-наставником?"
Q_PROBLEMS = "Какие проблемы возникли в ходе реализации проекта?"
Q_CONTINUE = "Планируете ли вы продолжить сотрудничество?"
YES, RATHER_YES, RATHER_NO, NO = "Да", "Скорее да, чем нет", "Скорее нет, чем да", "Нет"
ROLES = ("Руководитель", "Заместитель руководителя")
SHNOR_HEADER_1 = [
    "Отметка времени",
    "Логин ОО",
    "Роль респондента",
    Q_MOTIVES,
    Q_EXPECTATIONS,
    Q_SUPPORT,
    Q_SATISFACTION,
    Q_PROBLEMS,
]
SHNOR_HEADER_2 = [
    "Отметка времени",
    "Логин ОО",
    "Роль респондента",
    Q_MOTIVES,
    Q_SUPPORT_2,
    Q_SATISFACTION,
    Q_CONTINUE,
    Q_PROBLEMS,
]
PROBLEMS = (  # the monitoring report, §4.15
    "Высокая нагрузка у педагогов, поэтому педагоги не смогли принять участие во многих мероприятиях проекта.",
    (
        "В группу школ с НОР попали опытные учителя, имеющие большой стаж работы, имеющие свои практические "
        "наработки, поэтому пришлось объяснять, в чем смысл работы в группе.\nНо по ходу участия в работе мнение "
        "изменилось, с удовольствием занимаются и принимают активное участие."
    ),
    'Не очень удобное время проведения "психологической гостиной".',
    "Мало личного контакта.",
    "С проблемами не сталкивались.",
    "Проблем не возникло",
    "нет",
)
PROBLEMS_2 = (
    "Нехватка времени у педагогов; совпадение мероприятий с ВПР.",
    "Транспортные сложности при выездных мероприятиях.",
    "Мало очных встреч наставников и наставляемых.",
    'Хотелось бы больше открытых уроков, "живого" общения.',
    "Проблем нет",
    "",
)

Q_EFFECT = "Оцените эффективность проекта (от 1 до 5)"
Q_COMFORT = "Оцените степень комфортности работы в рамках проекта (от 1 до 5)"
Q_MENTOR_SATISFACTION = "Оцените вашу удовлетворённость работой в проекте (от 1 до 5)"
Q_RECOMMENDATIONS = "Ваши рекомендации"
MENTOR_HEADER = [
    "Время создания",
    "Логин ОО",
    "Роль респондента",
    Q_EFFECT,
    Q_COMFORT,
    Q_MENTOR_SATISFACTION,
    Q_RECOMMENDATIONS,
]
MENTOR_ANSWERS = ((4, 3, 4), (4, 3, 4), (3, 4, 3))  # effectiveness, comfort, satisfaction (report §5.3, 5.6, 5.7)
RECOMMENDATIONS = (  # the monitoring report, §5.9
    "Организация встреч для живого общения во время каникул.",
    "Координация работы школ-лидеров и школ с НОР научным руководителем.",
    (
        "У педагога-наставника должен быть методический день на неделе для посещения уроков, "
        "возможности давать консультации в этот день."
    ),
)

PAIRS_HEADER = ["Логин ШНОР", "ШНОР", "Логин школы-партнёра", "Школа-партнёр", "Дата соглашения", "Модель"]
TEACHERS_HEADER = [
    "Предмет",
    "Логин школы наставника",
    "Логин школы наставляемого",
    "Дата начала",
    "Дата окончания",
    "Статус",
    "Причина",
]
EVENTS_HEADER = ["Дата", "Тип мероприятия", "Тема", "Число участников", "Число школ"]
HELD, NOT_HELD, PLANNED = "проведено", "не проведено", "запланировано"
CONCENTRATED, DISTRIBUTED = "концентрированная", "распределённая"
# the monitoring report, §5.2: (mentor school 0..2, subject, mentees, status, reason)
SURVEY_YEAR_PAIRS = (
    (0, "Русский язык", 7, HELD, None),
    (0, "Физика", 3, HELD, None),
    (1, "Математика", 6, HELD, None),
    (1, "Биология", 3, HELD, None),
    (2, "Обществознание", 5, HELD, None),
    (1, "Химия", 4, NOT_HELD, "длительная болезнь наставника"),
)
SUBJECT_MENTOR = {
    "Русский язык": 0, "Физика": 0, "Литература": 0,
    "Математика": 1, "Биология": 1, "Химия": 1,
    "Обществознание": 2, "История": 2, "Английский язык": 2,
}  # fmt: skip
NOT_HELD_REASONS = ("длительная болезнь наставника", "увольнение педагога-наставляемого", "несовпадение расписания")
EVENT_TOPICS = {
    "вебинар": ("Методический вебинар для школ с НОР", "Анализ результатов ВПР и коррекция рабочих программ"),
    "семинар": ("Формирующее оценивание на уроке", "Работа с обучающимися группы риска"),
    "мастер-класс": ("Смысловое чтение на уроках русского языка", "Решение задач повышенного уровня по математике"),
    "стажировка": ("Стажировка педагогов ШНОР в школе-наставнике",),
    "психологическая гостиная": ("Профилактика профессионального выгорания", "Психологический климат в коллективе"),
    "конференция": ("Виртуальный областной педагогический совет", "Сетевое наставничество: итоги года"),
    "фестиваль": ("Фестиваль открытых уроков",),
    "конкурс": ("Конкурс методических разработок «Программа перехода школы в эффективный режим работы»",),
}
SURVEY_YEAR_EVENTS = (  # the monitoring report, §4.8-4.12 and 5.5
    "вебинар", "психологическая гостиная", "мастер-класс", "семинар", "конференция", "вебинар",
    "стажировка", "психологическая гостиная", "семинар", "конкурс",
)  # fmt: skip


def survey_year(truth: RegionTruth) -> str:
    years = truth.params.school_years
    return SURVEY_YEAR if SURVEY_YEAR in years else years[min(2, len(years) - 1)]


def choose_mentors(truth: RegionTruth, on_any_list: np.ndarray) -> list[str]:
    """Three stable schools with the highest share of «4» and «5» over all years, on no list; urban secondary
    schools first (a basic or rural school mentors only if there are too few of them)."""
    by_login = truth.schools_by_login().select("school_login", "first_login")
    quality = (
        truth.vpr_marks.join(by_login, on="school_login")
        .group_by("first_login")
        .agg(((pl.col("mark_4") + pl.col("mark_5")).sum() / pl.col("participants").sum()).alias("quality"))
    )
    free = truth.schools.with_columns(pl.Series("listed", on_any_list.any(axis=1))).filter(
        (pl.col("profile") == STABLE) & ~pl.col("listed")
    )
    best = free.join(quality, left_on="school_login", right_on="first_login").sort(
        pl.col("is_rural") | (pl.col("school_type") == "ООШ"), -pl.col("quality"), "school_login"
    )
    return best["school_login"].head(3).to_list()


def choose_respondents(
    truth: RegionTruth, shnor: np.ndarray, ts: int, mentors: list[str]
) -> tuple[list[str], list[str]]:
    """Seven ШНОР of the survey year: improving first, then persistently low, other ШНОР; if fewer than seven,
    declining schools not (yet) on the list, then the schools with the most «2» that year. Returns logins and
    the group each came from."""
    rng = family_rng(truth, RNG_SURVEY + 100)
    s = truth.schools
    profile = s["profile"].to_numpy()
    logins = s["school_login"].to_numpy()
    n = s.height
    by_login = truth.schools_by_login().select("school_login", "first_login")
    year = truth.params.school_years[ts]
    share2 = dict(
        truth.vpr_marks.filter(pl.col("school_year") == year)
        .join(by_login, on="school_login")
        .group_by("first_login")
        .agg(pl.col("mark_2").sum() / pl.col("participants").sum())
        .iter_rows()
    )
    groups = [
        ("ШНОР (improving)", shnor[:, ts] & (profile == IMPROVING)),
        ("ШНОР (persistently_low)", shnor[:, ts] & (profile == PERSISTENTLY_LOW)),
        ("ШНОР (other)", shnor[:, ts] & (profile != IMPROVING) & (profile != PERSISTENTLY_LOW)),
        ("not on ШНОР: declining", ~shnor[:, ts] & (profile == DECLINING)),
    ]
    chosen: list[str] = []
    source: list[str] = []
    for name, mask in groups:
        for i in rng.permutation(np.flatnonzero(mask)):
            if len(chosen) < 7:
                chosen.append(str(logins[i]))
                source.append(name)
    rest = sorted(
        (i for i in range(n) if logins[i] not in chosen and logins[i] not in mentors),
        key=lambda i: -share2.get(logins[i], 0),
    )
    for i in rest[: 7 - len(chosen)]:
        chosen.append(str(logins[i]))
        source.append("not on ШНОР: most «2»")
    return chosen, source


def _timestamps(rng: np.random.Generator, spring: int, k: int) -> list[dt.datetime]:
    """Submission times between 10 and 19 May of the spring, working hours, in submission order."""
    day = rng.integers(0, 10, size=k)
    second = rng.integers(8 * 3600, 18 * 3600, size=k)
    start = dt.datetime(spring, 5, 10)
    return sorted(start + dt.timedelta(days=int(d), seconds=int(x)) for d, x in zip(day, second, strict=True))


def _motives(rng: np.random.Generator, k: int) -> list[str]:
    """Seven respondents: 6 / 3 / 2 / 1 choose the four motives (the monitoring report, §4.1)."""
    chosen = np.zeros((k, 4), dtype=bool)
    without = int(rng.integers(k))
    chosen[:, 0] = True
    chosen[without, 0] = False
    others = [i for i in range(k) if i != without]
    chosen[[without, *rng.choice(others, size=2, replace=False)], 1] = True
    chosen[rng.choice(k, size=2, replace=False), 2] = True
    chosen[rng.choice(k, size=1), 3] = True
    return [";".join(m for m, c in zip(MOTIVES, row, strict=True) if c) for row in chosen]


def write_surveys(
    truth: RegionTruth, frame: pl.DataFrame, shnor: np.ndarray, mentors: list[str], raw_dir: Path
) -> tuple[list[Path], dict, list[str]]:
    rng = family_rng(truth, RNG_SURVEY)
    years = truth.params.school_years
    sy = survey_year(truth)
    ts = years.index(sy)
    spring = int(sy[-4:])
    login_of = {(r[0], r[1]): r[2] for r in frame.select("first_login", "t", "school_login").iter_rows()}
    respondents, source = choose_respondents(truth, shnor, ts, mentors)
    k = len(respondents)

    support = rng.permutation([5, 4, 4, 4, 3, 3, 3])
    satisfaction = np.full(k, RATHER_YES, dtype=object)
    satisfaction[np.flatnonzero(support == 5)[0]] = YES
    satisfaction[rng.choice(np.flatnonzero(support == 3))] = RATHER_NO
    motives = _motives(rng, k)
    problems = [PROBLEMS[i] for i in rng.permutation(len(PROBLEMS))]
    roles = rng.choice(ROLES, size=k, p=[0.6, 0.4])
    stamps = _timestamps(rng, spring, k)
    rows = [
        [stamps[j].strftime("%Y/%m/%d %H:%M:%S"), login_of[(respondents[j], ts)], roles[j], motives[j], RATHER_YES,
         int(support[j]), satisfaction[j], problems[j]]
        for j in range(k)
    ]  # fmt: skip
    written = [
        write_csv(
            out_path(raw_dir, SHNOR_FOLDER, sy, SHNOR_FILE),
            SHNOR_HEADER_1,
            rows,
            encoding="utf-8",
            delimiter=",",
            quote_all=True,
        )
    ]
    wave1 = {
        "school_year": sy,
        "folder": SHNOR_FOLDER,
        "file": SHNOR_FILE,
        "respondents": [login_of[(r, ts)] for r in respondents],
        "respondent_first_logins": respondents,
        "respondent_source": source,
        "n": k,
        "questions": {
            Q_MOTIVES: {"type": "multi", "separator": ";", "counts": {m: sum(m in x.split(";") for x in motives) for m in MOTIVES}},
            Q_EXPECTATIONS: {"type": "text", "counts": {RATHER_YES: k}},
            Q_SUPPORT: {
                "type": "scale_1_5", "mean": round(float(np.mean(support)), 2),
                "distribution": {str(v): int((support == v).sum()) for v in range(1, 6)},
                "top2_share": round(float((support >= 4).mean()), 4),
            },
            Q_SATISFACTION: {
                "type": "text", "counts": {a: int((satisfaction == a).sum()) for a in (YES, RATHER_YES, RATHER_NO, NO)},
                "top2_share": round(float(np.isin(satisfaction, [YES, RATHER_YES]).mean()), 4),
            },
        },
    }  # fmt: skip

    # mentor schools (Yandex Forms)
    order = rng.permutation(3)
    mentor_stamps = _timestamps(rng, spring, len(mentors))
    mentor_roles = rng.choice(ROLES, size=len(mentors), p=[0.7, 0.3])
    answers = [MENTOR_ANSWERS[order[j]] for j in range(len(mentors))]
    rows = [
        [mentor_stamps[j], login_of[(mentors[j], ts)], mentor_roles[j], *answers[j], RECOMMENDATIONS[order[j]]]
        for j in range(len(mentors))
    ]
    written.append(write_xlsx(out_path(raw_dir, MENTOR_FOLDER, sy, MENTOR_FILE), [("Ответы", MENTOR_HEADER, rows)]))
    mentor_block = {
        "school_year": sy,
        "folder": MENTOR_FOLDER,
        "file": MENTOR_FILE,
        "respondents": [login_of[(m, ts)] for m in mentors],
        "n": len(mentors),
        "questions": {
            q: {
                "type": "scale_1_5",
                "mean": round(float(np.mean([a[c] for a in answers])), 2),
                "distribution": {str(v): sum(a[c] == v for a in answers) for v in range(1, 6)},
                "top2_share": round(float(np.mean([a[c] >= 4 for a in answers])), 4),
            }
            for c, q in enumerate((Q_EFFECT, Q_COMFORT, Q_MENTOR_SATISFACTION))
        },
    }

    expected = {"survey_year": sy, "shnor_wave_1": wave1, "mentor_schools": mentor_block, "shnor_wave_2": None}
    if ts + 1 < len(years):
        path, wave2 = _second_wave(truth, rng, shnor, ts + 1, login_of, raw_dir)
        written.append(path)
        expected["shnor_wave_2"] = wave2
    return written, expected, respondents


def _second_wave(truth, rng, shnor, t, login_of, raw_dir) -> tuple[Path, dict]:
    sy = truth.params.school_years[t]
    pool = truth.schools["school_login"].to_numpy()[shnor[:, t]]
    k = max(min(3, len(pool)), round(0.8 * len(pool)))
    respondents = sorted(rng.choice(pool, size=k, replace=False).tolist())
    respondents = [respondents[i] for i in rng.permutation(k)]
    picks = rng.random((k, 4)) < np.array([0.8, 0.45, 0.35, 0.2])
    picks[~picks.any(axis=1), 0] = True
    motives = [";".join(m for m, c in zip(MOTIVES, row, strict=True) if c) for row in picks]
    support = rng.choice([2, 3, 4, 5], size=k, p=[0.05, 0.3, 0.45, 0.2])
    satisfaction = rng.choice([YES, RATHER_YES, RATHER_NO, NO], size=k, p=[0.2, 0.55, 0.2, 0.05])
    cont = rng.choice([YES, NO], size=k, p=[0.85, 0.15])
    problems = rng.choice(PROBLEMS_2, size=k)
    roles = rng.choice(ROLES, size=k, p=[0.6, 0.4])
    stamps = _timestamps(rng, int(sy[-4:]), k)
    rows = [
        [stamps[j].strftime("%Y/%m/%d %H:%M:%S"), login_of[(respondents[j], t)], roles[j], motives[j], int(support[j]),
         satisfaction[j], cont[j], problems[j]]
        for j in range(k)
    ]  # fmt: skip
    path = write_csv(
        out_path(raw_dir, SHNOR_FOLDER, sy, SHNOR_FILE),
        SHNOR_HEADER_2,
        rows,
        encoding="utf-8",
        delimiter=",",
        quote_all=True,
    )
    wave2 = {
        "school_year": sy,
        "folder": SHNOR_FOLDER,
        "file": SHNOR_FILE,
        "respondents": [login_of[(r, t)] for r in respondents],
        "n": k,
        "questions": {
            Q_MOTIVES: {"type": "multi", "separator": ";", "counts": {m: sum(m in x.split(";") for x in motives) for m in MOTIVES}},
            Q_SUPPORT_2: {
                "type": "scale_1_5", "mean": round(float(np.mean(support)), 2),
                "distribution": {str(v): int((support == v).sum()) for v in range(1, 6)},
                "top2_share": round(float((support >= 4).mean()), 4),
            },
            Q_SATISFACTION: {
                "type": "text", "counts": {a: int((satisfaction == a).sum()) for a in (YES, RATHER_YES, RATHER_NO, NO)},
                "top2_share": round(float(np.isin(satisfaction, [YES, RATHER_YES]).mean()), 4),
            },
            Q_CONTINUE: {"type": "text", "counts": {a: int((cont == a).sum()) for a in (YES, NO)}},
        },
        "dropped_questions": [Q_EXPECTATIONS],
        "reworded": {Q_SUPPORT: Q_SUPPORT_2},
    }  # fmt: skip
    return path, wave2


def simulate_register(
    truth: RegionTruth, shnor: np.ndarray, mentors: list[str], respondents: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Network pairs, teacher pairs and events for the survey year (the monitoring report) and every later year.
    Project schools: the survey respondents in the survey year, every school on ШНОР in later years."""
    rng = family_rng(truth, RNG_REGISTER)
    years = truth.params.school_years
    ts = years.index(survey_year(truth))
    logins = truth.schools["school_login"].to_numpy()
    partner: dict[str, str] = {}
    networks, teachers, events = [], [], []
    for t in range(ts, len(years)):
        sy, y = years[t], start_year(years[t])
        project = respondents if t == ts else sorted(logins[shnor[:, t]].tolist())
        pairs: list[tuple[str, int, str, dt.date, dt.date | None, str, str | None]] = []
        if t == ts:
            for mentor, subject, count, status, reason in SURVEY_YEAR_PAIRS:
                for mentee in sorted(rng.choice(project, size=min(count, len(project)), replace=False).tolist()):
                    start = dt.date(y, 10, 1) + dt.timedelta(days=int(rng.integers(0, 15)))
                    pairs.append(
                        (
                            subject,
                            mentor,
                            mentee,
                            start,
                            dt.date(y + 1, 5, 31) if status == HELD else None,
                            status,
                            reason,
                        )
                    )
        else:
            last = t == len(years) - 1
            p = [0.45, 0.1, 0.45] if last else [0.8, 0.12, 0.08]
            for mentee in project:
                partner.setdefault(mentee, mentors[int(rng.integers(3))])
                concentrated = rng.random() < 0.4  # every teacher pair with the partner school
                for subject in rng.choice(list(SUBJECT_MENTOR), size=int(rng.integers(1, 4)), replace=False):
                    mentor = mentors.index(partner[mentee]) if concentrated else SUBJECT_MENTOR[str(subject)]
                    status = str(rng.choice([HELD, NOT_HELD, PLANNED], p=p))
                    start = dt.date(y, 10, 1) + dt.timedelta(
                        days=int(rng.integers(0, 120 if status == PLANNED else 20))
                    )
                    end = dt.date(y + 1, 5, 31) if status != NOT_HELD else None
                    reason = str(rng.choice(NOT_HELD_REASONS)) if status == NOT_HELD else None
                    pairs.append((str(subject), mentor, mentee, start, end, status, reason))
            if not any(x[5] == PLANNED for x in pairs) and pairs:
                s, m, me, start, end, _, _ = pairs[-1]
                pairs[-1] = (s, m, me, start, end, PLANNED, None)
        for subject, mentor, mentee, start, end, status, reason in pairs:
            teachers.append((sy, subject, mentors[mentor], mentee, start, end, status, reason))
        for mentee in project:
            mine = [x[1] for x in pairs if x[2] == mentee]
            if mentee not in partner:
                partner[mentee] = (
                    mentors[int(np.bincount(mine, minlength=3).argmax())] if mine else mentors[int(rng.integers(3))]
                )
            model = CONCENTRATED if all(mentors[m] == partner[mentee] for m in mine) else DISTRIBUTED
            signed = dt.date(y, 9, int(rng.integers(1, 26)))
            networks.append((sy, mentee, partner[mentee], signed, model))
        kinds = SURVEY_YEAR_EVENTS if t == ts else rng.choice(list(EVENT_TOPICS), size=int(rng.integers(8, 13)))
        days = np.sort(rng.choice(260, size=len(kinds), replace=False))
        for kind, day in zip(kinds, days, strict=True):
            topic = str(rng.choice(EVENT_TOPICS[str(kind)]))
            schools = int(rng.integers(max(2, len(project) // 2), len(project) + 4))
            people = int(schools * rng.integers(2, 7))
            events.append((sy, dt.date(y, 9, 5) + dt.timedelta(days=int(day)), str(kind), topic, people, schools))
    network = pl.DataFrame(
        networks, schema=["school_year", "first_login", "partner_first_login", "agreement_date", "model"], orient="row"
    )
    teacher = pl.DataFrame(
        teachers,
        schema={
            "school_year": pl.String, "subject": pl.String, "mentor_first_login": pl.String,
            "mentee_first_login": pl.String, "start_date": pl.Date, "end_date": pl.Date, "status": pl.String,
            "reason": pl.String,
        },
        orient="row",
    )  # fmt: skip
    event = pl.DataFrame(
        events, schema=["school_year", "date", "event_type", "topic", "participants", "schools"], orient="row"
    )
    return network, teacher, event


def with_year_logins(frame: pl.DataFrame, df: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """Add the login valid in the row's year for each first-login column: {first_login column: new column}."""
    names = frame.select("school_year", "first_login", "school_login", "school_name")
    for src, dst in columns.items():
        df = df.join(
            names.rename({"first_login": src, "school_login": dst, "school_name": f"{dst}_name"}),
            on=["school_year", src],
            how="left",
        )
    return df


def write_register(
    truth: RegionTruth, network: pl.DataFrame, teacher: pl.DataFrame, event: pl.DataFrame, raw_dir: Path
) -> list[Path]:
    written = []
    for sy in network["school_year"].unique(maintain_order=True).to_list():
        pairs = [
            [
                r["school_login"],
                r["school_login_name"],
                r["partner_login"],
                r["partner_login_name"],
                r["agreement_date"],
                r["model"],
            ]
            for r in network.filter(pl.col("school_year") == sy).iter_rows(named=True)
        ]
        teachers = [
            [
                r["subject"],
                r["mentor_login"],
                r["mentee_login"],
                r["start_date"],
                r["end_date"],
                r["status"],
                r["reason"],
            ]
            for r in teacher.filter(pl.col("school_year") == sy).iter_rows(named=True)
        ]
        events = [list(r) for r in event.filter(pl.col("school_year") == sy).drop("school_year").iter_rows()]
        path = out_path(raw_dir, "mentoring_register", sy, f"Реестр наставничества {sy}.xlsx")
        sheets = [
            ("Сетевые пары", PAIRS_HEADER, pairs),
            ("Пары педагогов", TEACHERS_HEADER, teachers),
            ("Мероприятия", EVENTS_HEADER, events),
        ]
        written.append(write_xlsx(path, sheets))
    return written
