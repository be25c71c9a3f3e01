"""Every exception Guichet raises on purpose, in one place."""

from __future__ import annotations


class GuichetError(Exception):
    """Base class: an error with a message meant for a person."""


class ConfigError(GuichetError):
    """The configuration is missing a key, has a wrong value, or a secret is not set."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config: {key}: {problem}")
        self.key = key


class KnowledgeError(GuichetError):
    """A knowledge-base file is invalid (names the file and the field)."""

    def __init__(self, path: str, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path = path
        self.field = field


class NotFound(GuichetError):
    """A draft, request or outbox item with that id does not exist."""


class AlreadyDecided(GuichetError):
    """A staff member acted on a draft that someone already decided."""

    def __init__(self, draft_id: int, state: str, by: str | None, at: str | None) -> None:
        who = f" par {by}" if by else ""
        super().__init__(f"brouillon {draft_id} déjà traité{who} ({state}, {at or '?'})")
        self.draft_id = draft_id
        self.state = state
        self.by = by


class NotStaff(GuichetError):
    """Someone who is not staff tried to act on a draft."""


class ReviewError(GuichetError):
    """A review action that does not make sense for this draft (e.g. approving empty text)."""


class StaffError(GuichetError):
    """A staff account cannot be created or changed that way (short password, e-mail taken…)."""


class TransientSendError(GuichetError):
    """Sending failed in a way worth retrying later (4xx, connection refused, 429, 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(GuichetError):
    """Sending failed for good (address refused, chat not found): staff must look."""


class EmbedderUnavailable(GuichetError):
    """The configured sentence embedder cannot run here; the matcher falls back to lexical evidence."""


class NotQueued(GuichetError):
    """An outbox item was no longer queued when a worker went to send it (another worker had it)."""


class AlreadyRunning(GuichetError):
    """Another ``guichet run`` holds the database's instance lock."""


class StorageError(GuichetError):
    """The database cannot be written (disk full, read-only file or folder, lock file refused)."""


class UncertainSendError(GuichetError):
    """Sending broke off after the point of no return (no answer to SMTP DATA): the reply may or
    may not have been delivered. Never retried blindly: proved sent, or left ``uncertain`` for staff."""
