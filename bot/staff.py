"""Staff accounts for the web desk: who may log in, with what password, and who they are on Telegram.

The library comes first; ``guichet staff add/list/disable/password`` (``bot/cli/staff.py``) mirrors
it. Passwords are kept as argon2id hashes (argon2-cffi: the memory-hard hash OWASP recommends,
with its parameters and salt inside the hash string). One-time links keep only a SHA-256 of
their token, so a copy of the database opens nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import NotFound, StaffError
from .store import insert, log_event, now, one

MIN_PASSWORD = 10
LINK_HOURS = 48
PASSWORD_LINK = "password"
_HASHER = PasswordHasher()
# Verified when the account does not exist, so that a wrong e-mail costs as long as a wrong password.
_DUMMY = _HASHER.hash("pas un vrai mot de passe")


@dataclass(frozen=True)
class Account:
    """A staff member who may use the web desk."""

    id: int
    name: str
    email: str
    telegram_id: int | None
    active: bool
    has_password: bool
    created_at: str
    last_login_at: str | None

    @property
    def actor(self) -> str:
        """``web:<id>:<name>``: the id decides, the name is what the team sees ("Envoyé par …")."""
        return f"web:{self.id}:{self.name.replace(':', ' ')}"


def _account(row: dict[str, Any]) -> Account:
    return Account(id=row["id"], name=row["name"], email=row["email"], telegram_id=row["telegram_id"],
                   active=bool(row["active"]), has_password=bool(row["password_hash"]),
                   created_at=row["created_at"], last_login_at=row["last_login_at"])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The argon2id hash of a password long enough to keep (``StaffError`` otherwise)."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"mot de passe trop court : {MIN_PASSWORD} caractères au moins")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (CPU-bound, ~50 ms: run it off the event loop)."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def add(db: sqlite_utils.Database, name: str, email: str, *, password: str | None = None,
        telegram_id: int | None = None, actor: str = "admin") -> Account:
    """Create an account (without a password, it can log in once one is set by a one-time link)."""
    name, email = " ".join(name.split()), email.strip()
    if not name or "@" not in email or any(c.isspace() for c in email):
        raise StaffError("il faut un nom et une adresse e-mail valide")
    hashed = hash_password(password) if password is not None else None
    stamp = now()
    try:
        with db.atomic():
            account_id = insert(db, "staff", {"name": name, "email": email, "password_hash": hashed,
                                              "telegram_id": telegram_id, "active": 1, "created_at": stamp,
                                              "password_set_at": stamp if hashed else None})
            log_event(db, "staff.added", actor=actor, staff_id=account_id, telegram_id=telegram_id)
    except sqlite3.IntegrityError as exc:
        raise StaffError(f"un compte existe déjà pour {email}"
                         + (f" ou pour l'identifiant Telegram {telegram_id}" if telegram_id else "")) from exc
    return get(db, account_id)


def get(db: sqlite_utils.Database, account_id: int) -> Account:
    row = one(db, "SELECT * FROM staff WHERE id = ?", [account_id])
    if row is None:
        raise NotFound(f"aucun compte n°{account_id}")
    return _account(row)


def find(db: sqlite_utils.Database, who: str) -> Account:
    """An account by e-mail address or number."""
    who = who.strip()
    row = one(db, "SELECT * FROM staff WHERE id = ?", [int(who)]) if who.isdigit() else \
        one(db, "SELECT * FROM staff WHERE email = ?", [who])
    if row is None:
        raise NotFound(f"aucun compte pour {who!r}")
    return _account(row)


def accounts(db: sqlite_utils.Database) -> list[Account]:
    return [_account(r) for r in db.query("SELECT * FROM staff ORDER BY active DESC, name")]


def credentials(db: sqlite_utils.Database, email: str) -> tuple[Account | None, str | None]:
    """The active account for a login and its stored hash (both None when there is none)."""
    row = one(db, "SELECT * FROM staff WHERE email = ? AND active = 1", [email.strip()])
    return (_account(row), row["password_hash"]) if row else (None, None)


def set_password(db: sqlite_utils.Database, account_id: int, password: str, actor: str = "admin") -> None:
    hashed = hash_password(password)
    get(db, account_id)
    with db.atomic():
        db.execute("UPDATE staff SET password_hash = ?, password_set_at = ? WHERE id = ?",
                   [hashed, now(), account_id])
        # A new password closes the sessions opened with the old one.
        db.execute("DELETE FROM web_sessions WHERE staff_id = ?", [account_id])
        log_event(db, "staff.password_set", actor=actor, staff_id=account_id)


def disable(db: sqlite_utils.Database, who: str, actor: str = "admin") -> Account:
    """Close an account: its sessions end at once; its past decisions keep its name."""
    account = find(db, who)
    with db.atomic():
        db.execute("UPDATE staff SET active = 0 WHERE id = ?", [account.id])
        db.execute("DELETE FROM web_sessions WHERE staff_id = ?", [account.id])
        db.execute("DELETE FROM claims WHERE actor LIKE ?", [f"web:{account.id}:%"])
        log_event(db, "staff.disabled", actor=actor, staff_id=account.id)
    return get(db, account.id)


def password_link(db: sqlite_utils.Database, account_id: int, hours: int = LINK_HOURS) -> str:
    """A one-time token to set the password (the raw token is returned once, only its hash kept)."""
    get(db, account_id)
    token = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    with db.atomic():
        db.table("staff_tokens").insert({"token_hash": token_hash(token), "staff_id": account_id,
                                         "purpose": PASSWORD_LINK, "created_at": now(),
                                         "expires_at": expires.isoformat()})
        log_event(db, "staff.link_created", staff_id=account_id)
    return token


def link_account(db: sqlite_utils.Database, token: str) -> Account | None:
    """The active account a valid, unused, unexpired link belongs to."""
    row = one(db, "SELECT staff_id FROM staff_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL "
                  "AND expires_at > ?", [token_hash(token), PASSWORD_LINK, now()])
    if row is None:
        return None
    account = get(db, row["staff_id"])
    return account if account.active else None


def use_link(db: sqlite_utils.Database, token: str, password: str) -> Account:
    """Set the password through a one-time link; the link cannot be used again."""
    account = link_account(db, token)
    if account is None:
        raise StaffError("ce lien n'est plus valable : demandez-en un nouveau")
    with db.atomic():
        used = db.execute("UPDATE staff_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                          [now(), token_hash(token)]).rowcount
        if not used:
            raise StaffError("ce lien vient d'être utilisé")
        set_password(db, account.id, password, actor=account.actor)
    return account


def is_staff_actor(db: sqlite_utils.Database, actor: str) -> bool:
    """``web:<id>:…`` of an active account, or ``telegram:<id>:…`` carried by an active account."""
    kind, _, rest = actor.partition(":")
    number = rest.split(":", 1)[0]
    if not number.isdigit():
        return False
    column = {"web": "id", "telegram": "telegram_id"}.get(kind)
    if column is None:
        return False
    return one(db, f"SELECT 1 FROM staff WHERE {column} = ? AND active = 1", [int(number)]) is not None


def telegram_name(db: sqlite_utils.Database, telegram_id: int) -> str | None:
    """The name of the active account that carries this Telegram id, if any: a decision taken on
    Telegram is then signed with the name the web desk shows ("Envoyé par <prénom>")."""
    row = one(db, "SELECT name FROM staff WHERE telegram_id = ? AND active = 1", [telegram_id])
    return str(row["name"]) if row else None


def display_name(db: sqlite_utils.Database, actor: str | None) -> str:
    """The name the team knows: the account's name for a Telegram id an account carries, else the
    name in the actor (``web:1:Alice`` → Alice, ``terminal:bob`` → bob)."""
    parts = (actor or "?").split(":", 2)
    if parts[0] == "telegram" and len(parts) > 1 and parts[1].isdigit():
        row = one(db, "SELECT name FROM staff WHERE telegram_id = ?", [int(parts[1])])
        if row:
            return str(row["name"])
    return parts[-1] or parts[0]
