"""Matcher speed: per-message latency on the shipped knowledge base and on one scaled to 5,000 entries.

Usage: python bench/match.py  (no arguments; the last line is a JSON object of the figures)
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import knowledge  # noqa: E402
from bot.matching import Matcher, load_synonyms, prepare  # noqa: E402
from bot.matching.evaluate import read_jsonl  # noqa: E402

KB = ROOT / "knowledge"


def questions() -> list[tuple[str, str]]:
    rows = read_jsonl(ROOT / "tests" / "data" / "questions.jsonl")
    dev = ROOT.parent / "shared" / "eval" / "dev.jsonl"
    if dev.exists():
        rows += read_jsonl(dev)
    return [(r["text"], r.get("subject") or "") for r in rows]


def scaled(entries: list[knowledge.Entry], size: int, seed: int = 7) -> list[knowledge.Entry]:
    """``size`` entries made from the real ones, each with its own words so the index really grows."""
    rng = random.Random(seed)
    vocabulary = sorted({w for e in entries for w in (e.answer + " " + " ".join(e.questions)).split() if w.isalpha()})
    out = []
    for i in range(size):
        base = entries[i % len(entries)]
        extra = [f"{rng.choice(vocabulary)}{i}" for _ in range(6)] + rng.sample(vocabulary, 6)
        out.append(replace(
            base, slug=f"{base.slug}-{i}", title=f"{base.title} {extra[0]}",
            questions=tuple(f"{q} {rng.choice(extra)}" for q in base.questions),
            keywords=(*base.keywords, *extra[:3]), answer=base.answer + " " + " ".join(extra)))
    return out


def latencies(matcher: Matcher, queries: list[tuple[str, str]], rounds: int) -> list[float]:
    out = []
    for i in range(rounds):
        text, subject = queries[i % len(queries)]
        start = time.perf_counter()
        matcher.match(text, subject)
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    entries = knowledge.load(KB)
    synonyms, out_of_scope = load_synonyms(KB), knowledge.read_out_of_scope(KB)
    queries = questions()

    start = time.perf_counter()
    matcher = Matcher(entries, 0.5, synonyms, out_of_scope)
    build_s = time.perf_counter() - start
    latencies(matcher, queries, len(queries))  # warm the caches, as a running service has
    small = latencies(matcher, queries, 3000)
    print(f"shipped knowledge base: {len(entries)} entries, index built in {build_s * 1000:.0f} ms")
    print(f"  per message: median {statistics.median(small):.2f} ms, p99 {percentile(small, 0.99):.2f} ms")

    big_entries = scaled(entries, 5000)
    builds = []
    for _ in range(3):  # the median of three cold builds: one run on a shared machine is noisy
        prepare._word_tokens.cache_clear()  # cold, as at the service's start
        start = time.perf_counter()
        big = Matcher(big_entries, 0.5, synonyms, out_of_scope)
        builds.append(time.perf_counter() - start)
    big_build_s = statistics.median(builds)
    latencies(big, queries, len(queries))
    large = latencies(big, queries, 1000)
    print(f"scaled knowledge base: {len(big_entries)} entries, index built in {big_build_s:.2f} s "
          f"(median of {', '.join(f'{b:.2f}' for b in builds)})")
    print(f"  per message: median {statistics.median(large):.2f} ms, p99 {percentile(large, 0.99):.2f} ms")
    print(json.dumps({
        "entries": len(entries),
        "median_ms": round(statistics.median(small), 3),
        "p99_ms": round(percentile(small, 0.99), 3),
        "build_ms": round(build_s * 1000, 1),
        "scaled_entries": len(big_entries),
        "scaled_median_ms": round(statistics.median(large), 3),
        "scaled_p99_ms": round(percentile(large, 0.99), 3),
        "scaled_build_s": round(big_build_s, 3),
    }))


if __name__ == "__main__":
    main()
