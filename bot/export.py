"""Export: the statistics as files people open in Excel or LibreOffice, and a chart for the report.

Everything a person reads is in French words: entries by their title, outcomes and channels by
their name, file names in French. CSV dialect: UTF-8 with a byte-order mark, ``;`` as separator and a
decimal comma — what French Excel expects when the file is double-clicked, and what LibreOffice
detects. The workbook keeps numbers and dates as such.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import knowledge
from .config import Config
from .errors import GuichetError
from .stats import CHANNEL_LABELS, CHANNELS, MONTH_NAMES, NO_ENTRY, NO_ENTRY_NOTE, OUTCOME_LABELS, Summary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("guichet.export")

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
COLOURS = {"financement": "#1f77b4", "volontariat": "#2ca02c", "formation": "#ff7f0e",
           "accompagnement": "#9467bd", "information": "#8c564b", NO_ENTRY: "#7f7f7f"}
LANGUAGE_LABELS = {"fr": "français", "en": "anglais"}

Cell = str | int | float | dt.datetime | None
Table = list[list[Cell]]


def decimal(value: float | None) -> str:
    """A number with a decimal comma, one decimal; empty when there is none."""
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def entry_titles(config: Config) -> dict[str, str]:
    """Each entry's title by slug, for the files; empty (slugs shown) when the base cannot be read."""
    try:
        return {e.slug: e.title for e in knowledge.load(config.knowledge.dir, config.network)}
    except (GuichetError, OSError) as exc:
        log.warning("statistics show entry slugs, not titles: the knowledge base cannot be read: %s", exc)
        return {}


def _title(slug: str, titles: Mapping[str, str]) -> str:
    return titles.get(slug, slug)


def _local(value: dt.datetime | None) -> dt.datetime | None:
    # Spreadsheets have no time zones: the network's local time, as the statistics count it.
    return value.replace(tzinfo=None, second=0, microsecond=0) if value else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _figure(value: float | None) -> float | str:
    # A summary table's cell: blank, not None, when there is no figure (no request answered yet).
    return "" if value is None else round(value, 1)


def request_table(summary: Summary, titles: Mapping[str, str]) -> Table:
    """One row per request, no personal data."""
    rows: Table = [["n°", "reçue le", "répondue le", "canal", "catégorie", "fiche", "résultat", "délai (heures)",
                    "délai (heures ouvrées)", "langue", "accompagnement personnalisé"]]
    for r in summary.rows:
        # "sans fiche" is a category of requests; a robot's message or a "thank you" has none.
        category, entry = (r.category, _title(r.entry, titles)) if r.counted or r.entry != NO_ENTRY else ("", "")
        rows.append([r.id, _local(r.received), _local(r.answered), CHANNEL_LABELS.get(r.channel, r.channel),
                     category, entry, OUTCOME_LABELS.get(r.outcome, r.outcome),
                     _round(r.response_hours), _round(r.working_hours), LANGUAGE_LABELS.get(r.language, r.language),
                     "oui" if r.appointment else "non"])
    return rows


def month_table(summary: Summary) -> Table:
    """Requests per month of the year so far, by category: the numbers behind the chart."""
    per_month = summary.by_month()
    categories = _categories(per_month)
    rows: Table = [["mois", *categories, "total"]]
    total: Counter[str] = Counter()
    for month in summary.months:
        counts = per_month.get(month, Counter())
        total += counts
        rows.append([summary.month_label(month), *(counts[c] for c in categories), counts.total()])
    rows.append(["total", *(total[c] for c in categories), total.total()])
    return rows


def _categories(per_month: Mapping[int, Counter[str]]) -> list[str]:
    found = {c for counts in per_month.values() for c in counts}
    return sorted(found, key=lambda c: (list(COLOURS).index(c) if c in COLOURS else 99, c))


def _period_name(summary: Summary) -> str:
    """"octobre 2026", "décembre 2026 (jusqu'au 4)", or "2026 (janvier à octobre)"."""
    if summary.month is None:
        return f"{summary.year} ({summary.span()})"
    partial = f" (jusqu'au {summary.partial_day})" if summary.partial_day else ""
    return f"{MONTH_NAMES[summary.month - 1]} {summary.year}{partial}"


def summary_tables(summary: Summary, titles: Mapping[str, str] | None = None) -> dict[str, Table]:
    """The summary, one table per sheet (and per block of the CSV); ``titles`` names the entries."""
    titles = titles or {}
    totals: Table = [["indicateur", "valeur"]]
    totals.append([f"demandes en {_period_name(summary)}", summary.total])
    if summary.month is not None:
        totals.append([f"cumul {summary.year} ({summary.span()})", summary.year_to_date])
    totals += [["accompagnements personnalisés", summary.appointments],
               ["messages automatiques (non comptés)", summary.machine],
               ["ignorées, pas des demandes (non comptées)", summary.ignored]]
    cross = summary.by_category_channel()
    by_category: Table = [["catégorie", *(CHANNEL_LABELS[c] for c in CHANNELS), "total"]]
    by_category += [[category, *(counts[c] for c in CHANNELS), sum(counts.values())]
                    for category, counts in cross.items()]
    by_category.append(["total", *(summary.by_channel()[c] for c in CHANNELS), summary.total])
    by_entry: Table = [["fiche", "demandes"]]
    by_entry += [[_title(entry, titles), count] for entry, count in summary.by_entry()]
    outcomes = summary.by_outcome()
    by_outcome: Table = [["résultat", "demandes"]]
    by_outcome += [[label, outcomes[key]] for key, label in OUTCOME_LABELS.items()]
    times: Table = [["indicateur", "heures", "heures ouvrées"],
                    ["demandes répondues", len(summary.response_hours()), len(summary.working_hours())],
                    ["délai médian", _figure(summary.median_hours()), _figure(summary.median_working_hours())],
                    ["délai du 90e centile", _figure(summary.p90_hours()), _figure(summary.p90_working_hours())]]
    notes: Table = [["terme", "définition"],
                    ["sans fiche", NO_ENTRY_NOTE.split(" : ", 1)[1]],
                    ["heures ouvrées", summary.office.describe()],
                    ["délai du 90e centile", "neuf demandes sur dix ont eu leur réponse dans ce délai"],
                    ["non comptés", "réponses automatiques, messages de robots et messages qui ne sont pas des "
                                    "demandes (remerciements, publicité) : enregistrés mais pas comptés"]]
    return {
        "Totaux": totals,
        "Par mois": month_table(summary),
        "Par catégorie et canal": by_category,
        "Par fiche (top 15)": by_entry,
        "Par résultat": by_outcome,
        "Délais de réponse": times,
        "Définitions": notes,
    }


def cell_text(value: Cell) -> str:
    """A cell as the CSV (and a web page) shows it: decimal comma, dates to the minute, blank for none."""
    if value is None:
        return ""
    if isinstance(value, float):
        return decimal(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def write_csv(path: Path, rows: Sequence[Sequence[Cell]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, delimiter=";", lineterminator="\r\n").writerows([[cell_text(v) for v in row]
                                                                             for row in rows])


def write_summary_csv(path: Path, tables: dict[str, Table]) -> None:
    rows: Table = []
    for title, table in tables.items():
        rows += [[title], *table, []]
    write_csv(path, rows[:-1])


def write_xlsx(path: Path, tables: dict[str, Table]) -> None:
    # Write-only mode streams the rows: a year's per-request sheet (20,000 rows) takes a second, not six.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, table in tables.items():
        sheet = book.create_sheet(title[:31])
        for index, width in enumerate(_widths(table), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        header, *rows = table
        cells = [WriteOnlyCell(sheet, value) for value in header]
        for cell in cells:
            cell.font = bold
        sheet.append(cells)
        for row in rows:
            # openpyxl gives datetimes a date format of its own.
            sheet.append(row)
    book.save(path)


def _widths(table: Table) -> list[float]:
    widths: list[float] = []
    for row in table:
        for index, value in enumerate(row):
            length = 16 if isinstance(value, dt.datetime) else len(cell_text(value))
            if index == len(widths):
                widths.append(0)
            widths[index] = max(widths[index], length)
    return [min(max(w + 2, 10), 60) for w in widths]


def chart(summary: Summary, network: str) -> Figure:
    """Requests per month of the year so far, stacked by category; the year-to-date total in the title."""
    # Imported when drawing: it takes a while, and most commands never draw.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    months = summary.months
    per_month = summary.by_month()
    categories = _categories(per_month)
    fig = Figure(figsize=(10, 5.6), dpi=150)
    ax = fig.subplots()
    labels = [MONTHS[m - 1] for m in months]
    if summary.partial_day and months:
        labels[-1] += f"\n(jusqu'au {summary.partial_day})"
    bottom = [0] * len(months)
    for category in categories:
        values = [per_month.get(m, Counter())[category] for m in months]
        ax.bar(range(len(months)), values, bottom=bottom, color=COLOURS.get(category, "#bcbd22"),
               label=f"{category} *" if category == NO_ENTRY else category)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(months)), labels)
    for x, total in enumerate(bottom):
        if total:
            ax.text(x, total, str(total), ha="center", va="bottom", fontsize=10)
    ax.set_title(f"{network} — demandes d'information {summary.year} : {summary.year_to_date} au total\n"
                 f"({summary.span()})", fontsize=13)
    ax.set_ylabel("demandes par mois")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    if categories:
        ax.legend(title="catégorie", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "aucune demande", transform=ax.transAxes, ha="center", color="#7f7f7f")
    if NO_ENTRY in categories:
        fig.text(0.01, 0.01, "* " + NO_ENTRY_NOTE, fontsize=8, color="#555555", wrap=True)
    fig.tight_layout(rect=(0, 0.05 if NO_ENTRY in categories else 0, 1, 1))
    return fig


def file_names(period: str) -> list[str]:
    """The files of a period, in the order ``export_period`` returns them: requests CSV, summary CSV,
    summary XLSX, chart PNG (``demandes-2026-10.csv`` …)."""
    return [f"demandes-{period}.csv", f"synthese-{period}.csv", f"synthese-{period}.xlsx", f"graphique-{period}.png"]


def export_period(summary: Summary, out_dir: Path, network: str,
                  titles: Mapping[str, str] | None = None) -> list[Path]:
    """Write the period's four files (``file_names``); return their paths.

    ``titles`` names the entries (slug → title; ``entry_titles``); without it the files show slugs.
    """
    titles = titles or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in file_names(summary.period)]
    tables = summary_tables(summary, titles)
    requests = request_table(summary, titles)
    write_csv(paths[0], requests)
    write_summary_csv(paths[1], tables)
    write_xlsx(paths[2], {**tables, "Demandes": requests})
    chart(summary, network).savefig(paths[3])
    return paths
