"""The web desk: the staff's review desk in the browser, served by the running service.

An adapter on the review core, like the Telegram desk: every decision goes through
``bot.review.Review``. Server-rendered Jinja2 pages in French, with htmx (a versioned static
file, no build step) for the queue that refreshes itself and the live preview. Starlette on
uvicorn, run as one more task in the service's event loop, so pages read the same SQLite
connection as the rest of the service (every endpoint is ``async``: a sync one would run in a
thread, where that connection may not be used).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from typing import TYPE_CHECKING

import uvicorn

from ...errors import ConfigError
from .app import Desk, create_app

if TYPE_CHECKING:
    from ...service import Core

log = logging.getLogger("guichet.web")

__all__ = ["Desk", "WebDesk", "create_app"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The service owns SIGTERM/SIGINT (it stops every part); uvicorn must not take them over.
        yield


class WebDesk:
    """Serves the web desk on ``[web] listen`` until ``stop`` is set."""

    def __init__(self, core: Core) -> None:
        assert core.config.web is not None
        self.core = core
        self.cfg = core.config.web
        self.app = create_app(core)

    def bind(self) -> socket.socket:
        try:
            return socket.create_server((self.cfg.host, self.cfg.port), reuse_port=False)
        except OSError as exc:
            raise ConfigError("web.listen", f"cannot listen on {self.cfg.listen}: {exc.strerror}") from exc

    async def run(self, stop: asyncio.Event) -> None:
        sock = self.bind()
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False,
                                proxy_headers=True, forwarded_allow_ips="127.0.0.1", server_header=False)
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="web-serve")
        log.info("web desk on http://%s (%s)", self.cfg.listen, self.cfg.base_url)
        try:
            await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        finally:
            server.should_exit = True
            await task
            sock.close()
