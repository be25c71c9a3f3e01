"""Matching a message to a knowledge-base entry, or abstaining when none fits.

One flow: evidence → features → calibrated confidence.

- **lexical**: the text is prepared (folding, abbreviations, synonyms, stop words, stemming,
  typo correction) and entries are ranked with BM25F over their title, keywords, example
  questions and answer, with fuzzy similarity to the example questions (``index.py``); and how
  commercial the wording is (a price by the unit, a commission, an order: ``commerce.py``), which
  weighs on the out-of-scope families;
- **semantic**: a sentence embedder (``embed.py``, multilingual-e5-small by default) gives the
  cosine to each entry's texts and a classifier's probability (``semantic.py``), the classifier
  refitted in a worker thread with the learned messages as extra training points;
- **learned**: messages staff labelled (a draft sent as drafted, another entry chosen, "Ignorer")
  are remembered: the words and pairs of words they share that no curated text has (a scheme the
  base does not name, a local partner, a sender's name: ``learned_words.py``), and their vectors
  (a message sent again), weighted by the calibration below the curated questions;
- ``confidence.py`` turns the features of every key into one probability per key.

Out-of-scope families (thanks, invoices, newsletters, job applications…) from
``knowledge/hors-champ.yaml`` are keys like entries: when they win, the matcher abstains.

``Matcher.match`` may run in a worker thread while ``learn``, ``forget`` or ``set_entries``
run on another: those build a new immutable state and swap it in one assignment. The classifier's
refit follows them in a worker thread of its own (``settle`` waits for it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..config import MatcherConfig
from ..errors import EmbedderUnavailable
from ..knowledge import Entry, OutOfScope, read_out_of_scope, read_synonyms
from . import confidence
from .asks import asking, asks
from .commerce import commercial
from .embed import Embedder, RecentVectors, Vectors, load_embedder
from .index import Document, Index
from .learned_words import LEARNED_CHARS, backed_words, curated_pairs, new_words
from .prepare import Synonyms, detect_language, split_questions, tokens
from .semantic import Memory, Semantic, entry_texts, family_texts, refit
from .semantic import build as build_semantic
from .values import OUT_OF_SCOPE, Candidate, Evidence, Floats, Learned, Match
from .vectors import SHIPPED, VectorCache

__all__ = ["Candidate", "Evidence", "Learned", "Match", "Matcher", "cache_dir", "load_synonyms"]

log = logging.getLogger("guichet.matching")
# The default of ``matcher.threshold``, kept in one place (bot/config.py says why).
THRESHOLD = MatcherConfig.threshold
# Where the messages staff marked "Ignorer" go: one more out-of-scope family.
LEARNED_OUT_OF_SCOPE = "~appris"
MAX_CHARS = 4000
LEXICAL_HALF = 12.0
MAX_OTHER_QUESTIONS = 4
_RECENT_QUERIES = 512
# What the semantic layer reads of a message: its start, which says what it is about, and what a
# longer one asks further on (``asks.asking``), each up to 300 characters. The cost grows with the
# length (about 1 ms a token on one core here): 300 characters rather than 600 changed no answer.
EMBED_CHARS = 300
CACHE_FOLDER = "guichet-cache"

@dataclass(frozen=True)
class _State:
    """Everything ``match`` reads, never modified: updates build a new one."""

    entries: tuple[Entry, ...]
    families: tuple[OutOfScope, ...]
    keys: tuple[str, ...]
    index: Index
    semantic: Semantic | None
    learned: tuple[Learned, ...]
    learned_words: dict[str, frozenset[int]]  # a word or pair no curated text has -> keys its labelled messages back
    out_of_scope: npt.NDArray[np.bool_]
    # Every two adjacent words of the curated texts, as ``prepare.pairs`` writes them; computed when
    # something is first learned (a base of 5,000 entries and no staff decision yet need none).
    pairs: frozenset[str] | None = None


def cache_dir(configured: str, database: str) -> Path | None:
    """Where the vectors and the classifier are kept: ``matcher.cache_dir``, else a folder beside
    the database (none for an in-memory database)."""
    if configured:
        return Path(configured)
    if database == ":memory:":
        return None
    return Path(database).resolve().parent / CACHE_FOLDER


def load_synonyms(directory: str | Path) -> Synonyms:
    """The curated synonyms beside the entries (``synonyms.yaml``), validated."""
    return Synonyms(read_synonyms(directory))


class Matcher:
    """Ranks knowledge entries for a message; built once, then ``match`` per message.

    ``embedder`` None runs the lexical matcher alone (``semantic_problem`` then says why, when
    one was wanted). ``cache_dir`` keeps the vectors and the classifier across restarts; None
    keeps what had to be computed in memory (``guichet ask`` writes no file).
    """

    def __init__(self, entries: list[Entry], threshold: float = THRESHOLD, synonyms: Synonyms | None = None,
                 out_of_scope: list[OutOfScope] | None = None, *, embedder: Embedder | None = None,
                 cache_dir: Path | None = None, shipped: Path | None = SHIPPED, semantic_problem: str = "") -> None:
        self.threshold = threshold
        self.synonyms = synonyms or Synonyms()
        self.embedder = embedder
        self.semantic_problem = semantic_problem
        self._cache = VectorCache(embedder, cache_dir, shipped) if embedder is not None else None
        self._cache_dir = cache_dir
        self._shipped = shipped
        self._recent = RecentVectors(embedder, _RECENT_QUERIES) if embedder is not None else None
        self._write = threading.Lock()
        self._prepared: dict[str, frozenset[str]] = {}
        self._refit_due = False
        self._refitting = False
        self._refitted = threading.Condition()
        self._state = self._build(tuple(entries), tuple(out_of_scope or ()), ())
        self.save()

    @classmethod
    def from_directory(cls, entries: list[Entry], directory: str | Path, threshold: float = THRESHOLD, *,
                       embedder: str = "none", cache_dir: Path | None = None) -> Matcher:
        """A matcher with the synonyms and out-of-scope families that sit beside the entries, and the
        embedder named ``embedder`` (``matcher.embedder``); when it cannot load, the lexical matcher alone."""
        loaded, problem = None, ""
        try:
            loaded = load_embedder(embedder)
        except EmbedderUnavailable as exc:
            problem = str(exc)
        return cls(entries, threshold, load_synonyms(directory), read_out_of_scope(directory), embedder=loaded,
                   cache_dir=cache_dir, semantic_problem=problem)

    @property
    def semantic(self) -> bool:
        """True when the semantic layer runs (an embedder loaded)."""
        return self.embedder is not None

    @property
    def embedded(self) -> int:
        """How many knowledge texts this matcher had to embed (the others came from a cache)."""
        return self._cache.embedded if self._cache is not None else 0

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self._state.entries

    @property
    def learned(self) -> tuple[Learned, ...]:
        return self._state.learned

    def _build(self, entries: tuple[Entry, ...], families: tuple[OutOfScope, ...],
               learned: tuple[Learned, ...]) -> _State:
        keys = (*(e.slug for e in entries), *(f"{OUT_OF_SCOPE}{f.id}" for f in families), LEARNED_OUT_OF_SCOPE)
        docs = [self._document(e.slug, e.title, e.questions, e.keywords, e.answer) for e in entries]
        docs += [self._document(f"{OUT_OF_SCOPE}{f.id}", "", f.questions, f.keywords, "") for f in families]
        docs.append(self._document(LEARNED_OUT_OF_SCOPE, "", (), (), ""))
        index = Index(docs)
        semantic = None
        if self._cache is not None:
            texts = [*map(entry_texts, entries), *map(family_texts, families), []]
            semantic = build_semantic(keys, texts, self._cache, self._cache_dir, self._shipped)
        state = _State(entries, families, keys, index, semantic, (), {},
                       np.array([k.startswith(OUT_OF_SCOPE) for k in keys]))
        self._prepared = {}  # a message's new words are new against this base: read them again
        return self._with_learned(state, learned)

    def _with_learned(self, state: _State, learned: tuple[Learned, ...]) -> _State:
        """``state`` with these learned messages (those of entries no longer in the base are dropped)."""
        number = {k: i for i, k in enumerate(state.keys)}
        kept = [x for x in learned if (x.slug or LEARNED_OUT_OF_SCOPE) in number]
        owners = np.array([number[x.slug or LEARNED_OUT_OF_SCOPE] for x in kept], dtype=np.int64)
        if kept and state.pairs is None:
            state = replace(state, pairs=curated_pairs(state.entries, state.families))
        # Each labelled message's words are prepared once: every update goes through all of them again.
        prepared = [self._prepared[x.text] if x.text in self._prepared
                    else new_words(state.index, state.pairs, x.text[:LEARNED_CHARS], self.synonyms) for x in kept]
        self._prepared = dict(zip((x.text for x in kept), prepared, strict=True))
        semantic = state.semantic
        if semantic is not None:
            missing = [x.text[:EMBED_CHARS] for x in kept if x.vector is None]
            fresh = iter(self._vectors(missing)) if missing else iter(())
            kept = [x if x.vector is not None else replace(x, vector=next(fresh)) for x in kept]
            rows = np.stack([x.vector for x in kept if x.vector is not None]) if kept else None
            memory = Memory.empty(semantic.curated.rows.shape[1])
            semantic = replace(semantic, learned=memory.plus(rows, owners) if rows is not None else memory)
            # A message let go (erased, removed, relabelled) must stop counting at once: back to the
            # curated classifier until the refit. One more keeps the classifier it has meanwhile.
            still = {(x.id, x.slug, x.text) for x in kept}
            if any((x.id, x.slug, x.text) not in still for x in state.learned):
                semantic = semantic.with_classifier(semantic.base, state.keys)
        return replace(state, semantic=semantic, learned=tuple(kept),
                       learned_words=backed_words(owners.tolist(), prepared))

    def _document(self, key: str, title: str, questions: tuple[str, ...], keywords: tuple[str, ...],
                  answer: str) -> Document:
        prepared = [tokens(q, self.synonyms) for q in questions]
        return Document(
            key=key,
            # The answer is indexed as written: synonyms serve to bridge how people ask, which the
            # title, keywords and example questions describe.
            fields={"title": tokens(title, self.synonyms), "keywords": tokens(" ".join(keywords), self.synonyms),
                    "questions": [t for q in prepared for t in q], "answer": tokens(answer)},
            questions=tuple(" ".join(q) for q in prepared),
        )

    def save(self) -> None:
        """Keep new vectors in the cache folder (nothing to do without one)."""
        if self._cache is not None:
            self._cache.save()

    def vector(self, text: str) -> Vectors | None:
        """The vector the semantic layer gives a message's text (None without an embedder)."""
        return self._vectors([text[:EMBED_CHARS]])[0] if self.embedder is not None else None

    def learn(self, example: Learned) -> None:
        """Remember a labelled message (replacing an earlier label with the same id)."""
        if example.vector is None and self.embedder is not None:
            example = replace(example, vector=self.vector(example.text))
        with self._write:
            state = self._state
            kept = tuple(x for x in state.learned if example.id is None or x.id != example.id)
            self._state = self._with_learned(state, (*kept, example))
        self._refit_later()

    def forget(self, ids: Iterable[int]) -> None:
        """Drop the learned messages with these ids (erased, or removed by staff)."""
        gone = set(ids)
        with self._write:
            state = self._state
            if not any(x.id in gone for x in state.learned):
                return
            self._state = self._with_learned(state, tuple(x for x in state.learned if x.id not in gone))
        self._refit_later()

    def set_learned(self, examples: Sequence[Learned]) -> None:
        """Replace every learned message (at start, from the database)."""
        with self._write:
            self._state = self._with_learned(self._state, tuple(examples))
        self._refit_later()

    def set_entries(self, entries: Sequence[Entry]) -> None:
        """Index exactly these entries from now on (some edited, added or removed): only texts the
        cache lacks are embedded; learned messages of an entry no longer there are let go."""
        with self._write:
            state = self._state
            self._state = self._build(tuple(entries), state.families, state.learned)
        self.save()
        self._refit_later()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the classifier is refitted with every learned message (False on timeout)."""
        with self._refitted:
            return self._refitted.wait_for(lambda: not self._refitting, timeout)

    def _refit_later(self) -> None:
        # About 0.15 s of numpy with a year of decisions (bench/match.py): in a worker thread, so that storing
        # a decision never waits for it; updates that come meanwhile are taken in by one more refit.
        if self._state.semantic is None:
            return
        with self._refitted:
            self._refit_due = True
            if self._refitting:
                return
            self._refitting = True
        threading.Thread(target=self._refit, name="guichet-refit", daemon=True).start()

    def _due(self) -> bool:
        with self._refitted:
            due, self._refit_due = self._refit_due, False
            if not due:
                self._refitting = False
                self._refitted.notify_all()
            return due

    def _refit(self) -> None:
        try:
            while self._due():
                state = self._state
                assert state.semantic is not None
                classifier = refit(state.semantic, state.keys)
                with self._write:
                    now = self._state
                    if (now.semantic is not None and now.learned is state.learned
                            and now.semantic.curated is state.semantic.curated):
                        self._state = replace(now, semantic=now.semantic.with_classifier(classifier, now.keys))
        except Exception:
            log.exception("could not refit the classifier with the learned messages")
            with self._refitted:
                self._refitting = False
                self._refitted.notify_all()

    def _vectors(self, texts: list[str]) -> Vectors:
        """Vectors of messages, the recent ones remembered."""
        assert self._recent is not None
        return self._recent.vectors(texts)

    def evidence(self, text: str, subject: str = "", channel: str | None = None) -> Evidence:
        """The features of every key for one message (for matching, calibration and evaluation)."""
        return self._evidence(self._state, [(text, subject)], channel)[0]

    def _evidence(self, state: _State, messages: list[tuple[str, str]], channel: str | None,
                  words_only: bool = False) -> list[Evidence]:
        semantic = None if words_only else state.semantic
        vectors, asked = None, []
        if semantic is not None:
            # Every start and every later request in one call to the model.
            starts = [f"{subject}\n{text}".strip()[:EMBED_CHARS] for text, subject in messages]
            parts = [asking(subject, text, EMBED_CHARS, EMBED_CHARS) for text, subject in messages]
            embedded = self._vectors([*starts, *filter(None, parts)])
            vectors, later = embedded[:len(starts)], iter(embedded[len(starts):])
            asked = [next(later) if p else None for p in parts]
        out = []
        for number, (text, subject) in enumerate(messages):
            chat = channel == "telegram" if channel else not subject
            x = np.zeros((len(state.keys), len(confidence.FEATURES)))
            written = f"{subject}\n{text}"[:MAX_CHARS]
            words = tokens(written, self.synonyms)
            query = [fixed for fixed in map(state.index.correct, words) if fixed]
            unknown = len(words) - len(query)  # words no entry knows: a message about something else
            joined = " ".join(query)
            for doc, score in state.index.score(query):
                x[doc, 0] = score / (score + LEXICAL_HALF)
                x[doc, 1] = state.index.best_question_similarity(doc, joined)
                x[doc, 2] = state.index.coverage(doc, query, unknown)
                x[doc, 3] = 1.0
            blend = 0.7 * x[:, 0] + 0.3 * x[:, 1]
            x[:, 4] = blend - confidence.best_other(blend)
            novel = (new_words(state.index, state.pairs, written, self.synonyms, words) if state.learned_words
                     else frozenset())
            for word in novel:
                for owner in state.learned_words.get(word, ()):
                    x[owner, 8] += 1 / len(novel)
                    x[owner, 11] = min(1.0, x[owner, 11] + 0.5)
            if semantic is not None and vectors is not None:
                curated, remembered, probability = semantic.evidence(vectors[number], len(state.keys), asked[number])
                x[:, 5] = curated - curated.max()
                x[:, 6] = np.log(probability + 1e-4)
                x[:, 12] = np.clip(x[:, 6] - confidence.best_other(x[:, 6]), -3.0, 3.0) / 3.0
                x[:, 7] = confidence.near_evidence(remembered)
            x[:, 9] = state.out_of_scope
            x[:, 10] = state.out_of_scope * chat
            x[:, 13] = state.out_of_scope * commercial(written)
            x[:, 14] = state.out_of_scope * (not asks(written))
            out.append(Evidence(state.keys, x, state.out_of_scope))
        return out

    def _weights(self, state: _State) -> tuple[float, ...]:
        return confidence.WEIGHTS["semantic" if state.semantic is not None else "lexical"]

    def probabilities(self, evidence: Evidence) -> Floats:
        """The calibrated probability of each key of ``evidence``."""
        return confidence.probabilities(evidence.features, self._weights(self._state))

    def match(self, text: str, subject: str = "", channel: str | None = None) -> Match:
        """Best entry for a message (subject included), its confidence, and up to 5 candidates.

        ``channel`` ("email" or "telegram") picks the calibration; without it, a message with a
        subject is taken for an e-mail.
        """
        state = self._state  # one read: a concurrent update swaps the state, never changes it
        language = detect_language(f"{subject}\n{text}")
        if not f"{subject}{text}".strip():
            return Match(None, 0.0, (), language)
        questions = split_questions(text)
        questions = questions[:MAX_OTHER_QUESTIONS] if len(questions) > 1 else []
        weights = self._weights(state)
        p = confidence.probabilities(self._evidence(state, [(text, subject)], channel)[0].features, weights)
        entries = np.flatnonzero(~state.out_of_scope)
        order = entries[np.argsort(-p[entries], kind="stable")][:5]
        candidates = tuple(Candidate(state.keys[i], round(float(p[i]), 3)) for i in order)
        best = candidates[0]
        abstain = p[state.out_of_scope].sum() > best.confidence or best.confidence < self.threshold
        others = self._other_questions(state, questions, channel, best.slug)
        return Match(None if abstain else best.slug, best.confidence, candidates, language, others)

    def _other_questions(self, state: _State, questions: list[str], channel: str | None,
                         primary: str) -> tuple[str, ...]:
        # Hints for staff, found from words alone: embedding each sentence again would double the
        # time of the long mails that ask several things.
        seen: dict[str, str] = {}
        weights = confidence.WEIGHTS["lexical"]
        found = self._evidence(state, [(q, "") for q in questions], channel, words_only=True)
        for question, evidence in zip(questions, found, strict=True):
            p = confidence.probabilities(evidence.features, weights)
            top = int(np.argmax(p))
            key = state.keys[top]
            if state.out_of_scope[top] or key == primary or p[top] < self.threshold:
                continue
            seen.setdefault(key, question)
        return tuple(f"{slug} : {question}" for slug, question in seen.items())
