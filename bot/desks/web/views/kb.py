"""Base de connaissances: every entry with its state, an editor with validation in plain French and a
preview, saving (atomic, previous version kept) that the running matcher takes at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ....errors import KnowledgeError
from ....knowledge import CATEGORIES, Entry
from ....store import log_event
from .. import auth, kbfiles

NEW = "nouvelle"


def _entries(request: Request) -> dict[str, Entry]:
    return auth.desk_of(request).core.review.entries


@auth.staff_only
async def kb_list(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    today = dt.datetime.now(desk.tz).date()
    usage = kbfiles.usage(desk.core.db, today.year)
    rows = []
    for entry in sorted(_entries(request).values(), key=lambda e: (e.category, e.title)):
        states = []
        if entry.expired(today):
            states.append(f"appel clos le {entry.valid_until:%d/%m/%Y}")
        if entry.reviewed is None:
            states.append("jamais relue")
        elif (today - entry.reviewed).days > 365:
            states.append(f"pas relue depuis le {entry.reviewed:%d/%m/%Y}")
        rows.append({"entry": entry, "states": states, "usage": usage.get(entry.slug, kbfiles.Usage())})
    return desk.render(request, session, "kb_list.html", {"nav": "fiches", "rows": rows, "year": today.year})


def _editor(request: Request, session: auth.Session, form: kbfiles.Form, *, new: bool, errors: list[str] | None = None,
            status: int = 200, saved: bool = False) -> Response:
    return auth.desk_of(request).render(request, session, "kb_edit.html", {
        "nav": "fiches", "form": form, "new": new, "errors": errors or [], "categories": CATEGORIES,
        "saved": saved or request.query_params.get("fait") == "enregistre"}, status)


@auth.staff_only
async def kb_entry(request: Request, session: auth.Session) -> Response:
    slug = request.path_params["slug"]
    if slug == NEW:
        return _editor(request, session, kbfiles.Form(reviewed=dt.date.today().isoformat()), new=True)
    entry = _entries(request).get(slug)
    if entry is None:
        return auth.desk_of(request).error(request, session, 404, "Cette fiche n'existe pas.")
    return _editor(request, session, kbfiles.Form.of(entry, Path(entry.path)), new=False)


def _target(request: Request, slug: str, form: kbfiles.Form) -> tuple[Path, dict[str, Any]]:
    desk = auth.desk_of(request)
    if slug == NEW:
        return Path(desk.core.config.knowledge.dir) / f"{form.slug or 'nouvelle-fiche'}.md", {}
    entry = _entries(request)[slug]
    path = Path(entry.path)
    return path, kbfiles.Form.of(entry, path).extra


def _validate(request: Request, slug: str, form: kbfiles.Form, path: Path) -> tuple[Entry | None, list[str]]:
    try:
        entry = kbfiles.check_text(form.text(), path.parent, str(path))
    except KnowledgeError as exc:
        return None, [kbfiles.plain(exc)]
    clash = _entries(request).get(entry.slug)
    if clash is not None and Path(clash.path) != path:
        return None, [kbfiles.plain(KnowledgeError(str(path), "slug", "duplicate slug"))]
    return entry, []


@auth.staff_only
async def kb_save(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    if slug != NEW and slug not in _entries(request):
        return desk.error(request, session, 404, "Cette fiche n'existe pas.")
    data: Any = await request.form()
    form = kbfiles.Form.from_post(data)
    if slug != NEW:
        form.slug = slug  # the code of an existing entry does not change (requests and statistics use it)
    path, extra = _target(request, slug, form)
    form.extra = extra
    entry, errors = _validate(request, slug, form, path)
    if slug == NEW and path.exists():
        errors.append(kbfiles.plain(KnowledgeError(str(path), "slug", "duplicate slug")))
    if entry is None or errors:
        return _editor(request, session, form, new=slug == NEW, errors=errors, status=400)
    kept = kbfiles.save(path, form.text())
    desk.core.reload_entry(path)
    with desk.core.db.atomic():
        log_event(desk.core.db, "kb.saved", actor=session.account.actor, slug=entry.slug, path=str(path),
                  previous=str(kept) if kept else None)
    return RedirectResponse(f"/fiches/{entry.slug}?fait=enregistre", status_code=303)


@auth.staff_only
async def kb_preview(request: Request, session: auth.Session) -> Response:
    """Validation and the reply drafted from the entry being edited, as staff type (htmx)."""
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    data: Any = await request.form()
    form = kbfiles.Form.from_post(data)
    if slug != NEW and slug in _entries(request):
        form.slug = slug
    path = Path(desk.core.config.knowledge.dir) / "apercu.md"
    entry, errors = _validate(request, NEW, form, path) if slug == NEW else \
        _validate(request, slug, form, Path(_entries(request)[slug].path) if slug in _entries(request) else path)
    text = desk.core.drafter.render(entry, sender_name="Marie Durand") if entry else ""
    return desk.render(request, session, "_kb_preview.html", {"errors": errors, "text": text})


@auth.staff_only
async def kb_example(request: Request, session: auth.Session) -> Response:
    """"Ajouter comme exemple": a request's question joins the entry's example questions."""
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    entry = _entries(request).get(slug)
    data: Any = await request.form()
    question = " ".join(str(data.get("question") or "").split())[:500]
    back = str(data.get("retour") or "")
    back = back if back.startswith("/demande/") else f"/fiches/{slug}"
    if entry is None or not question:
        return desk.error(request, session, 404, "Cette fiche n'existe pas, ou la question est vide.")
    path = Path(entry.path)
    form = kbfiles.Form.of(entry, path)
    if question not in entry.questions:
        form.questions = f"{form.questions}\n{question}"
        kept = kbfiles.save(path, form.text())
        desk.core.reload_entry(path)
        with desk.core.db.atomic():
            log_event(desk.core.db, "kb.example_added", actor=session.account.actor, slug=slug,
                      previous=str(kept) if kept else None)
    return RedirectResponse(f"{back}?fait=exemple", status_code=303)


routes = [
    Route("/fiches", kb_list, methods=["GET"]),
    Route("/fiches/{slug}", kb_entry, methods=["GET"]),
    Route("/fiches/{slug}", kb_save, methods=["POST"]),
    Route("/fiches/{slug}/apercu", kb_preview, methods=["POST"]),
    Route("/fiches/{slug}/exemple", kb_example, methods=["POST"]),
]
