"""Matching a question to a knowledge-base entry, or abstaining.

The ``Matcher`` interface is what the core uses: ``match(text, subject)``
returns the best entry's slug (or None when no entry fits), a confidence in
[0, 1] and the next candidates.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .knowledge import Entry


@dataclass(frozen=True)
class Candidate:
    slug: str
    confidence: float


@dataclass(frozen=True)
class Match:
    """The matcher's answer: ``slug`` is None when it abstains."""

    slug: str | None
    confidence: float
    candidates: tuple[Candidate, ...] = ()
    language: str = "fr"
    others: tuple[str, ...] = field(default=())


def fold(text: str) -> str:
    """Lowercase without accents."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


class Matcher:
    """A simple fuzzy matcher over each entry's title, example questions and keywords."""

    def __init__(self, entries: list[Entry], threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._choices: list[str] = []
        self._slugs: list[str] = []
        for entry in entries:
            for phrase in (entry.title, *entry.questions, *entry.keywords):
                self._choices.append(fold(phrase))
                self._slugs.append(entry.slug)

    def match(self, text: str, subject: str = "") -> Match:
        """Best entry for this message, with confidence and up to 5 candidates."""
        query = fold(f"{subject} {text}")[:2000]
        best: dict[str, float] = {}
        for _, score, index in process.extract(query, self._choices, scorer=fuzz.token_set_ratio, limit=30):
            slug = self._slugs[index]
            best[slug] = max(best.get(slug, 0.0), score / 100)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:5]
        candidates = tuple(Candidate(slug, round(score, 3)) for slug, score in ranked)
        if not ranked or ranked[0][1] < self.threshold:
            return Match(None, ranked[0][1] if ranked else 0.0, candidates)
        return Match(ranked[0][0], round(ranked[0][1], 3), candidates)
