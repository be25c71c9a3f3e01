"""``guichet staff``: the web desk's accounts (add, list, disable, password), mirroring ``bot/staff.py``."""

from __future__ import annotations

import asyncio

import click

from .. import staff as accounts
from ..config import Config
from ..store import open_db
from . import Context, cli, pass_ctx


@cli.group()
def staff() -> None:
    """Web desk accounts: add, list, disable, set a password.

    \b
    Examples:
      guichet staff add "Alice Martin" alice@reseau.example
      guichet staff list
    """


def _link(config: Config, token: str) -> str:
    base = (config.web.base_url if config.web else "http://127.0.0.1:8080").rstrip("/")
    return f"{base}/mot-de-passe/{token}"


def _mail_link(config: Config, account: accounts.Account, link: str) -> None:
    from ..channels.smtp import send_message, service_mail

    if config.smtp is None:
        raise click.ClickException("pas de section [smtp] : envoyez le lien vous-même (il est affiché ci-dessus)")
    msg = service_mail(config.network, account.email, "Guichet : choisissez votre mot de passe",
                       f"Bonjour {account.name},\n\nUn compte a été ouvert pour vous sur le guichet de "
                       f"{config.network.name}. Choisissez votre mot de passe ici (lien valable "
                       f"{accounts.LINK_HOURS} heures, une seule fois) :\n\n{link}\n\nGuichet\n")
    asyncio.run(send_message(config.smtp, msg))


def _password_or_link(ctx: Context, account: accounts.Account, link: bool, send: bool) -> None:
    db = open_db(ctx.desk_config.storage.database)
    if link or send:
        url = _link(ctx.desk_config, accounts.password_link(db, account.id))
        click.echo(f"lien à usage unique ({accounts.LINK_HOURS} h) : {url}")
        if send:
            _mail_link(ctx.config, account, url)  # sending needs the SMTP secret: the strict config
            click.echo(f"lien envoyé à {account.email}")
        return
    password = click.prompt("mot de passe (10 caractères au moins)", hide_input=True, confirmation_prompt=True)
    accounts.set_password(db, account.id, password)
    click.echo("mot de passe enregistré")


@staff.command("add")
@click.argument("name")
@click.argument("email")
@click.option("--telegram-id", type=int, help="The person's Telegram user id: the same name on both desks.")
@click.option("--link", is_flag=True, help="Print a one-time link to set the password instead of asking for it.")
@click.option("--send", is_flag=True, help="E-mail the one-time link to the person (needs [smtp]).")
@pass_ctx
def staff_add(ctx: Context, name: str, email: str, telegram_id: int | None, link: bool, send: bool) -> None:
    """Open a web desk account; the password is typed now, or set by the person from a one-time link.

    \b
    Examples:
      guichet staff add "Alice Martin" alice@reseau.example
      guichet staff add "Bob" bob@reseau.example --telegram-id 22222222 --send
    """
    db = open_db(ctx.desk_config.storage.database)
    account = accounts.add(db, name, email, telegram_id=telegram_id)
    click.echo(f"compte n°{account.id} ouvert pour {account.name} <{account.email}>")
    _password_or_link(ctx, account, link, send)


@staff.command("list")
@pass_ctx
def staff_list(ctx: Context) -> None:
    """List the web desk accounts.

    \b
    Example:
      guichet staff list
    """
    rows = accounts.accounts(open_db(ctx.desk_config.storage.database))
    for a in rows:
        state = "actif" if a.active else "désactivé"
        password = "" if a.has_password else ", sans mot de passe"
        telegram = f", Telegram {a.telegram_id}" if a.telegram_id else ""
        click.echo(f"{a.id:>4}  {a.name:<24} {a.email:<32} {state}{password}{telegram}, "
                   f"dernière connexion {(a.last_login_at or '-')[:16]}")
    click.echo(f"{len(rows)} compte(s)")


@staff.command("disable")
@click.argument("email")
@pass_ctx
def staff_disable(ctx: Context, email: str) -> None:
    """Close an account: its open sessions end at once; its past decisions keep its name.

    \b
    Example:
      guichet staff disable alice@reseau.example
    """
    account = accounts.disable(open_db(ctx.desk_config.storage.database), email)
    click.echo(f"compte de {account.name} désactivé")


@staff.command("password")
@click.argument("email")
@click.option("--link", is_flag=True, help="Print a one-time link instead of asking for the password.")
@click.option("--send", is_flag=True, help="E-mail the one-time link to the person (needs [smtp]).")
@pass_ctx
def staff_password(ctx: Context, email: str, link: bool, send: bool) -> None:
    """Set a new password (the account's open sessions end), or make a one-time link.

    \b
    Example:
      guichet staff password alice@reseau.example --link
    """
    account = accounts.find(open_db(ctx.desk_config.storage.database), email)
    _password_or_link(ctx, account, link, send)
