"""A Telegram Bot API server on loopback (aiohttp), for python-telegram-bot to talk HTTP to.

It serves the methods Guichet uses, records every call, queues injected updates for
getUpdates long polling, and can be told to fail a method (429 with retry_after, 5xx).
Message texts are checked as Telegram checks them (``check_text``): malformed HTML, an empty or
a too long text get the real API's 400 "Bad Request" answers.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .dovecot import free_port

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Guichet", "username": "guichet_test_bot"}
# The tags of Telegram's HTML parse mode (core.telegram.org/bots/api#html-style); anything else is refused.
HTML_TAGS = frozenset("b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split())
# A tag (its name, then attributes whose quoted values may hold ">"), a "<" that starts none, an entity.
_MARKUP = re.compile(r"<(/?)([^\s<>/]*)(?:\s+(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?>|<"
                     r"|&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def check_text(text: str, parse_mode: str | None) -> str:
    """The message's text as Telegram would show it, or ``ValueError`` with Telegram's description."""
    if parse_mode and parse_mode.upper() == "HTML":
        shown, open_tags = [], []
        position = 0
        for markup in _MARKUP.finditer(text):
            shown.append(text[position:markup.start()])
            position = markup.end()
            at = len(text[:markup.start()].encode())
            token = markup.group()
            if token == "<":
                raise ValueError(f"Bad Request: can't parse entities: Unclosed start tag at byte offset {at}")
            if token.startswith("&"):
                shown.append(html.unescape(token))
            elif markup.group(1):
                name = markup.group(2).lower()
                if not open_tags:
                    raise ValueError(f"Bad Request: can't parse entities: Unexpected end tag at byte offset {at}")
                if open_tags[-1] != name:
                    raise ValueError(f"Bad Request: can't parse entities: Unmatched end tag at byte offset {at}, "
                                     f'expected "</{open_tags[-1]}>", found "</{name}>"')
                open_tags.pop()
            else:
                name = markup.group(2).lower()
                if name not in HTML_TAGS:
                    raise ValueError(f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
                                     f"at byte offset {at}")
                open_tags.append(name)
        if open_tags:
            raise ValueError(f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
                             f'"{open_tags[-1]}"')
        text = "".join(shown) + text[position:]
    if not text.strip():
        raise ValueError("Bad Request: message text is empty")
    if len(text.encode("utf-16-le")) // 2 > 4096:
        raise ValueError("Bad Request: message is too long")
    return text


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
        try:
            call.result = await handler(params)
        except web.HTTPException as exc:
            call.status = exc.status  # a refused call is not a sent one (see ``sent``)
            raise
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

    @staticmethod
    def _checked(params: dict[str, Any]) -> None:
        try:
            check_text(str(params.get("text", "")), params.get("parse_mode"))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400, "description": str(exc)}),
                                     content_type="application/json") from exc

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        self._checked(params)
        return self._message(params, text=str(params.get("text", "")))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._message(params, photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}])

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._message(params, document={"file_id": "f", "file_unique_id": "u"})

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        self._checked(params)
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
