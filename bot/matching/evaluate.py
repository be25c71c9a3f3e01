"""Scoring the matcher on a labelled JSON-lines file (``guichet eval``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import Matcher


@dataclass
class Report:
    """The figures the matcher's quality targets are stated in."""

    lines: int = 0
    in_scope: int = 0
    top1: int = 0
    top3: int = 0
    out_of_scope: int = 0
    null_predicted: int = 0
    null_correct: int = 0
    confidently_wrong: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        def share(a: int, b: int) -> float:
            return round(a / b, 4) if b else 0.0

        return {
            "top1_accuracy": share(self.top1, self.in_scope),
            "top3_recall": share(self.top3, self.in_scope),
            "null_precision": share(self.null_correct, self.null_predicted),
            "null_recall": share(self.null_correct, self.out_of_scope),
            "confidently_wrong": share(self.confidently_wrong, self.lines),
            "lines": self.lines,
        }


def evaluate(matcher: Matcher, rows: list[dict[str, Any]]) -> Report:
    """Match every row and compare with its ``expected`` slug (null = out of scope)."""
    report = Report()
    for row in rows:
        expected = row.get("expected")
        result = matcher.match(row.get("text", ""), row.get("subject") or "", row.get("channel"))
        top3 = [c.slug for c in result.candidates[:3]]
        report.lines += 1
        if expected is None:
            report.out_of_scope += 1
        else:
            report.in_scope += 1
            report.top1 += result.slug == expected
            report.top3 += expected in top3
        if result.slug is None:
            report.null_predicted += 1
            report.null_correct += expected is None
        elif result.slug != expected:
            report.confidently_wrong += 1
        if result.slug != expected:
            report.misses.append({"id": row.get("id"), "expected": expected, "got": result.slug,
                                  "confidence": result.confidence, "candidates": top3})
    return report


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
