"""The terminal desk: ``guichet drafts``, ``outbox`` and ``requests``."""

from __future__ import annotations

import os
from typing import Any

import click

from ..review import DraftView
from ..service import terminal_actor
from . import Context, cli, pass_ctx


@cli.group()
def drafts() -> None:
    """Review drafts from the terminal: list, show, approve, reject, ignore."""


def _summary(d: DraftView) -> str:
    entry = d.slug or "à traiter à la main"
    conf = f" {d.confidence:.2f}" if d.confidence is not None else ""
    who = d.requester_name or d.requester
    return (f"{d.id:>5}  {d.created_at[:16]}  {d.channel:<8} {who[:28]:<28} {entry}{conf}  {d.subject[:40]}"
            f"  → {d.recipient}")


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
    click.echo(f"reply to: {d.recipient}" + (f" (sender: {d.sender})" if d.sender not in ("", d.recipient) else ""))
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
    from ..outbox import requeue

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
