"""``guichet stats``: the month's export and the year's count."""

from __future__ import annotations

from pathlib import Path

import click

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



@stats.command("export")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: reports.out_dir).")
@pass_ctx
def stats_export(ctx: Context, month: str, out_dir: str | None) -> None:
    """Write the month's requests CSV, summary CSV and XLSX, and chart PNG.

    \b
    Example:
      guichet stats export --month 2026-10 --out exports/
    """
    from ..export import export_period
    from ..stats import month_summary

    try:
        year, number = (int(x) for x in month.split("-"))
        if not 1 <= number <= 12:
            raise ValueError
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-10", param_hint="--month") from exc
    config = ctx.config
    db = open_db(config.storage.database)
    summary = month_summary(db, year, number, config.network.tz)
    paths = export_period(summary, Path(out_dir or config.reports.out_dir), config.network.name, year, number)
    click.echo(f"{summary.period}: {summary.total} requests ({summary.year_to_date} since January), "
               f"{summary.appointments} appointment(s), {summary.machine} machine message(s) and "
               f"{summary.ignored} ignored not counted")
    for path in paths:
        click.echo(f"  {path}")


@stats.command("year")
@click.argument("year", type=int)
@click.option("--export", "do_export", is_flag=True, help="Also write the year's files.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: reports.out_dir).")
@pass_ctx
def stats_year(ctx: Context, year: int, do_export: bool, out_dir: str | None) -> None:
    """The yearly count: total, by category, by channel, by month.

    \b
    Example:
      guichet stats year 2026
    """
    from ..export import MONTHS, decimal, export_period
    from ..stats import year_summary

    config = ctx.config
    db = open_db(config.storage.database)
    summary = year_summary(db, year, config.network.tz)
    click.echo(f"{config.network.name}: {summary.total} information requests in {year}")
    click.echo(f"  personal support appointments: {summary.appointments}")
    click.echo(f"  not counted: {summary.machine} machine messages, {summary.ignored} ignored")
    median, p90 = summary.median_hours(), summary.p90_hours()
    click.echo(f"  response time: median {decimal(median) or '-'} h, 90th percentile {decimal(p90) or '-'} h")
    click.echo("by category:")
    for category, count in summary.by_category().most_common():
        click.echo(f"  {category:<16} {count:>6}")
    click.echo("by channel:")
    for channel, count in summary.by_channel().most_common():
        click.echo(f"  {channel:<16} {count:>6}")
    click.echo("by month:")
    per_month = summary.by_month()
    for number in range(1, 13):
        count = sum(per_month.get(number, {}).values())
        if count:
            click.echo(f"  {MONTHS[number - 1]:<16} {count:>6}")
    if do_export:
        last = max(per_month, default=12)
        for path in export_period(summary, Path(out_dir or config.reports.out_dir), config.network.name, year,
                                  last):
            click.echo(f"  {path}")
