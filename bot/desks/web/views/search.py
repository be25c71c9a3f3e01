"""Recherche: requests by sender, subject or text (SQLite FTS5; what the purge erased is gone)."""

from __future__ import annotations

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .... import worklist
from .. import auth


def highlight(snippet: str) -> Markup:
    """The snippet escaped, then its match marks turned into <mark> (the text itself never becomes markup)."""
    return Markup(str(escape(snippet)).replace(worklist.MARK_START, "<mark>").replace(worklist.MARK_END, "</mark>"))


@auth.staff_only
async def search_page(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    text = request.query_params.get("q", "").strip()[:200]
    hits = worklist.search(desk.core.db, text) if text else []
    fragment = bool(request.headers.get("HX-Request")) and request.headers.get("HX-Target") == "resultats"
    return desk.render(request, session, "_search_results.html" if fragment else "search.html",
                       {"nav": "recherche", "q": text, "hits": hits, "highlight": highlight})


routes = [Route("/recherche", search_page, methods=["GET"])]
