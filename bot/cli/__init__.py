"""The ``guichet`` command line: the same words as the docs and the code.

One module per family of commands: ``serve`` (ask, run, status, doctor), ``desk`` (drafts,
outbox, requests), ``staff`` (web desk accounts), ``kb`` (kb check, match, eval), ``reports`` (stats).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from ..config import Config, load
from ..errors import GuichetError
from ..service import Core
from ..store import open_db


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._core: Core | None = None
        # A command's --network: read this network's knowledge overlay instead of the config's.
        self.network: str | None = None

    @property
    def config(self) -> Config:
        config = load(self.config_path)
        if self.network is None:
            return config
        return replace(config, network=replace(config.network, knowledge=self.network))

    @property
    def core(self) -> Core:
        if self._core is None:
            self._core = Core.build(self.config)
        return self._core

    @property
    def desk_config(self) -> Config:
        """The config for commands that reach no server (drafts, outbox, requests, staff, status,
        stats): a secret that is not set does not stop them."""
        return load(self.config_path, secrets=False)

    @property
    def desk_core(self) -> Core:
        if self._core is None:
            self._core = Core.build(self.desk_config)
        return self._core

    def core_in_memory(self) -> Core:
        """A core on a throwaway in-memory database: for commands that try things and must write
        nothing (``guichet ask`` works in a folder the user cannot write to)."""
        return Core.build(self.config, open_db(":memory:"))


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

    \b
    Examples:
      guichet ask "Comment adhérer au réseau ?"
      guichet --config guichet.toml doctor
      guichet --config guichet.toml run
    """
    ctx.obj = Context(config_path)



def main() -> None:
    cli(prog_name="guichet")


# Registered last: each module adds its commands to ``cli``.
from . import desk, kb, reports, serve, staff  # noqa: E402, F401
