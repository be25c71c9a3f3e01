"""Matching a question to a knowledge-base entry, or abstaining when none fits.

``Matcher.match(text, subject)`` prepares the text (folding, abbreviations,
synonyms, stop words, stemming, typo correction), ranks entries with BM25F
over their title, keywords, example questions and answer, blends in fuzzy
similarity to the example questions, and turns the result into a confidence
in [0, 1]. Out-of-scope families (thanks, invoices, job applications…) are
indexed from ``knowledge/hors-champ.yaml`` like entries: when one of them wins,
the matcher abstains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..knowledge import Entry, OutOfScope, read_out_of_scope, read_synonyms
from .index import Document, Index
from .prepare import Synonyms, detect_language, split_questions, tokens

OUT_OF_SCOPE = "~"
MAX_CHARS = 4000
LEXICAL_HALF = 12.0
# How the evidence is blended into one ranking score.
BLEND = {"lexical": 0.7, "similarity": 0.3, "coverage": 0.0}
# Logistic calibration of the confidence: intercept, then weights for the blended score, the lead
# over the runner-up and the coverage. Fitted by scripts/calibrate.py on tests/data/questions.jsonl
# (our own questions, not the evaluation set); see the README.
CALIBRATION = (-3.55, 8.27, 2.16, 1.11)


@dataclass(frozen=True)
class Features:
    """Evidence for one candidate entry."""

    key: str
    lexical: float
    similarity: float
    coverage: float

    @property
    def score(self) -> float:
        return (BLEND["lexical"] * self.lexical + BLEND["similarity"] * self.similarity
                + BLEND["coverage"] * self.coverage)


def confidence(best: Features, runner_up: float) -> float:
    """Calibrated probability that ``best`` is the right entry."""
    b0, b_score, b_lead, b_cov = CALIBRATION
    z = b0 + b_score * best.score + b_lead * (best.score - runner_up) + b_cov * best.coverage
    return 1 / (1 + math.exp(-z))


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


def load_synonyms(directory: str | Path) -> Synonyms:
    """The curated synonyms beside the entries (``synonyms.yaml``), validated."""
    return Synonyms(read_synonyms(directory))


class Matcher:
    """Ranks knowledge entries for a message; built once, then ``match`` per message."""

    def __init__(self, entries: list[Entry], threshold: float = 0.5, synonyms: Synonyms | None = None,
                 out_of_scope: list[OutOfScope] | None = None) -> None:
        self.threshold = threshold
        self.synonyms = synonyms or Synonyms()
        docs = [self._document(e.slug, e.title, e.questions, e.keywords, e.answer) for e in entries]
        for family in out_of_scope or []:
            docs.append(self._document(f"{OUT_OF_SCOPE}{family.id}", "", family.questions, family.keywords, ""))
        self.index = Index(docs)

    @classmethod
    def from_directory(cls, entries: list[Entry], directory: str | Path, threshold: float = 0.5) -> Matcher:
        """A matcher with the synonyms and out-of-scope families that sit beside the entries."""
        return cls(entries, threshold, load_synonyms(directory), read_out_of_scope(directory))

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

    def _prepare(self, text: str) -> tuple[list[str], int]:
        """Known (or typo-corrected) query words, and how many words no entry knows."""
        known, unknown = [], 0
        for tok in tokens(text[:MAX_CHARS], self.synonyms):
            fixed = self.index.correct(tok)
            if fixed:
                known.append(fixed)
            else:
                unknown += 1
        return known, unknown

    def features(self, text: str, subject: str = "") -> list[Features]:
        """Per-candidate evidence, best first (for ranking, calibration and evaluation)."""
        query, unknown = self._prepare(f"{subject}\n{text}")
        joined = " ".join(query)
        found = []
        for number, score in self.index.score(query):
            found.append(Features(
                key=self.index.documents[number].key,
                lexical=score / (score + LEXICAL_HALF),
                similarity=self.index.best_question_similarity(number, joined),
                coverage=self.index.coverage(number, query, unknown),
            ))
        return sorted(found, key=lambda f: -f.score)

    def match(self, text: str, subject: str = "") -> Match:
        """Best entry for a message (subject included), its confidence, and up to 5 candidates."""
        language = detect_language(f"{subject}\n{text}")
        ranked = self.features(text, subject)
        real = [f for f in ranked if not f.key.startswith(OUT_OF_SCOPE)]
        if not real:
            return Match(None, 0.0, (), language)
        top = ranked[0]
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        candidates = tuple(sorted(
            (Candidate(f.key, round(confidence(f, (runner_up if f is top else top.score)), 3)) for f in real[:5]),
            key=lambda c: -c.confidence))
        best = next(f for f in real if f.key == candidates[0].slug)
        abstain = top.key.startswith(OUT_OF_SCOPE) or candidates[0].confidence < self.threshold
        others = self._other_questions(text, best.key)
        return Match(None if abstain else best.key, candidates[0].confidence, candidates, language, others)

    def _other_questions(self, text: str, primary: str) -> tuple[str, ...]:
        questions = split_questions(text)
        if len(questions) < 2:
            return ()
        found: dict[str, str] = {}
        for question in questions:
            ranked = self.features(question)
            if not ranked or ranked[0].key.startswith(OUT_OF_SCOPE) or ranked[0].key == primary:
                continue
            runner_up = ranked[1].score if len(ranked) > 1 else 0.0
            if confidence(ranked[0], runner_up) >= self.threshold:
                found.setdefault(ranked[0].key, question)
        return tuple(f"{slug} : {question}" for slug, question in found.items())
