"""A small BM25F index over knowledge entries, built once at start."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
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
        self.terms: list[frozenset[str]] = []
        term_ids: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[float] = []
        lengths: list[float] = []
        for number, doc in enumerate(documents):
            weighted: dict[str, float] = defaultdict(float)
            for name, toks in doc.fields.items():
                weight = FIELD_WEIGHTS[name]
                for tok, count in Counter(toks).items():
                    weighted[tok] += weight * count
            lengths.append(sum(weighted.values()))
            # Coverage counts what the entry is about, not every scheme its answer mentions in passing.
            self.terms.append(frozenset().union(*(toks for name, toks in doc.fields.items() if name != "answer")))
            for tok in weighted:
                if tok not in term_ids:
                    term_ids[tok] = len(term_ids)
            rows.extend(map(term_ids.__getitem__, weighted))
            cols.extend([number] * len(weighted))
            tfs.extend(weighted.values())
        # Postings as one sorted array per column (CSR): each word's documents and its saturated
        # BM25F weight in each are computed once here; a query only adds slices.
        term = np.array(rows, dtype=np.int64)
        doc_of = np.array(cols, dtype=np.int64)
        tf_of = np.array(tfs, dtype=np.float64)
        average = float(np.mean(lengths)) if lengths else 1.0
        norms = K1 * (1 - B + B * np.array(lengths, dtype=np.float64) / average)
        df = np.bincount(term, minlength=len(term_ids)).astype(np.float64)
        total = len(documents)
        idf = np.log(1 + (total - df + 0.5) / (df + 0.5))
        order = np.argsort(term, kind="stable")
        self._docs = doc_of[order]
        self._weights = (idf[term] * tf_of * (K1 + 1) / (tf_of + norms[doc_of]))[order]
        self._offsets = np.concatenate(([0], np.cumsum(df).astype(np.int64)))
        self._term_ids = term_ids
        self.idf = dict(zip(term_ids, idf.tolist(), strict=True))
        self.size = total
        self.vocabulary = sorted(term_ids)
        self.max_idf = max(self.idf.values(), default=1.0)
        self._corrections: dict[str, str | None] = {}

    def correct(self, token: str) -> str | None:
        """The known word closest to an unknown one (typos), or None."""
        if token in self._term_ids:
            return token
        if len(token) < 5 or token.isdigit():
            return None
        if token not in self._corrections:
            found = process.extractOne(token, self.vocabulary, scorer=fuzz.ratio, score_cutoff=84)
            self._corrections[token] = found[0] if found else None
        return self._corrections[token]

    def score(self, query: list[str], top: int = 12) -> list[tuple[int, float]]:
        """The ``top`` documents by BM25F score for ``query``, best first (only those sharing a word)."""
        scores = np.zeros(self.size)
        for tok, count in Counter(query).items():
            term = self._term_ids.get(tok)
            if term is not None:
                start, end = self._offsets[term], self._offsets[term + 1]
                scores[self._docs[start:end]] += self._weights[start:end] * (1 + 0.3 * (count - 1))
        hits = np.flatnonzero(scores)
        if len(hits) > top:
            hits = hits[np.argpartition(-scores[hits], top)[:top]]
        return sorted(((int(d), float(scores[d])) for d in hits), key=lambda kv: -kv[1])

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
