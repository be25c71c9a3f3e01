"""The staff review desk in a Telegram group: one message per draft, with decision buttons.

It is an adapter on the review core (``bot.review``): every decision goes through ``Review``,
exactly as ``guichet drafts`` does. Drafts are posted from the database (whichever channel
they came from), so a restart neither loses nor repeats a post, and decisions taken from the
terminal are reflected on the staff messages too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
import re
import time
import warnings
from typing import Any

import sqlite_utils
from telegram import Bot, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from .. import notices
from ..config import NetworkConfig, TelegramConfig
from ..errors import AlreadyDecided, GuichetError, NotStaff
from ..health import Health
from ..knowledge import Entry
from ..review import DraftView, Review
from ..store import log_event, now, one
from ..waiting import sleep_or_stop

log = logging.getLogger("guichet.desk")

# Opt in to PTB's coming duration type (timedelta): with the int form every 429 raises a
# deprecation warning inside PTB. retry_after_s reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")

DESK = "telegram"
CALLBACK = re.compile(r"^g:(\d{1,12}):(send|edit|other|hand|ignore|back|pick:[a-z0-9-]{1,50})$")
MEMBER_STATUSES = {"creator", "administrator", "member", "restricted"}
CHANNELS = {"email": "e-mail", "telegram": "Telegram"}


def esc(text: object) -> str:
    """Escape for Telegram's HTML parse mode: a question containing <b> cannot forge markup."""
    return html.escape(str(text), quote=False)


def trim(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render(view: DraftView, entries: dict[str, Entry]) -> str:
    """The staff message for a draft (HTML, under Telegram's 4,096 characters)."""
    who = view.requester_name or view.requester
    if view.channel == "email" and view.requester_name:
        who = f"{view.requester_name} <{view.requester}>"
    lines = [f"📨 <b>Demande n°{view.request_id}</b> · {CHANNELS.get(view.channel, view.channel)} · "
             f"brouillon {view.id}", f"<b>De :</b> {esc(trim(who, 120))}"]
    lines += [f"<b>Réponse à :</b> {esc(trim(view.recipient, 200))}"] if view.channel == "email" else []
    if view.subject:
        lines.append(f"<b>Objet :</b> {esc(trim(view.subject, 150))}")
    lines.append(f"<b>Question :</b>\n<i>{esc(trim(view.question, 700))}</i>")
    if view.slug:
        title = entries[view.slug].title if view.slug in entries else view.slug
        lines.append(f"<b>Fiche :</b> {esc(view.slug)} — {esc(title)} (confiance {view.confidence or 0:.2f})")
    else:
        candidates = ", ".join(f"{c['slug']} {c['confidence']:.2f}" for c in view.candidates[:3]) or "aucun"
        lines.append(f"⚠️ <b>À traiter à la main</b> (candidats : {esc(candidates)})")
    lines += [f"📝 {esc(trim(note, 200))}" for note in view.notes]
    lines += [f"➕ Autre question : {esc(trim(other, 200))}" for other in view.others]
    if view.text:
        lines.append(f"<b>Brouillon :</b>\n<pre>{esc(trim(view.text, 2400))}</pre>")
    return trim("\n".join(lines), 4000)


def keyboard(view: DraftView) -> InlineKeyboardMarkup:
    def button(label: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=f"g:{view.id}:{action}")

    first = [button("✅ Envoyer", "send")] if view.text else []
    first.append(button("✏️ Modifier" if view.text else "✏️ Écrire la réponse", "edit"))
    return InlineKeyboardMarkup([first, [button("🔁 Autre fiche", "other"), button("✍️ Répondre moi-même", "hand")],
                                 [button("🚫 Ignorer", "ignore")]])


def candidates_keyboard(view: DraftView) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"{c['slug']} ({c['confidence']:.2f})",
                                  callback_data=f"g:{view.id}:pick:{c['slug']}")]
            for c in view.candidates[:5] if c["slug"] != view.slug]
    rows.append([InlineKeyboardButton("↩️ Retour", callback_data=f"g:{view.id}:back")])
    return InlineKeyboardMarkup(rows)


def retry_after_s(exc: RetryAfter) -> float:
    """Seconds to wait, whether PTB gives an int (v22 default) or a timedelta (its future default)."""
    with warnings.catch_warnings():
        # Reading the int form warns about the coming change of type; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def actor_for(user_id: int, first_name: str) -> str:
    """``telegram:<id>:<first name>``: the id decides who is staff, the name is shown to the team."""
    return f"telegram:{user_id}:{first_name.replace(':', ' ')[:40]}"


def display_name(actor: str | None) -> str:
    """The name to show for an actor (``terminal:alice`` → alice, ``telegram:1:Alice`` → Alice)."""
    parts = (actor or "?").split(":", 2)
    return parts[-1] or parts[0]


class StaffDesk:
    """Posts drafts to the staff chat and turns button presses and replies into review decisions."""

    def __init__(self, cfg: TelegramConfig, network: NetworkConfig, db: sqlite_utils.Database, review: Review,
                 entries: list[Entry], staff: set[str]) -> None:
        self.cfg = cfg
        self.network = network
        self.db = db
        self.review = review
        self.entries = {e.slug: e for e in entries}
        self.staff = staff  # shared with the review core's is_staff
        self.chat_id = str(cfg.staff_chat_id)
        self._wake = asyncio.Event()
        self._members: dict[int, tuple[bool, float]] = {}
        self.health = Health(db, "telegram", log)

    def attach(self, app: Application) -> None:  # type: ignore[type-arg]
        staff_chat = filters.Chat(chat_id=self.cfg.staff_chat_id)
        app.add_handler(CallbackQueryHandler(self.pressed))
        app.add_handler(MessageHandler(staff_chat & filters.TEXT & ~filters.COMMAND, self.staff_text))

    def wake(self) -> None:
        self._wake.set()


    def _time(self) -> str:
        tz = self.network.tz
        # Staff must see that the time is not local when the configured zone was unknown.
        return dt.datetime.now(tz).strftime("%H:%M") + ("" if tz.key == self.network.timezone else f" {tz.key}")

    # --- who may act ------------------------------------------------------------------------

    async def is_staff(self, bot: Bot, user_id: int) -> bool:
        actor = f"telegram:{user_id}"
        if actor in self.staff or user_id in self.cfg.staff_ids:
            return True
        if not self.cfg.staff_chat_members:
            return False
        known = self._members.get(user_id)
        if known and time.monotonic() - known[1] < 600:
            return known[0]
        try:
            member = await bot.get_chat_member(self.cfg.staff_chat_id, user_id)
            allowed = member.status in MEMBER_STATUSES
        except TelegramError:
            allowed = False
        self._members[user_id] = (allowed, time.monotonic())
        if allowed:
            self.staff.add(actor)
        else:
            self.staff.discard(actor)
        return allowed

    def _refuse(self, user_id: int, what: str, **detail: Any) -> None:
        with self.db.atomic():
            log_event(self.db, "desk.refused", actor=f"telegram:{user_id}", what=what, **detail)
        log.warning("refused %s from Telegram user %s", what, user_id)

    # --- posting ------------------------------------------------------------------------------

    async def run(self, bot: Bot, stop: asyncio.Event) -> None:
        """Post new drafts and reflect decisions until ``stop`` is set; Telegram faults are retried."""
        delay = 1.0
        while not stop.is_set():
            try:
                await self.sync(bot)
                delay = 1.0
                self.health.ok()
            except RetryAfter as exc:
                delay = retry_after_s(exc)
                self.health.fault("rate limited", f"staff desk: rate limited, waiting {delay:.0f}s")
            except (NetworkError, TelegramError) as exc:
                self.health.fault(type(exc).__name__, f"staff desk: {type(exc).__name__}: {exc}; retrying")
                delay = min(delay * 2, 60.0)
            await sleep_or_stop(stop, delay, wake=self._wake)

    async def sync(self, bot: Bot) -> None:
        """Post pending drafts not posted yet, close posts of drafts decided elsewhere, post warnings."""
        for row in list(self.db.query(
                "SELECT d.id FROM drafts d WHERE d.state = 'pending' AND NOT EXISTS (SELECT 1 FROM desk_posts p "
                "WHERE p.draft_id = d.id AND p.desk = ? AND p.kind = 'draft') ORDER BY d.id LIMIT 20", [DESK])):
            await self.post(bot, self.review.get(row["id"]))
        for row in list(self.db.query(
                "SELECT p.*, d.state AS draft_state FROM desk_posts p JOIN drafts d ON d.id = p.draft_id "
                "WHERE p.desk = ? AND p.kind = 'draft' AND p.state = 'open' AND d.state != 'pending'", [DESK])):
            await self.close(bot, row["id"], row["message_id"], self.review.get(row["draft_id"]))
        for notice in notices.pending(self.db, DESK):
            await bot.send_message(self.cfg.staff_chat_id, esc(notice.text), parse_mode="HTML")
            notices.posted(self.db, DESK, notice)

    async def post(self, bot: Bot, view: DraftView) -> None:
        sent = await bot.send_message(self.cfg.staff_chat_id, render(view, self.entries), parse_mode="HTML",
                                      reply_markup=keyboard(view))
        self.db.table("desk_posts").insert({"draft_id": view.id, "desk": DESK, "chat_id": self.chat_id,
                                      "message_id": str(sent.message_id), "kind": "draft", "state": "open",
                                      "posted_at": now()})

    def outcome(self, view: DraftView) -> str:
        name = display_name(view.decided_by)
        at = self._time()
        return {
            "approved": f"✅ Envoyé par {esc(name)} à {at}",
            "rejected": f"✍️ {esc(name)} répond à la main ({at})",
            "ignored": f"🚫 Ignoré par {esc(name)} à {at}",
            "superseded": "↪️ Remplacé : la personne a relancé, voir le nouveau brouillon",
            "forgotten": "🗑️ Effacé à la demande de la personne",
        }.get(view.state, f"Traité ({esc(view.state)})")

    async def close(self, bot: Bot, post_id: int, message_id: str, view: DraftView) -> None:
        text = render(view, self.entries) if view.state != "forgotten" else f"Brouillon {view.id}"
        try:
            await bot.edit_message_text(f"{text}\n\n<b>{self.outcome(view)}</b>", chat_id=self.cfg.staff_chat_id,
                                        message_id=int(message_id), parse_mode="HTML", reply_markup=None)
        except BadRequest as exc:  # message deleted by someone, or unchanged: nothing left to show
            log.info("desk post %s not edited: %s", post_id, exc)
        self.db.table("desk_posts").update(post_id, {"state": "closed"})

    # --- decisions ------------------------------------------------------------------------------

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: validated, checked for staff, then decided by the review core."""
        query = update.callback_query
        assert query is not None
        user = query.from_user
        found = CALLBACK.match(query.data or "")
        message = query.message
        if found is None or message is None or str(message.chat.id) != self.chat_id:
            self._refuse(user.id, "malformed or misplaced button", data=(query.data or "")[:80])
            await query.answer("Action non valide.", show_alert=True)
            return
        draft_id, action = int(found.group(1)), found.group(2)
        post = one(self.db, "SELECT * FROM desk_posts WHERE desk = ? AND chat_id = ? AND message_id = ? "
                            "AND draft_id = ?", [DESK, self.chat_id, str(message.message_id), draft_id])
        if post is None:
            self._refuse(user.id, "button for another draft", data=query.data)
            await query.answer("Ce bouton ne correspond pas à ce brouillon.", show_alert=True)
            return
        if not await self.is_staff(context.bot, user.id):
            self._refuse(user.id, "button", draft_id=draft_id, action=action)
            await query.answer("Réservé à l'équipe du réseau.", show_alert=True)
            return
        actor = actor_for(user.id, user.first_name)
        try:
            await self._act(context.bot, query, post, draft_id, action, actor)
        except AlreadyDecided as exc:
            await query.answer(f"Déjà traité par {display_name(exc.by)}.", show_alert=True)
            await self.sync(context.bot)
        except NotStaff:
            await query.answer("Réservé à l'équipe du réseau.", show_alert=True)
        except GuichetError as exc:
            await query.answer(str(exc)[:190], show_alert=True)

    async def _act(self, bot: Bot, query: Any, post: dict[str, Any], draft_id: int, action: str, actor: str) -> None:
        chat, message_id = self.cfg.staff_chat_id, int(post["message_id"])
        if action == "send":
            self.review.approve(draft_id, actor)
        elif action == "hand":
            self.review.reject(draft_id, actor)
        elif action == "ignore":
            self.review.ignore(draft_id, actor)
        elif action == "other":
            view = self.review.get(draft_id)
            if view.state != "pending":
                raise AlreadyDecided(draft_id, view.state, view.decided_by, view.decided_at)
            await bot.edit_message_reply_markup(chat, message_id, reply_markup=candidates_keyboard(view))
            await query.answer("Choisissez une autre fiche.")
            return
        elif action == "back":
            await bot.edit_message_reply_markup(chat, message_id, reply_markup=keyboard(self.review.get(draft_id)))
            await query.answer()
            return
        elif action.startswith("pick:"):
            view = self.review.choose(draft_id, actor, action[5:])
            await bot.edit_message_text(render(view, self.entries), chat_id=chat, message_id=message_id,
                                        parse_mode="HTML", reply_markup=keyboard(view))
            await query.answer("Brouillon refait avec cette fiche.")
            return
        elif action == "edit":
            self.review.get(draft_id)
            prompt = await bot.send_message(
                chat, f"✏️ {esc(query.from_user.first_name)}, répondez à ce message avec le texte à envoyer "
                      f"(brouillon {draft_id}).", parse_mode="HTML", reply_markup=ForceReply(selective=True))
            self.db.table("desk_posts").insert({"draft_id": draft_id, "desk": DESK, "chat_id": self.chat_id,
                                          "message_id": str(prompt.message_id), "kind": "prompt", "state": "open",
                                          "posted_at": now()})
            await query.answer("Répondez au message avec le nouveau texte.")
            return
        await query.answer("C'est noté.")
        self._wake.set()
        await self.close(bot, post["id"], post["message_id"], self.review.get(draft_id))

    async def staff_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply to a draft (or to the "Modifier" prompt) in the staff chat: the new draft text."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        if message.reply_to_message is None:
            return  # ordinary conversation between staff members
        post = one(self.db, "SELECT * FROM desk_posts WHERE desk = ? AND chat_id = ? AND message_id = ?",
                   [DESK, self.chat_id, str(message.reply_to_message.message_id)])
        if post is None:
            return
        if not await self.is_staff(context.bot, user.id):
            self._refuse(user.id, "draft edit", draft_id=post["draft_id"])
            await message.reply_text("Seule l'équipe du réseau peut modifier les brouillons.")
            return
        actor = actor_for(user.id, user.first_name)
        try:
            view = self.review.edit(post["draft_id"], actor, message.text or "")
        except AlreadyDecided as exc:
            await message.reply_text(f"Ce brouillon est déjà traité ({exc.state}).")
            return
        except GuichetError as exc:
            await message.reply_text(str(exc))
            return
        for old in self.db.query("SELECT id, message_id FROM desk_posts WHERE draft_id = ? AND desk = ? "
                                 "AND kind = 'draft' AND state = 'open'", [view.id, DESK]):
            try:
                await context.bot.edit_message_text(
                    f"{render(view, self.entries)}\n\n<i>Modifié par {esc(user.first_name)} : nouvelle version "
                    "ci-dessous.</i>", chat_id=self.cfg.staff_chat_id, message_id=int(old["message_id"]),
                    parse_mode="HTML", reply_markup=None)
            except BadRequest:
                pass
            self.db.table("desk_posts").update(old["id"], {"state": "replaced"})
        await self.post(context.bot, view)
