"""``guichet kb check``, ``match`` and ``eval``: the knowledge base and the matcher."""

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
