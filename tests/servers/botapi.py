"""A Telegram Bot API server on loopback (aiohttp), for python-telegram-bot to talk HTTP to.

It serves the methods Guichet uses, records every call, queues injected updates for
getUpdates long polling, and can be told to fail a method (429 with retry_after, 5xx).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .dovecot import free_port

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Guichet", "username": "guichet_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None
    status: int = 200


@dataclass
class BotApiServer:
    """Start with ``await server.start()``; ``server.base_url`` goes to ApplicationBuilder.base_url."""

    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    chat_members: dict[tuple[int, int], str] = field(default_factory=dict)
    known_chats: dict[int, str] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _next_message: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _closing: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> BotApiServer:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()  # release pending long polls
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests use -------------------------------------------------------------------------

    def fail(self, method: str, status: int, **parameters: Any) -> None:
        """Make the next call of ``method`` fail (e.g. ``fail("sendMessage", 429, retry_after=1)``)."""
        self.failures.setdefault(method, []).append((status, parameters))

    def inject(self, update: dict[str, Any]) -> int:
        update_id = next(self._next_update)
        self._updates.append({"update_id": update_id, **update})
        self._wake.set()
        return update_id

    def message(self, chat_id: int, user_id: int, text: str | None = None, *, first_name: str = "Awa",
                chat_type: str = "private", reply_to: int | None = None, **extra: Any) -> int:
        """Inject a message from a user; returns its message_id."""
        message_id = next(self._next_message)
        msg: dict[str, Any] = {
            "message_id": message_id, "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "Équipe"} if chat_type != "private" else
                                                          {"first_name": first_name})},
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            **extra,
        }
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            msg["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()),
                                       "chat": msg["chat"], "from": BOT_USER, "text": "…"}
        self.inject({"message": msg})
        return message_id

    def press(self, chat_id: int, user_id: int, message_id: int, data: str, *, first_name: str = "Alice") -> None:
        """Inject an inline-button press on the bot's message ``message_id``."""
        self.inject({"callback_query": {
            "id": str(next(self._next_message)), "chat_instance": "ci",
            "from": {"id": user_id, "is_bot": False, "first_name": first_name}, "data": data,
            "message": {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                        "chat": {"id": chat_id, "type": "supergroup", "title": "Équipe"}, "text": "…"},
        }})

    def sent(self, method: str = "sendMessage", **where: Any) -> list[Call]:
        """Successful calls of ``method`` whose parameters match ``where``."""
        return [c for c in self.calls if c.method == method and c.status == 200
                and all(str(c.params.get(k)) == str(v) for k, v in where.items())]

    # --- the API --------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if not isinstance(value, str):  # an uploaded file
                params[key] = {"filename": value.filename, "size": len(value.file.read())}
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        self.calls.append(call)
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        pending = self.failures.get(method)
        if pending:
            status, parameters = pending.pop(0)
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": f"Injected {status}"}
            if parameters:
                body["parameters"] = parameters
            call.status = status
            return web.json_response(body, status=status)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        call.result = await handler(params)
        return web.json_response({"ok": True, "result": call.result})

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not self._updates and not self._closing and time.monotonic() < deadline:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                break
        return list(self._updates)

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {"message_id": next(self._next_message), "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}, **extra}

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._message(params, text=str(params.get("text", "")))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._message(params, photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}])

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._message(params, document={"file_id": "f", "file_unique_id": "u"})

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        return {**self._message(params, text=str(params.get("text", ""))), "message_id": int(params["message_id"])}

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return {**self._message(params), "message_id": int(params["message_id"])}

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getChat(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id not in self.known_chats:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400,
                                                      "description": "Bad Request: chat not found"}),
                                     content_type="application/json")
        return {"id": chat_id, "type": "supergroup", "title": self.known_chats[chat_id],
                "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
                    "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                    "premium_subscription": False, "gifts_from_channels": False}}

    async def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["user_id"]))
        status = self.chat_members.get(key, "left")
        return {"status": status, "user": {"id": key[1], "is_bot": False, "first_name": "X"}}
