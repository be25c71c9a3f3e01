"""Une demande: the request's page and every decision taken from it.

Ids in URLs are checked: a draft must belong to the request in the URL, or the action is refused
(404, logged). Sending goes through a confirmation page showing recipient and channel. Two staff
sending at once send once: the review core's compare-and-set refuses the second ("déjà traité
par …"); for a hand-written answer the form carries the last reply it saw, so an answer sent
meanwhile by someone else is not followed by a second one.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .... import teamwork, worklist
from ....errors import GuichetError, NotFound
from ....review import DraftView
from ....store import log_event, one, source
from .. import auth, preview
from .french import french

DONE = {"envoye": "Réponse envoyée : elle part dans quelques secondes.", "ignore": "Demande ignorée.",
        "main": "Demande mise de côté pour une réponse à la main.", "enregistre": "Brouillon enregistré.",
        "fiche": "Brouillon refait avec cette fiche.", "pris": "Vous vous en occupez.", "lache": "Demande libérée.",
        "note": "Note ajoutée.", "exemple": "Question ajoutée aux questions types de la fiche."}


def _text(form: Any, name: str = "texte") -> str:
    # Browsers send a textarea's line ends as CRLF; the stored drafts use LF.
    return str(form.get(name) or "").replace("\r\n", "\n")


def _last_reply(db: Any, request_id: int) -> int:
    row = one(db, "SELECT coalesce(max(id), 0) AS id FROM outbox WHERE request_id = ?", [request_id])
    return int((row or {}).get("id") or 0)


def _request(request: Request) -> dict[str, Any]:
    row = one(auth.desk_of(request).core.db, "SELECT * FROM requests WHERE id = ?",
              [request.path_params["request_id"]])
    if row is None:
        raise NotFound("no such request")
    return row


def _draft(request: Request, session: auth.Session) -> DraftView:
    """The draft in the URL, only if it belongs to the request in the URL."""
    desk = auth.desk_of(request)
    request_id, draft_id = request.path_params["request_id"], request.path_params["draft_id"]
    try:
        view: DraftView = desk.core.review.get(draft_id)
    except NotFound:
        view = None  # type: ignore[assignment]
    if view is None or view.request_id != request_id:
        with desk.core.db.atomic():
            log_event(desk.core.db, "web.refused", actor=session.account.actor, path=request.url.path)
        raise NotFound("draft not in request")
    return view


async def _page(request: Request, session: auth.Session, *, error: str = "", status: int = 200,
                text: str | None = None) -> Response:
    desk = auth.desk_of(request)
    db, review = desk.core.db, desk.core.review
    try:
        req = _request(request)
    except NotFound:
        return desk.error(request, session, 404, "Cette demande n'existe pas.")
    request_id = req["id"]
    draft_id = worklist.current_draft(db, request_id)
    draft = review.get(draft_id) if draft_id else None
    entries = review.entries
    candidates = [{"slug": c["slug"], "confidence": c["confidence"], "title": entries[c["slug"]].title,
                   "word": worklist.confidence_word(c["confidence"], True)}
                  for c in (draft.candidates if draft else []) if c["slug"] in entries]
    messages = worklist.conversation(db, request_id)
    incoming = [m for m in messages if m.direction == "in"]
    context = {
        "nav": "file", "req": req, "draft": draft, "candidates": candidates,
        "entries": sorted(entries.values(), key=lambda e: e.title),
        "entry": entries.get(draft.slug) if draft and draft.slug else None,
        "word": worklist.confidence_word(draft.confidence, bool(draft.text)) if draft else "",
        "latest": incoming[-1] if incoming else None, "messages": messages,
        "earlier": worklist.earlier(db, request_id), "notes": teamwork.notes(db, request_id),
        "claim": teamwork.claim_of(db, request_id), "seen": _last_reply(db, request_id),
        "done": DONE.get(request.query_params.get("fait", ""), ""), "error": error,
        "text": text if text is not None else (draft.text if draft and draft.state == "pending" else "") or "",
        "unsent": [o for o in worklist.unsent(db) if o.request_id == request_id],
    }
    return desk.render(request, session, "request.html", context, status)


@auth.staff_only
async def request_page(request: Request, session: auth.Session) -> Response:
    return await _page(request, session)


@auth.staff_only
async def original(request: Request, session: auth.Session) -> Response:
    """Every message of the request as received, whole, with its attachments listed."""
    desk = auth.desk_of(request)
    try:
        req = _request(request)
    except NotFound:
        return desk.error(request, session, 404, "Cette demande n'existe pas.")
    messages = [m for m in worklist.conversation(desk.core.db, req["id"]) if m.direction == "in"]
    fragment = bool(request.headers.get("HX-Request"))
    return desk.render(request, session, "_original.html" if fragment else "original.html",
                       {"req": req, "messages": messages})


@auth.staff_only
async def raw_source(request: Request, session: auth.Session) -> Response:
    """A mail's source as received (.eml), downloaded, never shown inline."""
    desk = auth.desk_of(request)
    row = one(desk.core.db, "SELECT id FROM messages WHERE id = ? AND request_id = ? AND direction = 'in'",
              [request.path_params["message_id"], request.path_params["request_id"]])
    raw = source(desk.core.db, row["id"]) if row else None
    if raw is None:
        return desk.error(request, session, 404, "Source introuvable (effacée, ou pas un e-mail).")
    return Response(raw, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="message-{row["id"]}.eml"'})  # type: ignore[index]


async def _act(request: Request, session: auth.Session, action: str) -> Response:
    desk = auth.desk_of(request)
    db, review, actor = desk.core.db, desk.core.review, session.account.actor
    form: Any = await request.form()
    request_id = request.path_params["request_id"]
    text = _text(form)
    try:
        draft = _draft(request, session)
        if action != "enregistre":
            teamwork.check_free(db, request_id, actor)
        if action == "envoye":
            final = None if text.strip() == (draft.text or "").strip() else text
            review.approve(draft.id, actor, final)
        elif action == "enregistre":
            review.edit(draft.id, actor, text)
        elif action == "fiche":
            review.choose(draft.id, actor, str(form.get("fiche") or ""))
        elif action == "main":
            review.reject(draft.id, actor)
        elif action == "ignore":
            review.ignore(draft.id, actor)
    except NotFound:
        return desk.error(request, session, 404, "Introuvable : ce brouillon n'appartient pas à cette demande.")
    except GuichetError as exc:
        return await _page(request, session, error=french(exc, desk.who), status=409, text=text or None)
    if action in ("envoye", "ignore"):
        teamwork.release(db, request_id, actor)
        return RedirectResponse(f"/file?fait={action}&demande={request_id}", status_code=303)
    return RedirectResponse(f"/demande/{request_id}?fait={action}", status_code=303)


def _action(action: str) -> Any:
    async def handler(request: Request, session: auth.Session) -> Response:
        return await _act(request, session, action)

    handler.__name__ = f"draft_{action}"
    return auth.staff_only(handler)


@auth.staff_only
async def confirm_draft(request: Request, session: auth.Session) -> Response:
    """Envoyer, step 1: who gets what, on which channel."""
    desk = auth.desk_of(request)
    form: Any = await request.form()
    try:
        draft = _draft(request, session)
    except NotFound:
        return desk.error(request, session, 404, "Introuvable : ce brouillon n'appartient pas à cette demande.")
    text = _text(form)
    if not text.strip():
        return await _page(request, session, error="Le texte est vide.", status=400)
    to = preview.recipient(desk.core.db, draft.request_id)
    return desk.render(request, session, "confirm.html", {
        "to": to, "text": text, "preview": preview.email(desk.core.config.network, to, text) if to else None,
        "parts": preview.telegram(text), "request_id": draft.request_id,
        "action": f"/demande/{draft.request_id}/brouillon/{draft.id}/envoyer", "slug": "", "seen": ""})


@auth.staff_only
async def confirm_answer(request: Request, session: auth.Session) -> Response:
    """Répondre moi-même, step 1: the hand-written answer, its recipient and channel."""
    desk = auth.desk_of(request)
    form: Any = await request.form()
    try:
        req = _request(request)
    except NotFound:
        return desk.error(request, session, 404, "Cette demande n'existe pas.")
    text = _text(form, "reponse")
    if not text.strip():
        return await _page(request, session, error="La réponse est vide.", status=400)
    to = preview.recipient(desk.core.db, req["id"])
    return desk.render(request, session, "confirm.html", {
        "to": to, "text": text, "preview": preview.email(desk.core.config.network, to, text) if to else None,
        "parts": preview.telegram(text), "request_id": req["id"], "action": f"/demande/{req['id']}/reponse/envoyer",
        "slug": str(form.get("fiche") or ""), "seen": str(form.get("vu") or "0"), "by_hand": True})


@auth.staff_only
async def send_answer(request: Request, session: auth.Session) -> Response:
    """Répondre moi-même, step 2: sent on the request's own channel, counted answered by hand."""
    desk = auth.desk_of(request)
    db, actor = desk.core.db, session.account.actor
    form: Any = await request.form()
    try:
        req = _request(request)
    except NotFound:
        return desk.error(request, session, 404, "Cette demande n'existe pas.")
    seen = str(form.get("vu") or "0")
    newer = one(db, "SELECT decided_by FROM drafts WHERE id = (SELECT draft_id FROM outbox WHERE request_id = ? "
                    "AND id > ? ORDER BY id DESC LIMIT 1)", [req["id"], int(seen) if seen.isdigit() else 0])
    if newer is not None:
        return await _page(request, session, status=409, text=_text(form, "reponse"),
                           error=f"Déjà traité par {desk.who(newer['decided_by'])} : une réponse est partie "
                                 "pendant que vous écriviez.")
    try:
        teamwork.check_free(db, req["id"], actor)
        desk.core.review.answer(req["id"], actor, _text(form, "reponse"), str(form.get("fiche") or "") or None)
    except GuichetError as exc:
        return await _page(request, session, error=french(exc, desk.who), status=409)
    teamwork.release(db, req["id"], actor)
    return RedirectResponse(f"/file?fait=envoye&demande={req['id']}", status_code=303)


async def _teamwork(request: Request, session: auth.Session, change: Any, done: str) -> Response:
    """Run ``change(db, request_id, actor)`` (a claim, a note) and come back to the request."""
    desk = auth.desk_of(request)
    request_id = request.path_params["request_id"]
    try:
        change(desk.core.db, request_id, session.account.actor)
    except NotFound:
        return desk.error(request, session, 404, "Cette demande n'existe pas.")
    except GuichetError as exc:
        return await _page(request, session, error=french(exc, desk.who), status=409)
    return RedirectResponse(f"/demande/{request_id}?fait={done}", status_code=303)


@auth.staff_only
async def claim(request: Request, session: auth.Session) -> Response:
    """Je m'en occupe / je laisse."""
    form: Any = await request.form()
    if form.get("lacher") is not None:
        return await _teamwork(request, session, teamwork.release, "lache")
    return await _teamwork(request, session, teamwork.claim, "pris")


@auth.staff_only
async def note(request: Request, session: auth.Session) -> Response:
    form: Any = await request.form()
    text = _text(form, "note")
    return await _teamwork(request, session, lambda db, rid, actor: teamwork.add_note(db, rid, actor, text),
                           "note#notes")


@auth.staff_only
async def live_preview(request: Request, session: auth.Session) -> Response:
    """The preview under the editor, refreshed by htmx as staff type."""
    desk = auth.desk_of(request)
    form: Any = await request.form()
    to = preview.recipient(desk.core.db, request.path_params["request_id"])
    if to is None:
        return desk.error(request, session, 404, "Cette demande n'existe pas.")
    text = _text(form, str(form.get("champ") or "texte") if form.get("champ") in ("texte", "reponse") else "texte")
    return desk.render(request, session, "_preview.html", {
        "to": to, "mail": preview.email(desk.core.config.network, to, text), "parts": preview.telegram(text)})


D = "/demande/{request_id:int}"
B = D + "/brouillon/{draft_id:int}"
routes = [
    Route(D, request_page, methods=["GET"]),
    Route(D + "/original", original, methods=["GET"]),
    Route(D + "/source/{message_id:int}", raw_source, methods=["GET"]),
    Route(D + "/apercu", live_preview, methods=["POST"]),
    Route(D + "/prendre", claim, methods=["POST"]),
    Route(D + "/note", note, methods=["POST"]),
    Route(D + "/reponse/confirmer", confirm_answer, methods=["POST"]),
    Route(D + "/reponse/envoyer", send_answer, methods=["POST"]),
    Route(B + "/confirmer", confirm_draft, methods=["POST"]),
    Route(B + "/envoyer", _action("envoye"), methods=["POST"]),
    Route(B + "/enregistrer", _action("enregistre"), methods=["POST"]),
    Route(B + "/fiche", _action("fiche"), methods=["POST"]),
    Route(B + "/main", _action("main"), methods=["POST"]),
    Route(B + "/ignorer", _action("ignore"), methods=["POST"]),
]
