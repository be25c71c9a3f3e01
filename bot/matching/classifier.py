"""A softmax classifier over sentence vectors: which entry (or out-of-scope family) a text is about.

Trained on the curated texts (titles, example questions, keywords of the entries and of the
out-of-scope families) by plain gradient descent in numpy: a few hundred rows and 384 columns
need no library. e5 vectors all point roughly the same way (cosines between unrelated French
sentences are near 0.8), so they are centred on the training mean before the fit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embed import Vectors
from .vectors import write_npz

SCALE = 10.0  # inputs are unit vectors; scaled so that a weight step moves the logits usefully
L2 = 1e-3
STEPS = 120
RATE = 2.0
MOMENTUM = 0.9


@dataclass(frozen=True)
class Classifier:
    """Class probabilities for a vector; ``classes`` name the columns."""

    classes: tuple[str, ...]
    mean: Vectors
    weights: Vectors
    bias: Vectors

    def probabilities(self, vectors: Vectors) -> Vectors:
        """One row of class probabilities per vector (rows sum to 1)."""
        logits: Vectors = _centred(vectors, self.mean) @ self.weights + self.bias
        exp: Vectors = np.exp(logits - logits.max(axis=-1, keepdims=True))
        out: Vectors = exp / exp.sum(axis=-1, keepdims=True)
        return out


def _centred(vectors: Vectors, mean: Vectors) -> Vectors:
    centred: Vectors = (vectors - mean).astype(np.float32)
    norms: Vectors = np.linalg.norm(centred, axis=-1, keepdims=True)
    out: Vectors = (centred / np.maximum(norms, 1e-6) * SCALE).astype(np.float32)
    return out


def fingerprint(vectors: Vectors, labels: list[str]) -> str:
    """What a fitted classifier depends on: its training vectors, labels and settings."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    digest.update("\n".join(labels).encode("utf-8"))
    digest.update(repr((SCALE, L2, STEPS, RATE, MOMENTUM)).encode())
    return digest.hexdigest()


def fit(vectors: Vectors, labels: list[str], weights: Vectors | None = None,
        mean: Vectors | None = None) -> Classifier:
    """L2-regularised multinomial logistic regression (Nesterov momentum, full batch).

    ``weights``: how much each row counts (all 1 by default); ``mean``: the centre of the vectors,
    when it is to stay the one of another fit (the curated texts') rather than of these rows.
    """
    classes = tuple(sorted(set(labels)))
    column = {c: i for i, c in enumerate(classes)}
    mean = vectors.mean(axis=0).astype(np.float32) if mean is None else mean
    x = _centred(vectors, mean)
    n, dim = x.shape
    share = np.ones(n, dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
    share = (share / share.sum())[:, None]
    target = np.zeros((n, len(classes)), dtype=np.float32)
    target[np.arange(n), [column[label] for label in labels]] = 1.0
    w = np.zeros((dim, len(classes)), dtype=np.float32)
    bias = np.zeros(len(classes), dtype=np.float32)
    step_w, step_b = np.zeros_like(w), np.zeros_like(bias)
    for _ in range(STEPS):
        ahead_w, ahead_b = w + MOMENTUM * step_w, bias + MOMENTUM * step_b
        logits = x @ ahead_w + ahead_b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - target) * share
        step_w = MOMENTUM * step_w - RATE * (x.T @ error + L2 * ahead_w)
        step_b = MOMENTUM * step_b - RATE * error.sum(axis=0)
        w += step_w
        bias += step_b
    return Classifier(classes, mean, w, bias)


def load(path: Path, key: str) -> Classifier | None:
    """The classifier saved at ``path`` if it was fitted on exactly the same data (``key``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return Classifier(tuple(str(c) for c in data["classes"]), data["mean"], data["weights"], data["bias"])
    except (OSError, KeyError, ValueError):
        return None


def save(path: Path, key: str, classifier: Classifier) -> None:
    """Write the classifier beside the vector cache."""
    write_npz(path, key=np.array(key), classes=np.array(classifier.classes), mean=classifier.mean,
              weights=classifier.weights, bias=classifier.bias)
