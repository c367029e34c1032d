"""A fake Telegram Bot API server, served over real HTTP on localhost.

It answers what aiogram 3 calls, in the real API's shapes (`{"ok": true, "result": …}`,
or `{"ok": false, "error_code": …, "description": …, "parameters": …}` with the same
HTTP status), at `/bot<token>/<method>` with the method name case-insensitive and the
parameters taken from the query string, a form (urlencoded or multipart, as aiogram
sends) or a JSON body:

* getMe; deleteWebhook (`drop_pending_updates` honoured); close; logOut;
  getMyCommands / setMyCommands / deleteMyCommands;
* getUpdates: long polling over the updates a test injects (`add_message`,
  `add_update`), honouring `offset` (earlier updates are confirmed and forgotten),
  `limit`, `timeout` and `allowed_updates`; 409 while `webhook_url` is set, and 409 to an
  older long poll when a newer one arrives ("terminated by other getUpdates request");
* sendMessage: recorded with its exact payload (form fields stay strings, as sent),
  answered with a Message; 400 for an empty or over-4096 text, 403 for `blocked_chats`;
* a wrong token gets 401 Unauthorized and an unknown method 404 Not Found, like the real API.

Failures are queued per method with `fail(...)`: 429 with retry_after, 5xx, 403, …, a
dropped connection, or a request left unanswered. The server keeps no access log: every
path carries the token.

Usage::

    async with FakeTelegram() as fake:
        settings = TelegramSettings(enabled=True, token=SecretStr(fake.token),
                                    api_server=fake.url, staff_chats=[111])
        fake.fail("sendMessage", 429, retry_after=7)
        fake.add_message(111, "/whois 0501234567")
        sent = await fake.wait_sent(1)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAHfakeTestToken-0123456789_abcdefXYZ"
USERNAME = "pbxbridge_test_bot"
TEXT_LIMIT = 4096
WAIT_LIMIT = 5.0  # seconds a wait_* helper waits before failing the test

DESCRIPTIONS = MappingProxyType(
    {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        429: "Too Many Requests: retry after {retry_after}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
)


@dataclass(frozen=True)
class ApiCall:
    """One request as the server got it (the path's method spelling kept)."""

    method: str
    params: dict[str, Any]
    content_type: str
    authorized: bool = True  # False: a wrong token, answered 401


@dataclass
class Failure:
    """The next `times` calls of a method (to `chat_id`, if given) fail this way."""

    status: int = 500
    description: str | None = None
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    disconnect: bool = False  # close the connection instead of answering
    stall: bool = False  # never answer (until the fake closes)
    times: int = 1
    chat_id: int | None = None

    def body(self) -> dict[str, Any]:
        template = self.description or DESCRIPTIONS.get(self.status, "Error")
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": template.format(retry_after=self.retry_after),
        }
        parameters: dict[str, int] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class FakeTelegram:
    def __init__(self, *, token: str = TOKEN, username: str = USERNAME) -> None:
        self.token = token
        self.username = username
        self.bot_id = int(token.partition(":")[0])
        self.calls: list[ApiCall] = []
        self.sent: list[dict[str, Any]] = []  # accepted sendMessage payloads, as received
        self.blocked_chats: set[int] = set()
        self.webhook_url = ""
        self.commands: list[dict[str, Any]] = []
        self.failures: dict[str, list[Failure]] = {}
        self.confirmed_offset = 0  # updates below this id were confirmed by an offset
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 500_000_001
        self._next_message_id: dict[int, int] = {}
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        # Set (and replaced) whenever something a waiter may care about changed.
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._url = ""
        self._routes: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "sendmessage": self._send_message,
            "close": lambda _: True,
            "logout": lambda _: True,
            "getmycommands": lambda _: self.commands,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
        }

    # ---------------------------------------------------------------- control

    @property
    def url(self) -> str:
        """Base URL for TelegramSettings.api_server (no /bot<token> part)."""
        if not self._url:
            raise RuntimeError("FakeTelegram is not started")
        return self._url

    def fail(self, method: str, status: int = 500, **kwargs: Any) -> Failure:
        """Queue a failure for `method` (any spelling): fail("sendMessage", 429, retry_after=3)."""
        failure = Failure(status=status, **kwargs)
        self.failures.setdefault(method.lower(), []).append(failure)
        return failure

    def add_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (an `update_id` is given if missing); returns its id."""
        update = dict(update)
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self._updates.append(update)
        self._poke()
        return int(update["update_id"])

    def add_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str | None = None,
        date: datetime | None = None,
    ) -> int:
        """Queue a text message as Telegram delivers it (a bot_command entity for /commands)."""
        if chat_type is None:
            chat_type = "private" if chat_id > 0 else "supergroup"
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 4242
        user = {"id": user_id, "is_bot": False, "first_name": "Оксана", "language_code": "uk"}
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Оксана"
        else:
            chat["title"] = "Підтримка"
        message: dict[str, Any] = {
            "message_id": self._message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int((date or datetime.now(UTC)).timestamp()),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"offset": 0, "length": utf16_len(command), "type": "bot_command"}
            ]
        return self.add_update({"message": message})

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        return [p for p in self.sent if p.get("chat_id") in (chat_id, str(chat_id))]

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_sent(self, count: int) -> list[dict[str, Any]]:
        """Wait until `count` messages were accepted in all; return all accepted so far."""
        await self._wait_for(lambda: len(self.sent) >= count, f"{count} sendMessage")
        return list(self.sent)

    async def wait_calls(self, method: str, count: int) -> None:
        """Wait until `method` was called `count` times (failures included)."""
        await self._wait_for(lambda: len(self.calls_of(method)) >= count, f"{count} {method}")

    async def wait_confirmed(self, update_id: int) -> None:
        """Wait until the bot confirmed `update_id` (asked for updates after it)."""
        await self._wait_for(
            lambda: self.confirmed_offset > update_id, f"update {update_id} confirmed"
        )

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        return self._url

    async def close(self) -> None:
        self._closing = True
        self._poke()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- plumbing

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()

    async def _wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        """A safety net, not a timed assertion: a test that waits in vain fails, not hangs."""
        try:
            async with asyncio.timeout(WAIT_LIMIT):
                await self._until(predicate)
        except TimeoutError:
            raise AssertionError(f"FakeTelegram: no {what} within {WAIT_LIMIT} s") from None

    def _message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = value.file.read()
                else:
                    params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        prefix = "/bot"
        if not path.startswith(prefix) or path.count("/") != 2:
            return _error(404, "Not Found")
        token, _, method = path[len(prefix) :].partition("/")
        params = await self._params(request)
        self.calls.append(ApiCall(method, params, request.content_type, token == self.token))
        self._poke()
        if token != self.token:
            return _error(401, "Unauthorized")
        name = method.lower()
        failure = self._take_failure(name, params)
        if failure is not None:
            if failure.stall:
                await self._until(lambda: self._closing)
                return _error(502, "Bad Gateway")
            if failure.disconnect:
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            return web.json_response(failure.body(), status=failure.status)
        try:
            if name == "getupdates":
                result: Any = await self._get_updates(params)
            elif name in self._routes:
                result = self._routes[name](params)
            else:
                return _error(404, "Not Found")
        except _ApiError as exc:
            return _error(exc.status, exc.description)
        body: dict[str, Any] = {"ok": True, "result": result}
        if name == "deletewebhook":
            body["description"] = "Webhook was deleted"
        return web.json_response(body)

    def _take_failure(self, name: str, params: dict[str, Any]) -> Failure | None:
        for failure in self.failures.get(name, []):
            if failure.chat_id is not None and str(params.get("chat_id")) != str(failure.chat_id):
                continue
            failure.times -= 1
            if failure.times <= 0:
                self.failures[name].remove(failure)
            return failure
        return None

    # ---------------------------------------------------------------- methods

    def _get_me(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "PBX bridge",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        if _bool(params.get("drop_pending_updates")):
            self.confirmed_offset = self._next_update_id
            self._updates.clear()
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands", "[]")
        self.commands = json.loads(commands) if isinstance(commands, str) else list(commands)
        return True

    def _delete_my_commands(self, _: dict[str, Any]) -> bool:
        self.commands = []
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        raw_chat = params.get("chat_id")
        if raw_chat in (None, ""):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw_chat)
        except (TypeError, ValueError):
            raise _ApiError(400, "Bad Request: chat not found") from None
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise _ApiError(400, "Bad Request: message is too long")
        if chat_id in self.blocked_chats:
            raise _ApiError(403, DESCRIPTIONS[403])
        self.sent.append(params)
        chat: dict[str, Any] = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        if chat_id > 0:
            chat["first_name"] = "Оксана"
        else:
            chat["title"] = "Підтримка"
        return {
            "message_id": self._message_id(chat_id),
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "PBX bridge",
                "username": self.username,
            },
            "chat": chat,
            "date": int(datetime.now(UTC).timestamp()),
            "text": text,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params.get("offset"), 0)
        limit = min(max(_int(params.get("limit"), 100), 1), 100)
        timeout = max(_int(params.get("timeout"), 0), 0)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = json.loads(allowed) if isinstance(allowed, str) else allowed
        if offset > 0:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            kept = self._updates[offset:]
            if kept:
                self.confirmed_offset = max(self.confirmed_offset, kept[0]["update_id"])
            self._updates = kept
        self._poke()
        # A newer long poll ends the one in progress, as on the real server.
        self._poll_generation += 1
        generation = self._poll_generation

        def ready() -> bool:
            return bool(self._deliverable()) or self._closing or generation != self._poll_generation

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._until(ready)
        if generation != self._poll_generation:
            raise _ApiError(409, DESCRIPTIONS[409])
        return self._deliverable()[:limit]

    def _deliverable(self) -> list[dict[str, Any]]:
        if not self._allowed_updates:
            return list(self._updates)
        return [u for u in self._updates if set(u) - {"update_id"} <= set(self._allowed_updates)]


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


def _int(value: Any, default: int) -> int:
    if value in (None, ""):
        return default
    return int(value)


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in {"true", "1"})
