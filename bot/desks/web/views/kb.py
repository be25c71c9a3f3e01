"""Base de connaissances: every entry with its origin, sources and state, an editor with the loader's
validation in plain French and a preview, saving into the network's own files (atomic, previous
version kept) that the running service takes at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .... import knowledge
from ....errors import KnowledgeError
from ....knowledge import CATEGORIES, Entry
from ....knowledge.check import STALE_DAYS
from ....knowledge.layout import NATIONAL, find
from ....store import log_event
from .. import auth, kbfiles, kbwords
from ..app import Desk

NEW = "nouvelle"
DONE = {"enregistre": "Fiche enregistrée : les prochains brouillons l'utilisent déjà (la version précédente est "
                      "gardée).",
        "inchange": "Aucune modification : rien n'a été écrit."}


def _entries(request: Request) -> dict[str, Entry]:
    return auth.desk_of(request).core.review.entries


def _root(desk: Desk) -> Path:
    return Path(desk.core.config.knowledge.dir)


def _today(desk: Desk) -> dt.date:
    return dt.datetime.now(desk.tz).date()


def _origin(desk: Desk, entry: Entry) -> dict[str, str]:
    """Where the entry comes from, as the list (``short``) and the entry's page (``text``) say it."""
    network = desk.core.config.network.name
    if entry.origin == NATIONAL:
        return {"short": "nationale", "text": "Fiche nationale, commune à tous les réseaux."}
    if entry.overrides:
        return {"short": f"{network}, remplace la nationale",
                "text": f"Fiche de {network}, qui remplace la fiche nationale "
                        f"({Path(entry.overrides).relative_to(_root(desk))})."}
    if entry.origin:
        return {"short": network, "text": f"Fiche propre à {network}."}
    return {"short": "", "text": ""}


def _sources(entry: Entry, today: dt.date) -> list[dict[str, Any]]:
    return [{"title": s.title, "url": s.url, "site": urlsplit(s.url).hostname, "checked": f"{s.checked:%d/%m/%Y}",
             "old": (today - s.checked).days > STALE_DAYS} for s in entry.sources]


def _warnings(desk: Desk, today: dt.date) -> dict[str, list[kbwords.Finding]]:
    """``kb check``'s warnings of the network's base, by entry file."""
    report = knowledge.check(_root(desk), today, network=desk.core.config.network)
    found: dict[str, list[kbwords.Finding]] = {}
    for entry in report.entries:
        mine = f"{entry.path}: "
        found[entry.path] = [kbwords.finding(w.removeprefix(mine)) for w in report.warnings if w.startswith(mine)]
    return found


@auth.staff_only
async def kb_list(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    today = _today(desk)
    usage = kbfiles.usage(desk.core.db, today.year)
    warnings = await asyncio.to_thread(_warnings, desk, today)
    rows = []
    for entry in sorted(_entries(request).values(), key=lambda e: (e.category, e.title)):
        oldest = min(entry.sources, key=lambda s: s.checked, default=None)
        rows.append({"entry": entry, "origin": _origin(desk, entry)["short"],
                     "states": [f.short for f in warnings.get(entry.path, [])],
                     "sources": len(entry.sources), "oldest": oldest and f"{oldest.checked:%d/%m/%Y}",
                     "stale": oldest is not None and (today - oldest.checked).days > STALE_DAYS,
                     "usage": usage.get(entry.slug, kbfiles.Usage())})
    return desk.render(request, session, "kb_list.html", {"nav": "fiches", "rows": rows, "year": today.year})


def _clash(request: Request, form: kbfiles.Form, path: Path) -> list[str]:
    """A new entry may not take the code of another, national or the network's own."""
    if form.slug in _entries(request) or form.slug == NEW or path.exists():
        return [kbwords.plain(KnowledgeError(str(path), "slug", "duplicate slug"))]
    return []


async def _checked(request: Request, slug: str, form: kbfiles.Form) -> kbfiles.Edit:
    """The edit of ``slug`` (or a new entry) as the loader would read it once written."""
    desk = auth.desk_of(request)
    existing = slug != NEW
    if existing:
        form.slug = slug  # the code of an existing entry does not change (requests and statistics use it)
    checked = await asyncio.to_thread(kbfiles.edit, _root(desk), desk.core.config.network, form, existing=existing,
                                      today=_today(desk))
    if not existing and form.slug:
        checked.errors[:0] = _clash(request, form, checked.path)
    return checked


def _editor(request: Request, session: auth.Session, form: kbfiles.Form, checked: kbfiles.Edit | None, *,
            new: bool, status: int = 200) -> Response:
    desk = auth.desk_of(request)
    entry = None if new else _entries(request).get(form.slug)
    today = _today(desk)
    text = desk.core.drafter.render(checked.entry, sender_name="Marie Durand") if checked and checked.entry else ""
    return desk.render(request, session, "kb_edit.html", {
        "nav": "fiches", "form": form, "new": new, "categories": CATEGORIES, "entry": entry,
        "others": sorted((e for e in _entries(request).values() if e.slug != form.slug), key=lambda e: e.title),
        "origin": _origin(desk, entry) if entry else None, "sources": _sources(entry, today) if entry else [],
        "target": checked.path.relative_to(_root(desk)) if checked else "",
        "done": DONE.get(request.query_params.get("fait", "")) if status == 200 else None,
        "errors": checked.errors if checked else [], "warnings": checked.warnings if checked else [],
        "text": text}, status)


@auth.staff_only
async def kb_entry(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    if slug == NEW:
        return _editor(request, session, kbfiles.Form(reviewed=_today(desk).isoformat()), None, new=True)
    raw = (await asyncio.to_thread(find, _root(desk), desk.core.config.network.knowledge, slug))[0]
    if slug not in _entries(request) or raw is None:
        return desk.error(request, session, 404, "Cette fiche n'existe pas.")
    form = kbfiles.Form.of(raw)
    return _editor(request, session, form, await _checked(request, slug, form), new=False)


async def _write(request: Request, session: auth.Session, checked: kbfiles.Edit, event: str) -> Response | None:
    """Write the checked edit, record it, and give the running core the base as it now is; an error
    page when the base no longer loads (another file changed meanwhile)."""
    desk = auth.desk_of(request)
    state = request.app.state
    if not hasattr(state, "kb_lock"):
        state.kb_lock = asyncio.Lock()
    async with state.kb_lock:  # two saves at once: each reload reads the files after its own write
        kept = await asyncio.to_thread(kbfiles.save, checked.path, checked.text)
        with desk.core.db.atomic():
            log_event(desk.core.db, event, actor=session.account.actor, slug=checked.entry and checked.entry.slug,
                      path=str(checked.path), previous=str(kept) if kept else None)
        try:
            entries = await asyncio.to_thread(knowledge.load, _root(desk), desk.core.config.network)
        except KnowledgeError:
            return desk.error(request, session, 500, "La fiche est enregistrée, mais la base de connaissances ne se "
                              "charge plus (un autre fichier a changé : lancez guichet kb check). Le service garde "
                              "les fiches d'avant en attendant.")
        desk.core.reload_knowledge(entries)
    return None


@auth.staff_only
async def kb_save(request: Request, session: auth.Session) -> Response:
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    if slug != NEW and slug not in _entries(request):
        return desk.error(request, session, 404, "Cette fiche n'existe pas.")
    form = kbfiles.Form.from_post(await request.form())
    checked = await _checked(request, slug, form)
    if checked.errors or checked.entry is None:
        return _editor(request, session, form, checked, new=slug == NEW, status=400)
    if checked.unchanged:
        return RedirectResponse(f"/fiches/{form.slug}?fait=inchange", status_code=303)
    failed = await _write(request, session, checked, "kb.saved")
    return failed or RedirectResponse(f"/fiches/{form.slug}?fait=enregistre", status_code=303)


@auth.staff_only
async def kb_preview(request: Request, session: auth.Session) -> Response:
    """Validation and the reply drafted from the entry being edited, as staff type (htmx)."""
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    form = kbfiles.Form.from_post(await request.form())
    checked = await _checked(request, slug if slug in _entries(request) else NEW, form)
    text = desk.core.drafter.render(checked.entry, sender_name="Marie Durand") if checked.entry else ""
    return desk.render(request, session, "_kb_preview.html", {"errors": checked.errors,
                                                              "warnings": checked.warnings, "text": text})


@auth.staff_only
async def kb_example(request: Request, session: auth.Session) -> Response:
    """"Ajouter comme exemple": a request's question joins the entry's example questions (in the
    network's own file, like any edit)."""
    desk = auth.desk_of(request)
    slug = request.path_params["slug"]
    data: Any = await request.form()
    question = " ".join(str(data.get("question") or "").split())[:500]
    back = str(data.get("retour") or "")
    back = back if back.startswith("/demande/") else f"/fiches/{slug}"
    raw = (await asyncio.to_thread(find, _root(desk), desk.core.config.network.knowledge, slug))[0]
    if slug not in _entries(request) or raw is None or not question:
        return desk.error(request, session, 404, "Cette fiche n'existe pas, ou la question est vide.")
    if question not in _entries(request)[slug].questions:
        form = kbfiles.Form.of(raw)
        form.questions = f"{form.questions}\n{question}"
        checked = await _checked(request, slug, form)
        if checked.errors:
            return desk.error(request, session, 400, " ".join(checked.errors))
        failed = await _write(request, session, checked, "kb.example_added")
        if failed:
            return failed
    return RedirectResponse(f"{back}?fait=exemple", status_code=303)


routes = [
    Route("/fiches", kb_list, methods=["GET"]),
    Route("/fiches/{slug}", kb_entry, methods=["GET"]),
    Route("/fiches/{slug}", kb_save, methods=["POST"]),
    Route("/fiches/{slug}/apercu", kb_preview, methods=["POST"]),
    Route("/fiches/{slug}/exemple", kb_example, methods=["POST"]),
]
