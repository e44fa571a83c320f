"""The server object a test holds: its construction, lifecycle, change notification and the JSON shapes of
users, chats and members; the rest is mixed in from the modules named in the class's docstring.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.clock import TestClock, require_test_clock
from tests.fakes.telegram_api.activity import _Activity
from tests.fakes.telegram_api.chats import _Chats
from tests.fakes.telegram_api.messages import _Messages
from tests.fakes.telegram_api.model import (
    _CHANNEL_ADMIN_RIGHTS,
    _GROUP_ADMIN_RIGHTS,
    _REQUIRED_ADMIN_RIGHTS,
    _SUPERGROUP_ADMIN_RIGHTS,
    DEFAULT_ADMIN_RIGHTS,
    ChatRef,
    FloodRecord,
    Json,
    RateLimits,
    RecordedRequest,
    UserRef,
    WebhookDelivery,
    _Chat,
    _Injected,
    _Member,
)
from tests.fakes.telegram_api.photos import _Photos
from tests.fakes.telegram_api.transport import _Transport
from tests.fakes.telegram_api.updates import _Updates
from tests.fakes.telegram_api.world import _World


class FakeTelegram(_World, _Activity, _Updates, _Photos, _Messages, _Chats, _Transport):
    """A Telegram Bot API server for one bot, plus the controls a test needs.

    Construct, then ``await start()`` (or ``async with``) inside the test's event loop.
    ``clock`` is the test's clock: every date the server stamps (messages, edits, webhook errors) is its
    ``now()``, so nothing a test sees depends on today's date.  ``monotonic`` drives :class:`RateLimits`
    (durations only), so a test can pass a manual one and advance it instead of sleeping.
    ``latency`` (seconds, settable later) is the network round trip of each HTTP method call: half before
    the server handles it, half before the answer, so a client's concurrency shows as it would against Telegram.

    Each concern lives in a module of its own and is mixed in here, so a test still holds one object: the world
    it builds (:mod:`.world`), what people do and what the test inspects (:mod:`.activity`), updates and their
    delivery (:mod:`.updates`), the HTTP transport with injected failures and rate limits (:mod:`.transport`),
    and the Bot API methods by family (:mod:`.messages`, :mod:`.chats`).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        username: str = "studybot_test_bot",
        first_name: str = "StudyBot",
        privacy_mode: bool = True,
        can_join_groups: bool = True,
        supports_inline_queries: bool = False,
        strict_html: bool = True,
        first_update_id: int = 100,
        webhook_retry_delay: float = 0.05,
        webhook_connections: int = 1,
        webhook_tls_proxy: bool = False,
        clock: TestClock,
        monotonic: Callable[[], float] = time.monotonic,
        latency: float = 0.0,
    ) -> None:
        self.bot_id = 7_000_000_000 + secrets.randbelow(999_999_999)
        self.token = token or f"{self.bot_id}:AA{secrets.token_urlsafe(24)[:33]}"
        if ":" in self.token and self.token.split(":", 1)[0].isdigit():
            self.bot_id = int(self.token.split(":", 1)[0])  # a token starts with the bot's user id
        self.bot_username = username
        self.bot_first_name = first_name
        self.privacy_mode = privacy_mode
        self.can_join_groups = can_join_groups
        self.supports_inline_queries = supports_inline_queries
        self.strict_html = strict_html
        self.webhook_retry_delay = webhook_retry_delay
        # Webhook deliveries in flight at once (at most the webhook's max_connections), each on a connection of
        # its own, as Telegram spreads them; 1 keeps the one-at-a-time, in-order delivery most tests rely on.
        self.webhook_connections = webhook_connections
        # An https:// webhook URL is taken to end at a TLS-terminating proxy in front of the bot: the update
        # goes by plain HTTP to the same host and port (the bot's TELEGRAM_WEBHOOK_URL must be https://).
        self.webhook_tls_proxy = webhook_tls_proxy
        self.clock = require_test_clock(clock, "FakeTelegram")
        self._monotonic = monotonic
        self.latency = latency

        self._users: dict[int, Json] = {}
        self.photos: dict[tuple[int, int], bytes] = {}  # sendPhoto's uploads (photos.py)
        self._started: set[int] = set()
        self._blocked: set[int] = set()
        self._chats: dict[int, _Chat] = {}
        self._next_user_id = 1_000_000_001
        self._next_group_id = 4_000_000_001
        self._next_supergroup_id = 1_002_000_000_001

        self._updates: list[Json] = []
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] | None = None
        self.confirmed_offset = 0
        self._poll_waiter: asyncio.Future[str] | None = None

        self._commands: dict[tuple[tuple[str, int | None, int | None], str], list[Json]] = {}

        self.calls: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.floods: list[FloodRecord] = []
        self.unknown_methods: list[str] = []
        self.server_errors: list[str] = []  # exceptions inside the fake (bugs), see _answer
        self.dropped_updates: list[tuple[str, str]] = []  # (update type, why it was not delivered)
        self._injected: list[_Injected] = []
        self.rate_limits: RateLimits | None = None
        self._overall_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._minute_windows: dict[int, deque[float]] = {}

        self._webhook: Json | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._delivered: dict[int, Json] = {}  # update_id → the update, as delivered to the webhook
        self._webhook_wakeup = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

        self._cond = asyncio.Condition()
        self._notify_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def _unix_now(self) -> int:
        """The test clock's now as the Bot API writes dates: whole Unix seconds."""
        return int(self.clock.now().timestamp())

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Release long polls, stop webhook delivery, close the listener."""
        self._resolve_poll("stop")
        await self._stop_webhook_task()
        if self._client is not None:
            await self._client.close()
            self._client = None
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` / ``Bot(token, base_url=...)``: PTB appends the token."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def api_url(self) -> str:
        """``base_url`` with this bot's token: append ``/<method>`` for raw HTTP calls."""
        return f"{self.base_url}{self.token}"

    def _changed(self) -> None:
        """Wake :meth:`wait_for`; called after every change.  Safe from sync code."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not self._notify_scheduled:
            self._notify_scheduled = True
            task = loop.create_task(self._notify())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        self._notify_scheduled = False
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(
        self,
        predicate: Callable[[FakeTelegram], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "",
    ) -> None:
        """Return once ``predicate(self)`` is true; re-checked after every change to the fake."""
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: bool(predicate(self))), timeout)
            except TimeoutError:
                recent = [r.method for r in self.requests[-10:]]
                subject = what or getattr(predicate, "__name__", "?")
                raise AssertionError(
                    f"FakeTelegram: timed out after {timeout}s waiting for {subject};"
                    f" calls so far {dict(self.calls)}, last requests {recent},"
                    f" pending updates {self.pending_updates()}"
                ) from None

    @property
    def bot_user(self) -> Json:
        """The bot as a ``User`` (as in ``from`` of its messages)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name, "username": self.bot_username}

    def _user_json(self, user_id: int) -> Json:
        if user_id == self.bot_id:
            return self.bot_user
        return copy.deepcopy(self._users[user_id])

    def _chat_json(self, chat: _Chat) -> Json:
        if chat.type == "private":
            assert chat.user_id is not None
            user = self._users[chat.user_id]
            out: Json = {"id": chat.id, "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if user.get(key):
                    out[key] = user[key]
            out["type"] = "private"
            return out
        out = {"id": chat.id, "title": chat.title}
        if chat.username:
            out["username"] = chat.username
        if chat.is_forum:
            out["is_forum"] = True
        out["type"] = chat.type
        return out

    def _member_json(self, chat: _Chat, member: _Member) -> Json:
        user = self._user_json(member.user_id)
        status = member.status
        if status == "kicked" and chat.type == "group":
            status = "left"  # basic groups have no ban list: a removed member is "left"
        if status == "creator":
            out: Json = {"status": "creator", "user": user, "is_anonymous": member.is_anonymous}
            if member.custom_title:
                out["custom_title"] = member.custom_title
            return out
        if status == "administrator":
            out = {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": member.is_anonymous}
            names = list(_REQUIRED_ADMIN_RIGHTS)
            if chat.type in ("group", "supergroup"):
                names += _GROUP_ADMIN_RIGHTS
            if chat.type == "supergroup":
                names += _SUPERGROUP_ADMIN_RIGHTS
            if chat.type == "channel":
                names += _CHANNEL_ADMIN_RIGHTS
            for name in names:
                out[name] = bool(member.rights.get(name, DEFAULT_ADMIN_RIGHTS.get(name, False)))
            if member.custom_title:
                out["custom_title"] = member.custom_title
            return out
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": status, "user": user}

    def _chat(self, ref: ChatRef) -> _Chat:
        chat_id = ref if isinstance(ref, int) else int(ref["id"])
        try:
            return self._chats[chat_id]
        except KeyError:
            raise KeyError(f"FakeTelegram: no chat {chat_id}") from None

    @staticmethod
    def _user_id(ref: UserRef) -> int:
        return ref if isinstance(ref, int) else int(ref["id"])

    def _bot_member(self, chat: _Chat) -> _Member | None:
        return chat.members.get(self.bot_id)

    def _bot_is_admin(self, chat: _Chat) -> bool:
        member = self._bot_member(chat)
        return member is not None and member.status in ("creator", "administrator")

    def _has_right(self, chat: _Chat, user_id: int, right: str) -> bool:
        member = chat.members.get(user_id)
        if member is None:
            return False
        if member.status == "creator":
            return True
        if member.status != "administrator":
            return False
        if chat.type == "group":
            return True  # admins of basic groups are not granular
        return bool(member.rights.get(right, DEFAULT_ADMIN_RIGHTS.get(right, False)))
