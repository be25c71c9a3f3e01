"""Learning from staff decisions: each one labels a message, stored, then taught to the matcher.

A draft sent as drafted confirms its entry; "Autre fiche", ``requests answered --entry`` and an
answer written with an entry correct it; "Ignorer" marks the message as not for the base. The
labelled messages are personal data: they live in the database only (``learned_examples``,
never in ``knowledge/``), are erased with their request by the retention purge and by /oubli,
and the running matcher lets go of them at its next ``sync`` (within a minute).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from ..review import Label
from ..store import now, one
from . import Learned, Matcher

log = logging.getLogger("guichet.learning")
SYNC_EVERY_S = 60.0


def learned_text(subject: str | None, text: str | None) -> str:
    """What the matcher read of a message (its subject and new text), as it is remembered."""
    return f"{subject or ''}\n{text or ''}".strip()


@dataclass(frozen=True)
class Example:
    """One learned example as staff see it in ``guichet learned list``."""

    id: int
    request_id: int | None
    slug: str | None
    decision: str
    channel: str | None
    actor: str | None
    created_at: str
    text: str


class Learning:
    """The learned examples of one database, and the matcher that uses them (loop thread only:
    the database connection belongs to it)."""

    def __init__(self, db: sqlite_utils.Database, matcher: Matcher) -> None:
        self.db = db
        self.matcher = matcher

    def _model(self) -> str | None:
        return self.matcher.embedder.name if self.matcher.embedder is not None else None

    def load(self) -> int:
        """Teach the matcher every stored example (at start); returns how many."""
        model = self._model()
        examples, stale = [], []
        for row in self.db.query("SELECT id, slug, text, vector, model FROM learned_examples ORDER BY id"):
            vector = None
            if model is not None and row["vector"] is not None and row["model"] == model:
                vector = np.frombuffer(row["vector"], dtype=np.float16).astype(np.float32)
            elif model is not None:
                stale.append(row["id"])
            examples.append(Learned(row["slug"], row["text"], row["id"], vector))
        self.matcher.set_learned(examples)
        if stale:  # another embedder made them: the matcher embedded them again, keep its vectors
            with self.db.atomic():
                for example in self.matcher.learned:
                    if example.id is not None and example.id in stale and example.vector is not None:
                        self._store_vector(example.id, example.vector, model)
        return len(examples)

    def _store_vector(self, example_id: int, vector: np.ndarray[Any, Any], model: str | None) -> None:
        self.db.execute("UPDATE learned_examples SET vector = ?, model = ? WHERE id = ?",
                        [vector.astype(np.float16).tobytes(), model, example_id])

    def record(self, label: Label) -> None:
        """Store and learn the message a decision labelled (the review core's ``on_label``).

        A failure here is logged, never raised: the decision itself is already made.
        """
        try:
            self._record(label)
        except Exception:
            log.exception("could not learn from the decision on request %s", label.request_id)

    def _record(self, label: Label) -> None:
        if label.draft_id is not None:
            sql = "SELECT m.* FROM messages m JOIN drafts d ON d.message_id = m.id WHERE d.id = ?"
            message = one(self.db, sql, [label.draft_id])
        else:
            message = one(self.db, "SELECT * FROM messages WHERE request_id = ? AND direction = 'in' "
                                   "ORDER BY id DESC LIMIT 1", [label.request_id])
        if message is None or message["purged_at"]:
            return
        text = learned_text(message["subject"], message["new_text"] or message["text"])
        if not text:
            return
        vector = self.matcher.vector(text)  # usually remembered from the message's match
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO learned_examples (request_id, message_id, slug, decision, text, channel, actor, "
                "vector, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(message_id) DO UPDATE SET slug = excluded.slug, decision = excluded.decision, "
                "actor = excluded.actor, created_at = excluded.created_at",
                [message["request_id"], message["id"], label.slug, label.decision, text, message["channel"],
                 label.actor, vector.astype(np.float16).tobytes() if vector is not None else None,
                 self._model(), now()])
            row = one(self.db, "SELECT id FROM learned_examples WHERE message_id = ?", [message["id"]])
        assert row is not None
        self.matcher.learn(Learned(label.slug, text, int(row["id"]), vector))

    def sync(self) -> int:
        """Let the matcher forget examples no longer in the database (erased, removed); returns how many."""
        present = {int(r["id"]) for r in self.db.query("SELECT id FROM learned_examples")}
        gone = {x.id for x in self.matcher.learned if x.id is not None and x.id not in present}
        if gone:
            self.matcher.forget(gone)
        return len(gone)

    async def run(self, stop: asyncio.Event, every_s: float = SYNC_EVERY_S) -> None:
        """``sync`` every minute until stopped: the purge and /oubli erase rows, the matcher follows."""
        while not stop.is_set():
            self.sync()
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                pass

    def examples(self, limit: int = 100) -> list[Example]:
        """The most recent learned examples, newest first."""
        rows = self.db.query("SELECT id, request_id, slug, decision, channel, actor, created_at, text "
                             "FROM learned_examples ORDER BY id DESC LIMIT ?", [limit])
        return [Example(**row) for row in rows]

    def remove(self, ids: list[int]) -> int:
        """Delete these learned examples (staff found them misleading); returns how many."""
        marks = ",".join("?" * len(ids))
        with self.db.atomic():
            count = self.db.execute(f"DELETE FROM learned_examples WHERE id IN ({marks})", ids).rowcount
        self.matcher.forget(ids)
        return int(count)
