"""Telegram: project holders write to the bot; approved answers go back as replies.

Handlers stay thin: they turn an update into ``Incoming`` for the core, or into a call on the
review core (see ``bot.desks.telegram``). The Application is started and stopped by ``run`` inside
the service's own event loop (not ``run_polling``, which would block the IMAP reader).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import logging
from collections.abc import Callable
from pathlib import Path

from telegram import ReplyParameters, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from ..config import NetworkConfig, TelegramConfig
from ..desks.telegram import StaffDesk, retry_after_s
from ..errors import PermanentSendError, TransientSendError
from ..health import Health
from ..intake import Intake
from ..message import Incoming
from ..outbox import OutboxItem
from ..privacy import forget
from ..waiting import sleep_or_stop

log = logging.getLogger("guichet.telegram")

TOPICS = (
    "• <b>financements</b> : micro-projets, FONJEP, agences de l'eau, Europe, fondations…\n"
    "• <b>volontariat et mobilité</b> : service civique, VSI, Corps européen de solidarité…\n"
    "• <b>formations</b> : cycle de projet, éducation à la citoyenneté (ECSI), modules thématiques…\n"
    "• <b>accompagnement</b> : rendez-vous, partenaires, adhésion, information pays…"
)
MAX_TEXT = 4096


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


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Telegram's message limit, cutting at paragraph or line ends where possible."""
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text else parts


class TelegramTransport:
    """The outbox's way of sending an approved answer to a Telegram user."""

    channel = "telegram"

    def __init__(self, bot_getter: Callable[[], object]) -> None:
        self._bot = bot_getter

    async def send(self, item: OutboxItem, commit: Callable[[], None]) -> str:
        bot = self._bot()
        chat_id = int(item.recipient)
        reply_to = int(item.in_reply_to.split(":")[1]) if ":" in item.in_reply_to else None
        parts = split_text(item.body)
        commit()
        try:
            first = await bot.send_message(  # type: ignore[attr-defined]
                chat_id=chat_id, text=parts[0],
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None)
            for part in parts[1:]:
                await bot.send_message(chat_id=chat_id, text=part)  # type: ignore[attr-defined]
        except RetryAfter as exc:
            raise TransientSendError(f"Telegram rate limit: {exc}", retry_after=retry_after_s(exc)) from exc
        except (Forbidden, BadRequest, InvalidToken) as exc:
            raise PermanentSendError(f"Telegram refused: {exc}") from exc
        except (NetworkError, TelegramError) as exc:
            raise TransientSendError(f"Telegram unreachable: {exc}") from exc
        return f"{chat_id}:{first.message_id}"

    async def reconcile(self, item: OutboxItem) -> bool:
        return False  # the Bot API keeps no record we could look up

    async def file_copy(self, item: OutboxItem) -> None:
        return None


class TelegramChannel:
    """The bot: project holders in private chats, staff in the staff chat (``StaffDesk``)."""

    def __init__(self, cfg: TelegramConfig, network: NetworkConfig, intake: Intake, desk: StaffDesk) -> None:
        self.cfg = cfg
        self.network = network
        self.intake = intake
        self.desk = desk
        # Its own component: the desk's successes must not hide a getUpdates fault, nor the reverse.
        self.health = Health(desk.db, "telegram-updates", log)
        self.app = build_application(cfg)
        private = filters.ChatType.PRIVATE
        self.app.add_handler(CommandHandler("start", self.start, filters=private))
        self.app.add_handler(CommandHandler(["aide", "help"], self.help, filters=private))
        self.app.add_handler(CommandHandler("oubli", self.forget, filters=private))
        self.app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.question))
        self.app.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.COMMAND, self.not_text))
        desk.attach(self.app)

    @property
    def bot(self) -> object:
        return self.app.bot

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self.network.tz)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: who we are, what we help with, and that a person checks every answer."""
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            f"Bonjour ! Je suis l'assistant de <b>{html.escape(self.network.name)}</b>, le réseau régional de "
            "coopération et de solidarité internationale.\n\nPosez-moi votre question, par exemple sur :\n"
            f"{TOPICS}\n\nUn membre de l'équipe relit chaque réponse avant qu'elle vous soit envoyée. "
            "Tapez /aide pour la liste des sujets, /oubli pour effacer vos messages.")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/aide and /help: the topics."""
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            f"Je peux vous renseigner sur :\n{TOPICS}\n\nÉcrivez simplement votre question en une ou deux phrases. "
            "/oubli efface vos messages.")

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/oubli: erase this person's messages and drafts; counts stay anonymous."""
        assert update.effective_message is not None and update.effective_user is not None
        count = forget(self.intake.db, "telegram", str(update.effective_user.id))
        await update.effective_message.reply_text(
            "C'est fait : vos messages et les réponses préparées ont été effacés"
            f" ({count} demande(s)). Seul un décompte anonyme est conservé pour nos statistiques.")

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any text: stored first, matched, drafted, queued for staff; the person is told."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None and message.text is not None
        chat = str(message.chat_id)
        refs = [f"{chat}:{message.reply_to_message.message_id}"] if message.reply_to_message else []
        incoming = Incoming(
            channel="telegram", external_id=f"{chat}:{message.message_id}", sender=str(user.id),
            sender_name=user.full_name, text=message.text, new_text=message.text, reply_to=chat,
            raw=json.dumps(message.to_dict(), ensure_ascii=False).encode(), refs=refs, conversation=chat,
            received_at=message.date.astimezone(dt.UTC))
        taken = self.intake.store(incoming)  # drafted behind, by the service's drafting worker
        if taken.duplicate or taken.thanks:  # a bare thanks is logged on its request: no promise of an answer
            return
        self.desk.wake()
        if in_office_hours(self._now(), self.network.office_hours):
            ack = "Merci, un membre de l'équipe vous répond rapidement."
        else:
            ack = "Merci ! L'équipe vous répondra dès le prochain jour ouvré."
        await message.reply_text(ack)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, voice, documents, stickers: say what the bot can read."""
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Je ne sais lire que les messages écrits. Pouvez-vous taper votre question ? "
            "Pour nous envoyer un document, écrivez à l'adresse du réseau.")

    async def post_photo(self, path: Path, caption: str) -> None:
        """Post an image (the monthly chart) to the staff chat."""
        with open(path, "rb") as handle:
            await self.app.bot.send_photo(self.cfg.staff_chat_id, photo=handle, caption=caption)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll updates and run the staff desk until ``stop`` is set."""
        async with self.app:
            await self.app.start()
            desk = asyncio.create_task(self.desk.run(self.app.bot, stop))
            try:
                await self.poll(stop)
            finally:
                if not stop.is_set():
                    desk.cancel()  # polling failed: do not wait for a stop that may never come
                await asyncio.gather(desk, return_exceptions=True)
                await self.app.stop()

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll getUpdates; an update is confirmed (the next offset) only once it was processed.

        Handlers store a message before anything else, and storing is idempotent, so an update
        delivered again after a crash is harmless, and none is lost.
        """
        offset: int | None = None
        delay = 1.0
        while not stop.is_set():
            fetch = asyncio.ensure_future(self.app.bot.get_updates(
                offset=offset, timeout=self.cfg.poll_timeout, allowed_updates=Update.ALL_TYPES))
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
                self.health.fault("rate limited", f"getUpdates: rate limited for {retry_after_s(exc):.0f}s")
                await sleep_or_stop(stop, retry_after_s(exc))
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
                offset = update.update_id + 1

