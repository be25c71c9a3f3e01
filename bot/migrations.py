"""Schema changes, each a named, ordered step applied once (recorded in ``migrations``).

``store.migrate`` runs each step and its record in one transaction. Inside an open transaction
sqlite-utils (4 and later) runs ``executescript`` one statement at a time, with no COMMIT first
(sqlite3's own ``executescript`` commits): a step that fails halfway leaves nothing applied.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from ._initial_schema import INITIAL_SCHEMA


def m001_initial(db: sqlite_utils.Database) -> None:
    """Messages, requests, drafts, outbox, events and the IMAP position."""
    db.executescript(INITIAL_SCHEMA)


def m002_conversations_and_desk(db: sqlite_utils.Database) -> None:
    """Telegram: a conversation key to join follow-ups, and the staff desk's posted messages."""
    db.executescript(
        """
        ALTER TABLE requests ADD COLUMN conversation TEXT;
        CREATE INDEX requests_conversation ON requests(channel, conversation);
        CREATE TABLE desk_posts (
            id INTEGER PRIMARY KEY,
            draft_id INTEGER NOT NULL REFERENCES drafts(id),
            desk TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'draft',
            state TEXT NOT NULL DEFAULT 'open',
            posted_at TEXT NOT NULL
        );
        CREATE INDEX desk_posts_draft ON desk_posts(draft_id, desk);
        CREATE UNIQUE INDEX desk_posts_message ON desk_posts(desk, chat_id, message_id);
        """
    )


def m003_scheduled_runs(db: sqlite_utils.Database) -> None:
    """Which periodic job ran for which period, so a restart never repeats one."""
    db.executescript(
        """
        CREATE TABLE scheduled_runs (
            job TEXT NOT NULL,
            period TEXT NOT NULL,
            done_at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (job, period)
        );
        """
    )


def m004_health(db: sqlite_utils.Database) -> None:
    """Each running part's last success and last error, for ``guichet status`` from another process."""
    db.executescript(
        """
        CREATE TABLE health (
            component TEXT PRIMARY KEY,
            ok INTEGER NOT NULL,
            last_ok TEXT,
            last_error TEXT,
            last_error_at TEXT,
            updated_at TEXT NOT NULL
        );
        """
    )


def m005_staff_notices(db: sqlite_utils.Database) -> None:
    """Which warnings each staff desk has posted, so that each is posted once; events by kind."""
    db.executescript(
        """
        CREATE TABLE staff_notices (
            event_id INTEGER NOT NULL REFERENCES events(id),
            desk TEXT NOT NULL,
            posted_at TEXT NOT NULL,
            PRIMARY KEY (event_id, desk)
        );
        -- The desk looks for new warnings every second: by kind, not by a scan of the whole log.
        CREATE INDEX events_kind ON events(kind, at);
        """
    )


def m006_message_sources(db: sqlite_utils.Database) -> None:
    """Message sources in a table of their own, the blob last: written by blob I/O, a 30 MB mail
    is not copied twice in memory by SQLite (binding, then building the row)."""
    db.execute("CREATE TABLE message_sources (message_id INTEGER PRIMARY KEY REFERENCES messages(id), "
               "raw BLOB NOT NULL)")
    db.execute("INSERT INTO message_sources (message_id, raw) SELECT id, raw FROM messages WHERE raw IS NOT NULL")
    db.execute("ALTER TABLE messages DROP COLUMN raw")


def m007_message_reply_to(db: sqlite_utils.Database) -> None:
    """Each message's Reply-To: whoever a requester names there takes part in the thread too."""
    db.execute("ALTER TABLE messages ADD COLUMN reply_to TEXT")


def m008_fingerprints_and_uids(db: sqlite_utils.Database) -> None:
    """A content fingerprint per mail (one Message-ID on two different mails keeps both), and
    which message each IMAP UID became, so reconciliation finds any UID with no stored row.

    UIDs taken before this migration are not known: reconciliation checks those (below
    ``tracked_from``) by Message-ID, as before."""
    db.executescript("""
        ALTER TABLE messages ADD COLUMN fingerprint TEXT;
        CREATE TABLE imap_uids (
            mailbox TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            PRIMARY KEY (mailbox, uidvalidity, uid)
        );
        CREATE INDEX imap_uids_message ON imap_uids(message_id);
        ALTER TABLE imap_state ADD COLUMN tracked_from INTEGER NOT NULL DEFAULT 1;
        UPDATE imap_state SET tracked_from = last_uid + 1;
        """)


def m009_drafting_behind_storing(db: sqlite_utils.Database) -> None:
    """Drafting runs behind storing: when each message was drafted (NULL: not yet, so a restart
    drafts it), what intake noted for staff meanwhile, whether it was a bare thanks, and why no
    reply may be drafted for it (an address that does not parse cleanly)."""
    db.executescript("""
        ALTER TABLE messages ADD COLUMN drafted_at TEXT;
        ALTER TABLE messages ADD COLUMN intake_notes TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE messages ADD COLUMN thanks INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN unanswerable TEXT;
        UPDATE messages SET drafted_at = stored_at;
        CREATE INDEX messages_undrafted ON messages(id) WHERE drafted_at IS NULL AND direction = 'in';
        """)


def m010_telegram_posts(db: sqlite_utils.Database) -> None:
    """Everything the Telegram bot posts outside the outbox (staff cards, prompts, warnings,
    acknowledgements), recorded before it is sent: ``desk_posts`` grows into ``telegram_posts``."""
    db.executescript(
        """
        CREATE TABLE telegram_posts (
            id INTEGER PRIMARY KEY,
            chat_id TEXT NOT NULL,
            kind TEXT NOT NULL,          -- card, prompt, full, notice, reply | ack, command, forget
            state TEXT NOT NULL,         -- wanted, posting, open, sent, refresh, closing, closed, stale,
                                         -- replaced, erasing, erased, refused, cancelled
            message_id TEXT,             -- Telegram's, once known
            draft_id INTEGER REFERENCES drafts(id),
            actor TEXT,                  -- a prompt's staff member; who replaced a card
            purpose TEXT,                -- a prompt's: edit (the draft) or answer (by hand)
            text TEXT,                   -- for posts not drawn from a draft (HTML)
            reply_to TEXT,
            part INTEGER,
            key TEXT UNIQUE,             -- a post made once per update, whatever redelivers it
            after_message_id INTEGER,    -- the last message id known in the chat when it was sent
            shown TEXT,                  -- fingerprint of what Telegram shows
            error TEXT,
            created_at TEXT NOT NULL,
            posted_at TEXT
        );
        CREATE UNIQUE INDEX telegram_posts_message ON telegram_posts(chat_id, message_id);
        CREATE INDEX telegram_posts_state ON telegram_posts(state);
        CREATE INDEX telegram_posts_draft ON telegram_posts(draft_id, kind);
        -- Old prompts named no staff member: they are closed (press the button again).
        INSERT INTO telegram_posts (chat_id, kind, state, message_id, draft_id, created_at, posted_at)
        SELECT chat_id, CASE kind WHEN 'draft' THEN 'card' ELSE kind END,
               CASE WHEN kind = 'prompt' THEN 'closed' ELSE state END, message_id, draft_id, posted_at, posted_at
        FROM desk_posts WHERE desk = 'telegram' ORDER BY id;
        DROP TABLE desk_posts;
        """
    )


def m011_telegram_interrupted(db: sqlite_utils.Database) -> None:
    """A staff-chat post sent again after an interruption whose orphan was not found: once it has its
    new id, the orphan is looked for just before it."""
    db.execute("ALTER TABLE telegram_posts ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0")


def m013_learned_examples(db: sqlite_utils.Database) -> None:
    """Messages labelled by staff decisions, which the matcher learns from (personal data: erased
    with their request by the retention purge and by /oubli)."""
    db.executescript(
        """
        CREATE TABLE learned_examples (
            id INTEGER PRIMARY KEY,
            request_id INTEGER REFERENCES requests(id),
            message_id INTEGER REFERENCES messages(id),
            slug TEXT,                 -- the entry staff answered with; NULL: not for the base
            decision TEXT NOT NULL,    -- confirmed, corrected or ignored
            text TEXT NOT NULL,        -- what the matcher read: subject and new text
            channel TEXT,
            actor TEXT,
            vector BLOB,               -- the text's embedding, float16 (erased with the row)
            model TEXT,                -- the embedder that made it
            created_at TEXT NOT NULL
        );
        -- One label per message: the latest decision replaces the earlier one.
        CREATE UNIQUE INDEX learned_examples_message ON learned_examples(message_id);
        CREATE INDEX learned_examples_request ON learned_examples(request_id);
        """
    )


def m016_staff_accounts(db: sqlite_utils.Database) -> None:
    """Staff accounts for the web desk, their one-time links, browser sessions and failed logins."""
    db.executescript(
        """
        CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT,
            telegram_id INTEGER UNIQUE,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            password_set_at TEXT,
            last_login_at TEXT
        );
        -- Only hashes of the tokens are kept: a copy of the database opens no session.
        CREATE TABLE staff_tokens (
            token_hash TEXT PRIMARY KEY,
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            purpose TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE TABLE web_sessions (
            token_hash TEXT PRIMARY KEY,
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            account TEXT NOT NULL,
            address TEXT NOT NULL
        );
        CREATE INDEX login_failures_at ON login_failures(at);
        """
    )


def m017_claims_and_notes(db: sqlite_utils.Database) -> None:
    """Who is handling a request ("je m'en occupe"), and staff's internal notes on it."""
    db.executescript(
        """
        CREATE TABLE claims (
            request_id INTEGER PRIMARY KEY REFERENCES requests(id),
            actor TEXT NOT NULL,
            claimed_at TEXT NOT NULL
        );
        CREATE TABLE staff_notes (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests(id),
            actor TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX staff_notes_request ON staff_notes(request_id);
        -- Notes may name the requester: they go when the request's personal data is erased
        -- (retention purge or "/oubli"), whoever erases it.
        CREATE TRIGGER staff_notes_erased AFTER UPDATE OF requester ON requests
        WHEN NEW.requester IS NULL AND OLD.requester IS NOT NULL
        BEGIN
            DELETE FROM staff_notes WHERE request_id = NEW.id;
            DELETE FROM claims WHERE request_id = NEW.id;
        END;
        """
    )


def m018_message_search(db: sqlite_utils.Database) -> None:
    """Full-text search over messages (sender, subject, text), kept in step by triggers: what the
    retention purge erases leaves the index with it."""
    db.executescript(
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            sender, sender_name, subject, text,
            content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, sender, sender_name, subject, text)
            VALUES (NEW.id, NEW.sender, NEW.sender_name, NEW.subject, NEW.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, sender, sender_name, subject, text)
            VALUES ('delete', OLD.id, OLD.sender, OLD.sender_name, OLD.subject, OLD.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF sender, sender_name, subject, text ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, sender, sender_name, subject, text)
            VALUES ('delete', OLD.id, OLD.sender, OLD.sender_name, OLD.subject, OLD.text);
            INSERT INTO messages_fts (rowid, sender, sender_name, subject, text)
            VALUES (NEW.id, NEW.sender, NEW.sender_name, NEW.subject, NEW.text);
        END;
        INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
        """
    )


def m019_desk_indexes(db: sqlite_utils.Database) -> None:
    """A request's drafts and replies by request: the desks look them up for every line they show."""
    db.executescript(
        """
        CREATE INDEX drafts_request ON drafts(request_id, state);
        CREATE INDEX outbox_request ON outbox(request_id, state);
        """
    )


def m023_outbox_parts(db: sqlite_utils.Database) -> None:
    """A reply that leaves as several messages (a long Telegram answer): how many have left, of how
    many, and the first one's message id, recorded as each leaves, so that a later attempt goes on
    from the next part and never sends one twice."""
    for column in ("parts_sent INTEGER NOT NULL DEFAULT 0", "parts_total INTEGER", "first_part_id INTEGER"):
        db.execute(f"ALTER TABLE outbox ADD COLUMN {column}")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", m001_initial),
    ("002_conversations_and_desk", m002_conversations_and_desk),
    ("003_scheduled_runs", m003_scheduled_runs),
    ("004_health", m004_health),
    ("005_staff_notices", m005_staff_notices),
    ("006_message_sources", m006_message_sources),
    ("007_message_reply_to", m007_message_reply_to),
    ("008_fingerprints_and_uids", m008_fingerprints_and_uids),
    ("009_drafting_behind_storing", m009_drafting_behind_storing),
    ("010_telegram_posts", m010_telegram_posts),
    ("011_telegram_interrupted", m011_telegram_interrupted),
    ("013_learned_examples", m013_learned_examples),
    ("016_staff_accounts", m016_staff_accounts),
    ("017_claims_and_notes", m017_claims_and_notes),
    ("018_message_search", m018_message_search),
    ("019_desk_indexes", m019_desk_indexes),
    ("023_outbox_parts", m023_outbox_parts),
]
