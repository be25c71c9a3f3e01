"""The semantic evidence: how close a message's vector is to each entry's texts, and a classifier.

Every key (an entry's slug, or ``~family`` for an out-of-scope family) owns some rows: its
title, example questions and keywords (curated), and the messages staff labelled with it
(learned). A message gets, per key, the best cosine to its curated rows, the best cosine to its
learned rows, and the classifier's probability.

The classifier is fitted on the curated rows (``base``, cached on disk), then again with the learned
rows as extra training points, each weighing ``LEARNED_WEIGHT`` of a curated text (``refit``): a
situation that recurs in words the base already has moves the classifier once staff labelled it a
few times, where a single learned vector, unless it is the same message, says too little.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..knowledge import Entry, OutOfScope
from . import classifier as clf
from .embed import Vectors
from .values import OUT_OF_SCOPE
from .vectors import VectorCache

Floats = npt.NDArray[np.float64]
CLASSIFIER_FILE = "classifier.npz"
LEARNED_WEIGHT = 0.5
# Learned rows count in the refit for a class once it has this many: one labelled message moved
# the classifier enough to turn a neighbour's question into a confident draft (the learned cosine
# still answers the same message sent again).
LEARNED_SUPPORT = 2


@dataclass(frozen=True)
class Memory:
    """Vectors, each owned by one key (its number in the matcher's list of keys)."""

    rows: Vectors
    owners: npt.NDArray[np.int64]

    @classmethod
    def empty(cls, dim: int) -> Memory:
        return cls(np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.int64))

    def best(self, query: Vectors, keys: int) -> Floats:
        """Per key, the best cosine of ``query`` to its rows (-1 for a key with none)."""
        out = np.full(keys, -1.0)
        if len(self.rows):
            np.maximum.at(out, self.owners, (self.rows @ query).astype(np.float64))
        return out

    def plus(self, rows: Vectors, owners: Sequence[int] | npt.NDArray[np.int64]) -> Memory:
        return Memory(np.vstack([self.rows, rows]).astype(np.float32),
                      np.concatenate([self.owners, np.asarray(owners, dtype=np.int64)]))


@dataclass(frozen=True)
class Semantic:
    """The curated rows of every key, the learned rows, the classifier fitted on the curated ones
    (``base``) and the one in use (``classifier``: ``base``, or refitted with learned rows)."""

    curated: Memory
    learned: Memory
    base: clf.Classifier
    classifier: clf.Classifier
    columns: npt.NDArray[np.int64]  # for each key, its classifier column (-1: not a class)

    def with_classifier(self, classifier: clf.Classifier, keys: Sequence[str]) -> Semantic:
        return replace(self, classifier=classifier, columns=_columns(classifier, keys))

    def evidence(self, query: Vectors, keys: int, asking: Vectors | None = None) -> tuple[Floats, Floats, Floats]:
        """Per key: best curated cosine, best learned cosine, classifier probability.

        ``asking``: the vector of what a long message asks further on (``asks.asking``); a key then
        gets the better of the two curated cosines and the geometric mean of the two probabilities.
        """
        curated, probability = self.curated.best(query, keys), self._probabilities(query)
        if asking is not None:
            curated = np.maximum(curated, self.curated.best(asking, keys))
            probability = np.sqrt(probability * self._probabilities(asking))
        return curated, self.learned.best(query, keys), probability

    def _probabilities(self, query: Vectors) -> Floats:
        probabilities = self.classifier.probabilities(query[None, :])[0].astype(np.float64)
        per_key: Floats = np.where(self.columns >= 0, probabilities[np.maximum(self.columns, 0)], 0.0)
        return per_key


def entry_texts(entry: Entry) -> list[str]:
    """What the semantic layer reads of an entry: its title, example questions and keywords."""
    return [entry.title, *entry.questions, *([", ".join(entry.keywords)] if entry.keywords else [])]


def family_texts(family: OutOfScope) -> list[str]:
    """What it reads of an out-of-scope family: its example questions and keywords."""
    return [*family.questions, *([", ".join(family.keywords)] if family.keywords else [])]


def build(keys: Sequence[str], texts: Sequence[Sequence[str]], cache: VectorCache,
          classifier_dir: Path | None, shipped_dir: Path | None) -> Semantic:
    """Embed each key's curated texts (through the cache) and fit, or reload, the classifier."""
    owners = [number for number, own in enumerate(texts) for _ in own]
    rows = cache.vectors([t for own in texts for t in own])
    labels = [keys[o] for o in owners]
    key = clf.fingerprint(rows, labels)
    classifier = None
    for folder in (classifier_dir, shipped_dir):
        if folder is not None and classifier is None:
            classifier = clf.load(folder / f"{cache.embedder.name}.{CLASSIFIER_FILE}", key)
    if classifier is None:
        classifier = clf.fit(rows, labels)
        if classifier_dir is not None:
            clf.save(classifier_dir / f"{cache.embedder.name}.{CLASSIFIER_FILE}", key, classifier)
    return Semantic(Memory(rows, np.asarray(owners, dtype=np.int64)), Memory.empty(rows.shape[1]), classifier,
                    classifier, _columns(classifier, keys))


def refit(semantic: Semantic, keys: Sequence[str]) -> clf.Classifier:
    """The classifier fitted on the curated rows and the learned ones.

    A message staff marked "Ignorer" is taught as the out-of-scope family the curated classifier
    finds closest. Left out, the learned rows all added weight to entries and none to the families:
    out-of-scope look-alikes drifted to drafts (a student's interview request drafted as an
    appointment, ``bench/learning.py``). As a class of its own, "Ignorer" drew in-scope questions of
    the question sets, where nothing recurs. A class's learned rows count once it has
    ``LEARNED_SUPPORT`` of them. ``base`` when no learned message counts.
    """
    base = semantic.base
    families = [i for i, c in enumerate(base.classes) if c.startswith(OUT_OF_SCOPE)]
    labels = [keys[o] for o in semantic.learned.owners.tolist()]
    ignored = [n for n, label in enumerate(labels) if label not in base.classes]
    if ignored and families:
        nearest = base.probabilities(semantic.learned.rows[ignored])[:, families].argmax(axis=1)
        for n, family in zip(ignored, nearest.tolist(), strict=True):
            labels[n] = base.classes[families[family]]
    count = Counter(labels)
    kept = np.array([label in base.classes and count[label] >= LEARNED_SUPPORT for label in labels], dtype=bool)
    if not kept.any():
        return base
    rows = np.vstack([semantic.curated.rows, semantic.learned.rows[kept]])
    labels = [*(keys[o] for o in semantic.curated.owners.tolist()), *(labels[n] for n in np.flatnonzero(kept))]
    weights = np.concatenate([np.ones(len(semantic.curated.rows)),
                              np.full(int(kept.sum()), LEARNED_WEIGHT)]).astype(np.float32)
    return clf.fit(rows, labels, weights, mean=base.mean)


def _columns(classifier: clf.Classifier, keys: Sequence[str]) -> npt.NDArray[np.int64]:
    """For each key, its classifier column (-1: not a class)."""
    column = {c: i for i, c in enumerate(classifier.classes)}
    return np.array([column.get(k, -1) for k in keys], dtype=np.int64)
