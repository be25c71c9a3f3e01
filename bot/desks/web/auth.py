"""Who is at the browser: login, sessions kept in the database, CSRF tokens, login rate limiting.

Sessions live in the ``web_sessions`` table (only a SHA-256 of the cookie's token), so no
signing secret is needed, a restart keeps everyone logged in (a browser left open recovers),
and disabling an account or changing its password ends its sessions at once. Each session has
its own CSRF token, checked on every POST (form field ``csrf`` or htmx's ``X-CSRF-Token``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import sqlite_utils
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import staff
from ...config import WebConfig
from ...store import log_event, now, one

if TYPE_CHECKING:
    from .app import Desk

FAILURE_WINDOW = dt.timedelta(minutes=15)
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    """A logged-in staff member and the session's CSRF token."""

    account: staff.Account
    csrf: str
    token_hash: str


def desk_of(request: Request) -> Desk:
    """The web desk serving this request (pages, core, settings)."""
    return cast("Desk", request.app.state.desk)


def cookie_name(cfg: WebConfig) -> str:
    # __Host-: the browser only accepts it Secure, for this host, on every path (no subdomain can set it).
    return "__Host-guichet" if cfg.secure_cookie else "guichet"


def _later(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def open_session(db: sqlite_utils.Database, cfg: WebConfig, account: staff.Account, address: str) -> str:
    """Start a session for ``account``; returns the cookie's token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    with db.atomic():
        db.table("web_sessions").insert({"token_hash": staff.token_hash(token), "staff_id": account.id,
                                         "csrf": secrets.token_urlsafe(32), "created_at": stamp,
                                         "last_seen_at": stamp, "expires_at": _later(cfg.session_hours)})
        db.execute("UPDATE staff SET last_login_at = ? WHERE id = ?", [stamp, account.id])
        db.execute("DELETE FROM web_sessions WHERE expires_at < ?", [stamp])
        log_event(db, "web.login", actor=account.actor, address=address)
    return token


def current(request: Request) -> Session | None:
    """The request's live session, or None (no cookie, unknown, expired, or the account disabled)."""
    desk = desk_of(request)
    token = request.cookies.get(cookie_name(desk.config))
    if not token:
        return None
    db: sqlite_utils.Database = desk.core.db
    hashed = staff.token_hash(token)
    row = one(db, "SELECT s.*, a.active FROM web_sessions s JOIN staff a ON a.id = s.staff_id "
                  "WHERE s.token_hash = ? AND s.expires_at > ?", [hashed, now()])
    if row is None or not row["active"]:
        return None
    seen = dt.datetime.fromisoformat(row["last_seen_at"])
    if dt.datetime.now(dt.UTC) - seen > TOUCH_EVERY:
        # Sliding expiry, written at most once a minute: a desk used all day stays logged in.
        db.execute("UPDATE web_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
                   [now(), _later(desk.config.session_hours), hashed])
    return Session(staff.get(db, row["staff_id"]), row["csrf"], hashed)


def close_session(db: sqlite_utils.Database, session: Session) -> None:
    with db.atomic():
        db.execute("DELETE FROM web_sessions WHERE token_hash = ?", [session.token_hash])
        log_event(db, "web.logout", actor=session.account.actor)


def throttled(db: sqlite_utils.Database, cfg: WebConfig, account: str, address: str) -> bool:
    """Too many failed logins lately for this account name or from this address."""
    since = (dt.datetime.now(dt.UTC) - FAILURE_WINDOW).isoformat()
    row = one(db, "SELECT sum(account = ?) AS by_account, sum(address = ?) AS by_address FROM login_failures "
                  "WHERE at > ?", [account.lower(), address, since])
    return max((row or {}).get("by_account") or 0, (row or {}).get("by_address") or 0) >= cfg.login_attempts


def failed(db: sqlite_utils.Database, account: str, address: str, *, throttled: bool = False) -> None:
    stamp = now()
    with db.atomic():
        db.execute("INSERT INTO login_failures (at, account, address) VALUES (?, ?, ?)",
                   [stamp, account.lower()[:200], address])
        db.execute("DELETE FROM login_failures WHERE at < ?",
                   [(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()])
        log_event(db, "web.login_throttled" if throttled else "web.login_failed", actor=None,
                  account=account[:200], address=address)


async def check_password(db: sqlite_utils.Database, email: str, password: str) -> staff.Account | None:
    """The account for these credentials, or None; the hash is checked off the event loop."""
    account, stored = staff.credentials(db, email)
    ok = await asyncio.to_thread(staff.verify_password, stored, password)
    return account if ok and account is not None else None


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf, sent or "")


Handler = Callable[[Request, Session], Awaitable[Response]]


def staff_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an endpoint: no page or action without a session, and no POST without its CSRF token."""

    async def endpoint(request: Request) -> Response:
        session = current(request)
        if session is None:
            target = "/connexion"
            if request.method == "GET" and request.url.path != "/":
                target += "?suite=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            if request.headers.get("HX-Request"):
                # htmx follows HX-Redirect with a full page load, instead of swapping the login form in.
                return Response(status_code=401, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        if request.method == "POST":
            form: Any = await request.form()
            if not csrf_ok(session, request.headers.get("X-CSRF-Token") or form.get("csrf")):
                desk = desk_of(request)
                with desk.core.db.atomic():
                    log_event(desk.core.db, "web.csrf_refused", actor=session.account.actor, path=request.url.path)
                return desk.error(request, session, 403, "Action refusée : la page était trop ancienne ou ne "
                                                         "venait pas du guichet. Rechargez-la et recommencez.")
        request.state.session = session
        return await handler(request, session)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
