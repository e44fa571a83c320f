"""The user stories acted out on Telegram: the real python-telegram-bot against the local Bot API server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.app import App, open_app
from bot.config import Settings
from bot.telegram_backend.backend import TelegramBackend, TelegramOptions
from handlers.i18n import Translator
from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram
from tests.scenarios.harness import CoreSetup, Handle

TOKEN = "123456:AAtest-token-for-the-local-bot-api-server"


def visible(message: dict[str, Any]) -> str:
    """The message as a person reads it, with each link's address after its text (as the console shows it); a
    photo reads as its caption."""
    photo = "photo" in message
    text = str(message.get("caption" if photo else "text", ""))
    units = text.encode("utf-16-le")
    entities = message.get("caption_entities" if photo else "entities", [])
    links = sorted((e["offset"] + e["length"], e["url"]) for e in entities if e["type"] == "text_link")
    for end, url in reversed(links):
        units = units[: end * 2] + f" <{url}>".encode("utf-16-le") + units[end * 2 :]
    return units.decode("utf-16-le")


class TelegramHarness(CoreSetup):
    """A supergroup where the bot is an admin, its members, and their private chats with the bot."""

    def __init__(
        self, tg: FakeTelegram, app: App, backend: TelegramBackend, clock: TestClock, before: TelegramHarness | None
    ) -> None:
        self.tg, self.app, self.backend, self.clock = tg, app, backend, clock
        if before is None:
            self.chat = tg.add_chat("supergroup", "AI study group")
            tg.set_bot_admin(self.chat, True)
        self._users: dict[str, dict[str, Any]] = {}
        self._reactions: dict[tuple[int, str, int], list[str]] = {}
        self._dm_baseline: dict[str, int] = {}
        self._status: dict[tuple[int, str], str] = {}
        self._chats: dict[str, dict[str, Any]] = {}
        if before is not None:  # the same group and people, as seen by a restarted bot
            self.chat, self._users, self._reactions = before.chat, before._users, before._reactions
            self._dm_baseline, self._status, self._chats = before._dm_baseline, before._status, before._chats
        self._chats.setdefault("main", self.chat)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, settings: Settings, clock: TestClock, tg: FakeTelegram, *, restart_of: TelegramHarness | None = None
    ) -> AsyncIterator[TelegramHarness]:
        """The bot started on ``settings``' database; ``restart_of`` a harness that ran before on the same
        database and Telegram, whose group and members this one takes over (a restart)."""
        options = TelegramOptions(token=TOKEN, api_base_url=tg.base_url.removesuffix("/bot"), poll_timeout=1)
        backend = TelegramBackend(options, Translator.load(settings.default_language), clock)
        async with open_app(settings, {backend.platform: backend}, clock) as app:
            await backend.start(app.dispatcher.dispatch)
            try:
                await app.scheduler.tick()
                yield cls(tg, app, backend, clock, restart_of)
            finally:
                await backend.stop()

    def user(self, name: str) -> dict[str, Any]:
        """A member who has already taken part, as Telegram's User object."""
        return self._users[name]

    # people -------------------------------------------------------------------------------------------------
    async def _as(self, name: str, admin: bool) -> dict[str, Any]:
        """The member ``name``, who has pressed Start in a private chat with the bot (as instructors must)."""
        if name not in self._users:
            user = self.tg.add_user(name, username=name)
            self.tg.start_private(user)
            await self.settle()
            self._users[name] = user
            self._dm_baseline[name] = len(self.tg.sent(user["id"]))  # the welcome, not a digest
        user = self._users[name]
        status = "administrator" if admin else "member"
        if self._status.get((self.chat["id"], name)) != status:
            # A join or a promotion: Telegram tells admins' bots with a chat_member update.
            self.tg.add_member(self.chat, user, status=status, announce=True)
            self._status[(self.chat["id"], name)] = status
            await self.settle()
        return user

    async def settle(self) -> None:
        """Wait until the bot has handled every update sent so far: it confirms an update only after that."""
        await self.tg.wait_for(lambda tg: tg.pending_updates() == 0, timeout=10, what="the bot to handle updates")
        await self.backend.reports_handled()  # and what its sends reported (a chat that moved)

    async def use_group(self, name: str) -> None:
        """Another supergroup where the bot is an admin (message ids are per chat, so handles are too)."""
        if name not in self._chats:
            self._chats[name] = self.tg.add_chat("supergroup", f"AI study group {name}")
            self.tg.set_bot_admin(self._chats[name], True)
        self.chat = self._chats[name]

    # acts ---------------------------------------------------------------------------------------------------
    async def say(self, user: str, text: str, *, reply_to: Handle | None = None) -> Handle:
        sender = await self._as(user, False)
        message = self.tg.user_sends(self.chat, sender, text, reply_to=int(reply_to.key) if reply_to else None)
        await self.settle()
        return Handle(str(message["message_id"]), text)

    async def command(
        self, user: str, text: str, *, admin: bool = False, private: bool = False, reply_to: Handle | None = None
    ) -> str:
        sender = await self._as(user, admin)
        chat_id = sender["id"] if private else self.chat["id"]
        before = len(self.tg.sent(chat_id))
        self.tg.user_sends(chat_id, sender, text, reply_to=int(reply_to.key) if reply_to else None)
        await self.settle()
        return "\n".join(visible(m) for m in self.tg.sent(chat_id)[before:])

    async def _set_reactions(self, user: str, message: Handle, new: list[str]) -> None:
        sender = await self._as(user, False)
        key = (self.chat["id"], user, int(message.key))
        old = self._reactions.get(key, [])
        self._reactions[key] = new
        self.tg.user_reacts(self.chat, int(message.key), sender, new=new, old=old)
        await self.settle()

    async def react(self, user: str, message: Handle, emoji: str) -> None:
        current = self._reactions.get((self.chat["id"], user, int(message.key)), [])
        await self._set_reactions(user, message, [*current, emoji])

    async def unreact(self, user: str, message: Handle, emoji: str) -> None:
        current = self._reactions.get((self.chat["id"], user, int(message.key)), [])
        await self._set_reactions(user, message, [e for e in current if e != emoji])

    async def edit(self, user: str, message: Handle, text: str) -> None:
        self.tg.user_edits(self.chat, int(message.key), text)
        await self.settle()

    async def delete(self, user: str, message: Handle) -> None:
        raise NotImplementedError("the Bot API sends no update when a member deletes a message")

    # what people see ----------------------------------------------------------------------------------------
    def group_messages(self) -> list[str]:
        return [visible(m) for m in self.tg.sent(self.chat["id"])]

    def replies_to(self, message: Handle) -> list[str]:
        return [
            visible(m)
            for m in self.tg.sent(self.chat["id"])
            if str((m.get("reply_to_message") or {}).get("message_id")) == message.key
        ]

    def lesson_post(self, title: str) -> Handle:
        for message in self.tg.sent(self.chat["id"]):
            if title in visible(message):
                return Handle(str(message["message_id"]), visible(message))
        raise AssertionError(f"no lesson post {title!r} in {self.group_messages()}")

    def direct_messages(self, user: str) -> list[str]:
        if user not in self._users:
            return []
        return [visible(m) for m in self.tg.sent(self._users[user]["id"])[self._dm_baseline[user] :]]

    def direct_charts(self, user: str) -> list[bytes]:
        """Photos the bot uploaded to ``user``'s private chat (sendPhoto), as the server kept them."""
        if user not in self._users:
            return []
        chat = self._users[user]["id"]
        sent = self.tg.sent(chat)[self._dm_baseline[user] :]
        return [self.tg.photos[(chat, m["message_id"])] for m in sent if "photo" in m]
