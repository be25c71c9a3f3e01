"""Whether a message asks anything: a question, a request, a wish.

Requesters ask ("pouvez-vous…", "je voudrais…", "how can we…?"); what lands in the mailbox without
being a request announces (another collective's newsletter and its events, an invitation, a call
forwarded as text, an out-of-office reply). On our labelled files, 1 in-scope message in 828 carries
none of these cues, and 156 out-of-scope ones in 352. A message that asks nothing is one feature
the calibration weighs on the out-of-scope families: it tips an announcement that uses the words of
an entry (an event, a call for projects) toward abstaining.

A long mail often says who writes and why before it asks: ``asking`` gives the semantic layer what
it asks further on.
"""

from __future__ import annotations

import re

from .prepare import fold

# Written on folded text (lowercase, no accents): a question mark, or a verb of asking or wishing
# in the first person or addressed to the network, in French, English, Spanish, Portuguese, Italian.
CUES = re.compile(
    r"[?¿]|(?:^|[\n.!,;:]\s*)(?:comment|combien|quand|quel\w*|ou\s+(?:trouver|s'adresser|s'inscrire)|how|where|when|what"
    r"|como|donde|cuando|dove|quando)\b"
    r"|\b(?:pouv(?:ez|ons)|pourri(?:ez|ons)|peut-on|puis-je|est-ce\s+que|merci\s+de|svp|stp|s'il\s+(?:vous|te)\s+plait"
    r"|(?:je|j'|nous|on)\s*(?:voudr|souhait|aimer|cherch|demand|sollicit|veu[xt]|voul)\w*|j'aimerai\w*"
    r"|je\s+vous\s+(?:prie|serais|demande)|besoin\s+d|cherche\s+(?:une|un|des)\b"
    r"|(?:souhaiter|voudr|aimer)(?:ait|aient)\b"
    r"|could|can\s+(?:you|we|i)|would\s+like|please|we\s+(?:are\s+looking|need|want)|i\s+(?:need|want|am\s+looking)"
    r"|quisiera|quisieramos|queremos|quiero|podrian|pueden|gostari\w+|queriamos|podem|vorrei|vorremmo|potete"
    r"|potreste|possiamo)")


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def asks(text: str) -> bool:
    """True when ``text`` asks something (a question mark, or a verb of asking or wishing)."""
    return CUES.search(fold(text)) is not None


def asking(subject: str, text: str, start: int, limit: int) -> str:
    """What a message asks past its first ``start`` characters: the subject and the sentences there
    that ask something, up to ``limit`` characters ("" for a shorter message, or one asking nothing there)."""
    written = f"{subject}\n{text}".strip()
    if len(written) <= start:
        return ""
    chosen = [s for s in map(str.strip, _SENTENCES.split(written[start:])) if len(s) > 12 and asks(s)]
    return f"{subject}\n{' '.join(chosen)}".strip()[:limit] if chosen else ""
