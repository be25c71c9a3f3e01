"""Statistiques: the month's figures and the year's chart, from the same code as ``guichet stats export``
(``stats.month_summary`` and ``export.summary_tables``), and the same files to download."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ....export import MONTHS, export_period, file_names, summary_tables
from ....stats import month_summary
from ....workhours import Office
from .. import auth

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_FILE = re.compile(r"^(demandes|synthese|graphique)-(\d{4})-(\d{2})\.(csv|xlsx|png)$")
KINDS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "png": "image/png"}


def _month(text: str | None, today: dt.date) -> tuple[int, int]:
    found = _MONTH.match(text or "")
    return (int(found.group(1)), int(found.group(2))) if found else (today.year, today.month)


async def _files(request: Request, year: int, month: int) -> list[Path]:
    """The month's four files, written now (the figures change while the month runs)."""
    desk = auth.desk_of(request)
    config = desk.core.config
    summary = month_summary(desk.core.db, year, month, config.network.tz,  # the database: in the loop
                            office=Office.of(config.network))
    folder = Path(config.reports.out_dir) / "web"
    # matplotlib and openpyxl take a second: in a thread, the desk stays responsive meanwhile.
    return await asyncio.to_thread(export_period, summary, folder, config.network.name, _titles(request))


def _titles(request: Request) -> dict[str, str]:
    return {e.slug: e.title for e in auth.desk_of(request).core.entries}


@auth.staff_only
async def stats_page(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    today = dt.datetime.now(desk.tz).date()
    year, month = _month(request.query_params.get("mois"), today)
    summary = month_summary(desk.core.db, year, month, desk.tz, office=Office.of(desk.core.config.network))
    months = [f"{y:04d}-{m:02d}" for y in (today.year, today.year - 1) for m in range(12, 0, -1)
              if (y, m) <= (today.year, today.month)]
    return desk.render(request, session, "stats.html", {
        "nav": "statistiques", "summary": summary, "tables": summary_tables(summary, _titles(request)),
        "period": summary.period,
        "label": f"{MONTHS[month - 1]} {year}", "months": months, "median": summary.median_hours(),
        "files": file_names(summary.period)})


@auth.staff_only
async def download(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    name = request.path_params["name"]
    found = _FILE.match(name)
    if found is None or not 1 <= int(found.group(3)) <= 12:
        return desk.error(request, session, 404, "Ce fichier n'existe pas.")
    paths = await _files(request, int(found.group(2)), int(found.group(3)))
    path = next(p for p in paths if p.name == name)
    inline = name.endswith(".png") and request.query_params.get("voir") == "1"
    return FileResponse(path, media_type=KINDS[found.group(4)], filename=None if inline else name)


routes = [
    Route("/statistiques", stats_page, methods=["GET"]),
    Route("/statistiques/fichiers/{name}", download, methods=["GET"]),
]
