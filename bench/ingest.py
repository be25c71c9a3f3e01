"""Ingest benchmark: a backlog of messages in a real Dovecot, then IDLE latency while the service idles.

Storing and drafting are measured apart: the IMAP reader stores, the drafting worker drafts behind
it. ``--model-ms`` stands in for the coming embedding model: each match first burns that much CPU
with the GIL released (hashing a buffer, as the model's C engine would), 270 ms for one message in
fifty (its p99), so storing can be checked to keep its pace while the other core drafts.

Usage: python bench/ingest.py [--messages N] [--model-ms 35]  (default 2,000; needs Dovecot, like the tests)
The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aioimaplib  # noqa: E402

from bot.config import load  # noqa: E402
from bot.matching.evaluate import read_jsonl  # noqa: E402
from bot.service import Core, Service  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

PASSWORD = "bench"


def sample_messages(count: int) -> list[bytes]:
    """Realistic mails built from our own test questions, each with its own Message-ID."""
    questions = read_jsonl(ROOT / "tests" / "data" / "questions.jsonl")
    out = []
    for i in range(count):
        q = questions[i % len(questions)]
        msg = EmailMessage()
        msg["From"] = f"Porteur {i} <porteur{i}@asso{i % 97}.example>"
        msg["To"] = "info@reseau.example"
        msg["Subject"] = q.get("subject") or "Question"
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(idstring=f"bench{i}", domain="asso.example")
        msg.set_content(f"Bonjour,\n\n{q['text']}\n\nCordialement,\nPorteur {i}\n")
        out.append(msg.as_bytes())
    return out


async def imap_client(port: int) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4(host="127.0.0.1", port=port, timeout=30)
    await client.wait_hello_from_server()
    await client.login("info", PASSWORD)
    return client


def stored(core: Core) -> int:
    return int(core.db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0])


def drafted(core: Core) -> int:
    return int(core.db.execute("SELECT count(*) FROM messages WHERE direction = 'in' "
                               "AND drafted_at IS NOT NULL").fetchone()[0])


def simulate_model(core: Core, median_ms: float) -> None:
    """Make every match cost ``median_ms`` of CPU outside the GIL first (270 ms one time in fifty)."""
    buffer = bytes(1 << 20)
    fastest = float("inf")
    for _ in range(10):  # the fastest round: the work an idle core does in ``median_ms``
        started = time.perf_counter()
        for _ in range(5):
            hashlib.sha256(buffer).digest()  # hashlib releases the GIL on large buffers
        fastest = min(fastest, time.perf_counter() - started)
    mb_per_ms = 5 / (fastest * 1000)
    match = core.matcher.match
    counter = itertools.count()

    def slow_match(text: str, subject: str = ""):  # type: ignore[no-untyped-def]
        cost_ms = 270.0 if next(counter) % 50 == 49 else median_ms
        for _ in range(max(1, round(cost_ms * mb_per_ms))):
            hashlib.sha256(buffer).digest()
        return match(text, subject)

    core.matcher.match = slow_match  # type: ignore[method-assign]


async def run(count: int, idle_samples: int, model_ms: float) -> dict[str, float]:
    with Dovecot(users={"info": PASSWORD}) as dovecot, tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "guichet.toml"
        config_path.write_text(
            f'[storage]\ndatabase = "{tmp}/bench.db"\n'
            f'[imap]\nhost = "127.0.0.1"\nport = {dovecot.port}\nssl = false\nusername = "info"\n')
        core = Core.build(load(config_path, env={"GUICHET_IMAP_PASSWORD": PASSWORD}))
        if model_ms:
            simulate_model(core, model_ms)
        appender = await imap_client(dovecot.port)
        for raw in sample_messages(count):
            await appender.append(raw, mailbox="INBOX")
        print(f"appended {count} messages to Dovecot")

        service = Service(core)
        started = time.perf_counter()
        task = asyncio.create_task(service.run())
        while stored(core) < count:
            await asyncio.sleep(0.01)
        stored_s = time.perf_counter() - started
        while drafted(core) < count:
            await asyncio.sleep(0.01)
        drafted_s = time.perf_counter() - started
        drafts = int(core.db.execute("SELECT count(*) FROM drafts").fetchone()[0])
        print(f"backlog: {count} messages stored in {stored_s:.2f} s ({count / stored_s:.0f}/s), "
              f"drafted in {drafted_s:.2f} s ({count / drafted_s:.0f}/s), {drafts} drafts")

        latencies = []
        for i in range(idle_samples):
            await asyncio.sleep(0.3)  # let the reader settle back into IDLE
            msg = EmailMessage()
            msg["From"] = "idle@asso.example"
            msg["Subject"] = "Service civique"
            msg["Message-ID"] = f"<idle{i}@asso.example>"
            msg.set_content("Bonjour, comment partir en service civique à l'étranger ?")
            before = drafted(core)
            sent = time.perf_counter()
            await appender.append(msg.as_bytes(), mailbox="INBOX")
            while drafted(core) == before:
                await asyncio.sleep(0.002)
            latencies.append(time.perf_counter() - sent)
        await appender.logout()
        service.stop.set()
        await asyncio.wait_for(task, 30)

    ordered = sorted(latencies)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "messages": count,
        "model_ms": model_ms,
        "stored_per_s": round(count / stored_s, 1),
        "drafted_per_s": round(count / drafted_s, 1),
        "idle_latency_median_s": round(statistics.median(latencies), 3),
        "idle_latency_p95_s": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(f"IDLE latency over {idle_samples} messages: median {figures['idle_latency_median_s']} s, "
          f"p95 {figures['idle_latency_p95_s']} s (Dovecot itself batches pushes by about 0.5 s)")
    print(f"peak RSS: {peak_mb:.0f} MB")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--idle-samples", type=int, default=50)
    parser.add_argument("--model-ms", type=float, default=0.0,
                        help="simulate an embedding model costing this much CPU per match (GIL released)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.messages, args.idle_samples, args.model_ms))))


if __name__ == "__main__":
    main()
