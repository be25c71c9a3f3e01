"""``guichet kb check``, ``match``, ``eval`` and ``learned``: the knowledge base and the matcher."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import click

from .. import knowledge
from . import Context, cli, pass_ctx


@cli.group()
def kb() -> None:
    """The knowledge base: check the entry files.

    \b
    Example:
      guichet kb check
    """


@kb.command("check")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Another knowledge folder.")
@click.option("--network", help="Check this network's overlay (default: network.knowledge of the config).")
@pass_ctx
def kb_check(ctx: Context, directory: str | None, network: str | None) -> None:
    """Validate the entries a network answers from (national pack + its overlay); list expired,
    unsourced, stale or unreviewed ones; exit 1 on errors.

    \b
    Examples:
      guichet kb check
      guichet kb check --network pays-de-la-loire
    """
    config = ctx.config
    settings = replace(config.network, knowledge=network) if network is not None else config.network
    report = knowledge.check(directory or config.knowledge.dir, network=settings)
    for line in report.errors:
        click.echo(f"error: {line}")
    for line in report.warnings:
        click.echo(f"warning: {line}")
    scope = f"national + {report.network}" if report.network else "one folder"
    click.echo(f"{len(report.entries)} entries ({scope}), {len(report.errors)} error(s), "
               f"{len(report.warnings)} warning(s)")
    if report.errors:
        sys.exit(1)


@cli.command()
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", "jsonl", is_flag=True, help="Read JSON lines {id, text, subject?, channel?} on stdin.")
@click.option("--learn", is_flag=True,
              help="With --jsonl: learn each line once matched, as if staff had decided (its \"expected\" slug, "
                   "null for out of scope; without it, the matched entry is confirmed). Nothing is stored.")
@click.option("--subject", default="", help="E-mail subject, matched with the text.")
@pass_ctx
def match(ctx: Context, text: str | None, as_json: bool, jsonl: bool, learn: bool, subject: str) -> None:
    """Match a question against the knowledge base (for scripts and evaluation).

    \b
    Examples:
      guichet match --json "comment partir en service civique ?"
      guichet match --jsonl < questions.jsonl
      guichet match --jsonl --learn < stream.jsonl
    """
    from ..matching import Learned
    from ..matching.learning import learned_text

    matcher = ctx.core.matcher
    if learn and not jsonl:
        raise click.UsageError("--learn goes with --jsonl")
    if jsonl:
        for number, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.UsageError(f"line {number} is not JSON: {exc}") from exc
            item_text, item_subject = item.get("text", ""), item.get("subject") or ""
            m = matcher.match(item_text, item_subject, item.get("channel"))
            click.echo(json.dumps({"id": item.get("id"), "slug": m.slug, "confidence": m.confidence}))
            if learn:
                slug = item["expected"] if "expected" in item else m.slug
                if slug is not None or "expected" in item:
                    matcher.learn(Learned(slug, learned_text(item_subject, item_text)))
                    matcher.settle()  # the next line is matched as the refitted classifier would
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
    from ..matching.evaluate import evaluate, read_jsonl

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
def learned() -> None:
    """Messages the matcher learned from staff decisions (personal data, kept in the database).

    \b
    Examples:
      guichet learned list
      guichet learned remove 12
    """


@learned.command("list")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def learned_list(ctx: Context, limit: int, as_json: bool) -> None:
    """List learned examples: id, date, decision, entry (or "hors base") and the start of the text.

    \b
    Example:
      guichet learned list --limit 20
    """
    assert ctx.core.learning is not None
    for example in ctx.core.learning.examples(limit):
        if as_json:
            click.echo(json.dumps(example.__dict__, ensure_ascii=False))
            continue
        start = " ".join(example.text.split())[:70]
        click.echo(f"{example.id:>5}  {example.created_at[:10]}  {example.decision:<9}  "
                   f"{example.slug or 'hors base':<28}  {start}")


@learned.command("remove")
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_ctx
def learned_remove(ctx: Context, ids: tuple[int, ...]) -> None:
    """Forget learned examples that mislead the matcher (the running service follows within a minute).

    \b
    Example:
      guichet learned remove 12 13
    """
    assert ctx.core.learning is not None
    count = ctx.core.learning.remove(list(ids))
    click.echo(f"{count} learned example(s) removed")
    if count < len(ids):
        sys.exit(1)
