"""État du service: what ``guichet status`` shows, in French."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....health import status
from .. import auth

PARTS = {"imap": "Lecture de la boîte (IMAP)", "outbox email": "Envoi des e-mails",
         "outbox telegram": "Envoi sur Telegram", "telegram": "Bureau Telegram de l'équipe",
         "telegram-updates": "Questions reçues sur Telegram", "schedule": "Rapport mensuel et purge RGPD"}


@auth.staff_only
async def state_page(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    return desk.render(request, session, "state.html", {"nav": "etat", "data": status(desk.core.db), "parts": PARTS})


routes = [Route("/etat", state_page, methods=["GET"])]
