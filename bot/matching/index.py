"""A small BM25F index over knowledge entries, built once at start."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# How much a word counts by where it appears in an entry.
FIELD_WEIGHTS = {"title": 3.0, "keywords": 3.0, "questions": 2.0, "answer": 0.3}
K1 = 1.2
B = 0.6


@dataclass(frozen=True)
class Document:
    """One indexed entry: its id and its prepared fields (lists of stemmed tokens)."""

    key: str
    fields: dict[str, list[str]]
    questions: tuple[str, ...]  # each example question, prepared and joined, for fuzzy similarity


class Index:
    """Inverted index with BM25F scoring, and a vocabulary for typo correction."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        lengths: list[float] = []
        self.terms: list[frozenset[str]] = []
        for number, doc in enumerate(documents):
            weighted: Counter[str] = Counter()
            for name, toks in doc.fields.items():
                for tok in toks:
                    weighted[tok] += FIELD_WEIGHTS[name]
            lengths.append(sum(weighted.values()))
            # Coverage counts what the entry is about, not every scheme its answer mentions in passing.
            self.terms.append(frozenset(t for name, toks in doc.fields.items() if name != "answer" for t in toks))
            for tok, tf in weighted.items():
                self.postings[tok].append((number, tf))
        average = sum(lengths) / max(len(lengths), 1)
        self.norms = [K1 * (1 - B + B * length / average) for length in lengths]
        total = len(documents)
        self.idf = {tok: math.log(1 + (total - len(p) + 0.5) / (len(p) + 0.5)) for tok, p in self.postings.items()}
        self.vocabulary = sorted(self.postings)
        self.max_idf = max(self.idf.values(), default=1.0)
        self._corrections: dict[str, str | None] = {}

    def correct(self, token: str) -> str | None:
        """The known word closest to an unknown one (typos), or None."""
        if token in self.postings:
            return token
        if len(token) < 5 or token.isdigit():
            return None
        if token not in self._corrections:
            found = process.extractOne(token, self.vocabulary, scorer=fuzz.ratio, score_cutoff=84)
            self._corrections[token] = found[0] if found else None
        return self._corrections[token]

    def score(self, query: list[str]) -> dict[int, float]:
        """BM25F score of every document sharing a word with ``query``."""
        scores: dict[int, float] = defaultdict(float)
        for tok, count in Counter(query).items():
            postings = self.postings.get(tok)
            if not postings:
                continue
            idf = self.idf[tok] * (1 + 0.3 * (count - 1))
            for number, tf in postings:
                scores[number] += idf * tf * (K1 + 1) / (tf + self.norms[number])
        return scores

    def coverage(self, number: int, query: list[str], unknown: int = 0) -> float:
        """Share of the query's information (idf-weighted) found in the document, in [0, 1].

        ``unknown`` counts query words no entry knows: a message mostly about
        something else (an invoice, a visa) explains little through any entry.
        """
        terms = self.terms[number]
        total = self.max_idf * unknown
        found = 0.0
        for tok in set(query):
            weight = self.idf.get(tok, self.max_idf)
            total += weight
            found += weight if tok in terms else 0.0
        return found / total if total else 0.0

    def best_question_similarity(self, number: int, query: str) -> float:
        """How close ``query`` is to the entry's nearest example question, in [0, 1]."""
        questions = self.documents[number].questions
        if not questions or not query:
            return 0.0
        # token_set_ratio alone says 100 when a one-word query is inside a question; averaging with
        # token_sort_ratio makes a short query earn less than a full paraphrase.
        found = process.extractOne(query, questions, scorer=_similarity)
        return float(found[1]) / 100 if found else 0.0


def _similarity(a: str, b: str, **kwargs: object) -> float:
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2
