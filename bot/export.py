"""Export: the statistics as files people open in Excel or LibreOffice, and a chart for the report.

CSV dialect: UTF-8 with a byte-order mark, ``;`` as separator and a decimal comma — what French
Excel expects when the file is double-clicked, and what LibreOffice detects.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from .stats import CHANNELS, NO_ENTRY, OUTCOME_LABELS, Summary

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
COLOURS = {"financement": "#1f77b4", "volontariat": "#2ca02c", "formation": "#ff7f0e",
           "accompagnement": "#9467bd", "information": "#8c564b", NO_ENTRY: "#7f7f7f"}


def decimal(value: float | None) -> str:
    """A number with a decimal comma, one decimal; empty when there is none."""
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def _stamp(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def request_table(summary: Summary) -> list[list[str]]:
    """One row per request, no personal data."""
    rows = [["id", "reçue le", "répondue le", "canal", "catégorie", "fiche", "résultat", "délai (heures)",
             "langue", "accompagnement"]]
    for r in summary.rows:
        rows.append([str(r.id), _stamp(r.received), _stamp(r.answered), r.channel, r.category, r.entry,
                     r.outcome, decimal(r.response_hours), r.language, "oui" if r.appointment else "non"])
    return rows


def summary_tables(summary: Summary) -> dict[str, list[list[str | int]]]:
    """The summary, one table per sheet (and per block of the CSV)."""
    cross = summary.by_category_channel()
    by_category: list[list[str | int]] = [["catégorie", *CHANNELS, "total"]]
    for category, counts in cross.items():
        by_category.append([category, *(counts[c] for c in CHANNELS), sum(counts.values())])
    by_category.append(["total", *(summary.by_channel()[c] for c in CHANNELS), summary.total])
    outcomes = summary.by_outcome()
    by_outcome: list[list[str | int]] = [["résultat", "libellé", "demandes"]]
    by_outcome += [[key, label, outcomes[key]] for key, label in OUTCOME_LABELS.items()]
    times: list[list[str | int]] = [["indicateur", "valeur"],
                                    ["demandes répondues", len(summary.response_hours())],
                                    ["délai médian (heures)", decimal(summary.median_hours())],
                                    ["délai 90e centile (heures)", decimal(summary.p90_hours())]]
    totals: list[list[str | int]] = [["indicateur", "valeur"],
                                     [f"demandes {summary.period}", summary.total],
                                     [f"cumul {summary.period[:4]} au {summary.period}", summary.year_to_date],
                                     ["accompagnements personnalisés", summary.appointments],
                                     ["messages automatiques (non comptés)", summary.machine],
                                     ["ignorées (non comptées)", summary.ignored]]
    by_entry: list[list[str | int]] = [["fiche", "demandes"]]
    by_entry += [[entry, count] for entry, count in summary.by_entry()]
    return {
        "Totaux": totals,
        "Par catégorie et canal": by_category,
        "Par fiche (top 15)": by_entry,
        "Par résultat": by_outcome,
        "Délais de réponse": times,
    }


def write_csv(path: Path, rows: list[list[str | int]] | list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, delimiter=";", lineterminator="\r\n").writerows(rows)


def write_summary_csv(path: Path, tables: dict[str, list[list[str | int]]]) -> None:
    rows: list[list[str | int]] = []
    for title, table in tables.items():
        rows += [[title], *table, []]
    write_csv(path, rows[:-1])


def write_xlsx(path: Path, tables: dict[str, list[list[str | int]]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, table in tables.items():
        sheet = book.create_sheet(title[:31])
        for row in table:
            # Numbers stay numbers in the workbook (a decimal comma is the CSV's business).
            sheet.append([_number(v) for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 60)
    book.save(path)


def _number(value: str | int) -> str | int | float:
    if isinstance(value, str) and value.replace(",", "", 1).isdigit() and "," in value:
        return float(value.replace(",", "."))
    return value


def write_chart(path: Path, summary: Summary, year: int, last_month: int, network: str) -> None:
    """Requests per month of the year so far, stacked by category; the year-to-date total in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    months = list(range(1, last_month + 1))
    per_month = summary.by_month()
    categories = sorted({c for counts in per_month.values() for c in counts},
                        key=lambda c: list(COLOURS).index(c) if c in COLOURS else 99)
    fig, ax = plt.subplots(figsize=(10, 5.6), dpi=150)
    bottom = [0] * len(months)
    for category in categories:
        values = [per_month[m].get(category, 0) if m in per_month else 0 for m in months]
        ax.bar([MONTHS[m - 1] for m in months], values, bottom=bottom, label=category,
               color=COLOURS.get(category, "#bcbd22"))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, total in enumerate(bottom):
        if total:
            ax.text(x, total, str(total), ha="center", va="bottom", fontsize=10)
    ax.set_title(f"{network} — demandes d'information {year} : {summary.year_to_date} au total "
                 f"(janv. à {MONTHS[last_month - 1]})", fontsize=13)
    ax.set_ylabel("demandes par mois")
    ax.spines[["top", "right"]].set_visible(False)
    if categories:
        ax.legend(title="catégorie", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "aucune demande", transform=ax.transAxes, ha="center", color="#7f7f7f")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def export_period(summary: Summary, out_dir: Path, network: str, year: int, last_month: int) -> list[Path]:
    """Write requests-*.csv, summary-*.csv, summary-*.xlsx and chart-*.png; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = summary.period
    paths = [out_dir / f"requests-{tag}.csv", out_dir / f"summary-{tag}.csv", out_dir / f"summary-{tag}.xlsx",
             out_dir / f"chart-{tag}.png"]
    tables = summary_tables(summary)
    write_csv(paths[0], request_table(summary))
    write_summary_csv(paths[1], tables)
    write_xlsx(paths[2], tables)
    write_chart(paths[3], summary, year, last_month, network)
    return paths
