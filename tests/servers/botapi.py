"""A Telegram Bot API server on loopback (aiohttp), for python-telegram-bot to talk HTTP to.

It serves the methods Guichet uses, records every call, queues injected updates for
getUpdates long polling, and can be told to fail a method (429 with retry_after, 5xx), or to cut
the connection without answering, before or after carrying the call out (``cut``): a network
error the client cannot tell from a message that left.
It keeps the messages of each chat as Telegram does, so that it refuses what Telegram refuses,
with the real API's 400 descriptions: HTML it cannot parse (``check_text``), an empty text or
one over 4,096 characters, an edit of someone else's message, of a message that does not exist,
or one that changes nothing ("message is not modified").
Message ids are counted per chat, as in a supergroup.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .dovecot import free_port

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Guichet", "username": "guichet_test_bot"}
MAX_TEXT = 4096
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji",
             "code", "pre", "blockquote"}
_TAG = re.compile(r"""<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*>""")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")
# Not HTTP statuses: a connection cut before the call is carried out, or after.
CUT, CUT_AFTER = -1, -2
# Which calls of a method a failure is for, by their parameters.
Where = Callable[[dict[str, Any]], bool]
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")


class Refusal(ValueError):
    """What the Bot API answers with a 400: its description."""


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def check_text(text: str, parse_mode: str | None, limit: int = MAX_TEXT) -> str:
    """The text as Telegram would show it once its markup is parsed, or ``Refusal`` with Telegram's words."""
    if parse_mode and parse_mode.upper() == "HTML":
        text = _parse_html(text)
    if not text.strip():
        raise Refusal("Bad Request: message text is empty")
    if utf16_len(text) > limit:
        raise Refusal("Bad Request: message is too long" if limit == MAX_TEXT else
                      "Bad Request: message caption is too long")
    return text


def _parse_html(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        at = len(text[:i].encode())  # Telegram says where, in bytes
        if char == "<":
            tag = _TAG.match(text, i)
            if tag is None:
                raise Refusal(f"Bad Request: can't parse entities: Unclosed start tag at byte offset {at}")
            name = tag.group(2).lower()
            if tag.group(1):
                if not stack:
                    raise Refusal(f"Bad Request: can't parse entities: Unexpected end tag at byte offset {at}")
                if stack[-1] != name:
                    raise Refusal(f"Bad Request: can't parse entities: Unmatched end tag at byte offset {at}, "
                                  f'expected "</{stack[-1]}>", found "</{name}>"')
                stack.pop()
            elif name not in HTML_TAGS:
                raise Refusal(f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
                              f"at byte offset {at}")
            else:
                stack.append(name)
            i = tag.end()
        elif char == "&" and (entity := _ENTITY.match(text, i)):
            out.append(html.unescape(entity.group(0)))
            i = entity.end()
        else:
            out.append(char)
            i += 1
    if stack:
        raise Refusal("Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
                      f'"{stack[-1]}"')
    return "".join(out)


@dataclass
class Stored:
    """A message as the server keeps it: enough to answer edits as Telegram does."""

    from_bot: bool
    text: str | None
    markup: str = ""


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class BotApiServer:
    """Start with ``await server.start()``; ``server.base_url`` goes to ApplicationBuilder.base_url."""

    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    # method → what its next matching calls meet: (HTTP status or CUT/CUT_AFTER, parameters, which calls).
    failures: dict[str, list[tuple[int, dict[str, Any], Where | None]]] = field(default_factory=dict)
    chat_members: dict[tuple[int, int], str] = field(default_factory=dict)
    known_chats: dict[int, str] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # (chat id, message id) → the message, for edits and deletions.
    messages: dict[tuple[int, int], Stored] = field(default_factory=dict)
    # Called with each call once its answer is ready, before it is sent (e.g. to kill the client then);
    # a number returned is how many seconds to wait before sending it.
    on_call: Callable[[Call], float | None] | None = None
    _next_ids: dict[int, itertools.count[int]] = field(default_factory=dict)
    _next_query: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _closing: bool = False
    last_update_id: int = 0

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

    def fail(self, method: str, status: int, *, where: Where | None = None, **parameters: Any) -> None:
        """Make the next call of ``method`` fail (e.g. ``fail("sendMessage", 429, retry_after=1)``); with
        ``where``, the next call whose parameters it accepts."""
        self.failures.setdefault(method, []).append((status, parameters, where))

    def cut(self, method: str, *, carried_out: bool, where: Where | None = None) -> None:
        """Cut the connection of the next (matching) call of ``method`` without answering: before it is
        carried out (nothing happened) or after (a message sent all the same); the client sees the same."""
        self.fail(method, CUT_AFTER if carried_out else CUT, where=where)

    def inject(self, update: dict[str, Any]) -> int:
        update_id = next(self._next_update)
        self.last_update_id = update_id
        self._updates.append({"update_id": update_id, **update})
        self._wake.set()
        return update_id

    def message(self, chat_id: int, user_id: int, text: str | None = None, *, first_name: str = "Awa",
                chat_type: str = "private", reply_to: int | None = None, **extra: Any) -> int:
        """Inject a message from a user; returns its message_id."""
        message_id = self._next_id(chat_id)
        self.messages[(chat_id, message_id)] = Stored(False, text)
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
            "id": str(next(self._next_query)), "chat_instance": "ci",
            "from": {"id": user_id, "is_bot": False, "first_name": first_name}, "data": data,
            "message": {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                        "chat": {"id": chat_id, "type": "supergroup", "title": "Équipe"}, "text": "…"},
        }})

    def edit(self, chat_id: int, user_id: int, message_id: int, text: str, *, first_name: str = "Awa") -> int:
        """Inject an ``edited_message`` update: the user changed the text of ``message_id``; returns the
        update's id."""
        self.messages[(chat_id, message_id)] = Stored(False, text)
        return self.inject({"edited_message": {
            "message_id": message_id, "date": int(time.time()) - 5, "edit_date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": {"id": user_id, "is_bot": False, "first_name": first_name}}})

    def handled(self, update_id: int) -> bool:
        """The bot asked for the updates after ``update_id``: it has processed that one."""
        return any(int(c.params.get("offset") or 0) > update_id for c in self.calls if c.method == "getUpdates")

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
        pending = self.failures.get(method, [])
        failure = next((f for f in pending if f[2] is None or f[2](params)), None)
        if failure is not None:
            pending.remove(failure)
            status, parameters, _ = failure
            if status == CUT_AFTER:
                handler = getattr(self, f"_m_{method}")
                call.result = await handler(params)
            if status in (CUT, CUT_AFTER):
                call.status = status
                assert request.transport is not None
                request.transport.close()  # no answer: the client sees a dropped connection
                return web.Response()
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
        except Refusal as exc:
            call.status = 400
            response = web.json_response({"ok": False, "error_code": 400, "description": str(exc)}, status=400)
        else:
            response = web.json_response({"ok": True, "result": call.result})
        if self.on_call is not None and (delay := self.on_call(call)):
            await asyncio.sleep(delay)
        return response

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

    def _next_id(self, chat_id: int) -> int:
        return next(self._next_ids.setdefault(chat_id, itertools.count(1000)))

    def _message(self, params: dict[str, Any], text: str | None = None, **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message_id = self._next_id(chat_id)
        self.messages[(chat_id, message_id)] = Stored(True, text, _markup(params))
        return {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                **({"text": text} if text is not None else {}), **extra}

    def _editable(self, params: dict[str, Any]) -> tuple[tuple[int, int], Stored]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        stored = self.messages.get(key)
        if stored is None:
            raise Refusal("Bad Request: message to edit not found")
        if not stored.from_bot:
            raise Refusal("Bad Request: message can't be edited")
        return key, stored

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        check_text(str(params.get("text", "")), params.get("parse_mode"))
        return self._message(params, str(params["text"]))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        if params.get("caption"):
            check_text(str(params["caption"]), params.get("parse_mode"), limit=1024)
        return self._message(params, photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}])

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._message(params, document={"file_id": "f", "file_unique_id": "u"})

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        key, stored = self._editable(params)
        if stored.text is None:
            raise Refusal("Bad Request: there is no text in the message to edit")
        text = str(params["text"])
        check_text(text, params.get("parse_mode"))
        if (text, _markup(params)) == (stored.text, stored.markup):
            raise Refusal(NOT_MODIFIED)
        stored.text, stored.markup = text, _markup(params)
        return {**self._reply(key), "text": text}

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        key, stored = self._editable(params)
        if _markup(params) == stored.markup:
            raise Refusal(NOT_MODIFIED)
        stored.markup = _markup(params)
        return self._reply(key)

    async def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if self.messages.pop(key, None) is None:
            raise Refusal("Bad Request: message to delete not found")
        return True

    def _reply(self, key: tuple[int, int]) -> dict[str, Any]:
        chat_id, message_id = key
        return {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}}

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


def _markup(params: dict[str, Any]) -> str:
    markup = params.get("reply_markup")
    return json.dumps(markup, sort_keys=True) if markup else ""
