"""The Discord harness: stories acted out by users of the local Discord server, read back from it.

The real discord.py connects to :class:`tests.fakes.discord_api.FakeDiscord`; the harness plays the people
(messages, reactions, slash commands typed into Discord's option boxes) and reads what the bot posted from
the server's own records. It never sleeps: after each act it waits for the observer it attached to the backend
to report that the resulting gateway event was handled (the core's writes committed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot.app import App, open_app
from bot.config import Settings
from bot.discord_backend import translate
from bot.discord_backend.backend import DiscordBackend, DiscordOptions
from bot.discord_backend.commands import BY_NAME, options_from_text
from bot.discord_backend.render import unescape
from handlers.i18n import Translator
from handlers.vocabulary.domain import ReactionChange
from tests.clock import TestClock
from tests.fakes.discord_api import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeMessage, FakeUser
from tests.scenarios.harness import CoreSetup, Handle

MANAGE_GUILD = 1 << 5
TIMEOUT = 10.0


def message_text(message: FakeMessage) -> str:
    """What a person reads: the content, then each embed's title, link and description."""
    parts = [message.content] if message.content else []
    for embed in message.embeds:
        parts.extend(str(embed[key]) for key in ("title", "url", "description") if embed.get(key))
        parts.extend(f"{f.get('name')}\n{f.get('value')}" for f in embed.get("fields") or [])
    return unescape("\n".join(parts))


class DiscordHarness(CoreSetup):
    """One guild with a #general study channel; people are created on first use."""

    def __init__(self, dc: FakeDiscord, clock: TestClock) -> None:
        self.dc, self.clock = dc, clock
        self.guild: FakeGuild = dc.add_guild("AI Systems study group")
        self.general: FakeChannel = dc.add_channel(self.guild, "general")
        # The study channel people act in (see use_group); #general unless a story moved elsewhere.
        self.current: FakeChannel = self.general
        self._channels: dict[str, FakeChannel] = {"main": self.general}
        self.staff = dc.add_role(self.guild, "staff", MANAGE_GUILD)
        self.app: App
        self.backend: DiscordBackend
        self.seen: Counter[tuple[str, object]] = Counter()
        self._changed = asyncio.Event()
        self._users: dict[str, FakeUser] = {}
        self._where: dict[str, int] = {}  # handle key -> channel id
        self._authors: dict[str, FakeUser] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def server(cls, clock: TestClock, *, message_content: bool = True) -> AsyncIterator[DiscordHarness]:
        """The local Discord server with the guild, the bot not running yet (see :meth:`running`)."""
        async with FakeDiscord(message_content=message_content, clock=clock) as dc, dc.patch_discord():
            yield cls(dc, clock)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings, clock: TestClock, **options: Any) -> AsyncIterator[DiscordHarness]:
        async with cls.server(clock) as harness, harness.running(settings, **options):
            yield harness

    def backend_options(self, **overrides: Any) -> DiscordOptions:
        values: dict[str, Any] = {
            "token": self.dc.token,
            "api_base_url": self.dc.base_url,
            "guild_ready_timeout": 0.05,
            "identify_delay": False,
            "connect_timeout": TIMEOUT,
        }
        values.update(overrides)
        return DiscordOptions(**values)

    @contextlib.asynccontextmanager
    async def running(self, settings: Settings, **options: Any) -> AsyncIterator[DiscordBackend]:
        """The bot process: the app on the settings' database and the backend connected to the fake."""
        self.backend = DiscordBackend(
            self.backend_options(**options), Translator.load(settings.default_language), self.clock, observer=self
        )
        async with open_app(settings, {self.backend.platform: self.backend}, self.clock) as app:
            self.app = app
            self.backend.use_ports(catalog=app.store, catch_up=app.store)
            await self.backend.start(app.dispatcher.dispatch)
            try:
                await app.scheduler.tick()  # what start-up does, without arming a real timer
                yield self.backend
            finally:
                await self.backend.stop()

    # waiting (the backend's observer) ----------------------------------------------------------------------
    def handled(self, kind: str, key: object) -> None:
        self.seen[(kind, key)] += 1
        self._changed.set()

    def reactions_handled(self, lot: Sequence[ReactionChange]) -> None:
        for change in lot:
            key = (int(change.ref.message_id), int(change.member.user_id), change.emoji)
            self.seen[("react" if change.added else "unreact", key)] += 1
        self._changed.set()

    async def until_handled(self, kind: str, key: object, before: int) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    self._changed.clear()
                    if self.seen[(kind, key)] > before:
                        return
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"the bot never handled {kind} {key!r}") from None

    # people -------------------------------------------------------------------------------------------------
    def user(self, name: str, *, admin: bool | None = None) -> FakeUser:
        user = self._users.get(name)
        if user is None:
            user = self._users[name] = self.dc.add_user(name)
            self.dc.add_member(self.guild, user)
        if admin is not None:
            member = self.guild.members[user.id]
            if admin and self.staff.id not in member.role_ids:
                member.role_ids.append(self.staff.id)
            elif not admin and self.staff.id in member.role_ids:
                member.role_ids.remove(self.staff.id)
        return user

    def handle(self, message: FakeMessage, author: FakeUser | None = None) -> Handle:
        key = str(message.id)
        self._where[key] = message.channel_id
        if author is not None:
            self._authors[key] = author
        return Handle(key, message_text(message))

    def channel_of(self, handle: Handle) -> int:
        return self._where[handle.key]

    # acts ---------------------------------------------------------------------------------------------------
    async def say(self, user: str, text: str, *, reply_to: Handle | None = None, channel: int | None = None) -> Handle:
        """A message: "replying" to a lesson post is writing in its thread; to anything else, a Discord reply."""
        author = self.user(user)
        where, reference = self._where_to_say(reply_to, channel)
        message = await self.dc.user_sends(where, author, text, reference=reference)
        await self.until_handled("message", message.id, 0)
        return self.handle(message, author)

    async def say_offline(
        self, user: str, text: str, *, reply_to: Handle | None = None, channel: int | None = None
    ) -> Handle:
        """As :meth:`say`, while the bot is down: Discord keeps the message, the gateway never delivers it."""
        author = self.user(user)
        where, reference = self._where_to_say(reply_to, channel)
        message = await self.dc.user_sends(where, author, text, reference=reference, dispatch=False)
        return self.handle(message, author)

    def _where_to_say(self, reply_to: Handle | None, channel: int | None) -> tuple[int, int | None]:
        """(channel, message replied to) for :meth:`say`."""
        if reply_to is not None and self._is_thread(int(reply_to.key)):
            return int(reply_to.key), None  # a lesson post's thread shares its id
        if reply_to is not None:
            return self.channel_of(reply_to), int(reply_to.key)
        return channel or self.current.id, None

    def _is_thread(self, channel_id: int) -> bool:
        with contextlib.suppress(KeyError):
            return self.dc.channel(channel_id).is_thread
        return False

    async def invoke(
        self,
        user: str,
        name: str,
        options: dict[str, Any],
        *,
        admin: bool = False,
        private: bool = False,
        channel: int | None = None,
    ) -> FakeInteraction:
        who = self.user(user, admin=admin)
        if private:
            interaction = await self.dc.invoke_command(None, None, who, name, options)
        else:
            interaction = await self.dc.invoke_command(self.guild, channel or self.current.id, who, name, options)
        await self.until_handled("interaction", interaction.id, 0)
        return interaction

    def replies(self, interaction: FakeInteraction) -> list[str]:
        texts = []
        for record in self.dc.interaction_responses(interaction):
            message = record.message
            if message is not None and not message.deleted and (message.content or message.embeds):
                texts.append(message_text(message))
        return list(dict.fromkeys(texts))

    async def command(
        self,
        user: str,
        text: str,
        *,
        admin: bool = False,
        private: bool = False,
        reply_to: Handle | None = None,
        channel: int | None = None,
    ) -> str:
        name, _, args = text.removeprefix("/").partition(" ")
        spec = BY_NAME[name]
        options = options_from_text(spec, args)
        if reply_to is not None and any(o.kind == "member" for o in spec.options):
            options["member"] = self._authors[reply_to.key].id
        if reply_to is not None and channel is None and not private:
            channel = self.channel_of(reply_to)
        interaction = await self.invoke(user, name, options, admin=admin, private=private, channel=channel)
        return "\n".join(self.replies(interaction))

    async def _react(self, user: str, message: Handle, emoji: str, *, add: bool) -> None:
        who = self.user(user)
        message_id, channel = int(message.key), self.channel_of(message)
        key = translate.emoji_key(emoji)
        reacted = who.id in self.dc.reactions(message_id).get(emoji.strip("<>").removeprefix("a:"), [])
        if reacted == add:
            return  # Discord sends nothing for a reaction that is already there (or already gone)
        kind = "react" if add else "unreact"
        before = self.seen[(kind, (message_id, who.id, key))]
        if add:
            await self.dc.user_reacts(channel, message_id, who, emoji)
        else:
            await self.dc.user_unreacts(channel, message_id, who, emoji)
        await self.until_handled(kind, (message_id, who.id, key), before)

    async def react(self, user: str, message: Handle, emoji: str) -> None:
        await self._react(user, message, emoji, add=True)

    async def unreact(self, user: str, message: Handle, emoji: str) -> None:
        await self._react(user, message, emoji, add=False)

    async def edit(self, user: str, message: Handle, text: str) -> None:
        message_id = int(message.key)
        before = self.seen[("edit", message_id)]
        await self.dc.user_edits(self.channel_of(message), message_id, text)
        await self.until_handled("edit", message_id, before)

    async def delete(self, user: str, message: Handle) -> None:
        message_id = int(message.key)
        before = self.seen[("delete", message_id)]
        await self.dc.user_deletes(self.channel_of(message), message_id)
        await self.until_handled("delete", message_id, before)

    # what people see ----------------------------------------------------------------------------------------
    def bot_messages(self, channel: FakeChannel | int) -> list[FakeMessage]:
        """The bot's messages in a channel and its threads, oldest first."""
        channel_id = channel if isinstance(channel, int) else channel.id
        found = list(self.dc.sent_by_bot(channel_id))
        for thread in self.dc.threads(channel_id):
            found.extend(self.dc.sent_by_bot(thread))
        return sorted(found, key=lambda m: m.id)

    def group_messages(self) -> list[str]:
        return [message_text(m) for m in self.bot_messages(self.current)]

    def replies_to(self, message: Handle) -> list[str]:
        return [
            message_text(m)
            for m in self.bot_messages(self.current)
            if (m.message_reference or {}).get("message_id") == message.key
        ]

    async def use_group(self, name: str) -> None:
        """Another text channel of the guild, a study group of its own once /setup runs there."""
        if name not in self._channels:
            self._channels[name] = self.dc.add_channel(self.guild, name)
        self.current = self._channels[name]

    def lesson_post(self, title: str) -> Handle:
        for message in self.dc.sent_by_bot(self.current):
            if any(title in str(embed.get("title")) for embed in message.embeds):
                return self.handle(message)
        raise AssertionError(f"no lesson post titled {title!r}")

    def direct_messages(self, user: str) -> list[str]:
        who = self._users[user]
        return [message_text(m) for m in self.dc.dm_messages(who) if m.author_id == self.dc.bot.id]

    def direct_charts(self, user: str) -> list[bytes]:
        """Attachments of the bot's private messages to ``user``; each must be the image of the message's first
        embed (``attachment://<filename>``), or it would show as a loose file rather than in the digest."""
        who, charts = self._users[user], []
        for message in self.dc.dm_messages(who):
            if message.author_id != self.dc.bot.id or not message.attachments:
                continue
            image = str((message.embeds[0].get("image") or {}).get("url", "")) if message.embeds else ""
            for attachment in message.attachments:
                assert image == f"attachment://{attachment['filename']}", (image, attachment)
                charts.append(self.dc.uploads[attachment["id"]])
        return charts
