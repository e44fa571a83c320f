"""The HTTP side: reading a request in any encoding the Bot API accepts, dispatching it to the method
registered with :func:`_api`, the failures a test injects (``flood``, ``fail_next``), and Telegram's published
rate limits (:class:`RateLimits`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.telegram_api.model import (
    _TOKEN_RE,
    ApiError,
    ChatRef,
    FloodRecord,
    Json,
    RateLimits,
    RecordedRequest,
    _bad,
    _Chat,
    _Injected,
)

_log = logging.getLogger(__name__)


class _Params:
    """Bot API parameters, typed per "Making requests": values may arrive as strings (forms)
    or as JSON values; JSON-serialized objects may arrive as JSON text in a string."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = {k: v for k, v in data.items() if v is not None}

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] != ""

    def text(self, name: str, default: str | None = None) -> str | None:
        if not self.has(name):
            return default
        value = self.data[name]
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, default: int | None = None, *, error: str | None = None) -> int | None:
        if not self.has(name):
            return default
        value = self.data[name]
        if isinstance(value, bool):
            raise _bad(error or f"invalid {name} specified")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            try:
                number = float(str(value))
            except ValueError:
                raise _bad(error or f"invalid {name} specified") from None
            return int(number)

    def flag(self, name: str, default: bool = False) -> bool:
        if not self.has(name):
            return default
        value = self.data[name]
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def decoded(self, name: str, *, what: str | None = None) -> Any:
        if not self.has(name):
            return None
        value = self.data[name]
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name.replace('_', ' ')} JSON object") from None
        return value


_H = TypeVar("_H", bound=Callable[..., Awaitable[Any]])
_HANDLERS: dict[str, tuple[str, Callable[..., Awaitable[Any]]]] = {}


def _api(name: str) -> Callable[[_H], _H]:
    """Register a Bot API method; "All methods in the Bot API are case-insensitive"."""

    def register(func: _H) -> _H:
        _HANDLERS[name.lower()] = (name, func)
        return func

    return register


class _Transport:
    """HTTP requests in, answers out; injected failures and rate limits on the way."""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)", request.path)
        if not match:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        token, method = match.groups()
        try:
            params, content_type = await self._read_params(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        if self.latency > 0:
            await asyncio.sleep(self.latency / 2)
        status, body, disconnect = await self._dispatch(token, method, params, content_type)
        if self.latency > 0:
            await asyncio.sleep(self.latency / 2)
        if disconnect:
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()  # never written: the connection is already gone
        return web.json_response(body, status=status)

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[Json, str]:
        """ "Making requests": query string, application/x-www-form-urlencoded,
        application/json (except for uploading files) or multipart/form-data."""
        params: Json = dict(request.query)
        content_type = request.content_type if request.can_read_body else ""
        if request.can_read_body:
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise _bad("JSON encoded request body must be an object")
                params.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    params[key] = value if isinstance(value, str | bytes | bytearray) else value.file.read()
        return params, content_type

    async def _dispatch(self, token: str, method: str, params: Json, content_type: str) -> tuple[int, Json, bool]:
        entry = _HANDLERS.get(method.lower())
        name = entry[0] if entry else method
        self.calls[name] += 1
        status, body, disconnect = await self._answer(token, name, entry, params)
        self.requests.append(RecordedRequest(name, params, content_type, status))
        self._changed()
        return status, body, disconnect

    async def _answer(
        self, token: str, name: str, entry: tuple[str, Callable[..., Awaitable[Any]]] | None, params: Json
    ) -> tuple[int, Json, bool]:
        if token != self.token:
            # Telegram: a malformed token is "Not Found", a well-formed unknown one "Unauthorized".
            if not _TOKEN_RE.fullmatch(token):
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, False
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, False
        if entry is None:
            self.unknown_methods.append(name)
            _log.warning("FakeTelegram: method %s is not implemented (answered 404 Not Found)", name)
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, False
        injected = self._take_injected(name, params)
        if injected is not None:
            if injected.status == 429:
                retry = int((injected.parameters or {}).get("retry_after", 0))
                self.floods.append(FloodRecord(name, injected.chat_id, retry, "injected"))
            error = ApiError(injected.status, injected.description, injected.parameters)
            return injected.status, error.body(), injected.disconnect
        try:
            result = await entry[1](self, _Params(params))
        except ApiError as exc:
            return exc.status, exc.body(), False
        except Exception as exc:
            # A bug in the fake, not a Telegram answer: keep it visible (tests can assert
            # ``server_errors == []``) instead of letting it look like a flaky network.
            _log.exception("FakeTelegram: %s failed", name)
            self.server_errors.append(f"{name}: {exc!r}")
            return 500, {"ok": False, "error_code": 500, "description": f"FakeTelegram bug: {exc!r}"}, False
        return 200, {"ok": True, "result": result}, False

    def _take_injected(self, name: str, params: Json) -> _Injected | None:
        for injected in self._injected:
            if injected.method != name or injected.remaining <= 0:
                continue
            if injected.chat_id is not None:
                try:
                    chat_id = int(params.get("chat_id", 0))
                except (TypeError, ValueError):
                    continue
                if chat_id != injected.chat_id:
                    continue
            injected.remaining -= 1
            if injected.remaining == 0:
                self._injected.remove(injected)
            return injected
        return None

    async def call(self, method: str, **params: Any) -> Json:
        """Call a method in-process (no HTTP); returns the whole answer body."""
        _, body, _ = await self._dispatch(self.token, method, params, "in-process")
        return body

    def flood(
        self, method: str = "sendMessage", times: int = 1, retry_after: int = 5, *, chat_id: ChatRef | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` (for ``chat_id``, if given) answer 429
        "Too Many Requests: retry after N" with ``parameters.retry_after`` ("ResponseParameters")."""
        self._injected.append(
            _Injected(
                method=self._canonical(method),
                status=429,
                description=f"Too Many Requests: retry after {retry_after}",
                parameters={"retry_after": retry_after},
                remaining=times,
                chat_id=None if chat_id is None else self._chat(chat_id).id,
                disconnect=False,
            )
        )

    def fail_next(
        self,
        method: str,
        status: int = 502,
        *,
        times: int = 1,
        description: str | None = None,
        disconnect: bool = False,
    ) -> None:
        """The next ``times`` calls of ``method`` fail: an error answer with ``status`` (PTB raises
        NetworkError for 5xx), or with ``disconnect=True`` the connection is closed unanswered."""
        self._injected.append(
            _Injected(
                method=self._canonical(method),
                status=status,
                description=description or HTTPStatus(status).phrase,
                parameters=None,
                remaining=times,
                chat_id=None,
                disconnect=disconnect,
            )
        )

    def enable_rate_limits(self, limits: RateLimits | None = None) -> RateLimits:
        """Answer 429 as Telegram would when its published limits are exceeded (off by default)."""
        self.rate_limits = limits or RateLimits()
        return self.rate_limits

    def disable_rate_limits(self) -> None:
        self.rate_limits = None

    @staticmethod
    def _canonical(method: str) -> str:
        entry = _HANDLERS.get(method.lower())
        return entry[0] if entry else method

    def _rate_check(self, chat: _Chat, method: str) -> None:
        limits = self.rate_limits
        if limits is None:
            return
        now = self._monotonic()
        waits: list[float] = []

        def check(window: deque[float], limit: int | None, span: float) -> None:
            while window and window[0] <= now - span:
                window.popleft()
            if limit is not None and len(window) >= limit:
                waits.append(window[0] + span - now)

        check(self._overall_window, limits.overall_per_second, 1.0)
        check(self._chat_windows.setdefault(chat.id, deque()), limits.chat_per_second, 1.0)
        if chat.type in ("group", "supergroup"):
            check(self._minute_windows.setdefault(chat.id, deque()), limits.group_per_minute, 60.0)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            self.floods.append(FloodRecord(method, chat.id, retry, "limits"))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _rate_note(self, chat: _Chat) -> None:
        if self.rate_limits is None:
            return
        now = self._monotonic()
        self._overall_window.append(now)
        self._chat_windows.setdefault(chat.id, deque()).append(now)
        if chat.type in ("group", "supergroup"):
            self._minute_windows.setdefault(chat.id, deque()).append(now)
