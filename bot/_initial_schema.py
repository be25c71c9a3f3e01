"""The first release's schema, applied by migration ``001_initial``.

Kept out of ``migrations.py`` for its length only; never edited: later changes are migrations.
"""

# Indented as it was inside ``m001_initial``: SQLite keeps each CREATE as written, so new databases
# keep the very schema text of older ones.
INITIAL_SCHEMA = """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            external_id TEXT NOT NULL,
            direction TEXT NOT NULL DEFAULT 'in',
            request_id INTEGER REFERENCES requests(id),
            sender TEXT,
            sender_name TEXT,
            subject TEXT,
            text TEXT,
            new_text TEXT,
            raw BLOB,
            refs TEXT NOT NULL DEFAULT '[]',
            attachments TEXT NOT NULL DEFAULT '[]',
            machine TEXT,
            problems TEXT NOT NULL DEFAULT '[]',
            language TEXT,
            received_at TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            purged_at TEXT
        );
        CREATE UNIQUE INDEX messages_external ON messages(channel, external_id);
        CREATE INDEX messages_request ON messages(request_id);

        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            requester TEXT,
            requester_name TEXT,
            reply_to TEXT,
            subject TEXT,
            status TEXT NOT NULL,
            machine TEXT,
            category TEXT,
            slug TEXT,
            confidence REAL,
            outcome TEXT,
            decided_by TEXT,
            language TEXT,
            appointment INTEGER NOT NULL DEFAULT 0,
            received_at TEXT NOT NULL,
            answered_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX requests_received ON requests(received_at);

        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES requests(id),
            message_id INTEGER NOT NULL REFERENCES messages(id),
            state TEXT NOT NULL,
            slug TEXT,
            confidence REAL,
            candidates TEXT NOT NULL DEFAULT '[]',
            others TEXT NOT NULL DEFAULT '[]',
            notes TEXT NOT NULL DEFAULT '[]',
            language TEXT,
            text TEXT,
            edited INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT
        );
        CREATE INDEX drafts_state ON drafts(state);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            draft_id INTEGER NOT NULL UNIQUE REFERENCES drafts(id),
            request_id INTEGER NOT NULL REFERENCES requests(id),
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT,
            body TEXT NOT NULL,
            headers TEXT NOT NULL DEFAULT '{}',
            out_message_id TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            filed INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX outbox_state ON outbox(state, next_attempt_at);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            request_id INTEGER,
            draft_id INTEGER,
            actor TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_request ON events(request_id);

        CREATE TABLE imap_state (
            mailbox TEXT PRIMARY KEY,
            uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
