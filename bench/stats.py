"""Statistics speed: a database of 100,000 requests over 5 years; one month's export and the year's count.

Usage: python bench/stats.py  (no arguments; the last line is a JSON object, times in seconds)
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from bot.cli import cli  # noqa: E402
from bot.store import open_db  # noqa: E402

CATEGORIES = {"financement": ["fin-amp-microprojets", "fin-fonjep-isi", "fin-agences-eau", "fin-europe"],
              "volontariat": ["vol-service-civique", "vol-vsi", "vol-corps-europeen"],
              "formation": ["form-cycle-projet", "form-ecsi"], "accompagnement": ["acc-rendez-vous"],
              "information": ["info-contact", "info-emploi-stage"]}
OUTCOMES = ["sent_as_drafted"] * 6 + ["sent_after_edit"] * 2 + ["answered_by_hand", "ignored", "machine", None]


def build(path: Path, count: int = 100_000, years: int = 5, seed: int = 3) -> None:
    rng = random.Random(seed)
    db = open_db(path)
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    span = (dt.datetime(2022 + years, 1, 1, tzinfo=dt.UTC) - start).total_seconds()
    rows = []
    for i in range(count):
        received = start + dt.timedelta(seconds=rng.random() * span)
        category = rng.choice(list(CATEGORIES))
        outcome = rng.choice(OUTCOMES)
        answered = received + dt.timedelta(hours=rng.expovariate(1 / 20)) if outcome not in (None, "ignored",
                                                                                              "machine") else None
        rows.append({
            "id": i + 1, "channel": rng.choice(["email", "email", "telegram"]), "requester": None,
            "status": "machine" if outcome == "machine" else "ignored" if outcome == "ignored" else
            "answered" if answered else "open", "outcome": outcome, "category": category,
            "slug": rng.choice(CATEGORIES[category]), "language": "fr", "appointment": int(rng.random() < 0.05),
            "received_at": received.isoformat(), "answered_at": answered.isoformat() if answered else None,
            "updated_at": received.isoformat(),
        })
    with db.atomic():
        db["requests"].insert_all(rows, batch_size=5000)


def timed(args: list[str], config: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return elapsed, result.output


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "stats.db"
        start = time.perf_counter()
        build(database)
        print(f"built 100,000 requests over 2022-2026 in {time.perf_counter() - start:.1f} s")
        config = Path(tmp) / "guichet.toml"
        config.write_text(f'[storage]\ndatabase = "{database}"\n[reports]\nout_dir = "{tmp}/out"\n')
        timed(["stats", "year", "2025"], config)  # first call imports the modules, as a fresh process would
        export_s, output = timed(["stats", "export", "--month", "2026-10"], config)
        print(output.strip().splitlines()[0])
        year_s, output = timed(["stats", "year", "2026"], config)
        print(output.strip().splitlines()[0])
        year_export_s, _ = timed(["stats", "year", "2026", "--export"], config)
    print(f"stats export --month 2026-10: {export_s:.2f} s; stats year 2026: {year_s:.2f} s; "
          f"with --export: {year_export_s:.2f} s")
    print(json.dumps({"export_month_s": round(export_s, 3), "year_s": round(year_s, 3),
                      "year_export_s": round(year_export_s, 3)}))


if __name__ == "__main__":
    main()
