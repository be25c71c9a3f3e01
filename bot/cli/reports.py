"""``guichet stats``: the month's export and the year's count, in French (the director reads them)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from ..config import Config
from ..stats import Summary
from ..store import open_db
from . import Context, cli, pass_ctx


@cli.group()
def stats() -> None:
    """Statistics: the month's export and the yearly count.

    \b
    Examples:
      guichet stats export --month 2026-10
      guichet stats year 2026
    """


def _export(config: Config, summary: Summary, out_dir: str | None) -> None:
    from ..export import entry_titles, export_period

    titles = entry_titles(config)
    for path in export_period(summary, Path(out_dir or config.reports.out_dir), config.network.name, titles):
        click.echo(f"  {path}")


def _log_span(years: tuple[int, int] | None) -> str:
    if years is None:
        return "le journal est vide"
    first, last = years
    return f"le journal ne contient que {first}" if first == last else f"le journal va de {first} à {last}"


def _not_counted(summary: Summary) -> str:
    return (f"{summary.machine} message(s) automatique(s) et {summary.ignored} ignoré(s), pas des demandes : "
            "non comptés")


@stats.command("export")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: reports.out_dir).")
@pass_ctx
def stats_export(ctx: Context, month: str, out_dir: str | None) -> None:
    """Write the month's files: one row per request (CSV), the summary (CSV and XLSX), the chart (PNG).

    \b
    Example:
      guichet stats export --month 2026-10 --out exports/
    """
    from ..stats import month_summary
    from ..workhours import Office

    try:
        year, number = (int(x) for x in month.split("-"))
        if not 1 <= number <= 12:
            raise ValueError
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-10", param_hint="--month") from exc
    config = ctx.desk_config
    summary = month_summary(open_db(config.storage.database), year, number, config.network.tz,
                            office=Office.of(config.network))
    partial = f" (jusqu'au {summary.partial_day}, le mois n'est pas fini)" if summary.partial_day else ""
    click.echo(f"{summary.period}{partial} : {summary.total} demande(s) ({summary.year_to_date} depuis janvier), "
               f"{summary.appointments} accompagnement(s) personnalisé(s) ; {_not_counted(summary)}")
    _export(config, summary, out_dir)


@stats.command("year")
@click.argument("year", type=int)
@click.option("--export", "do_export", is_flag=True, help="Also write the year's files.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: reports.out_dir).")
@pass_ctx
def stats_year(ctx: Context, year: int, do_export: bool, out_dir: str | None) -> None:
    """The yearly count: total, by category, by channel, by month, response times.

    \b
    Example:
      guichet stats year 2026
    """
    from ..export import decimal
    from ..stats import CHANNEL_LABELS, NO_ENTRY, NO_ENTRY_NOTE, year_summary, years_with_requests
    from ..workhours import Office

    config = ctx.desk_config
    db = open_db(config.storage.database)
    summary = year_summary(db, year, config.network.tz, office=Office.of(config.network))
    name = config.network.name
    if not summary.rows:
        logged = _log_span(years_with_requests(db, config.network.tz))
        click.echo(f"{name} : aucune demande enregistrée en {year} ({logged}).")
        return
    click.echo(f"{name} : {summary.total} demande(s) d'information en {year} ({summary.span()})")
    click.echo(f"  accompagnements personnalisés : {summary.appointments}")
    click.echo(f"  {_not_counted(summary)}")
    if summary.response_hours():
        click.echo(f"  délai de réponse : médiane {decimal(summary.median_hours())} h "
                   f"({decimal(summary.median_working_hours())} h ouvrées), 90e centile "
                   f"{decimal(summary.p90_hours())} h ({decimal(summary.p90_working_hours())} h ouvrées)")
    else:
        click.echo("  délai de réponse : aucune demande répondue")
    if summary.total:
        click.echo("par catégorie :")
        for category, count in summary.by_category().most_common():
            click.echo(f"  {category:<16} {count:>6}")
        click.echo("par canal :")
        for channel, count in summary.by_channel().most_common():
            click.echo(f"  {CHANNEL_LABELS.get(channel, channel):<16} {count:>6}")
        click.echo("par mois :")
        per_month = summary.by_month()
        for number in summary.months:
            click.echo(f"  {summary.month_label(number):<22} {per_month.get(number, Counter()).total():>6}")
        if NO_ENTRY in summary.by_category():
            click.echo(NO_ENTRY_NOTE)
    if do_export:
        _export(config, summary, out_dir)
