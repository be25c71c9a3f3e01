"""Wiring: builds the core from a Config and runs the channels and the outbox in one event loop."""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import sqlite_utils

from . import knowledge
from .channels.imap import ImapReader, SentFolder
from .channels.mailparse import parse_mail
from .channels.smtp import MailTransport, send_message
from .channels.telegram import TelegramChannel
from .channels.telegram_answers import TelegramTransport
from .config import Config
from .desks.telegram import StaffDesk
from .draft import Drafter
from .health import Health, storage
from .intake import DraftingWorker, Intake, Taken
from .knowledge import Entry
from .matching import Matcher, cache_dir
from .matching.learning import Learning
from .message import Incoming
from .outbox import Outbox, Transport
from .review import Review
from .schedule import Scheduler
from .staff import is_staff_actor
from .store import cannot_write, open_db, write_fault
from .waiting import sleep_or_stop

log = logging.getLogger("guichet")

# Waiting for a database that cannot be written (disk full): 1 s, 2 s, 4 s … then every minute.
STORAGE_WAIT_MAX_S = 60.0


def terminal_actor() -> str:
    """The actor name recorded for decisions taken from the terminal."""
    return f"terminal:{getpass.getuser()}"


@dataclass
class Core:
    """The channel-independent heart: store, knowledge, matcher, drafter, intake, review."""

    config: Config
    db: sqlite_utils.Database
    entries: list[Entry]
    matcher: Matcher
    drafter: Drafter
    intake: Intake
    review: Review
    staff_ids: set[str] = field(default_factory=set)
    learning: Learning | None = None
    # The staff desks' own tables of entries by slug (the Telegram desk's), refreshed by reload_knowledge.
    entry_tables: list[dict[str, Entry]] = field(default_factory=list)

    @classmethod
    def build(cls, config: Config, db: sqlite_utils.Database | None = None) -> Core:
        db = db or open_db(config.storage.database)
        entries = knowledge.load(config.knowledge.dir, config.network)
        matcher = Matcher.from_directory(entries, config.knowledge.dir, config.matcher.threshold,
                                         embedder=config.matcher.embedder,
                                         cache_dir=cache_dir(config.matcher.cache_dir, config.storage.database))
        drafter = Drafter(config.knowledge.templates, config.network)
        staff = {f"telegram:{i}" for i in (config.telegram.staff_ids if config.telegram else ())}

        def is_staff(actor: str) -> bool:
            # Whoever can run the CLI on this machine can read the database: staff by definition.
            # A Telegram actor is "telegram:<id>:<name>"; only the id counts.
            return (actor.startswith("terminal:") or ":".join(actor.split(":", 2)[:2]) in staff
                    or is_staff_actor(db, actor))  # a web account, or a Telegram id an account carries

        review = Review(db, entries, drafter, is_staff, config.network.message_id_domain)
        learning = Learning(db, matcher)
        learning.load()
        review.on_label = learning.record
        return cls(config, db, entries, matcher, drafter, Intake(db, entries, matcher, drafter), review, staff,
                   learning)

    def reload_knowledge(self, entries: list[Entry] | None = None) -> list[Entry]:
        """Take the knowledge base as it now is into the running core (after the web desk saved an
        entry): drafts, the review, the staff desks' copies and the matcher use it at once, without a
        restart. ``entries`` is what ``knowledge.load`` gave for this network (read in a thread by the
        caller), else it is read here; raises KnowledgeError, keeping the running entries, when the
        base is invalid. Returns the entries that changed or were added."""
        if entries is None:
            entries = knowledge.load(self.config.knowledge.dir, self.config.network)
        before = {e.slug: e for e in self.entries}
        changed = [e for e in entries if before.get(e.slug) != e]
        gone = sorted(before.keys() - {e.slug for e in entries})
        self.entries[:] = entries
        if changed or gone:
            self.matcher.set_entries(entries)  # only what changed is embedded again
        for table in (self.intake.entries, self.review.entries, *self.entry_tables):
            table.clear()
            table.update((e.slug, e) for e in entries)
        return changed

    def take_mail(self, raw: bytes) -> Taken:
        """Parse, store and draft one raw e-mail now."""
        return self.intake.take(self._parse(raw))

    def store_mail(self, raw: bytes) -> Taken:
        """Parse and store one raw e-mail; the drafting worker drafts it."""
        return self.intake.store(self._parse(raw))

    def _parse(self, raw: bytes) -> Incoming:
        return parse_mail(raw, own_domain=self.config.network.message_id_domain,
                          own_address=self.config.network.reply_from)


class Service:
    """``guichet run``: the mail reader, the outbox and (when configured) Telegram, until stopped."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.stop = asyncio.Event()
        cfg = core.config
        transports: dict[str, Transport] = {}
        self.reader: ImapReader | None = None
        self.drafting = DraftingWorker(core.intake)
        core.intake.on_stored = lambda message_id: self.drafting.wake()
        if cfg.imap is not None:
            self.reader = ImapReader(cfg.imap, core.db, core.store_mail)
        if cfg.smtp is not None:
            sent = SentFolder(cfg.imap) if cfg.imap is not None else None
            transports["email"] = MailTransport(cfg.smtp, cfg.network, filer=sent.append if sent else None,
                                                finder=sent.contains if sent else None)
        self.telegram: TelegramChannel | None = None
        if cfg.telegram is not None:
            desk = StaffDesk(cfg.telegram, cfg.network, core.db, core.review, core.entries, core.staff_ids)
            core.entry_tables.append(desk.entries)
            self.telegram = TelegramChannel(cfg.telegram, cfg.network, core.intake, desk)
            transports["telegram"] = TelegramTransport(lambda: self.telegram.bot if self.telegram else None,
                                                       self.telegram.posts.gate, core.db)
            core.intake.on_draft = lambda draft_id: desk.wake()
        self.web = None
        if cfg.web is not None:
            from .desks.web import WebDesk  # only when configured: the web stack is not loaded otherwise

            self.web = WebDesk(core)
        self.outbox = Outbox(core.db, transports)
        if core.matcher.semantic_problem:  # `guichet status` says the matcher runs on words alone, and why
            Health(core.db, "matcher").error(f"{core.matcher.semantic_problem}; lexical matcher only")
        else:
            Health(core.db, "matcher").ok()
        core.review.on_change = lambda draft_id: self.outbox.wake()
        smtp = cfg.smtp
        self.scheduler = Scheduler(
            cfg, core.db,
            send_mail=(lambda message: send_message(smtp, message)) if smtp is not None else None,
            post_chart=self.telegram.post_photo if self.telegram is not None else None)

    async def run(self) -> None:
        """Run every configured part until ``stop`` is set (SIGTERM/SIGINT set it)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        tasks = [asyncio.create_task(self._supervised(lambda: self.outbox.run(self.stop)), name="outbox"),
                 asyncio.create_task(self._supervised(lambda: self.scheduler.run(self.stop)), name="schedule"),
                 asyncio.create_task(self._supervised(lambda: self.drafting.run(self.stop)), name="drafting")]
        learning = self.core.learning
        if learning is not None:
            tasks.append(asyncio.create_task(self._supervised(lambda: learning.run(self.stop)), name="learning"))
        if self.reader is not None:
            reader = self.reader
            tasks.append(asyncio.create_task(self._supervised(lambda: reader.run(self.stop)), name="imap"))
        else:
            log.info("no [imap] section: the mailbox is not read")
        if self.telegram is not None:
            telegram = self.telegram
            tasks.append(asyncio.create_task(self._supervised(lambda: telegram.run(self.stop)), name="telegram"))
        if self.web is not None:
            tasks.append(asyncio.create_task(self.web.run(self.stop), name="web"))
        log.info("guichet running (%s)", self.core.config.source)
        try:
            done, _ = await asyncio.wait([*tasks, asyncio.create_task(self.stop.wait())],
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task in tasks and task.exception():
                    raise task.exception()  # type: ignore[misc]
        finally:
            self.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("guichet stopped")

    async def _supervised(self, part: Callable[[], Awaitable[None]]) -> None:
        """Run one part; when the database cannot be written (disk full, read-only), wait until it
        can and start the part again. Each part writes in transactions, so what it was doing is
        rolled back (the IMAP position with it) and done again."""
        while True:
            try:
                await part()
                return
            except sqlite3.OperationalError as exc:
                reason = cannot_write(exc)
                if reason is None:
                    raise
                storage.fault(reason)
            delay = 1.0
            while reason is not None:
                await sleep_or_stop(self.stop, delay)
                if self.stop.is_set():
                    return
                delay = min(delay * 2, STORAGE_WAIT_MAX_S)
                reason = write_fault(self.core.db)
            storage.ok()
