"""Web desk speed: the queue page with 500 waiting drafts, rendered server-side.

The requests go through the ASGI application in process (httpx's ASGITransport): what is timed
is the server's work (session check, queries, template), not a network.

Usage: python bench/web.py [--drafts 500] [--runs 30]  (the last line is a JSON object, times in ms)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bot import staff  # noqa: E402
from bot.config import parse  # noqa: E402
from bot.desks.web import create_app  # noqa: E402
from bot.service import Core  # noqa: E402
from tests.mails import mail  # noqa: E402

TOPICS = ["une subvention pour un micro-projet au Togo", "partir en service civique à l'étranger",
          "une formation au montage de projet", "un rendez-vous avec un chargé de mission",
          "le volontariat de solidarité internationale", "financer un puits au Sénégal",
          "l'éducation à la citoyenneté dans un lycée", "adhérer au réseau", "un stage dans une ONG"]


async def measure(drafts: int, runs: int) -> dict[str, object]:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        config = parse(f'[storage]\ndatabase = "{folder}/bench.db"\n[web]\nlisten = "127.0.0.1:8089"\n', env={})
        core = Core.build(config)
        started = time.perf_counter()
        for number in range(drafts):
            topic = rng.choice(TOPICS)
            core.take_mail(mail(f"Bonjour, nous cherchons des informations sur {topic}. Merci d'avance ({number}).",
                                subject=f"Question {number} : {topic}",
                                sender=f"Personne {number} <p{number}@asso.example>"))
        filled = time.perf_counter() - started
        staff.add(core.db, "Alice", "alice@reseau.example", password="un mot de passe long")
        transport = httpx.ASGITransport(app=create_app(core))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.get("/connexion")
            pre = re.search(r'name="pre" value="([^"]+)"', login.text)
            assert pre
            await client.post("/connexion", data={"email": "alice@reseau.example", "password": "un mot de passe long",
                                                  "pre": pre.group(1)})
            page = await client.get("/file")
            assert page.status_code == 200 and page.text.count('class="row-link"') == drafts, "not every draft listed"
            version = re.search(r"v=(\d+)", page.text)
            assert version

            async def timed(path: str) -> list[float]:
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    response = await client.get(path)
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code in (200, 204)
                return sorted(times)

            queue = await timed("/file")
            unchanged = await timed(f"/file/lignes?onglet=a-valider&v={version.group(1)}")
            request_page = await timed("/demande/250")
    p95 = lambda values: values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]  # noqa: E731
    return {"drafts": drafts, "runs": runs, "queue_median_ms": round(statistics.median(queue), 1),
            "queue_p95_ms": round(p95(queue), 1),
            "refresh_unchanged_median_ms": round(statistics.median(unchanged), 2),
            "request_page_median_ms": round(statistics.median(request_page), 1),
            "page_kb": round(len(page.content) / 1024), "fill_s": round(filled, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.drafts, args.runs))
    print(f"queue page with {figures['drafts']} drafts: median {figures['queue_median_ms']} ms, "
          f"p95 {figures['queue_p95_ms']} ms (target < 100 ms); unchanged refresh "
          f"{figures['refresh_unchanged_median_ms']} ms; a request's page {figures['request_page_median_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
