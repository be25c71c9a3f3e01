"""The ``guichet`` command line: the same words as the docs and the code."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import knowledge
from .config import Config, load
from .errors import GuichetError
from .review import DraftView
from .service import Core, Service, terminal_actor
from .store import open_db


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._core: Core | None = None

    @property
    def config(self) -> Config:
        return load(self.config_path)

    @property
    def core(self) -> Core:
        if self._core is None:
            self._core = Core.build(self.config)
        return self._core


pass_ctx = click.make_pass_decorator(Context)


class GuichetGroup(click.Group):
    """Turns GuichetError into a one-line message and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GuichetError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=GuichetGroup)
@click.option("--config", "config_path", envvar="GUICHET_CONFIG", type=click.Path(dir_okay=False),
              help="TOML config file (default: ./guichet.toml, else embedded defaults).")
@click.version_option(package_name="guichet")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Guichet: the information desk's assistant.

    It reads the info mailbox and the Telegram bot, matches each question
    against the knowledge base, drafts a reply and waits for a staff decision.
    """
    ctx.obj = Context(config_path)


@cli.command()
@click.argument("text")
@click.option("--subject", default="", help="E-mail subject, matched with the text.")
@pass_ctx
def ask(ctx: Context, text: str, subject: str) -> None:
    """Show what Guichet would draft for a question (nothing is stored or sent).

    \b
    Example:
      guichet ask "Comment financer un micro-projet au Togo ?"
    """
    core = ctx.core
    match = core.matcher.match(text, subject)
    if match.slug is None:
        click.echo(f"no match (best confidence {match.confidence:.2f}): staff would answer by hand")
    else:
        entry = next(e for e in core.entries if e.slug == match.slug)
        click.echo(f"entry: {entry.slug} ({entry.category}) — {entry.title}")
        click.echo(f"confidence: {match.confidence:.2f}  language: {match.language}")
    others = ", ".join(f"{c.slug} {c.confidence:.2f}" for c in match.candidates[1:4])
    if others:
        click.echo(f"candidates: {others}")
    if match.slug is not None:
        entry = next(e for e in core.entries if e.slug == match.slug)
        click.echo("\n--- draft ---\n" + core.drafter.render(entry, language=match.language))


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for journald or a log collector."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="Debug logs.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Logs on stderr as text lines or as one JSON object per line.")
@pass_ctx
def run(ctx: Context, verbose: bool, log_format: str) -> None:
    """Run the service: read the mailbox (IDLE) and Telegram, draft, send approved replies.

    Stops cleanly on SIGTERM or Ctrl-C: the message in hand is finished, IMAP and Telegram are
    closed properly. Logs go to stderr.

    \b
    Example:
      GUICHET_IMAP_PASSWORD=… GUICHET_SMTP_PASSWORD=… guichet --config guichet.toml run --log-format json
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Telegram long poll otherwise
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
    from .health import status as read_status

    data = read_status(open_db(ctx.config.storage.database))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
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
    from .doctor import run_checks

    checks = asyncio.run(run_checks(ctx.config))
    for check in checks:
        click.echo(f"{'ok ' if check.ok else 'BAD'} {check.name}: {check.detail}")
    if not all(c.ok for c in checks):
        sys.exit(1)


@cli.group()
def drafts() -> None:
    """Review drafts from the terminal: list, show, approve, reject, ignore."""


def _summary(d: DraftView) -> str:
    entry = d.slug or "à traiter à la main"
    conf = f" {d.confidence:.2f}" if d.confidence is not None else ""
    who = d.requester_name or d.requester
    return f"{d.id:>5}  {d.created_at[:16]}  {d.channel:<8} {who[:28]:<28} {entry}{conf}  {d.subject[:40]}"


@drafts.command("list")
@pass_ctx
def drafts_list(ctx: Context) -> None:
    """List drafts waiting for a decision.

    \b
    Example:
      guichet drafts list
    """
    pending = ctx.core.review.pending()
    for d in pending:
        click.echo(_summary(d))
    click.echo(f"{len(pending)} draft(s) pending")


@drafts.command("show")
@click.argument("draft_id", type=int)
@pass_ctx
def drafts_show(ctx: Context, draft_id: int) -> None:
    """Show a draft with its question, matched entry and candidates.

    \b
    Example:
      guichet drafts show 12
    """
    d = ctx.core.review.get(draft_id)
    click.echo(f"draft {d.id} [{d.state}]  request {d.request_id}  {d.channel}  "
               f"from {d.requester_name} <{d.requester}>")
    click.echo(f"subject: {d.subject}")
    click.echo(f"entry: {d.slug or 'none (à traiter à la main)'}  confidence: {d.confidence}")
    if d.candidates:
        click.echo("candidates: " + ", ".join(f"{c['slug']} {c['confidence']:.2f}" for c in d.candidates))
    for note in d.notes:
        click.echo(f"note: {note}")
    if d.others:
        click.echo("other questions: " + " | ".join(d.others))
    click.echo("\n--- question ---\n" + d.question.strip())
    click.echo("\n--- draft ---\n" + (d.text or "(no draft: write the answer with --file or --edit)"))


@drafts.command("approve")
@click.argument("draft_id", type=int)
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"),
              help="Send this text instead of the draft ('-' for standard input).")
@click.option("--edit", is_flag=True, help="Edit the draft in $EDITOR before sending.")
@pass_ctx
def drafts_approve(ctx: Context, draft_id: int, text_file: Any, edit: bool) -> None:
    """Approve a draft: the reply goes out on the channel it came from.

    \b
    Examples:
      guichet drafts approve 12
      guichet drafts approve 12 --edit
      guichet drafts approve 12 --file answer.txt
    """
    review = ctx.core.review
    text = None
    if text_file is not None:
        text = text_file.read()
    elif edit:
        text = click.edit(review.get(draft_id).text or "", editor=os.environ.get("EDITOR"))
        if text is None:
            raise click.ClickException("editor closed without saving: nothing approved")
    outbox_id = review.approve(draft_id, terminal_actor(), text)
    click.echo(f"draft {draft_id} approved: queued for sending (outbox {outbox_id})")


@drafts.command("reject")
@click.argument("draft_id", type=int)
@pass_ctx
def drafts_reject(ctx: Context, draft_id: int) -> None:
    """Reject a draft: the request stays open for a hand-written answer.

    \b
    Example:
      guichet drafts reject 12
    """
    ctx.core.review.reject(draft_id, terminal_actor())
    click.echo(f"draft {draft_id} rejected: the request is to be answered by hand")


@drafts.command("ignore")
@click.argument("draft_id", type=int)
@pass_ctx
def drafts_ignore(ctx: Context, draft_id: int) -> None:
    """Ignore a draft: not a request (spam, thanks…), closed with no answer.

    \b
    Example:
      guichet drafts ignore 12
    """
    ctx.core.review.ignore(draft_id, terminal_actor())
    click.echo(f"draft {draft_id} ignored")


@cli.group()
def kb() -> None:
    """The knowledge base: check the entry files."""


@kb.command("check")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Another knowledge folder.")
@pass_ctx
def kb_check(ctx: Context, directory: str | None) -> None:
    """Validate every entry; list expired or unreviewed ones; exit 1 on errors.

    \b
    Example:
      guichet kb check
    """
    report = knowledge.check(directory or ctx.config.knowledge.dir)
    for line in report.errors:
        click.echo(f"error: {line}")
    for line in report.warnings:
        click.echo(f"warning: {line}")
    click.echo(f"{len(report.entries)} entries, {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if report.errors:
        sys.exit(1)


@cli.command()
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", "jsonl", is_flag=True, help="Read JSON lines {id, text, subject?} on stdin.")
@click.option("--subject", default="", help="E-mail subject, matched with the text.")
@pass_ctx
def match(ctx: Context, text: str | None, as_json: bool, jsonl: bool, subject: str) -> None:
    """Match a question against the knowledge base (for scripts and evaluation).

    \b
    Examples:
      guichet match --json "comment partir en service civique ?"
      guichet match --jsonl < questions.jsonl
    """
    matcher = ctx.core.matcher
    if jsonl:
        for line in sys.stdin:
            if not line.strip():
                continue
            item = json.loads(line)
            m = matcher.match(item.get("text", ""), item.get("subject") or "")
            click.echo(json.dumps({"id": item.get("id"), "slug": m.slug, "confidence": m.confidence}))
        return
    if text is None:
        raise click.UsageError("give a TEXT, or --jsonl with lines on stdin")
    m = matcher.match(text, subject)
    result = {"slug": m.slug, "confidence": m.confidence,
              "candidates": [{"slug": c.slug, "confidence": c.confidence} for c in m.candidates]}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"{m.slug or 'no match'}  {m.confidence:.2f}")
        for c in m.candidates[1:]:
            click.echo(f"  {c.slug}  {c.confidence:.2f}")


@cli.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--misses", is_flag=True, help="Also list every line the matcher got wrong.")
@pass_ctx
def eval_(ctx: Context, file: str, misses: bool) -> None:
    """Score the matcher on a labelled JSON-lines file ({id, text, subject?, expected}).

    Prints top-1 accuracy (in-scope lines, abstention = miss), top-3 recall,
    null precision and recall, and the share of confidently wrong answers.

    \b
    Example:
      guichet eval ../shared/eval/dev.jsonl
    """
    from .matching.evaluate import evaluate, read_jsonl

    report = evaluate(ctx.core.matcher, read_jsonl(file))
    figures = report.figures()
    click.echo(f"lines: {report.lines} ({report.in_scope} in scope, {report.out_of_scope} out of scope)")
    click.echo(f"top-1 accuracy (in scope): {figures['top1_accuracy']:.1%}")
    click.echo(f"top-3 recall (in scope):   {figures['top3_recall']:.1%}")
    click.echo(f"null precision:            {figures['null_precision']:.1%}")
    click.echo(f"null recall:               {figures['null_recall']:.1%}")
    click.echo(f"confidently wrong:         {figures['confidently_wrong']:.1%}")
    if misses:
        for miss in report.misses:
            click.echo(json.dumps(miss, ensure_ascii=False))
    click.echo(json.dumps(figures))


@cli.group()
def outbox() -> None:
    """Replies waiting to leave, and the ones staff must check (uncertain, failed)."""


@outbox.command("list")
@pass_ctx
def outbox_list(ctx: Context) -> None:
    """List replies not sent yet: queued, uncertain (interrupted mid-send) and failed.

    \b
    Example:
      guichet outbox list
    """
    rows = list(ctx.core.db.query("SELECT id, request_id, channel, recipient, state, attempts, last_error "
                                  "FROM outbox WHERE state != 'sent' AND state != 'cancelled' ORDER BY id"))
    for r in rows:
        click.echo(f"{r['id']:>5}  request {r['request_id']:<5} {r['channel']:<8} {r['recipient'][:30]:<30} "
                   f"{r['state']:<9} attempts {r['attempts']}  {(r['last_error'] or '')[:60]}")
    click.echo(f"{len(rows)} reply(ies) not sent")


@outbox.command("retry")
@click.argument("item_id", type=int)
@pass_ctx
def outbox_retry(ctx: Context, item_id: int) -> None:
    """Send an uncertain or failed reply again (check first that the person did not get it).

    \b
    Example:
      guichet outbox retry 7
    """
    from .outbox import requeue

    requeue(ctx.core.db, item_id, terminal_actor())
    click.echo(f"outbox {item_id} queued again")


@cli.group()
def requests() -> None:
    """Requests: record a hand-written answer, mark a support appointment."""


@requests.command("answered")
@click.argument("request_id", type=int)
@click.option("--entry", "slug", help="The knowledge entry the answer was about (for the statistics).")
@pass_ctx
def requests_answered(ctx: Context, request_id: int, slug: str | None) -> None:
    """Record that staff answered a request themselves (outcome: answered by hand).

    \b
    Example:
      guichet requests answered 42 --entry acc-rendez-vous
    """
    ctx.core.review.answered_by_hand(request_id, terminal_actor(), slug)
    click.echo(f"request {request_id} recorded as answered by hand")


@requests.command("appointment")
@click.argument("request_id", type=int)
@click.option("--off", is_flag=True, help="Remove the mark.")
@pass_ctx
def requests_appointment(ctx: Context, request_id: int, off: bool) -> None:
    """Mark a request as needing a personal support appointment (counted apart).

    \b
    Example:
      guichet requests appointment 42
    """
    ctx.core.review.set_appointment(request_id, terminal_actor(), on=not off)
    click.echo(f"request {request_id}: appointment {'removed' if off else 'marked'}")


@cli.group()
def stats() -> None:
    """Statistics: the month's export and the yearly count."""


def _tz(config: Config) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(config.network.timezone)


@stats.command("export")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: reports.out_dir).")
@pass_ctx
def stats_export(ctx: Context, month: str, out_dir: str | None) -> None:
    """Write the month's requests CSV, summary CSV and XLSX, and chart PNG.

    \b
    Example:
      guichet stats export --month 2026-10 --out exports/
    """
    from .export import export_period
    from .stats import month_summary

    try:
        year, number = (int(x) for x in month.split("-"))
        if not 1 <= number <= 12:
            raise ValueError
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-10", param_hint="--month") from exc
    config = ctx.config
    db = open_db(config.storage.database)
    summary = month_summary(db, year, number, _tz(config))
    paths = export_period(summary, Path(out_dir or config.reports.out_dir), config.network.name, year, number)
    click.echo(f"{summary.period}: {summary.total} requests ({summary.year_to_date} since January), "
               f"{summary.appointments} appointment(s), {summary.machine} machine message(s) and "
               f"{summary.ignored} ignored not counted")
    for path in paths:
        click.echo(f"  {path}")


@stats.command("year")
@click.argument("year", type=int)
@click.option("--export", "do_export", is_flag=True, help="Also write the year's files.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: reports.out_dir).")
@pass_ctx
def stats_year(ctx: Context, year: int, do_export: bool, out_dir: str | None) -> None:
    """The yearly count: total, by category, by channel, by month.

    \b
    Example:
      guichet stats year 2026
    """
    from .export import MONTHS, decimal, export_period
    from .stats import year_summary

    config = ctx.config
    db = open_db(config.storage.database)
    summary = year_summary(db, year, _tz(config))
    click.echo(f"{config.network.name}: {summary.total} information requests in {year}")
    click.echo(f"  personal support appointments: {summary.appointments}")
    click.echo(f"  not counted: {summary.machine} machine messages, {summary.ignored} ignored")
    median, p90 = summary.median_hours(), summary.p90_hours()
    click.echo(f"  response time: median {decimal(median) or '-'} h, 90th percentile {decimal(p90) or '-'} h")
    click.echo("by category:")
    for category, count in summary.by_category().most_common():
        click.echo(f"  {category:<16} {count:>6}")
    click.echo("by channel:")
    for channel, count in summary.by_channel().most_common():
        click.echo(f"  {channel:<16} {count:>6}")
    click.echo("by month:")
    per_month = summary.by_month()
    for number in range(1, 13):
        count = sum(per_month.get(number, {}).values())
        if count:
            click.echo(f"  {MONTHS[number - 1]:<16} {count:>6}")
    if do_export:
        last = max(per_month, default=12)
        for path in export_period(summary, Path(out_dir or config.reports.out_dir), config.network.name, year,
                                  last):
            click.echo(f"  {path}")


def main() -> None:
    cli(prog_name="guichet")


if __name__ == "__main__":
    main()
