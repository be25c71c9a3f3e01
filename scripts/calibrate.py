"""Fit the matcher's blend weights and confidence curve on a labelled question set.

Usage: python scripts/calibrate.py tests/data/questions.jsonl

Prints the BLEND and CALIBRATION constants to paste into bot/matching/__init__.py. Fit on our
own questions (tests/data/), never on the evaluation set, which stays for measuring.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

import bot.matching as matching
from bot.config import load
from bot.matching.evaluate import read_jsonl
from bot.service import Core


def rows_features(matcher: matching.Matcher, rows: list[dict]) -> list[tuple[list[matching.Features], str | None]]:
    return [(matcher.features(r["text"], r.get("subject") or ""), r.get("expected")) for r in rows]


def ranking_hits(data: list[tuple[list[matching.Features], str | None]]) -> int:
    hits = 0
    for feats, expected in data:
        if not feats:
            hits += expected is None
            continue
        top = max(feats, key=lambda f: f.score)
        hits += (top.key == expected) or (expected is None and top.key.startswith(matching.OUT_OF_SCOPE))
    return hits


def samples(data: list[tuple[list[matching.Features], str | None]]) -> list[tuple[list[float], int]]:
    out = []
    for feats, expected in data:
        ranked = sorted(feats, key=lambda f: -f.score)
        if not ranked or ranked[0].key.startswith(matching.OUT_OF_SCOPE):
            continue
        runner = ranked[1].score if len(ranked) > 1 else 0.0
        top = ranked[0]
        out.append(([1.0, top.score, top.score - runner, top.coverage], int(top.key == expected)))
    return out


def fit(data: list[tuple[list[float], int]], l2: float = 0.1, steps: int = 50) -> list[float]:
    """L2-regularised logistic regression by Newton's method (a few features, a few hundred rows)."""
    x = np.array([row for row, _ in data])
    y = np.array([label for _, label in data], dtype=float)
    weights = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ weights))
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
        weights -= np.linalg.solve(hessian, gradient)
    return [float(w) for w in weights]


def main(path: str) -> None:
    core = Core.build(load())
    rows = read_jsonl(path)
    best = None
    for lexical, similarity in itertools.product([0.4, 0.5, 0.55, 0.6, 0.7], [0.1, 0.2, 0.25, 0.3, 0.4]):
        coverage = round(1 - lexical - similarity, 2)
        if coverage < 0:
            continue
        matching.BLEND.update(lexical=lexical, similarity=similarity, coverage=coverage)
        hits = ranking_hits(rows_features(core.matcher, rows))
        if best is None or hits > best[0]:
            best = (hits, dict(matching.BLEND))
    assert best is not None
    matching.BLEND.update(best[1])
    weights = fit(samples(rows_features(core.matcher, rows)))
    print(f"ranking: {best[0]}/{len(rows)} right")
    print(f"BLEND = {best[1]}")
    print(f"CALIBRATION = ({', '.join(f'{w:.2f}' for w in weights)})")


if __name__ == "__main__":
    main(sys.argv[1])
