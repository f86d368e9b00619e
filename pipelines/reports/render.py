"""Rendering the справка: the Word template filled by docxtpl (charts drawn by matplotlib as PNG), then the PDF
made from that very DOCX by LibreOffice (headless), so there is one content definition.

    data/reports/<school year>/<municipality>.docx|.pdf, Регион.docx|.pdf

Each file is written beside its final name and renamed over it, as the marts are. Without LibreOffice the
DOCX files are still written and the PDF step fails with a message saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage

from pipelines.reports.content import ChartSpec, Spravka, build_year_spravki
from pipelines.reports.marts import fmt_number
from pipelines.settings import Settings

TEMPLATE = Path(__file__).resolve().parent / "templates" / "spravka.docx"
SOFFICE_ENV = "EDUWH_SOFFICE"  # path of LibreOffice's soffice, if not on PATH
SOFFICE_TIMEOUT_S = 600
CHART_WIDTH_MM = 160
plt.rcParams.update(
    {"font.family": "DejaVu Sans", "font.size": 8, "axes.spines.top": False, "axes.spines.right": False}
)


class ReportError(RuntimeError):
    pass


@dataclass
class BuiltYear:
    directory: Path
    docx: list[Path] = field(default_factory=list)
    pdf: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


def safe_file_stem(name: str) -> str:
    """A municipality's name as a file name: path separators and characters Windows refuses become «_»."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(" .") or "_"


def _tick(value: float, _position: object = None) -> str:
    return fmt_number(value, 0 if float(value).is_integer() else 1)


def _wrap(label: str, width: int = 48) -> str:
    words, lines, line = label.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:3]) + ("…" if len(lines) > 3 else "")


def draw_chart(chart: ChartSpec, path: Path) -> Path:
    """A PNG of the chart, Russian labels and decimal commas."""
    if chart.kind == "bars":
        n, k = len(chart.categories), len(chart.series)
        labels = [_wrap(c) for c in chart.categories]
        row = max(0.28 * max(1, k), 0.15 * max(label.count("\n") + 1 for label in labels))  # inches per category
        fig, ax = plt.subplots(figsize=(6.3, max(1.6, row * n + 0.9)), dpi=150)
        height = 0.8 / k
        for i, (label, values) in enumerate(chart.series.items()):
            ys = [c + (i - (k - 1) / 2) * height for c in range(n)]
            xs = [v if v is not None else 0 for v in values]
            bars = ax.barh(ys, xs, height=height * 0.95, label=label)
            for bar, v in zip(bars, values, strict=True):
                if v is not None:
                    ax.annotate(
                        fmt_number(v),
                        (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                        xytext=(2, 0),
                        textcoords="offset points",
                        va="center",
                        fontsize=6,
                    )
        ax.set_yticks(range(n), labels)
        ax.invert_yaxis()
        ax.set_xlabel(chart.unit)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick))
        ax.set_xlim(0, max([v for vs in chart.series.values() for v in vs if v is not None] or [1]) * 1.15)
    else:
        fig, ax = plt.subplots(figsize=(6.3, 3.0), dpi=150)
        for label, values in chart.series.items():
            bold = chart.highlight is None or label == chart.highlight
            ax.plot(
                chart.categories,
                [v if v is not None else float("nan") for v in values],
                marker="o",
                linewidth=2.2 if bold else 0.9,
                alpha=1 if bold else 0.45,
                label=_wrap(label, 40),
                markersize=3,
            )
        ax.set_ylabel(chart.unit)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(chart.title, fontsize=9)
    if chart.kind == "lines":  # under the plot: the lines stay readable
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    elif len(chart.series) > 1:
        ax.legend(fontsize=6, loc="lower right", frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _set(context: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        context = context[key]
    context[last] = value


def write_docx(spravka: Spravka, directory: Path, template: Path = TEMPLATE) -> Path:
    """Fill the template, write `<directory>/<stem>.docx` aside and rename it into place."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{safe_file_stem(spravka.file_stem)}.docx"
    partial = directory / f".{target.name}.partial"
    tpl = DocxTemplate(str(template))
    context = spravka.context
    with tempfile.TemporaryDirectory(prefix="eduwh-charts-") as charts_dir:
        for i, (key, chart) in enumerate(spravka.charts.items()):
            png = draw_chart(chart, Path(charts_dir) / f"chart{i}.png")
            _set(context, key, InlineImage(tpl, str(png), width=Mm(CHART_WIDTH_MM)))
        for key in ("results.chart_bar", "results.chart_line", "survey.chart"):
            parent, last = key.split(".")
            context[parent].setdefault(last, None)
        tpl.render(context, autoescape=True)
        tpl.save(str(partial))
    os.replace(partial, target)
    return target


def soffice_path() -> str | None:
    return os.environ.get(SOFFICE_ENV) or shutil.which("soffice") or shutil.which("libreoffice")


def convert_to_pdf(docx_files: list[Path], directory: Path) -> list[Path]:
    """PDF of each DOCX by LibreOffice (one headless process for all, with its own profile so parallel runs do
    not collide), converted into a scratch folder inside `directory` and renamed into place."""
    if not docx_files:
        return []
    soffice = soffice_path()
    if soffice is None:
        raise ReportError(
            "PDF не построены: не найден LibreOffice (soffice); DOCX записаны. Установите LibreOffice "
            f"(пакет libreoffice-writer-nogui) или укажите путь в {SOFFICE_ENV}. / PDFs not built: LibreOffice "
            f"(soffice) not found; the DOCX files are written. Install LibreOffice or set {SOFFICE_ENV}."
        )
    scratch = Path(tempfile.mkdtemp(prefix=".pdf-", dir=directory))
    profile = Path(tempfile.mkdtemp(prefix="eduwh-soffice-profile-"))
    try:
        done = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(scratch),
                *[str(p) for p in docx_files],
            ],
            capture_output=True,
            text=True,
            timeout=SOFFICE_TIMEOUT_S,
            check=False,
        )
        pdfs = []
        for docx in docx_files:
            made = scratch / f"{docx.stem}.pdf"
            if not made.exists():
                raise ReportError(
                    f"LibreOffice не создал PDF для {docx.name} / LibreOffice made no PDF of {docx.name} "
                    f"(код/exit {done.returncode}): {(done.stderr or done.stdout)[-1500:]}"
                )
            target = directory / made.name
            os.replace(made, target)
            pdfs.append(target)
        return pdfs
    except subprocess.TimeoutExpired as exc:
        raise ReportError(
            f"LibreOffice: нет ответа за {SOFFICE_TIMEOUT_S} с / no answer in {SOFFICE_TIMEOUT_S} s"
        ) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)


def build_year(settings: Settings, school_year: str, log: Callable[[str], None] = print, pdf: bool = True) -> BuiltYear:
    """Every справка of a school year, DOCX then PDF, under data/reports/<school year>/."""
    started = time.perf_counter()
    directory = reports_dir(settings) / school_year
    built = BuiltYear(directory)
    try:
        spravki = build_year_spravki(settings.marts_dir, school_year)
    except FileNotFoundError as exc:
        raise ReportError(str(exc)) from exc
    for spravka in spravki:
        built.docx.append(write_docx(spravka, directory))
    log(f"справки / reports {school_year}: DOCX {len(built.docx)} → {directory}")
    if pdf:
        built.pdf = convert_to_pdf(built.docx, directory)
        log(f"справки / reports {school_year}: PDF {len(built.pdf)} → {directory}")
    built.seconds = time.perf_counter() - started
    return built
