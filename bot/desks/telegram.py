"""The staff review desk in a Telegram group: one card per draft, with decision buttons.

It is an adapter on the review core (``bot.review``): every decision goes through ``Review``,
exactly as ``guichet drafts`` does. What the staff chat should show is derived from the database
(``StaffDesk.derive``: a card for each pending draft, closed once it is decided, wherever it was
decided) and sent by the posting loop (``bot.channels.telegram_posts``), so that a Telegram fault
or a restart neither loses nor repeats a card. Handlers only decide and record; the only calls they
make themselves are the answer to a button press (always, so that no button keeps spinning) and
the swap of a card's buttons for "Autre fiche". A card's look is in ``bot.desks.telegram_card``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
from typing import Any

import sqlite_utils
from telegram import Bot, CallbackQuery, ForceReply, Update
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from .. import notices
from ..channels.telegram_posts import Message, Posts, not_modified, text_message
from ..config import NetworkConfig, TelegramConfig
from ..errors import AlreadyDecided, GuichetError, NotFound, NotStaff, ReviewError
from ..health import Health
from ..knowledge import Entry
from ..review import DraftView, Review
from ..staff import telegram_name
from ..stats import CHANNEL_LABELS as CHANNELS
from ..store import log_event, now, one
from .telegram_card import (
    actor_for,
    actor_id,
    candidates_keyboard,
    card,
    display_name,
    esc,
    full_parts,
    keyboard,
    render,
)

log = logging.getLogger("guichet.desk")

DESK = "telegram"
CALLBACK = re.compile(r"^g:(\d{1,12}):(send|edit|other|hand|ignore|back|full|pick:[a-z0-9-]{1,50})$")
MEMBER_STATUSES = {"creator", "administrator", "member", "restricted"}
# Cards where a press must see exactly what is on screen (a refreshed card is about to change).
LIVE = ("wanted", "posting", "open", "refresh", "refused")


class StaffDesk:
    """Derives the staff chat's cards from the database and turns presses and replies into decisions."""

    def __init__(self, cfg: TelegramConfig, network: NetworkConfig, db: sqlite_utils.Database, review: Review,
                 entries: list[Entry], staff: set[str]) -> None:
        self.cfg = cfg
        self.network = network
        self.db = db
        self.review = review
        self.entries = {e.slug: e for e in entries}
        self.staff = staff  # shared with the review core's is_staff
        self.chat_id = str(cfg.staff_chat_id)
        self.posts = Posts(db, cfg.staff_chat_id)
        self.posts.on_refused = self._refused_post
        self._members: dict[int, tuple[bool, float]] = {}
        self.health = Health(db, "telegram", log)

    def attach(self, app: Application) -> None:  # type: ignore[type-arg]
        staff_chat = filters.Chat(chat_id=self.cfg.staff_chat_id)
        app.add_handler(CallbackQueryHandler(self.pressed))
        app.add_handler(MessageHandler(staff_chat & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND,
                                       self.staff_text))

    def wake(self) -> None:
        self.posts.wake.set()

    def _time(self) -> str:
        tz = self.network.tz
        # Staff must see that the time is not local when the configured zone was unknown.
        return dt.datetime.now(tz).strftime("%H:%M") + ("" if tz.key == self.network.timezone else f" {tz.key}")

    # --- who may act ------------------------------------------------------------------------

    def _actor(self, user_id: int, first_name: str) -> str:
        # Signed with the web desk account's name when the account carries this Telegram id.
        return actor_for(user_id, telegram_name(self.db, user_id) or first_name)

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
        except RetryAfter as exc:  # no answer yet: neither staff nor stranger (the caller says "try again")
            self.posts.gate.held(exc)
            raise
        except BadRequest:  # Telegram knows no such member
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

    # --- what the chat should show ------------------------------------------------------------

    def derive(self) -> None:
        """Bring the posts in line with the drafts: a card for each pending draft without one, decided
        drafts' cards closed, new warnings posted, cards whose draft changed elsewhere refreshed."""
        decided = ("EXISTS (SELECT 1 FROM drafts d WHERE d.id = telegram_posts.draft_id AND d.state != 'pending')")
        marks = ",".join("?" * len(LIVE))
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO telegram_posts (chat_id, kind, state, draft_id, created_at) "
                "SELECT ?, 'card', 'wanted', d.id, ? FROM drafts d WHERE d.state = 'pending' AND NOT EXISTS "
                "(SELECT 1 FROM telegram_posts p WHERE p.draft_id = d.id AND p.kind = 'card' "
                f"AND p.state IN ({marks})) ORDER BY d.id", [self.chat_id, now(), *LIVE])
            self.db.execute(f"UPDATE telegram_posts SET state = 'cancelled' WHERE kind = 'card' AND state = 'wanted' "
                            f"AND {decided}")
            self.db.execute(f"UPDATE telegram_posts SET state = 'closing' WHERE kind = 'card' "
                            f"AND state IN ('open', 'refresh', 'stale') AND {decided}")
            self.db.execute("UPDATE telegram_posts SET state = CASE state WHEN 'open' THEN 'closed' "
                            "ELSE 'cancelled' END WHERE kind = 'prompt' AND purpose = 'edit' "
                            f"AND state IN ('wanted', 'open') AND {decided}")
            for notice in notices.pending(self.db, DESK):
                self.posts.want(self.chat_id, "notice", text=esc(notice.text), key=f"notice:{notice.event_id}")
                notices.posted(self.db, DESK, notice)
        for row in list(self.db.query("SELECT * FROM telegram_posts WHERE kind = 'card' AND state = 'open'")):
            if not self.current(row):
                self.db.execute("UPDATE telegram_posts SET state = 'refresh' WHERE id = ? AND state = 'open'",
                                [row["id"]])

    def current(self, row: dict[str, Any]) -> bool:
        """The card on screen is the draft as it is now (what a press on it decides on)."""
        try:
            message = self.render_post({**row, "state": "open"})
        except NotFound:  # its draft is gone (deleted by hand): the posting loop drops the post
            return False
        return row["state"] == "open" and message is not None and message.fingerprint() == row["shown"]

    def render_post(self, row: dict[str, Any]) -> Message | None:
        """How a post of the staff chat looks in its state (the posting loop sends or edits it so)."""
        if row["kind"] not in ("card", "prompt", "full"):
            return text_message(row)
        view = self.review.get(row["draft_id"])
        if row["kind"] == "prompt":
            return self._prompt(row, view)
        state = row["state"]
        if state == "erasing":
            return Message(f"🗑️ Demande n°{view.request_id} : effacée à la demande de la personne.")
        if row["kind"] == "full":
            parts = full_parts(view)
            part = int(row["part"] or 0)
            reply_to = int(row["reply_to"]) if row["reply_to"] else None
            return Message(parts[part], parse_mode=None, reply_to=reply_to) if part < len(parts) else None
        if state == "closing":
            text = render(view, self.entries) if view.state != "forgotten" else f"Brouillon {view.id}"
            return Message(f"{text}\n\n<b>{self.outcome(view)}</b>")
        if state == "stale":
            text = render(dataclasses.replace(view, text=None), self.entries)
            return Message(f"{text}\n\n<i>✏️ Modifié par {esc(display_name(row['actor']))} : nouvelle version "
                           "ci-dessous.</i>")
        if view.state != "pending" and state == "wanted":
            return None  # decided before it was ever shown
        text, cut = card(view, self.entries)
        return Message(text, markup=keyboard(view, full=cut))

    def _prompt(self, row: dict[str, Any], view: DraftView) -> Message:
        mention = f'<a href="tg://user?id={actor_id(row["actor"])}">{esc(display_name(row["actor"]))}</a>'
        if row["purpose"] == "answer":
            text = (f"✍️ {mention}, répondez à ce message avec la réponse à envoyer "
                    f"({CHANNELS.get(view.channel, view.channel)}, demande n°{view.request_id}).")
        else:
            text = f"✏️ {mention}, répondez à ce message avec le texte à envoyer (brouillon {view.id})."
        reply_to = int(row["reply_to"]) if row["reply_to"] else None
        return Message(text, markup=ForceReply(selective=True), reply_to=reply_to)

    def _refused_post(self, row: dict[str, Any], error: str) -> None:
        """Telegram refused a post for good: staff hear about it (once) and the next posts go on."""
        if row["kind"] in ("notice", "reply"):
            return  # a warning about a warning could go on for ever
        with self.db.atomic():
            log_event(self.db, "telegram.refused", draft_id=row["draft_id"], draft=row["draft_id"], post=row["kind"],
                      error=error)

    def outcome(self, view: DraftView) -> str:
        name = display_name(view.decided_by)
        at = self._time()
        return {
            "approved": f"✅ Envoyé par {esc(name)} à {at}",
            "rejected": f"✍️ {esc(name)} répond à la main ({at})",
            "ignored": f"🚫 Ignoré par {esc(name)} à {at}",
            # Superseded by a hand-written answer (Review.answer, named) or by the person writing again.
            "superseded": f"✍️ Répondu à la main par {esc(name)} à {at}" if view.decided_by else
                          "↪️ Remplacé : la personne a relancé ou modifié son message, voir le nouveau brouillon",
            "forgotten": "🗑️ Effacé à la demande de la personne",
        }.get(view.state, f"Traité ({esc(view.state)})")

    # --- decisions ------------------------------------------------------------------------------

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: validated, checked for staff, decided by the review core, always answered."""
        query = update.callback_query
        assert query is not None
        said, alert = "", False
        try:
            said, alert = await self._pressed(context.bot, query)
        except AlreadyDecided as exc:
            said, alert = f"Déjà traité par {display_name(exc.by)}.", True
            self.wake()
        except NotStaff:
            said, alert = "Réservé à l'équipe du réseau.", True
        except GuichetError as exc:
            said, alert = str(exc)[:190], True
        except RetryAfter as exc:
            wait = self.posts.gate.held(exc)
            said, alert = f"Telegram demande d'attendre {wait:.0f} s : réessayez ensuite.", True
        except TelegramError as exc:
            said, alert = f"Telegram ne répond pas ({type(exc).__name__}) : réessayez.", True
        finally:
            try:
                await query.answer(said or None, show_alert=alert)
            except TelegramError as exc:  # the press stays unanswered; nothing else depends on it
                log.info("button press not answered: %s", exc)

    async def _pressed(self, bot: Bot, query: CallbackQuery) -> tuple[str, bool]:
        user = query.from_user
        found = CALLBACK.match(query.data or "")
        message = query.message
        if found is None or message is None or str(message.chat.id) != self.chat_id:
            self._refuse(user.id, "malformed or misplaced button", data=(query.data or "")[:80])
            return "Action non valide.", True
        self.posts.seen(self.chat_id, message.message_id)
        draft_id, action = int(found.group(1)), found.group(2)
        post = self.posts.find(self.chat_id, message.message_id)
        if post is None and await self.is_staff(bot, user.id):
            post = await self.posts.card(self.chat_id, message.message_id, draft_id)
        if post is None or post["draft_id"] != draft_id or post["kind"] != "card":
            self._refuse(user.id, "button for another draft", data=query.data)
            return "Ce bouton ne correspond pas à ce brouillon.", True
        if not await self.is_staff(bot, user.id):
            self._refuse(user.id, "button", draft_id=draft_id, action=action)
            return "Réservé à l'équipe du réseau.", True
        if post["state"] in ("stale", "replaced"):
            return "Cette version a été remplacée : utilisez la carte plus bas.", True
        return await self._act(bot, post, draft_id, action, self._actor(user.id, user.first_name))

    async def _act(self, bot: Bot, post: dict[str, Any], draft_id: int, action: str, actor: str) -> tuple[str, bool]:
        view = self.review.get(draft_id)
        if view.state != "pending":
            raise AlreadyDecided(draft_id, view.state, view.decided_by, view.decided_at)
        if action in ("send", "ignore", "hand"):
            if action == "send":
                if not self.current(post):
                    self.wake()
                    return "Le brouillon vient de changer : relisez la carte mise à jour.", True
                self.review.approve(draft_id, actor)
            elif action == "ignore":
                self.review.ignore(draft_id, actor)
            else:
                self.review.reject(draft_id, actor)
                # The answer can be written here too, whatever channel it leaves by.
                self.posts.want(self.chat_id, "prompt", draft_id=draft_id, actor=actor, purpose="answer",
                                reply_to=post["message_id"], key=f"answer:{post['message_id']}:{actor_id(actor)}")
            self.wake()
            return "C'est noté.", False
        if action == "edit":
            self.posts.want(self.chat_id, "prompt", draft_id=draft_id, actor=actor, purpose="edit",
                            reply_to=post["message_id"], key=f"prompt:{post['message_id']}:{actor_id(actor)}")
            return "Répondez au message qui apparaît avec le nouveau texte.", False
        if action == "full":
            for part in range(len(full_parts(view))):
                self.posts.want(self.chat_id, "full", draft_id=draft_id, part=part, reply_to=post["message_id"],
                                key=f"full:{post['message_id']}:{part}")
            return "Le texte complet suit.", False
        if action.startswith("pick:"):
            self.review.choose(draft_id, actor, action[5:])
            self.wake()
            return "Brouillon refait avec cette fiche.", False
        markup = candidates_keyboard(view) if action == "other" else keyboard(view, card(view, self.entries)[1])
        if self.posts.gate.remaining():
            return f"Telegram demande d'attendre {self.posts.gate.remaining():.0f} s : réessayez ensuite.", True
        try:
            await bot.edit_message_reply_markup(self.cfg.staff_chat_id, int(post["message_id"]), reply_markup=markup)
        except TelegramError as exc:
            if not not_modified(exc):  # a double tap: the buttons are already there
                raise
        return ("Choisissez une autre fiche." if action == "other" else ""), False

    async def staff_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply to the bot's prompt, by the staff member who pressed the button: the new draft text
        (Modifier) or the answer to send (Répondre moi-même). Any other message in the staff chat,
        replies to cards included, is the team's own conversation."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        self.posts.seen(self.chat_id, message.message_id)
        if message.reply_to_message is None:
            return
        prompt = self.posts.find(self.chat_id, message.reply_to_message.message_id)
        if prompt is None or prompt["kind"] != "prompt":
            return

        def say(text: str) -> None:
            self.posts.want(self.chat_id, "reply", text=text, reply_to=str(message.message_id))

        try:
            staff = await self.is_staff(context.bot, user.id)
        except TelegramError:
            say("Telegram ne répond pas pour l'instant : renvoyez votre réponse dans une minute.")
            return
        if not staff:
            self._refuse(user.id, "draft edit", draft_id=prompt["draft_id"])
            say("Seule l'équipe du réseau peut répondre à cette invite.")
            return
        if actor_id(prompt["actor"]) != str(user.id):
            say(f"Cette invite attend la réponse de {esc(display_name(prompt['actor']))}. Pour écrire vous-même, "
                "appuyez sur le bouton de la carte.")
            return
        if prompt["state"] != "open":
            say("Cette invite a déjà servi : appuyez de nouveau sur le bouton de la carte.")
            return
        actor = self._actor(user.id, user.first_name)
        try:
            done = self._use(prompt, actor, message.text or "")
        except AlreadyDecided as exc:
            say(f"Ce brouillon est déjà traité ({esc(exc.state)}).")
        except GuichetError as exc:
            say(esc(exc))
        else:
            self.db.execute("UPDATE telegram_posts SET state = 'closed' WHERE id = ?", [prompt["id"]])
            if done:
                say(done)
        self.wake()

    def _use(self, prompt: dict[str, Any], actor: str, text: str) -> str | None:
        """Apply a reply to a prompt; returns what to tell the chat, if anything."""
        draft_id = prompt["draft_id"]
        if prompt["purpose"] == "answer":
            view = self.review.get(draft_id)
            request = one(self.db, "SELECT status FROM requests WHERE id = ?", [view.request_id])
            if request is None or request["status"] != "by_hand":
                raise ReviewError(f"La demande n°{view.request_id} n'attend plus de réponse à la main.")
            self.review.answer(view.request_id, actor, text)
            return (f"✍️ Réponse de {esc(display_name(actor))} en route vers la personne "
                    f"({CHANNELS.get(view.channel, view.channel)}, demande n°{view.request_id}).")
        view = self.review.edit(draft_id, actor, text)
        # The old card loses its buttons and the new version is posted below it (a new card).
        self.db.execute("UPDATE telegram_posts SET state = 'stale', actor = ? WHERE draft_id = ? AND kind = 'card' "
                        "AND state IN ('open', 'refresh')", [actor, view.id])
        return None
