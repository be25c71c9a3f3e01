"""Telegram: project holders write to the bot; approved answers go back as replies.

Handlers stay thin: they turn an update into ``Incoming`` for the core, or into a call on the
review core (see ``bot.desks.telegram``). What the bot says back (acknowledgements, command
replies) is written down first and sent by the one posting loop (``deliver``, see
``bot.channels.telegram_posts``), which also posts the staff desk's cards; approved answers leave
through the outbox (``bot.channels.telegram_answers``). The Application is started and stopped by
``run`` inside the service's own event loop (not ``run_polling``, which would block the IMAP
reader), and started again after a fault (the Bot API unreachable at start, a database that cannot
be written).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, Message, Update
from telegram.error import BadRequest, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from ..config import NetworkConfig, TelegramConfig
from ..errors import TransientSendError
from ..health import Health
from ..intake import Intake
from ..matching.prepare import detect_language
from ..message import Attachment, Incoming
from ..privacy import forget
from ..store import cannot_write
from ..waiting import sleep_or_stop
from .telegram_posts import retry_after_s

if TYPE_CHECKING:
    from ..desks.telegram import StaffDesk

log = logging.getLogger("guichet.telegram")

TOPICS = (
    "• <b>financements</b> : micro-projets, FONJEP, agences de l'eau, Europe, fondations…\n"
    "• <b>volontariat et mobilité</b> : service civique, VSI, Corps européen de solidarité…\n"
    "• <b>formations</b> : cycle de projet, éducation à la citoyenneté (ECSI), modules thématiques…\n"
    "• <b>accompagnement</b> : rendez-vous, partenaires, adhésion, information pays…"
)
MAX_TEXT = 4096
# The command menu of private chats, by client language ("" for every other language).
COMMANDS = {
    "": [("start", "Présentation et exemples de questions"), ("aide", "Les sujets sur lesquels je renseigne"),
         ("oubli", "Effacer mes messages")],
    "en": [("start", "What this bot does"), ("help", "Topics I can help with"), ("oubli", "Erase my messages")],
}


def build_application(cfg: TelegramConfig) -> Application:  # type: ignore[type-arg]
    # No PTB Updater: it confirms updates to Telegram (next getUpdates offset) as soon as they are
    # queued in memory, so a crash would lose them. TelegramChannel.poll confirms after storing.
    return (ApplicationBuilder().token(cfg.token).base_url(cfg.base_url).base_file_url(cfg.base_file_url)
            .get_updates_read_timeout(cfg.poll_timeout + 10).updater(None).build())


def in_office_hours(now: dt.datetime, office_hours: str) -> bool:
    """Weekdays between the configured hours (local time)."""
    start, _, end = office_hours.partition("-")
    opens, closes = dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
    return now.weekday() < 5 and opens <= now.time() <= closes


def acknowledgement(text: str, now: dt.datetime, office_hours: str, *, attachment: bool = False) -> str:
    """What the person is told at once, in their language (English or French)."""
    soon = in_office_hours(now, office_hours)
    if detect_language(text) == "en":
        said = ("Thank you, a member of the team will answer you shortly." if soon else
                "Thank you! The team will answer you on the next working day.")
        return said + (" (I cannot read attachments: only your caption was passed on.)" if attachment else "")
    said = ("Merci, un membre de l'équipe vous répond rapidement." if soon else
            "Merci ! L'équipe vous répondra dès le prochain jour ouvré.")
    return said + (" (Je ne lis pas les pièces jointes : seule votre légende a été transmise.)" if attachment else "")


def attachments(message: Message) -> list[Attachment]:
    """The file sent with a caption, recorded (never read)."""
    found = message.effective_attachment
    if not found:
        return []
    item = found[-1] if isinstance(found, tuple) else found  # a photo comes in several sizes: the largest
    name = getattr(item, "file_name", None) or ("photo.jpg" if message.photo else type(item).__name__.lower())
    kind = getattr(item, "mime_type", None) or ("image/jpeg" if message.photo else "application/octet-stream")
    return [Attachment(name, kind, getattr(item, "file_size", None) or 0)]


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Telegram's message limit, cutting at paragraph or line ends where possible."""
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text else parts


class TelegramChannel:
    """The bot: project holders in private chats, staff in the staff chat (``StaffDesk``)."""

    def __init__(self, cfg: TelegramConfig, network: NetworkConfig, intake: Intake, desk: StaffDesk) -> None:
        self.cfg = cfg
        self.network = network
        self.intake = intake
        self.desk = desk
        self.posts = desk.posts
        # Its own component: the desk's successes must not hide a getUpdates fault, nor the reverse.
        self.health = Health(desk.db, "telegram-updates", log)
        self.app = build_application(cfg)
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        written = (filters.TEXT | filters.CAPTION) & ~filters.COMMAND
        self.app.add_handler(CommandHandler("start", self.start, filters=private))
        self.app.add_handler(CommandHandler(["aide", "help"], self.help, filters=private))
        self.app.add_handler(CommandHandler("oubli", self.forget, filters=private))
        self.app.add_handler(MessageHandler(private & written, self.question))
        self.app.add_handler(MessageHandler(private & ~written & ~filters.COMMAND, self.not_text))
        self.app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE & written,
                                            self.edited))
        desk.attach(self.app)
        self.app.add_error_handler(self._failed)
        # The next getUpdates offset (what is confirmed to Telegram), kept when the part starts again.
        self._offset: int | None = None
        self._unstored: BaseException | None = None  # a handler's storage fault, for poll to raise

    @property
    def bot(self) -> object:
        return self.app.bot

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self.network.tz)

    def _say(self, update: Update, kind: str, text: str) -> None:
        """Answer a requester's message (HTML), through the posting loop; once per message."""
        message = update.effective_message
        assert message is not None
        self.posts.want(message.chat_id, kind, text=text, key=f"{kind}:{message.chat_id}:{message.message_id}")

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: who we are, what we help with, and that a person checks every answer."""
        self._say(
            update, "command",
            f"Bonjour ! Je suis l'assistant de <b>{html.escape(self.network.name)}</b>, le réseau régional de "
            "coopération et de solidarité internationale.\n\nPosez-moi votre question, par exemple sur :\n"
            f"{TOPICS}\n\nUn membre de l'équipe relit chaque réponse avant qu'elle vous soit envoyée. "
            "Tapez /aide pour la liste des sujets, /oubli pour effacer vos messages.")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/aide and /help: the topics."""
        self._say(
            update, "command",
            f"Je peux vous renseigner sur :\n{TOPICS}\n\nÉcrivez simplement votre question en une ou deux phrases. "
            "/oubli efface vos messages.")

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/oubli: erase this person's messages and drafts; counts stay anonymous."""
        assert update.effective_message is not None and update.effective_user is not None
        count = forget(self.intake.db, "telegram", str(update.effective_user.id))
        self._say(
            update, "forget",
            "C'est fait : vos messages et les réponses préparées ont été effacés"
            f" ({count} demande(s)). Seul un décompte anonyme est conservé pour nos statistiques.")

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any text, or a file's caption: stored first, matched, drafted, queued for staff; the person is told."""
        message = update.effective_message
        assert message is not None
        self._take(message, f"{message.chat_id}:{message.message_id}")

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited message: before staff decide, it replaces the question (drafted again); once they
        have, the new wording is a message of its own, as a follow-up."""
        message = update.effective_message
        assert message is not None
        text = message.text or message.caption or ""
        if self.intake.replace("telegram", f"{message.chat_id}:{message.message_id}", text) is not None:
            self.desk.wake()
            return
        stamp = int((message.edit_date or message.date).timestamp())
        self._take(message, f"{message.chat_id}:{message.message_id}:edit:{stamp}")

    def _take(self, message: Message, external_id: str) -> None:
        user = message.from_user
        assert user is not None
        chat, text, files = str(message.chat_id), message.text or message.caption or "", attachments(message)
        refs = [f"{chat}:{message.reply_to_message.message_id}"] if message.reply_to_message else []
        incoming = Incoming(
            channel="telegram", external_id=external_id, sender=str(user.id), sender_name=user.full_name,
            text=text, new_text=text, reply_to=chat, raw=json.dumps(message.to_dict(), ensure_ascii=False).encode(),
            refs=refs, conversation=chat, received_at=message.date.astimezone(dt.UTC), attachments=files,
            problems=[f"pièce jointe non lue ({f.filename}) : seule la légende est lue" for f in files])
        taken = self.intake.store(incoming)  # drafted behind, by the service's drafting worker
        if taken.thanks:  # a bare thanks is logged on its request: no promise of an answer
            return
        # Keyed by the message: a redelivered update (crash before it was confirmed) is thanked once.
        self.posts.want(chat, "ack", text=acknowledgement(text, self._now(), self.network.office_hours,
                                                          attachment=bool(files)),
                        reply_to=str(message.message_id), key=f"ack:{external_id}")

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, voice, documents, stickers: say what the bot can read."""
        self._say(
            update, "command",
            "Je ne sais lire que les messages écrits. Pouvez-vous taper votre question ? "
            "Pour nous envoyer un document, écrivez à l'adresse du réseau.")

    async def post_photo(self, path: Path, caption: str) -> None:
        """Post an image (the monthly chart) to the staff chat (the scheduler retries a failure)."""
        if wait := self.posts.gate.remaining():
            raise TransientSendError(f"Telegram rate limit: waiting {wait:.0f}s", retry_after=wait)
        try:
            with open(path, "rb") as handle:
                await self.app.bot.send_photo(self.cfg.staff_chat_id, photo=handle, caption=caption)
        except RetryAfter as exc:
            self.posts.gate.held(exc)
            raise

    async def run(self, stop: asyncio.Event) -> None:
        """Start (waiting for the Bot API if it cannot be reached), then poll updates and deliver posts
        until ``stop`` is set. A database that cannot be written stops both and is raised: the service
        waits until it can and runs this again (updates not stored yet are not confirmed)."""
        if not await self._connect(stop):
            return
        try:
            parts = [asyncio.create_task(self.poll(stop), name="telegram updates"),
                     asyncio.create_task(self.deliver(self.app.bot, stop), name="telegram posts")]
            done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_EXCEPTION)
            for part in parts:
                part.cancel()  # one failed: the other stops too (it is started again with it)
            await asyncio.gather(*parts, return_exceptions=True)
            for part in done:
                if error := part.exception():
                    raise error
        finally:
            await self.app.stop()
            await self.app.shutdown()

    async def _connect(self, stop: asyncio.Event) -> bool:
        """Initialize the bot (``getMe``) and start the Application; while the Bot API cannot be
        reached, say so once and try again (1 s, 2 s … then every minute). False if stopped first."""
        delay = 1.0
        while not stop.is_set():
            try:
                await self.app.initialize()
            except TelegramError as exc:
                self.health.fault(type(exc).__name__, f"Telegram: cannot start ({type(exc).__name__}: {exc}); "
                                                      "retrying, the other parts go on")
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, 60.0)
                continue
            await self.app.start()
            return True
        await self.app.bot.shutdown()  # its HTTP clients, opened by a try that failed
        return False

    async def deliver(self, bot: Bot, stop: asyncio.Event) -> None:
        """The posting loop: the staff desk's cards and every reply to requesters, until ``stop``.

        Waits out a 429 whatever wakes it (a new message does not cut ``retry_after`` short);
        other faults are retried with backoff. ``telegram`` in ``guichet status`` is ok only once
        nothing is left waiting.
        """
        health = self.desk.health
        delay = 1.0
        commands = False
        while not stop.is_set():
            await self.posts.gate.wait(stop)
            if stop.is_set():
                break
            try:
                commands = commands or await self.set_commands(bot)
                self.desk.derive()
                more = await self.posts.flush(bot, self.desk.render_post)
            except RetryAfter as exc:
                health.fault("rate limited", f"Telegram: rate limited, waiting {retry_after_s(exc):.0f}s "
                                             f"({self.posts.waiting()} post(s) waiting)")
                continue
            except Exception as exc:  # Telegram faults, and any other: the loop must go on
                if cannot_write(exc):
                    raise  # the database's fault, not Telegram's: the service waits for it (see run)
                if not isinstance(exc, TelegramError):
                    log.exception("posting loop")
                health.fault(type(exc).__name__, f"Telegram: {type(exc).__name__}: {exc}; "
                                                 f"{self.posts.waiting()} post(s) waiting, retrying")
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            if more:
                continue
            health.ok()
            await sleep_or_stop(stop, 1.0, wake=self.posts.wake)

    async def set_commands(self, bot: Bot) -> bool:
        """The command menu requesters see in a private chat (French, and English for English clients).

        True once done, or once Telegram refused it for good (logged: the bot works without it)."""
        try:
            for language, commands in COMMANDS.items():
                await bot.set_my_commands([BotCommand(name, text) for name, text in commands],
                                          scope=BotCommandScopeAllPrivateChats(), language_code=language)
        except (BadRequest, InvalidToken) as exc:
            log.warning("command menu not set: %s", exc)
        return True

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll getUpdates; an update is confirmed (the next offset) only once it was processed.

        Handlers store a message before anything else, and storing is idempotent, so an update
        delivered again after a crash is harmless, and none is lost. A handler that could not store
        (the database cannot be written) stops the loop before its update is confirmed.
        """
        delay = 1.0
        while not stop.is_set():
            fetch = asyncio.ensure_future(self.app.bot.get_updates(
                offset=self._offset, timeout=self.cfg.poll_timeout, allowed_updates=Update.ALL_TYPES))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait([fetch, stopped], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not fetch.done():
                fetch.cancel()  # shutting down: the long poll is abandoned, nothing was confirmed
                await asyncio.gather(fetch, return_exceptions=True)
                return
            try:
                updates = fetch.result()
            except RetryAfter as exc:
                wait = self.posts.gate.held(exc)  # the whole bot is held, not only this call
                self.health.fault("rate limited", f"getUpdates: rate limited for {wait:.0f}s")
                await sleep_or_stop(stop, wait)
                continue
            except TelegramError as exc:
                # Said once per kind of error, not on every retry.
                self.health.fault(type(exc).__name__, f"getUpdates: {type(exc).__name__}: {exc}")
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            self.health.ok()
            for update in updates:
                await self.app.process_update(update)
                if self._unstored is not None:
                    error, self._unstored = self._unstored, None
                    raise error  # before the offset moves on: Telegram hands this update again
                self._offset = update.update_id + 1

    async def _failed(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler's exception, which PTB's ``process_update`` hands here instead of raising it.

        One the database caused (disk full, read-only) is kept for ``poll``, which raises it before
        confirming the update; any other is logged, and the update confirmed: one faulty update must
        not hold up every later one."""
        error = context.error
        if error is not None and cannot_write(error) is not None:
            self._unstored = error
            return
        log.error("a Telegram update was not handled: %s", error, exc_info=error)
