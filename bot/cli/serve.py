"""``guichet ask``, ``run``, ``status`` and ``doctor``: trying, running and checking the service."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import click

from ..config import EXAMPLE_CONFIG, Config
from ..errors import StorageError
from ..instance import InstanceLock, running
from ..service import Service
from ..store import open_db, write_fault
from . import Context, cli, pass_ctx


@cli.command()
@click.argument("text")
@click.option("--subject", default="", help="E-mail subject, matched with the text.")
@click.option("--network", help="Answer from this network's knowledge overlay (default: network.knowledge).")
@click.option("--markdown", is_flag=True,
              help="Show the draft as staff edit it (Markdown), not as the requester reads it.")
@pass_ctx
def ask(ctx: Context, text: str, subject: str, network: str | None, markdown: bool) -> None:
    """Show what Guichet would draft for a question (nothing is stored or sent).

    The reply is shown as the requester reads it in the text part of the e-mail; staff see and
    edit the same draft as Markdown (--markdown).

    \b
    Examples:
      guichet ask "Comment financer un micro-projet au Togo ?"
      guichet ask --network pays-de-la-loire "C'est quoi TOTEM ?"
    """
    from ..render import plain_text

    ctx.network = network
    core = ctx.core_in_memory()
    match = core.matcher.match(text, subject)
    entry = next((e for e in core.entries if e.slug == match.slug), None)
    if entry is None:
        click.echo(f"no match (best confidence {match.confidence:.2f}): staff would answer by hand")
        others = match.candidates[:3]  # the best ones, none sure enough
    else:
        click.echo(f"entry: {entry.slug} ({entry.category}) — {entry.title}")
        click.echo(f"confidence: {match.confidence:.2f}  language: {match.language}")
        others = match.candidates[1:4]
    if others:
        click.echo("candidates: " + ", ".join(f"{c.slug} {c.confidence:.2f}" for c in others))
    if entry is not None:
        draft = core.drafter.render(entry, language=match.language)
        click.echo("\n--- draft ---\n" + (draft if markdown else plain_text(draft)))


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for journald or a log collector."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def nothing_to_run(config: Config) -> str | None:
    """Why ``guichet run`` would sit idle (no mailbox, no bot, no web desk), in plain words; None if
    something is configured."""
    if config.imap or config.telegram or config.web:
        return None
    return (f"error: nothing to run: no mailbox ([imap]), no Telegram bot ([telegram]) and no web desk ([web]) "
            f"are configured ({config.source}).\n"
            f"Start from the example configuration, which documents every key:\n"
            f"  cp {EXAMPLE_CONFIG} guichet.toml\n"
            "then set the passwords in the environment and check with: guichet doctor")


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="Debug logs.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Logs on stderr as text lines or as one JSON object per line.")
@pass_ctx
def run(ctx: Context, verbose: bool, log_format: str) -> None:
    """Run the service: read the mailbox (IDLE) and Telegram, draft, send approved replies.

    Stops cleanly on SIGTERM or Ctrl-C: the message in hand is finished, IMAP and Telegram are
    closed properly. Logs go to stderr. One service per database: a second ``run`` on the same
    database refuses to start (desk commands and ``status`` work alongside).

    \b
    Example:
      GUICHET_IMAP_PASSWORD=… GUICHET_SMTP_PASSWORD=… guichet --config guichet.toml run --log-format json
    """
    if problem := nothing_to_run(ctx.config):
        click.echo(problem, err=True)
        sys.exit(2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Telegram long poll otherwise
    database = ctx.config.storage.database
    with InstanceLock(database):  # held until the process ends
        reason = write_fault(ctx.core.db)
        if reason is not None:
            raise StorageError(f"cannot write the database {database}: {reason}")
        asyncio.run(Service(ctx.core).run())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """What the running service last did: fetches, queues, pending drafts, last errors.

    \b
    Example:
      guichet status
    """
    from ..health import status as read_status

    database = ctx.desk_config.storage.database
    data = read_status(open_db(database))
    holder = running(database)
    data["service"] = {"running": holder is not None, "pid": holder.pid if holder else None,
                       "since": holder.since if holder else None}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"service: running (pid {holder.pid}, since {str(holder.since)[:19]})" if holder else
               "service: not running")
    for box in data["mailboxes"]:  # type: ignore[attr-defined]
        click.echo(f"mailbox {box['mailbox']}: last fetch {box['last_fetch'][:19]}, last UID {box['last_uid']}")
    click.echo(f"messages taken in: {data['messages']} (last {str(data['last_message'] or '-')[:19]})")
    click.echo(f"drafts pending: {data['pending_drafts']}, requests to answer by hand: {data['to_answer_by_hand']}")
    outbox = data["outbox"] or {}
    click.echo("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(outbox.items())) or "empty"))  # type: ignore[attr-defined]
    for part in data["components"]:  # type: ignore[attr-defined]
        state = "ok" if part["ok"] else "ERROR"
        line = f"{part['component']}: {state}, last ok {str(part['last_ok'] or '-')[:19]}"
        if part["last_error"]:
            line += f"; last error {str(part['last_error_at'])[:19]}: {part['last_error']}"
        click.echo(line)


@cli.command()
@pass_ctx
def doctor(ctx: Context) -> None:
    """Check the config and reach the IMAP, SMTP and Telegram servers; exit 1 if anything is wrong.

    \b
    Example:
      GUICHET_IMAP_PASSWORD=… guichet --config guichet.toml doctor
    """
    from ..doctor import run_checks

    checks = asyncio.run(run_checks(ctx.config))
    for check in checks:
        click.echo(f"{'ok ' if check.ok else 'BAD'} {check.name}: {check.detail}")
    if not all(c.ok for c in checks):
        sys.exit(1)
