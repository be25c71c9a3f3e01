"""The terminal desk: ``guichet drafts``, ``outbox`` and ``requests`` — the administrator's tool.

The team works from the web desk or the Telegram group; these commands are for whoever runs the
server. They reach no server (the running service sends), so they need none of the secrets.
Times are local (``network.timezone``), entries are named by their title.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..review import DraftView
from ..service import Core, terminal_actor
from ..stats import CHANNEL_LABELS as CHANNELS
from ..stats import local_time
from ..worklist import DRAFT_STATES as STATES
from ..worklist import confidence_word
from . import Context, cli, pass_ctx

OUTBOX_STATES = {"queued": "en attente", "sending": "en cours", "uncertain": "incertain", "failed": "échec"}


def local(core: Core, stamp: str | None) -> str:
    """A stored UTC time as the network's local time, ``JJ/MM HH:MM``."""
    moment = local_time(stamp, core.config.network.tz)
    return moment.strftime("%d/%m %H:%M") if moment else "-"


def entry_label(core: Core, slug: str | None) -> str:
    """``Title (slug)``: the title for people, the slug for ``drafts pick``."""
    if not slug:
        return "aucune fiche (à traiter à la main)"
    entry = core.review.entries.get(slug)
    return f"{entry.title} ({slug})" if entry else slug


@cli.group()
def drafts() -> None:
    """Review drafts from the terminal: list, show, approve, pick, reject, ignore.

    \b
    Examples:
      guichet drafts list
      guichet drafts approve 12 --edit
    """


def _summary(core: Core, d: DraftView) -> str:
    word = confidence_word(d.confidence, d.text is not None)
    who = d.requester_name or d.requester
    return (f"{d.id:>5}  {local(core, d.created_at)}  {CHANNELS.get(d.channel, d.channel):<8} {who[:26]:<26} "
            f"{d.subject[:34]:<34}  {entry_label(core, d.slug)} · confiance {word}"
            f"  → {d.recipient}")


@drafts.command("list")
@pass_ctx
def drafts_list(ctx: Context) -> None:
    """List drafts waiting for a decision, oldest first (no secret needed).

    \b
    Example:
      guichet drafts list
    """
    core = ctx.desk_core
    pending = core.review.pending()
    for d in pending:
        click.echo(_summary(core, d))
    click.echo(f"{len(pending)} brouillon(s) en attente")


@drafts.command("show")
@click.argument("draft_id", type=int)
@pass_ctx
def drafts_show(ctx: Context, draft_id: int) -> None:
    """Show a draft with its question, matched entry and candidates (no secret needed).

    \b
    Example:
      guichet drafts show 12
    """
    core = ctx.desk_core
    d = core.review.get(draft_id)
    click.echo(f"brouillon {d.id} [{STATES.get(d.state, d.state)}] · demande {d.request_id} · "
               f"{CHANNELS.get(d.channel, d.channel)} · de {d.requester_name} <{d.requester}> · "
               f"reçu le {local(core, d.created_at)}")
    click.echo(f"réponse à : {d.recipient}" + (f" (expéditeur : {d.sender})" if d.sender not in ("", d.recipient)
                                               else ""))
    click.echo(f"objet : {d.subject}")
    click.echo(f"fiche : {entry_label(core, d.slug)} · confiance {confidence_word(d.confidence, d.text is not None)}")
    if d.candidates:
        click.echo("autres fiches possibles (guichet drafts pick ID FICHE) :")
        for c in d.candidates:
            if c["slug"] != d.slug:
                click.echo(f"  {entry_label(core, c['slug'])} · confiance {confidence_word(c['confidence'], True)}")
    for note in d.notes:
        click.echo(f"note : {note}")
    for other in d.others:
        click.echo(f"autre question : {other}")
    if d.decided_by:
        click.echo(f"décidé par {d.decided_by} le {local(core, d.decided_at)}")
    click.echo("\n--- question ---\n" + d.question.strip())
    click.echo("\n--- brouillon ---\n" + (d.text or "(pas de brouillon : écrivez la réponse avec --file ou --edit)"))


def interactive() -> bool:
    """A person at a terminal (not a script, not a pipe): they confirm before a reply leaves."""
    return sys.stdin.isatty()


def _confirm_send(draft: DraftView, text: str) -> bool:
    """Show who gets what on which channel and ask; only at a terminal (a script passes --yes)."""
    click.echo(f"À : {draft.requester_name} <{draft.recipient}> · par {CHANNELS.get(draft.channel, draft.channel)}")
    click.echo("--- réponse ---\n" + text.strip() + "\n---------------")
    answer = click.prompt("Envoyer cette réponse ? (o/n)", default="n", show_default=False)
    return str(answer).strip().lower() in ("o", "oui", "y", "yes")


@drafts.command("approve")
@click.argument("draft_id", type=int)
@click.option("--file", "text_file", type=click.File("r", encoding="utf-8"),
              help="Send this text instead of the draft ('-' for standard input).")
@click.option("--edit", is_flag=True, help="Edit the draft in $EDITOR before sending.")
@click.option("--yes", "-y", is_flag=True, help="Send without asking (at a terminal, the reply is shown first).")
@pass_ctx
def drafts_approve(ctx: Context, draft_id: int, text_file: Any, edit: bool, yes: bool) -> None:
    """Approve a draft: the reply goes out on the channel it came from.

    At a terminal, the recipient, the channel and the text are shown and you confirm.

    \b
    Examples:
      guichet drafts approve 12
      guichet drafts approve 12 --edit
      guichet drafts approve 12 --file answer.txt --yes
    """
    core = ctx.desk_core
    review = core.review
    draft = review.get(draft_id)
    text = None
    if text_file is not None:
        text = text_file.read()
    elif edit:
        text = click.edit(draft.text or "", editor=os.environ.get("EDITOR"))
        if text is None:
            raise click.ClickException("éditeur fermé sans enregistrer : rien n'est envoyé")
    final = text or draft.text
    if not yes and interactive() and final and not _confirm_send(draft, final):
        click.echo("rien n'est envoyé")
        return
    outbox_id = review.approve(draft_id, terminal_actor(), text)
    click.echo(f"brouillon {draft_id} approuvé : la réponse part (envoi n°{outbox_id})")


@drafts.command("pick")
@click.argument("draft_id", type=int)
@click.argument("slug")
@pass_ctx
def drafts_pick(ctx: Context, draft_id: int, slug: str) -> None:
    """Redo a draft from another knowledge entry (see the candidates in ``drafts show``).

    \b
    Example:
      guichet drafts pick 12 vol-service-civique
    """
    core = ctx.desk_core
    view = core.review.choose(draft_id, terminal_actor(), slug)
    click.echo(f"brouillon {draft_id} refait avec la fiche {entry_label(core, slug)}")
    click.echo("\n--- brouillon ---\n" + (view.text or ""))


@drafts.command("reject")
@click.argument("draft_id", type=int)
@pass_ctx
def drafts_reject(ctx: Context, draft_id: int) -> None:
    """Reject a draft: the request stays open for a hand-written answer.

    \b
    Example:
      guichet drafts reject 12
    """
    ctx.desk_core.review.reject(draft_id, terminal_actor())
    click.echo(f"brouillon {draft_id} mis de côté : la demande est à traiter à la main")


@drafts.command("ignore")
@click.argument("draft_id", type=int)
@pass_ctx
def drafts_ignore(ctx: Context, draft_id: int) -> None:
    """Ignore a draft: not a request (spam, thanks…), closed with no answer.

    \b
    Example:
      guichet drafts ignore 12
    """
    ctx.desk_core.review.ignore(draft_id, terminal_actor())
    click.echo(f"brouillon {draft_id} ignoré")


@cli.group()
def outbox() -> None:
    """Replies waiting to leave, and the ones staff must check (uncertain, failed).

    \b
    Example:
      guichet outbox list
    """


@outbox.command("list")
@pass_ctx
def outbox_list(ctx: Context) -> None:
    """List replies not sent yet: queued, uncertain (interrupted mid-send) and failed.

    \b
    Example:
      guichet outbox list
    """
    from ..worklist import unsent

    core = ctx.desk_core
    rows = unsent(core.db)
    for r in rows:
        channel = CHANNELS.get(r.channel, r.channel)
        click.echo(f"{r.id:>5}  demande {r.request_id:<5} {channel:<8} {r.recipient[:30]:<30} "
                   f"{OUTBOX_STATES.get(r.state, r.state):<10} ({r.state}) essais {r.attempts}  {r.last_error[:60]}")
    click.echo(f"{len(rows)} réponse(s) pas encore partie(s)")


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

    requeue(ctx.desk_core.db, item_id, terminal_actor())
    click.echo(f"réponse {item_id} remise en file d'envoi")


@cli.group()
def requests() -> None:
    """Requests: record a hand-written answer, mark a support appointment.

    \b
    Example:
      guichet requests answered 42 --entry acc-rendez-vous
    """


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
    ctx.desk_core.review.answered_by_hand(request_id, terminal_actor(), slug)
    click.echo(f"demande {request_id} notée comme répondue à la main")


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
    ctx.desk_core.review.set_appointment(request_id, terminal_actor(), on=not off)
    click.echo(f"demande {request_id} : accompagnement {'retiré' if off else 'noté'}")
