"""The Discord backend: discord.py's AutoShardedBot, our listeners, and the Outbox for Discord.

Receiving: raw gateway events (raw reaction events, ``on_raw_message_edit/delete``) so that messages that
are not in discord.py's cache — older ones, or any after a restart — still count; ``on_message`` for new
messages; slash commands through ``app_commands``. Each becomes a core event (:mod:`.translate`). Messages,
edits and deletes are handled before their listener returns, so their writes are committed; reactions are
taken as discord.py parses them and stored in lots, in gateway order (:mod:`.intake`). Discord sends nothing a
bot missed while offline: at start, the messages written meanwhile where lessons were posted are read back
(:mod:`.replay`), then the likes of recent posts (:mod:`.reconcile`).

Slash commands: the interaction is acknowledged at once with a deferred ("thinking…") response, well within
Discord's 3 seconds whatever the core then does. The placeholder is a real message, and its id is the
command's ``MessageRef``: a question asked with ``/ask`` *is* the bot's public answer message, so members can
👍 it and digests can link to it. The core's :class:`~handlers.actions.Reply` fills the placeholder; an
ephemeral reply (an error) replaces it with a message only the invoker sees; a command that replies nothing
(``/lesson`` posted the lesson) removes it.

Sending: every message goes out with mentions disabled; text is escaped and split to Discord's limits
(:mod:`.render`). discord.py keeps to the rate-limit buckets and waits out 429s. Errors map to the core's
delivery errors: 50007 (DMs closed) → RecipientUnreachable, 50013/50001 (missing permission or access in a
channel) → MissingPermissions (the group needs attention; nothing else is lost), Unknown Channel →
ChatUnavailable, 5xx and network errors → TransientDeliveryError.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

import aiohttp
import discord
import discord.http
from discord.ext import commands

from bot.discord_backend import translate
from bot.discord_backend.commands import BY_NAME, CommandSpec, Completion, args_string, build_commands, sync_if_changed
from bot.discord_backend.connect import PORTAL, DiscordStartError, DiscordUnreachable, close_client, log_in_and_connect
from bot.discord_backend.intake import InOrder, ReactionLots
from bot.discord_backend.reconcile import ReconcileReport, reconcile_likes
from bot.discord_backend.render import EmbedData, render_embeds, render_messages, thread_name
from bot.discord_backend.replay import MessageReplay, ReplayReport, plan_replay
from handlers.actions import Action, DirectMessage, Post, PostLesson, Reply
from handlers.content import Content, Span, Style
from handlers.domain import ChatRef, Member, MessageRef, ReactionChange
from handlers.errors import (
    ChatUnavailable,
    DeliveryError,
    MissingPermissions,
    RecipientUnreachable,
    TransientDeliveryError,
)
from handlers.events import (
    Event,
    MessageDeleted,
    MessageEdited,
    ReactionsCleared,
)
from handlers.i18n import Translator
from handlers.ports import CatchUpStore
from handlers.services import Services

logger = logging.getLogger(__name__)

Dispatch = Callable[[Event], Awaitable[None]]
Observer = Callable[[str, object], None]
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

OFFICIAL_API = "https://discord.com/api/v10"
NO_MENTIONS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week: a lesson's questions keep coming for days


def api_base(url: str) -> str:
    """``DISCORD_API_BASE_URL`` may name the server (``http://proxy:8080``) or the versioned API root."""
    url = url.rstrip("/")
    if url.endswith("/api/v10"):
        return url
    if url.endswith("/api"):
        return url + "/v10"
    return url + "/api/v10"


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True  # privileged: switched on in the developer portal
    wanted.guild_reactions = True
    wanted.dm_messages = True
    return wanted


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    token: str
    api_base_url: str = OFFICIAL_API
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    reconcile_days: int = 14
    # discord.py waits 2 s after the last GUILD_CREATE before READY and 5 s before every IDENTIFY but the
    # first (Discord's identify rate limit); tests against the local server shorten both.
    guild_ready_timeout: float = 2.0
    identify_delay: bool = True
    # DISCORD_CONNECT_TIMEOUT: login and READY within this many seconds, or start-up gives up (see .connect).
    connect_timeout: float = 30.0
    # A stop waits this long for the gateway to acknowledge the close, then closes without it (see close_client).
    close_timeout: float = 3.0


@dataclass(slots=True)
class _Pending:
    """A slash command being handled: its interaction, and what has been said so far."""

    interaction: discord.Interaction
    spec: CommandSpec
    args: str
    ephemeral: bool
    filled: bool = False


class _Client(commands.AutoShardedBot):
    """The discord.py bot with our listeners; it processes no prefix commands (everything is a slash command)."""

    def __init__(self, backend: DiscordBackend, options: DiscordOptions) -> None:
        sharding: dict[str, Any] = {"shard_count": options.shard_count}
        if options.shard_ids:
            sharding["shard_ids"] = list(options.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            **sharding,
            guild_ready_timeout=options.guild_ready_timeout,
            allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False,
            max_messages=None,  # raw events only: a message cache would be scanned on every reaction for nothing
        )
        self._backend = backend
        self._identify_delay = options.identify_delay
        self._takers: dict[str, Callable[[Any], None]] = {
            "raw_reaction_add": lambda payload: backend.take_reaction(payload, added=True),
            "raw_reaction_remove": lambda payload: backend.take_reaction(payload, added=False),
            "raw_reaction_clear": lambda payload: backend.take_clear(payload, emoji=None),
            "raw_reaction_clear_emoji": lambda payload: backend.take_clear(
                payload, emoji=translate.emoji_key(payload.emoji)
            ),
        }

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if self._identify_delay:
            await super().before_identify_hook(shard_id, initial=initial)

    async def on_message(self, message: discord.Message) -> None:  # no process_commands: slash commands only
        await self._backend.on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._backend.on_raw_message_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._backend.on_raw_message_delete(payload.channel_id, payload.guild_id, [payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._backend.on_raw_message_delete(payload.channel_id, payload.guild_id, sorted(payload.message_ids))

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Raw reaction events are taken here, as discord.py parses them, not in a task each (see :mod:`.intake`).

        They are not dispatched further: nothing else in studybot listens for them (so ``wait_for`` on them
        would never return).
        """
        take = self._takers.get(event_name)
        if take is None:
            if event_name == "message":
                self._backend.message_arrived(args[0])
            super().dispatch(event_name, *args, **kwargs)
            return
        try:
            take(args[0])
        except Exception:  # never into discord.py's parser: it would drop the gateway connection
            logger.exception("discord: the %s event could not be taken", event_name)


class _Remembered(Generic[K, V]):
    """A dict bounded by forgetting everything when full: cheap, and a miss costs only the lookup it spared.

    Used on the hot path of raw events, for what never goes stale: a channel's (chat_id, thread_id) (a channel
    never changes its parent; this also spares a REST call for a thread outside discord.py's cache), and the
    core's Member for a user as last seen (one object per member, not per reaction).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._items: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        if len(self._items) >= self._limit:
            self._items.clear()
        self._items[key] = value
        return value


class DiscordBackend:
    platform = translate.PLATFORM

    def __init__(self, options: DiscordOptions, i18n: Translator, *, observer: Observer | None = None) -> None:
        self.options = options
        self._i18n = i18n
        # Tests learn from the observer when an inbound event has been handled (its writes committed).
        self._observer = observer
        self._dispatch: Dispatch | None = None
        self._reactions: ReactionLots | None = None
        self._in_order: InOrder | None = None
        # Messages taken by discord.py's parser whose on_message has not finished (see message_arrived).
        self._arriving: dict[int, asyncio.Future[None]] = {}
        # While likes are reconciled at start: the messages that got live reaction events (see reconcile_likes).
        self._live: set[int] | None = None
        # While missed messages are read back at start: the gates live messages wait at (see replay).
        self._replay: MessageReplay | None = None
        self._services: Services | None = None
        self._recent: CatchUpStore | None = None
        self.client: _Client | None = None
        self._connection: asyncio.Task[None] | None = None
        self._reconciler: asyncio.Task[ReconcileReport | None] | None = None
        self._pending: dict[str, _Pending] = {}
        self._chats: _Remembered[int, tuple[str, str | None]] = _Remembered()
        self._members: _Remembered[tuple[int, str, bool], Member] = _Remembered()
        self._saved_base: str | None = None
        self.synced_commands: bool | None = None

    def use_services(self, services: Services, catch_up: CatchUpStore) -> None:
        """Autocomplete reads the store through the core's services; start-up reconciliation reads recent posts
        through ``catch_up``, which the core's port does not offer."""
        self._services = services
        self._recent = catch_up

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self._reactions = ReactionLots(dispatch, self._reaction_handled)
        self._in_order = InOrder()
        since = await self._plan_catch_up()  # before the gateway connects: see replay.plan_replay
        if self.options.api_base_url.rstrip("/") != OFFICIAL_API:
            # discord.py has no per-client base URL: Route.BASE is where every REST call goes (a rate-limit
            # sharing proxy in a large deployment, the local server in tests).
            self._saved_base = discord.http.Route.BASE
            discord.http.Route.BASE = api_base(self.options.api_base_url)
        client = self.client = _Client(self, self.options)
        for command in build_commands(self._i18n, self._on_command, self._complete):
            client.tree.add_command(command)
        try:
            self._connection = await log_in_and_connect(
                client, self.options.token, api=self.options.api_base_url, within=self.options.connect_timeout
            )
        except BaseException:  # refused, unreachable, too slow, or stopped meanwhile: nothing may stay open
            await self._close_client()
            raise
        self._connection.add_done_callback(_log_gateway_end)
        self.synced_commands = await sync_if_changed(client.tree, client)
        if since is not None:
            self._reconciler = asyncio.create_task(self._catch_up(since), name="discord-catch-up")
        assert client.user is not None
        logger.info("discord: connected as %s on shard(s) %s", client.user, sorted(client.shards))

    async def stop(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconciler
        await self._close_client()
        for message_id in list(self._arriving):  # closed before their on_message ran: nothing to wait for
            self._message_settled(message_id)
        if self._in_order is not None:
            await self._in_order.drain()
        if self._reactions is not None:
            await self._reactions.drain()

    async def _close_client(self) -> None:
        """Close the gateway connection and the HTTP session, within ``close_timeout``; safe to call again."""
        if self._replay is not None:  # (start failed, or stopped during the replay): no live message waits
            self._replay.open_all()
            self._replay = None
        if self.client is not None:
            await close_client(self.client, within=self.options.close_timeout)
        if self._connection is not None:
            # Closed, discord.py's connect() returns on its own, unless it was reconnecting (waiting for a
            # gateway that does not answer, or between attempts): nothing is left for it to do either way.
            self._connection.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connection
        if self._saved_base is not None:
            discord.http.Route.BASE = self._saved_base
            self._saved_base = None

    @property
    def failed_reactions(self) -> int:
        """Reaction events logged as not handled so far: the reactions of failed lots, and failed in-order steps
        (a reaction whose channel could not be looked up, a clear that could not be applied)."""
        lots = self._reactions.failed_reactions if self._reactions is not None else 0
        return lots + (self._in_order.failed if self._in_order is not None else 0)

    async def reconciled(self) -> ReconcileReport | None:
        """The start-up catch-up's report (messages read back, likes reconciled), once it is done (None when it
        did not run or failed)."""
        return await self._reconciler if self._reconciler is not None else None

    async def _plan_catch_up(self) -> datetime | None:
        """Where to read missed messages back from, with its gates closed; the start of the catch-up window.

        None when there is no catch-up (no services, ``DISCORD_RECONCILE_DAYS`` 0). A failure to plan the
        replay is logged; the likes are still reconciled.
        """
        if self._services is None or self._recent is None or self.options.reconcile_days <= 0:
            return None
        since = self._services.clock.now() - timedelta(days=self.options.reconcile_days)
        try:
            self._replay = MessageReplay(await plan_replay(self._recent, since))
        except Exception:
            logger.exception("discord: could not plan the replay of missed messages; they will not be read back")
        return since

    async def _catch_up(self, since: datetime) -> ReconcileReport | None:
        """Missed messages first, then the likes: so the likes of the questions just read back count too."""
        assert self._services is not None and self._recent is not None
        assert self.client is not None and self._dispatch is not None
        replayed: ReplayReport | None = None
        if self._replay is not None:
            try:
                replayed = await self._replay.run(self.client, self._dispatch)
            except Exception:
                logger.exception("discord: reading missed messages back failed; live messages are still handled")
            finally:
                self._replay = None  # (its gates are open)
        self._live = set()
        try:
            return await reconcile_likes(
                self.client, self._services, self._recent, since, self._live, replayed=replayed
            )
        except Exception:
            logger.exception("discord: reconciliation of likes failed; live events are still counted")
            return None
        finally:
            self._live = None

    # receiving --------------------------------------------------------------------------------------------
    async def _handle(self, events: list[Event], kind: str, key: object) -> None:
        assert self._dispatch is not None
        try:
            for event in events:
                await self._dispatch(event)
        finally:
            if self._observer is not None:
                self._observer(kind, key)

    def _is_me(self, user_id: int) -> bool:
        return self.client is not None and self.client.user is not None and self.client.user.id == user_id

    def message_arrived(self, message: discord.Message) -> None:
        """Called as discord.py parses a new message, before its on_message task runs.

        Reactions taken after it wait until it is stored, or a like on a question that came in the same socket
        read (a resumed session replays both at once) would find no question yet and be lost.
        """
        self._arriving[message.id] = asyncio.get_running_loop().create_future()

    def _message_settled(self, message_id: int) -> None:
        arriving = self._arriving.pop(message_id, None)
        if arriving is not None and not arriving.done():
            arriving.set_result(None)

    async def on_message(self, message: discord.Message) -> None:
        try:
            if self._is_me(message.author.id):
                return
            await self._after_replay(message.channel.id)
            event = translate.message_event(message)
            await self._handle([event] if event else [], "message", message.id)
        finally:
            self._message_settled(message.id)

    async def _after_replay(self, channel_id: int) -> None:
        """A live message, edit or delete in a channel whose missed messages are still to be read back at start
        waits until they are: a reply then finds the missed question it answers, a delete the message it deletes
        (see :mod:`.replay`). Elsewhere, and once the replay is over, it returns at once.

        Reactions taken after a waiting message wait for it too, as for any message being stored (see
        :meth:`message_arrived`): only at start, and at most until the replay has read its channel.
        """
        if self._replay is not None:
            await self._replay.wait_for(channel_id)

    async def _chat(self, channel_id: int, guild_id: int | None) -> tuple[str, str | None]:
        """(chat_id, thread_id) for a channel id from a raw event: remembered, else from discord.py's cache,
        else asked once (a thread that is not cached) and remembered."""
        chat = self._chats.get(channel_id)
        if chat is None:
            chat = await self._look_up_chat(channel_id, guild_id)
            self._chats.put(channel_id, chat)
        return chat

    async def _look_up_chat(self, channel_id: int, guild_id: int | None) -> tuple[str, str | None]:
        assert self.client is not None
        channel = self.client.get_channel(channel_id)
        if channel is not None:
            return translate.chat_of(channel)
        if guild_id is None:
            return str(channel_id), None
        try:
            fetched = await self.client.fetch_channel(channel_id)
        except discord.HTTPException:
            return str(channel_id), None
        if isinstance(fetched, discord.Thread):
            return str(fetched.parent_id), str(channel_id)
        return str(channel_id), None

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._after_replay(payload.channel_id)
        content = payload.data.get("content")
        events: list[Event] = []
        if isinstance(content, str) and content:
            chat = await self._chat(payload.channel_id, payload.guild_id)
            at = translate.aware(payload.message.edited_at)
            events.append(MessageEdited(translate.message_ref(chat, payload.message_id), content, at))
        await self._handle(events, "edit", payload.message_id)

    async def on_raw_message_delete(self, channel_id: int, guild_id: int | None, message_ids: list[int]) -> None:
        await self._after_replay(channel_id)
        chat = await self._chat(channel_id, guild_id)
        now = translate.aware(None)
        for message_id in message_ids:
            await self._handle([MessageDeleted(translate.message_ref(chat, message_id), now)], "delete", message_id)

    def take_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        """The hot path of a busy server, called by discord.py's dispatch for every reaction added or removed.

        A reaction in a channel already known is added to the current lot at once; one that needs its channel
        looked up (a thread outside discord.py's cache), or that comes while anything else waits (a new message
        being stored, an earlier step), runs in order.
        """
        assert self._in_order is not None
        if self._live is not None:
            self._live.add(payload.message_id)
        chat = self._chats.get(payload.channel_id) if self._in_order.idle and not self._arriving else None
        if chat is not None:
            self._add_reaction(payload, chat, added)
            return
        messages = list(self._arriving.values())

        async def later() -> None:
            pending = [message for message in messages if not message.done()]
            if pending:  # (asyncio.wait would yield to the loop even for futures already done)
                await asyncio.wait(pending)
            self._add_reaction(payload, await self._chat(payload.channel_id, payload.guild_id), added)

        self._in_order.later(later)

    def take_clear(
        self, payload: discord.RawReactionClearEvent | discord.RawReactionClearEmojiEvent, *, emoji: str | None
    ) -> None:
        """A message's reactions (or one emoji's) were removed: after the reactions taken before it are stored."""
        assert self._in_order is not None and self._reactions is not None
        if self._live is not None:
            self._live.add(payload.message_id)
        lots = self._reactions

        async def later() -> None:
            await lots.drain()
            await self._clear(payload.channel_id, payload.guild_id, payload.message_id, emoji)

        self._in_order.later(later)

    def _add_reaction(self, payload: discord.RawReactionActionEvent, chat: tuple[str, str | None], added: bool) -> None:
        key = translate.emoji_key(payload.emoji)
        if self._is_me(payload.user_id):
            if self._observer is not None:
                self._observer("react" if added else "unreact", (payload.message_id, payload.user_id, key))
            return
        ref = MessageRef(translate.PLATFORM, chat[0], str(payload.message_id), chat[1])
        user = payload.member or (self.client.get_user(payload.user_id) if self.client else None)
        who = (
            self._member_of(user)
            if user is not None
            else Member(translate.PLATFORM, str(payload.user_id), str(payload.user_id))
        )
        assert self._reactions is not None
        observed = ("react" if added else "unreact", payload.message_id, payload.user_id, key)
        self._reactions.add(ReactionChange(ref, who, key, datetime.now(UTC), added), observed)

    def _member_of(self, user: discord.abc.User) -> Member:
        key = (user.id, user.display_name or user.name or str(user.id), bool(user.bot))
        return self._members.get(key) or self._members.put(key, Member(translate.PLATFORM, str(user.id), *key[1:]))

    def _reaction_handled(self, observed: object) -> None:
        if self._observer is not None:
            assert isinstance(observed, tuple)
            self._observer(observed[0], observed[1:])

    async def _clear(self, channel_id: int, guild_id: int | None, message_id: int, emoji: str | None) -> None:
        chat = await self._chat(channel_id, guild_id)
        event = ReactionsCleared(translate.message_ref(chat, message_id), translate.aware(None), emoji)
        await self._handle([event], "clear", (message_id, emoji))

    # slash commands ---------------------------------------------------------------------------------------
    async def _on_command(self, interaction: discord.Interaction, spec: CommandSpec, values: dict[str, Any]) -> None:
        admin = interaction.guild_id is not None and bool(interaction.permissions.manage_guild)
        # A member running an admin command will be refused: say so privately from the start.
        ephemeral = spec.admin and not admin
        response = None
        with contextlib.suppress(discord.HTTPException):
            response = await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        placeholder = response.message_id if response is not None else None
        chat = (
            translate.chat_of(interaction.channel)
            if interaction.channel is not None
            else (str(interaction.channel_id), None)
        )
        ref = translate.message_ref(chat, placeholder if placeholder is not None else f"interaction:{interaction.id}")
        args = args_string(spec, values)
        if spec.name == "likes":
            args = translate.canonical_emojis(args)
        target = values.get("member")
        pending = _Pending(interaction, spec, args, ephemeral)
        self._pending[ref.message_id] = pending
        try:
            event = translate.command_event(
                interaction, ref, spec.name, args, target=target if isinstance(target, discord.abc.User) else None
            )
            assert self._dispatch is not None
            await self._dispatch(event)
            if not pending.filled:
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
        finally:
            self._pending.pop(ref.message_id, None)
            if self._observer is not None:
                self._observer("interaction", interaction.id)

    async def _complete(self, interaction: discord.Interaction, kind: Completion, current: str) -> list[str]:
        """Course slugs, or the lessons (number or slug) of the course this channel follows."""
        if self._services is None:
            return []
        store, needle = self._services.store, current.strip().lower()
        if kind == "course":
            return [c.slug for c in await store.list_courses() if needle in c.slug.lower() or needle in c.title.lower()]
        chat = translate.chat_of(interaction.channel) if interaction.channel is not None else None
        group = await store.get_group(ChatRef(self.platform, chat[0])) if chat else None
        if group is None or group.course_slug is None:
            return []
        found = []
        for lesson in await store.list_lessons(group.course_slug):
            key = str(lesson.number) if lesson.number is not None else lesson.slug
            if needle in key.lower() or needle in lesson.title.lower():
                found.append(key)
        return found

    async def _reply(self, to: MessageRef, content: Content, ephemeral: bool) -> MessageRef | None:
        pending = self._pending.get(to.message_id)
        if pending is None:  # not a command being handled (it timed out, or a reply to a message)
            return await self._send_content(ChatRef(to.platform, to.chat_id, to.thread_id), content, to)
        interaction = pending.interaction
        if pending.spec.name == "ask" and not ephemeral and not pending.filled and pending.args:
            # The placeholder becomes the question people like: show what was asked.
            content = (Span(pending.args, Style.QUOTE), Span("\n"), *content)
        chunks = render_messages(content)
        try:
            if not pending.filled and (ephemeral == pending.ephemeral or pending.ephemeral):
                await interaction.edit_original_response(content=chunks[0], allowed_mentions=NO_MENTIONS)
                chunks = chunks[1:]
            elif not pending.filled:
                # A public placeholder cannot turn private: remove it and answer privately instead.
                await interaction.delete_original_response()
            pending.filled = True
            for chunk in chunks:
                await interaction.followup.send(chunk, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            raise _delivery_error(error, private=False) from error
        return to

    # sending (Outbox) -------------------------------------------------------------------------------------
    async def send(self, action: Action) -> MessageRef | None:
        match action:
            case PostLesson(chat=chat, lesson=lesson, content=content):
                return await self._post_lesson(chat, lesson.title, lesson.link, content)
            case Post(chat=chat, content=content, reply_to=reply_to):
                return await self._send_content(chat, content, reply_to)
            case Reply(to=to, content=content, ephemeral=ephemeral):
                return await self._reply(to, content, ephemeral)
            case DirectMessage(user_id=user_id, content=content):
                return await self._direct_message(int(user_id), content)
        raise TypeError(f"discord cannot send {action!r}")

    def _client(self) -> _Client:
        if self.client is None:
            raise TransientDeliveryError("the Discord backend is not started")
        return self.client

    async def _channel(self, channel_id: int) -> Any:
        client = self._client()
        channel = client.get_channel(channel_id)
        if channel is None:
            channel = await _call(client.fetch_channel(channel_id))
        return channel

    async def _post_lesson(self, chat: ChatRef, title: str, link: str, content: Content) -> MessageRef:
        """An embed (title, intro, link) and a public thread on it; in a forum, one post per lesson."""
        channel = await self._channel(int(chat.thread_id or chat.chat_id))
        batches = [[_embed(e) for e in batch] for batch in render_embeds(content, url=link or None)]
        if isinstance(channel, discord.ForumChannel):
            created = await _call(
                channel.create_thread(
                    name=thread_name(title),
                    embeds=batches[0],
                    allowed_mentions=NO_MENTIONS,
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                )
            )
            thread = created.thread
            for batch in batches[1:]:
                await _call(thread.send(embeds=batch, allowed_mentions=NO_MENTIONS))
            return MessageRef(self.platform, chat.chat_id, str(created.message.id), str(thread.id))
        first = await _call(channel.send(embeds=batches[0], allowed_mentions=NO_MENTIONS))
        for batch in batches[1:]:
            await _call(channel.send(embeds=batch, allowed_mentions=NO_MENTIONS))
        if isinstance(channel, discord.Thread):
            return MessageRef(self.platform, chat.chat_id, str(first.id), str(channel.id))
        try:
            thread = await _call(
                first.create_thread(name=thread_name(title), auto_archive_duration=THREAD_ARCHIVE_MINUTES)
            )
        except MissingPermissions:
            # The lesson is posted; replies to it still count. The thread is what the admin should fix.
            logger.warning(
                "discord: no permission to start a thread in channel %s; lesson posted without", chat.chat_id
            )
            return MessageRef(self.platform, chat.chat_id, str(first.id))
        return MessageRef(self.platform, chat.chat_id, str(first.id), str(thread.id))

    async def _send_content(self, chat: ChatRef, content: Content, reply_to: MessageRef | None) -> MessageRef:
        client = self._client()
        channel = client.get_partial_messageable(int(chat.thread_id or chat.chat_id))
        first: discord.Message | None = None
        for index, text in enumerate(render_messages(content)):
            reference = None
            if reply_to is not None and index == 0 and reply_to.message_id.isdigit():
                # fail_if_not_exists=False: a question deleted meanwhile still gets its answer, as a plain post.
                reference = discord.MessageReference(
                    message_id=int(reply_to.message_id),
                    channel_id=int(reply_to.thread_id or reply_to.chat_id),
                    fail_if_not_exists=False,
                )
            extra: dict[str, Any] = {"reference": reference} if reference is not None else {}
            message = await _call(channel.send(text, allowed_mentions=NO_MENTIONS, suppress_embeds=True, **extra))
            first = first or message
        assert first is not None  # render_messages always gives at least one message
        return MessageRef(self.platform, chat.chat_id, str(first.id), chat.thread_id)

    async def _direct_message(self, user_id: int, content: Content) -> MessageRef:
        """Digests: embeds (a title, the items with jump links), split as needed."""
        client = self._client()
        try:
            user = client.get_user(user_id) or await client.fetch_user(user_id)
            channel = user.dm_channel or await user.create_dm()
        except discord.HTTPException as error:
            raise _delivery_error(error, private=True) from error
        first: discord.Message | None = None
        for batch in render_embeds(content):
            embeds = [_embed(e) for e in batch]
            message = await _call(channel.send(embeds=embeds, allowed_mentions=NO_MENTIONS), private=True)
            first = first or message
        assert first is not None
        return MessageRef(self.platform, str(channel.id), str(first.id))

    def link_to(self, ref: MessageRef) -> str | None:
        """A jump link. The guild id is part of it: the one kept with the post, else (posts stored before it was
        kept) the one of the channel, for channels this process sees."""
        if not ref.message_id.isdigit():
            return None
        if ref.guild_id is not None:
            return f"https://discord.com/channels/{ref.guild_id}/{ref.thread_id or ref.chat_id}/{ref.message_id}"
        if self.client is None:
            return None
        channel = self.client.get_channel(int(ref.chat_id))
        guild = getattr(channel, "guild", None)
        where = str(guild.id) if guild is not None else "@me"
        return f"https://discord.com/channels/{where}/{ref.thread_id or ref.chat_id}/{ref.message_id}"


def _embed(data: EmbedData) -> discord.Embed:
    return discord.Embed(title=data.title, url=data.url, description=data.description)


async def _call(request: Awaitable[T], *, private: bool = False) -> T:
    """One REST call with Discord's failures mapped for the core (discord.py already waited out 429s)."""
    try:
        return await request
    except discord.HTTPException as error:
        raise _delivery_error(error, private=private) from error
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TransientDeliveryError(f"discord unreachable: {error}") from error


def _delivery_error(error: discord.HTTPException, *, private: bool) -> DeliveryError:
    described = f"{error.status} {error.code} {error.text}"
    if isinstance(error, discord.Forbidden):
        if private or error.code == 50007:
            return RecipientUnreachable(described)
        return MissingPermissions(described)
    if isinstance(error, discord.NotFound) and error.code == 10003:
        return ChatUnavailable(described)
    if isinstance(error, discord.DiscordServerError) or error.status == 429:
        return TransientDeliveryError(described)
    return DeliveryError(f"discord refused the message: {described}")


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("discord: the gateway connection ended: %r", task.exception())


__all__ = ["BY_NAME", "PORTAL", "DiscordBackend", "DiscordOptions", "DiscordStartError", "DiscordUnreachable"]
