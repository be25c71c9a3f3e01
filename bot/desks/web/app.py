"""The Starlette application: routes of every page, French templates and filters, security headers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ... import staff
from ...config import WebConfig
from ...stats import CHANNEL_LABELS as CHANNELS
from ...stats import local_time
from ...worklist import DRAFT_STATES
from . import auth

if TYPE_CHECKING:
    from ...service import Core

HERE = Path(__file__).parent
HTMX = "htmx-2.0.11.min.js"
REQUEST_STATES = {"open": "ouverte", "by_hand": "à traiter à la main", "answered": "répondue", "ignored": "ignorée",
                  "machine": "message automatique", "forgotten": "effacée"}
OUTBOX_STATES = {"queued": "en attente d'envoi", "sending": "en cours d'envoi", "uncertain": "incertain",
                 "failed": "échec", "sent": "envoyé", "cancelled": "annulé"}
OUTCOMES = {"sent_as_drafted": "envoyée telle que rédigée", "sent_after_edit": "envoyée après modification",
            "answered_by_hand": "répondue à la main", "ignored": "ignorée", "machine": "message automatique"}
# No inline script or style anywhere: a requester's text that slipped through escaping still could not run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """CSP and friends on every response; pages are not cached (they show personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


class Desk:
    """What every page needs: the core, the [web] settings, the templates."""

    def __init__(self, core: Core) -> None:
        assert core.config.web is not None
        self.core = core
        self.config: WebConfig = core.config.web
        self.tz = core.config.network.tz
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = self.templates.env
        env.filters.update(local=self.local, age=age, canal=lambda c: CHANNELS.get(c, c), qui=self.who)
        env.globals.update(htmx=f"/static/{HTMX}", network=core.config.network.name, DRAFT_STATES=DRAFT_STATES,
                           REQUEST_STATES=REQUEST_STATES, OUTBOX_STATES=OUTBOX_STATES, OUTCOMES=OUTCOMES)

    def local(self, stamp: str | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        """A stored UTC time in the network's time zone."""
        moment = local_time(stamp, self.tz)
        return moment.strftime(fmt) if moment else ""

    def wake_outbox(self) -> None:
        # The service wires the review's on_change to the outbox's wake-up: a retried reply leaves at once.
        self.core.review.on_change(0)

    def who(self, actor: str | None) -> str:
        return staff.display_name(self.core.db, actor)

    def render(self, request: Request, session: auth.Session | None, name: str, context: dict[str, Any],
               status: int = 200) -> Response:
        context.update(staff=session.account if session else None, csrf=session.csrf if session else "")
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def error(self, request: Request, session: auth.Session | None, status: int, message: str) -> Response:
        return self.render(request, session, "error.html", {"message": message, "status": status}, status)


def age(stamp: str | None) -> str:
    """How long ago, in a word staff read at a glance ("12 min", "3 h", "2 j")."""
    moment = local_time(stamp, dt.UTC)
    if moment is None:
        return ""
    minutes = max(int((dt.datetime.now(dt.UTC) - moment).total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} j"


async def not_found(request: Request, exc: Exception) -> Response:
    desk = auth.desk_of(request)
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = "Page introuvable." if status == 404 else "Cette action n'est pas possible ici."
    return desk.error(request, auth.current(request), status, message)


def create_app(core: Core) -> Starlette:
    """The web desk's ASGI application for ``core`` (which must have a ``[web]`` section)."""
    from .views import kb, login, queue, requests, search, state, stats

    routes: list[Route | Mount] = [*login.routes, *queue.routes, *requests.routes, *search.routes, *kb.routes,
                                   *stats.routes, *state.routes,
                                   Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.desk = Desk(core)
    app.add_middleware(SecurityHeaders)
    return app
