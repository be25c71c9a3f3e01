"""Mail parsing speed, what enabling every mail-parser-reply language costs, and the worst case.

Parses every mail of the corpus (tests/data/mail/) with all the languages mail-parser-reply knows,
then with French and English only, and reports the median and 95th percentile per mail, and how
many mails come out as labelled either way; then the slowest of a few hostile texts of
MAX_TEXT_CHARS (one long line, runs of spaces, thousands of attributions or header lines…).

Usage: python bench/mailparse.py  (no arguments; the last line is a JSON object of the figures)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.mailparse import MAX_TEXT_CHARS, parse_mail, signature, split_new_text  # noqa: E402

ROUNDS = 20


def as_labelled(raw: bytes, labels: dict[str, object]) -> bool:
    parsed = parse_mail(raw, own_address="info@reseau.example")
    text = " ".join(parsed.new_text.split())
    return (bool(parsed.machine) is labels["machine"]
            and all(" ".join(str(c).split()) in text for c in labels["contains"])  # type: ignore[attr-defined]
            and not any(" ".join(str(c).split()) in text for c in labels["excludes"]))  # type: ignore[attr-defined]


def measure(mails: list[tuple[bytes, dict[str, object]]]) -> dict[str, float]:
    times = []
    for _ in range(ROUNDS):
        for raw, _labels in mails:
            start = time.perf_counter()
            parse_mail(raw)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95)], 2),
            "as_labelled": sum(as_labelled(raw, labels) for raw, labels in mails)}


def hostile() -> dict[str, object]:
    """The slowest new-text extraction over texts built to make patterns backtrack."""
    words = ("bonjour projet subvention association le la de des une pour avec Togo budget ? . , merci " * 4000).split()
    prose = "\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12))
    shapes = {"lines": prose, "one line": prose.replace("\n", " "), "quoted": prose.replace("\n", "\n> "),
              "spaces": " ", "colons": ":", "quote marks": ">", "le on": "le on ", "dashes": "- item\n",
              "attributions": "Le 2 oct. 2023 à 10:12, X <x@y.fr> a écrit :\n> q\n", "headers": "De : X\nÀ : Y\n> q\n",
              "dates": "Le 12 3 4 5 6 7 8 9\n", "wrote": "On 1 wrote\n", "cid": "[cid:"}
    times = {}
    for name, unit in shapes.items():
        text = (unit * (MAX_TEXT_CHARS // len(unit) + 1))[:MAX_TEXT_CHARS]
        start = time.perf_counter()
        split_new_text(text)
        times[name] = (time.perf_counter() - start) * 1000
    slowest = max(times, key=lambda name: times[name])
    return {"worst_ms": round(times[slowest], 1), "worst_shape": slowest}


def main() -> None:
    paths = sorted((ROOT / "tests" / "data" / "mail").glob("**/*.eml"))
    mails = [(p.read_bytes(), tomllib.loads(p.with_suffix(".toml").read_text(encoding="utf-8"))) for p in paths]
    every = measure(mails)
    kept = signature.LANGUAGES
    signature.LANGUAGES = ("fr", "en")
    try:
        french_english = measure(mails)
    finally:
        signature.LANGUAGES = kept
    print(f"{len(mails)} mails, {ROUNDS} rounds")
    print(f"every language ({len(kept)}): {every}")
    print(f"French and English only: {french_english}")
    worst = hostile()
    print(f"hostile texts of {MAX_TEXT_CHARS} characters: {worst}")
    print(json.dumps({"mails": len(mails), "languages": len(kept), "every_language": every,
                      "french_english": french_english, "hostile": worst}))


if __name__ == "__main__":
    main()
