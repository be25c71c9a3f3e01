"""Thunderbird: its forward separator and the French names of the forwarded headers (format=flowed
text is joined before any rule runs)."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="thunderbird",
    forward=(r"-{3,}\s*(message transféré|forwarded message|weitergeleitete nachricht)\s*-{3,}",),
    sender_keys=("de", "from"),
    other_keys=("sujet", "pour", "répondre à", "date"),
)
