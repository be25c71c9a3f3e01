"""La file d'attente: drafts to check, requests to answer by hand, replies not sent, ignored requests.

The list refreshes itself: htmx asks for ``/file/lignes`` every few seconds with the version it
shows (the last event's id); the answer is 204 (nothing to do) until something happened.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .... import teamwork, worklist
from ....errors import GuichetError
from ....knowledge import CATEGORIES
from ....outbox import requeue
from .. import auth
from .french import french

TABS = {"a-valider": "À valider", "a-la-main": "À traiter à la main", "envoi": "Envoi", "ignores": "Ignorés"}
AGES = {"": "tous", "4": "plus de 4 h", "24": "plus d'un jour", "72": "plus de 3 jours", "168": "plus d'une semaine"}
WORDS = ("forte", "moyenne", "faible", worklist.NO_ENTRY)


def version(db: Any) -> int:
    """Changes whenever anything happened (a draft, a decision, a claim, a reply sent)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])


def _filters(request: Request) -> tuple[dict[str, str], worklist.Filters]:
    query = request.query_params
    chosen = {"canal": query.get("canal", ""), "categorie": query.get("categorie", ""),
              "age": query.get("age", ""), "confiance": query.get("confiance", "")}
    chosen = {k: v for k, v in chosen.items() if v}
    age = chosen.get("age", "")
    return chosen, worklist.Filters(channel=chosen.get("canal", ""), category=chosen.get("categorie", ""),
                                    min_age_hours=float(age) if age in AGES and age else 0.0,
                                    word=chosen.get("confiance", ""))


def _context(request: Request) -> dict[str, Any]:
    desk = auth.desk_of(request)
    db, entries = desk.core.db, desk.core.review.entries
    tab = request.query_params.get("onglet", "a-valider")
    if tab not in TABS:
        tab = "a-valider"
    chosen, filters = _filters(request)
    context: dict[str, Any] = {"nav": "file", "tab": tab, "tabs": TABS, "chosen": chosen, "ages": AGES, "words": WORDS,
                               "categories": CATEGORIES, "claims": teamwork.claims(db), "version": version(db),
                               "poll": desk.config.refresh_seconds, "query": urlencode({"onglet": tab, **chosen})}
    waiting, aside, unsent = worklist.queue(db, entries), worklist.by_hand(db, entries), worklist.unsent(db)
    context["counts"] = {"a-valider": len(waiting), "a-la-main": len(aside), "envoi": len(unsent)}
    if tab == "a-valider":
        context["rows"] = [r for r in waiting if filters.keep(r)]
    elif tab == "a-la-main":
        context["rows"] = [r for r in aside if filters.keep(r)]
    elif tab == "envoi":
        context["items"] = unsent
    else:
        context["rows"] = worklist.ignored(db, entries)
    return context


@auth.staff_only
async def queue_page(request: Request, session: auth.Session) -> Response:
    return auth.desk_of(request).render(request, session, "queue.html", _context(request))


@auth.staff_only
async def queue_rows(request: Request, session: auth.Session) -> Response:
    """The list alone, for htmx; 204 when nothing changed since the version the page shows."""
    desk = auth.desk_of(request)
    if request.query_params.get("v") == str(version(desk.core.db)):
        return Response(status_code=204)
    # The tabs' counts come along (an out-of-band swap): a new draft changes them as well as the list.
    return desk.render(request, session, "_queue_rows.html", {**_context(request), "oob": True})


@auth.staff_only
async def retry(request: Request, session: auth.Session) -> Response:
    """Send an uncertain or failed reply again (staff checked it did not arrive)."""
    desk = auth.desk_of(request)
    try:
        requeue(desk.core.db, int(request.path_params["item_id"]), session.account.actor)
    except GuichetError as exc:
        return desk.error(request, session, 409 if "only" in str(exc) else 404, french(exc, desk.who))
    desk.wake_outbox()
    return RedirectResponse("/file?onglet=envoi", status_code=303)


routes = [
    Route("/file", queue_page, methods=["GET"]),
    Route("/file/lignes", queue_rows, methods=["GET"]),
    Route("/envoi/{item_id:int}/relancer", retry, methods=["POST"]),
]
