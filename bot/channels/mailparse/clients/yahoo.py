"""Yahoo Mail: its older "En date de : …, Marie a écrit :" attribution and its app footers."""

from __future__ import annotations

from . import Client

CLIENT = Client(
    name="yahoo",
    history=(
        r"-*\s*en date de\s*:.{1,160}?a\s+[ée]crit\s*:",
        # Its HTML puts the attribution and the first quoted line on one line.
        r"(?=.*\d)(le|on)\s.{4,200}?\s(a\s+[ée]crit|wrote)\s*:\s.+",
    ),
    footer=(r"(envoyé|sent) (depuis|de|from) (l'application )?yahoo ?mail( pour| on| for)? ?(android|iphone|ios)?\S*",),
)
