"""One small rule per mail client, named after it (Zammad's channel filters are the model).

mail-parser-reply splits most replies, in every language it knows; these rules add
what it cannot see: the separators, attribution lines and footers particular clients
write. Each pattern is matched, case-insensitively, against one stripped line (a
``history`` pattern also against two or three wrapped lines joined by a space).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Client:
    """What one client writes around a reply."""

    name: str
    # A line where quoted history begins (an attribution, a separator).
    history: tuple[str, ...] = ()
    # A line where a forwarded message begins (its header lines follow).
    forward: tuple[str, ...] = ()
    # Field names of a quoted header block ("De :", "Envoyé :"…); ``sender_keys`` name a person.
    sender_keys: tuple[str, ...] = ()
    other_keys: tuple[str, ...] = ()
    # A line removed wherever it is (phone footers, "think before printing").
    footer: tuple[str, ...] = ()
    # Text removed wherever it is in a line (image placeholders).
    inline: tuple[str, ...] = ()
    # A line that starts a block removed to the end (legal disclaimers, list footers).
    tail: tuple[str, ...] = ()


def compile_any(patterns: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of ``patterns`` (one that never matches if none)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns) or r"(?!)", re.I)
