"""Learned words: what the messages staff labelled say that no curated text does.

The words and pairs of adjacent words of labelled messages that no curated text has (a scheme the
base does not name, "Pass'Monde"; a local partner; the vocabulary of a new kind of request) are
kept apart from the index and never used to correct typos. One counts for a key once two of its
messages use it, and more of them than of any other key's: one message's "Amérique" says nothing
about the next one's. Dates are never learned (``dated``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..knowledge import Entry, OutOfScope
from .index import Index
from .prepare import Synonyms, pairs, stem, tokens

LEARNED_WORD_SUPPORT = 2
# What the words of a labelled message are read from: more than the semantic side reads (a scheme's
# name may come after the greeting and the presentation), not a whole mail and its signature.
LEARNED_CHARS = 1000
# Dates recur with the season, not with the topic: two requests to publish an October event made
# "octobre" a word of the events calendar, and the next newsletter naming October a draft from it.
_TIMES = ("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre lundi mardi "
          "mercredi jeudi vendredi samedi dimanche january february march april june july august september "
          "october november december monday tuesday wednesday thursday friday saturday sunday enero febrero "
          "marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre lunes martes miercoles "
          "jueves viernes sabado domingo janeiro fevereiro marco maio junho julho setembro outubro novembro "
          "dezembro segunda terca quarta quinta sexta gennaio febbraio aprile maggio giugno luglio settembre "
          "ottobre dicembre lunedi martedi mercoledi giovedi venerdi sabato domenica")
TIME_WORDS = frozenset(tokens(_TIMES))


def dated(word: str) -> bool:
    """True for a month, a weekday or a number (``word`` stemmed or not)."""
    return any(c.isdigit() for c in word) or word in TIME_WORDS or stem(word) in TIME_WORDS


def curated_pairs(entries: Iterable[Entry], families: Iterable[OutOfScope]) -> frozenset[str]:
    """Every two adjacent words of the curated texts, as ``prepare.pairs`` writes them."""
    return frozenset(pair for text in _curated_texts(entries, families) for pair in pairs(text))


def _curated_texts(entries: Iterable[Entry], families: Iterable[OutOfScope]) -> Iterable[str]:
    for entry in entries:
        yield from (entry.title, *entry.questions, " ".join(entry.keywords), entry.answer)
    for family in families:
        yield from (*family.questions, " ".join(family.keywords))


def new_words(index: Index, curated: frozenset[str] | None, text: str, synonyms: Synonyms,
              words: list[str] | None = None) -> frozenset[str]:
    """The words of ``text`` (``words``: its tokens, when known) no curated text has (nor a typo of
    one), and its pairs of adjacent words none has together (``curated``: see ``curated_pairs``)."""
    curated = curated or frozenset()
    return frozenset({w for w in (tokens(text, synonyms) if words is None else words)
                      if not dated(w) and index.correct(w) is None}
                     | {pair for pair in pairs(text, dated) if pair not in curated and pair not in index.idf})


def backed_words(owners: Iterable[int], prepared: Iterable[frozenset[str]]) -> dict[str, frozenset[int]]:
    """Each learned word (``prepared``: the new words of each labelled message, ``owners``: the key
    each message is labelled with) -> the keys enough of their messages back; words none backs left out."""
    seen: dict[str, Counter[int]] = {}
    for owner, new in zip(owners, prepared, strict=True):
        for word in new:
            seen.setdefault(word, Counter())[owner] += 1
    backed = {word: {k for k, n in counts.items() if n >= LEARNED_WORD_SUPPORT and 2 * n > counts.total()}
              for word, counts in seen.items()}
    return {word: frozenset(keys) for word, keys in backed.items() if keys}
