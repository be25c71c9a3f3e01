"""Logging in and out, and setting a password from a one-time link."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .... import staff
from ....errors import StaffError
from .. import auth
from ..app import Desk

# Before login there is no session to hold a CSRF token: the form carries a random value that must
# equal a cookie's (a page on another site can make the browser post, not read or set that cookie).
PRE = "guichet_pre"


def _desk(request: Request) -> Desk:
    return auth.desk_of(request)


def _pre_form(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    token = request.cookies.get(PRE) or secrets.token_urlsafe(24)
    context["pre"] = token
    response = _desk(request).render(request, None, name, context, status)
    response.set_cookie(PRE, token, httponly=True, samesite="strict", secure=_desk(request).config.secure_cookie)
    return response


def _pre_ok(request: Request, form: Any) -> bool:
    cookie, sent = request.cookies.get(PRE, ""), str(form.get("pre") or "")
    return bool(cookie) and hmac.compare_digest(cookie, sent)


def _next(target: str | None) -> str:
    # Only a path on this site: "suite" must not send anyone elsewhere after login.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/file"


async def home(request: Request) -> Response:
    return RedirectResponse("/file" if auth.current(request) else "/connexion", status_code=303)


async def login_page(request: Request) -> Response:
    if auth.current(request):
        return RedirectResponse(_next(request.query_params.get("suite")), status_code=303)
    return _pre_form(request, "login.html", {"suite": request.query_params.get("suite", ""), "email": ""})


async def login(request: Request) -> Response:
    desk = _desk(request)
    db = desk.core.db
    form: Any = await request.form()
    email, password = str(form.get("email") or "").strip(), str(form.get("password") or "")
    context = {"suite": str(form.get("suite") or ""), "email": email}
    if not _pre_ok(request, form):
        return _pre_form(request, "login.html", {**context, "error": "Le formulaire a expiré : recommencez."}, 403)
    address = auth.client_address(request)
    if auth.throttled(db, desk.config, email, address):
        auth.failed(db, email, address, throttled=True)
        return _pre_form(request, "login.html", {**context, "error": "Trop de tentatives : réessayez dans "
                                                                       "un quart d'heure."}, 429)
    account = await auth.check_password(db, email, password)
    if account is None:
        auth.failed(db, email, address)
        return _pre_form(request, "login.html", {**context, "error": "Adresse ou mot de passe incorrect."}, 401)
    token = auth.open_session(db, desk.config, account, address)
    response = RedirectResponse(_next(context["suite"]), status_code=303)
    response.set_cookie(auth.cookie_name(desk.config), token, max_age=desk.config.session_hours * 3600,
                        httponly=True, samesite="lax", secure=desk.config.secure_cookie, path="/")
    response.delete_cookie(PRE)
    return response


@auth.staff_only
async def logout(request: Request, session: auth.Session) -> Response:
    desk = _desk(request)
    auth.close_session(desk.core.db, session)
    response = RedirectResponse("/connexion", status_code=303)
    response.delete_cookie(auth.cookie_name(desk.config), path="/")
    return response


async def password_page(request: Request) -> Response:
    token = request.path_params["token"]
    account = staff.link_account(_desk(request).core.db, token)
    if account is None:
        return _desk(request).error(request, None, 404, "Ce lien n'est plus valable : demandez-en un nouveau.")
    return _pre_form(request, "password.html", {"account": account, "token": token})


async def password_set(request: Request) -> Response:
    desk = _desk(request)
    token = request.path_params["token"]
    form: Any = await request.form()
    account = staff.link_account(desk.core.db, token)
    if account is None:
        return desk.error(request, None, 404, "Ce lien n'est plus valable : demandez-en un nouveau.")
    context: dict[str, Any] = {"account": account, "token": token}
    if not _pre_ok(request, form):
        return _pre_form(request, "password.html", {**context, "error": "Le formulaire a expiré : recommencez."}, 403)
    password = str(form.get("password") or "")
    if password != str(form.get("confirm") or ""):
        return _pre_form(request, "password.html", {**context, "error": "Les deux saisies diffèrent."}, 400)
    try:
        staff.use_link(desk.core.db, token, password)
    except StaffError as exc:
        return _pre_form(request, "password.html", {**context, "error": f"{str(exc)[0].upper()}{str(exc)[1:]}."}, 400)
    return RedirectResponse("/connexion?suite=/file", status_code=303)


routes = [
    Route("/", home),
    Route("/connexion", login_page, methods=["GET"]),
    Route("/connexion", login, methods=["POST"]),
    Route("/deconnexion", logout, methods=["POST"]),
    Route("/mot-de-passe/{token}", password_page, methods=["GET"]),
    Route("/mot-de-passe/{token}", password_set, methods=["POST"]),
]
