"""Events in: what Discord sends becomes core events, in gateway order, and reactions travel in lots.

:class:`Intake` is what the client (:mod:`.client`) hands every event to. Messages, edits and deletes are
handled before their listener returns, so their writes are committed. Bots are left out here (their messages
and reactions never reach the core), with :mod:`.translate`.

Reactions are the hot path. discord.py parses everything one socket read delivers in a single step of the event
loop (thousands of events under a burst) and, for every listener, schedules a task per event. For a reaction our
work is a lookup and an append, so a task per reaction cost more than the work: thousands of tasks alive at
once, each scheduled, run and collected. So the Discord client takes raw reaction events in ``dispatch`` itself
(see :class:`.client.Client`): a reaction whose channel is already known is added to the current
:class:`ReactionLots` at once, synchronously. Whatever needs to wait — a channel to look up over REST, a clear
that must follow the reactions before it — goes to :class:`InOrder`, and while anything waits there, everything
after it queues behind it, so the gateway's order is kept.

Tests learn when an event has been handled through an :class:`Observer` they attach; nothing on the way checks
for one (the default does nothing), and reactions are reported once per lot, not one by one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import discord

from bot.discord_backend import translate
from bot.discord_backend.catch_up import CatchUp
from bot.discord_backend.client import Gateway
from handlers.ports import Clock
from handlers.vocabulary.domain import Member, MessageRef, ReactionChange
from handlers.vocabulary.events import Dispatch, Event, MessageDeleted, MessageEdited, ReactionBurst, ReactionsCleared

logger = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]
Lot = Sequence[ReactionChange]
BOTS_REMEMBERED = 10_000
K = TypeVar("K")
V = TypeVar("V")


class Observer(Protocol):
    """Told when an inbound event has been handled (its writes committed, or its failure logged).

    ``handled(kind, key)``: a message, edit, delete (``key`` the message id), clear (``(message id, emoji)``),
    interaction (its id), or a reaction left out at the border (``(message id, user id, emoji)``);
    ``reactions_handled(lot)``: the reactions of one lot.
    """

    def handled(self, kind: str, key: object) -> None: ...
    def reactions_handled(self, lot: Lot) -> None: ...


class Unobserved:
    """The observer of a production process: nobody."""

    def handled(self, kind: str, key: object) -> None:
        return None

    def reactions_handled(self, lot: Lot) -> None:
        return None


UNOBSERVED = Unobserved()


class Remembered(dict[K, V]):
    """A dict bounded by forgetting everything when full: cheap, and a miss costs only the lookup it spared.

    Used on the hot path of raw events, for what never goes stale: a channel's (chat_id, thread_id) (a channel
    never changes its parent; this also spares a REST call for a thread outside discord.py's cache), the core's
    Member for a user as last seen and the MessageRef of a message (one object each, not one per reaction).
    A dict itself, so that a lookup is the dict's own ``get``, with no Python call around it.
    """

    def __init__(self, limit: int = 10_000) -> None:
        super().__init__()
        self._limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self._limit:
            self.clear()
        self[key] = value
        return value


class Intake:
    """Discord's events → core events, handed to the core's dispatch."""

    def __init__(
        self, dispatch: Dispatch, clock: Clock, gateway: Gateway, catch_up: CatchUp, observer: Observer
    ) -> None:
        self._dispatch = dispatch
        self._clock = clock
        self._gateway = gateway
        self._catch_up = catch_up
        self._observer = observer
        self.reactions = ReactionLots(dispatch, clock, observer.reactions_handled)
        self.in_order = InOrder()
        # Messages taken by discord.py's parser whose on_message has not finished (see message_arrived).
        self._arriving: dict[int, asyncio.Future[None]] = {}
        self._chats: Remembered[int, tuple[str, str | None]] = Remembered()
        self._members: Remembered[tuple[int, str], Member] = Remembered()
        # The core's MessageRef of a message that gets reactions: a burst brings many to the same few messages,
        # and one ref each spares a frozen dataclass built (and collected) per reaction. By message id alone (no
        # key tuple built per reaction): a snowflake is unique across channels, and a message never moves.
        self._refs: Remembered[int, MessageRef] = Remembered()
        # Bots seen reacting: a removal carries no user object to tell (see _reactor).
        self._bots: set[int] = set()

    @property
    def failed_reactions(self) -> int:
        """Reaction events logged as not handled so far: the reactions of failed lots, and failed in-order steps
        (a reaction whose channel could not be looked up, a clear that could not be applied)."""
        return self.reactions.failed_reactions + self.in_order.failed

    async def stop(self) -> None:
        """Once the client is closed: what was taken is handled before the store closes."""
        for message_id in list(self._arriving):  # closed before their on_message ran: nothing to wait for
            self._message_settled(message_id)
        await self.in_order.drain()
        await self.reactions.drain()

    # messages ---------------------------------------------------------------------------------------------
    async def _handle(self, events: list[Event], kind: str, key: object) -> None:
        try:
            for event in events:
                await self._dispatch(event)
        finally:
            self._observer.handled(kind, key)

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
            event = translate.message_event(message)  # None for bots (ourselves included): they wait for nothing
            if event is not None:
                await self._catch_up.wait_for(message.channel.id)
            await self._handle([event] if event else [], "message", message.id)
        finally:
            self._message_settled(message.id)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._catch_up.wait_for(payload.channel_id)
        content = payload.data.get("content")
        events: list[Event] = []
        if isinstance(content, str) and content:
            chat = await self._chat(payload.channel_id, payload.guild_id)
            edited = payload.message.edited_at
            at = translate.aware(edited) if edited is not None else self._clock.now()
            events.append(MessageEdited(translate.message_ref(chat, payload.message_id), content, at))
        await self._handle(events, "edit", payload.message_id)

    async def on_raw_message_delete(self, channel_id: int, guild_id: int | None, message_ids: list[int]) -> None:
        await self._catch_up.wait_for(channel_id)
        chat = await self._chat(channel_id, guild_id)
        now = self._clock.now()
        for message_id in message_ids:
            await self._handle([MessageDeleted(translate.message_ref(chat, message_id), now)], "delete", message_id)

    # channels ---------------------------------------------------------------------------------------------
    async def _chat(self, channel_id: int, guild_id: int | None) -> tuple[str, str | None]:
        """(chat_id, thread_id) for a channel id from a raw event: remembered, else from discord.py's cache,
        else asked once (a thread that is not cached) and remembered."""
        chat = self._chats.get(channel_id) or self._cached_chat(channel_id)
        if chat is None:
            chat = await self._look_up_chat(channel_id, guild_id)
            self._chats.put(channel_id, chat)
        return chat

    def _cached_chat(self, channel_id: int) -> tuple[str, str | None] | None:
        """The chat of a channel in discord.py's cache (remembered), without waiting; None if it is not there."""
        client = self._gateway.client
        channel = client.get_channel(channel_id) if client is not None else None
        if channel is None:
            return None
        return self._chats.put(channel_id, translate.chat_of(channel))

    async def _look_up_chat(self, channel_id: int, guild_id: int | None) -> tuple[str, str | None]:
        client = self._gateway.client
        assert client is not None
        if guild_id is None:
            return str(channel_id), None
        try:
            fetched = await client.fetch_channel(channel_id)
        except discord.HTTPException:
            return str(channel_id), None
        if isinstance(fetched, discord.Thread):
            return str(fetched.parent_id), str(channel_id)
        return str(channel_id), None

    # reactions --------------------------------------------------------------------------------------------
    def take_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        """The hot path of a busy server, called by discord.py's dispatch for every reaction added or removed.

        A reaction in a channel already known is added to the current lot at once; one that needs its channel
        looked up (a thread outside discord.py's cache), or that comes while anything else waits (a new message
        being stored, an earlier step), runs in order.
        """
        live = self._catch_up.live
        if live is not None:
            live.add(payload.message_id)
        chat = None
        if self.in_order.idle and not self._arriving:
            # The first reaction in a channel finds it in discord.py's cache as well as later ones find it
            # remembered: only a channel that must be asked for over REST waits (and what follows waits behind it).
            chat = self._chats.get(payload.channel_id) or self._cached_chat(payload.channel_id)
        if chat is not None:
            self._add_reaction(payload, chat, added)
            return
        messages = list(self._arriving.values())

        async def later() -> None:
            pending = [message for message in messages if not message.done()]
            if pending:  # (asyncio.wait would yield to the loop even for futures already done)
                await asyncio.wait(pending)
            self._add_reaction(payload, await self._chat(payload.channel_id, payload.guild_id), added)

        self.in_order.later(later)

    def take_clear(
        self, payload: discord.RawReactionClearEvent | discord.RawReactionClearEmojiEvent, *, emoji: str | None
    ) -> None:
        """A message's reactions (or one emoji's) were removed: after the reactions taken before it are stored."""
        live = self._catch_up.live
        if live is not None:
            live.add(payload.message_id)
        lots = self.reactions

        async def later() -> None:
            await lots.drain()
            await self._clear(payload.channel_id, payload.guild_id, payload.message_id, emoji)

        self.in_order.later(later)

    def _add_reaction(self, payload: discord.RawReactionActionEvent, chat: tuple[str, str | None], added: bool) -> None:
        key = translate.emoji_key(payload.emoji)
        who = self._reactor(payload)
        if who is None:  # a bot (ourselves included): no like, so not the core's business
            self._observer.handled("react" if added else "unreact", (payload.message_id, payload.user_id, key))
            return
        message_id = payload.message_id
        ref = self._refs.get(message_id)
        if ref is None:
            ref = self._refs.put(message_id, MessageRef(translate.PLATFORM, chat[0], str(message_id), chat[1]))
        self.reactions.add(ref, who, key, added)

    def _reactor(self, payload: discord.RawReactionActionEvent) -> Member | None:
        """Who reacted, or None for a bot (ourselves included). An add in a guild carries the member; a removal
        only the user id, so a bot is known then by its id from before, or from discord.py's user cache."""
        user: discord.abc.User | None = payload.member
        if user is None:
            if payload.user_id in self._bots or self._gateway.is_me(payload.user_id):
                return None
            client = self._gateway.client
            user = client.get_user(payload.user_id) if client is not None else None
            if user is None:
                return Member(translate.PLATFORM, str(payload.user_id), str(payload.user_id))
        if user.bot:
            if len(self._bots) >= BOTS_REMEMBERED:
                self._bots.clear()
            self._bots.add(user.id)
            return None
        key = (user.id, user.display_name or user.name or str(user.id))
        return self._members.get(key) or self._members.put(key, Member(translate.PLATFORM, str(user.id), *key[1:]))

    async def _clear(self, channel_id: int, guild_id: int | None, message_id: int, emoji: str | None) -> None:
        chat = await self._chat(channel_id, guild_id)
        event = ReactionsCleared(translate.message_ref(chat, message_id), self._clock.now(), emoji)
        await self._handle([event], "clear", (message_id, emoji))


class ReactionLots:
    """Reactions taken in the same turn of the event loop travel together as one ReactionBurst.

    Group commit one level up: under load, one dispatch per lot instead of per reaction; when idle, a reaction
    goes alone at once.

    A reaction's time is its lot's: the clock is read once, as the lot begins (a turn of the loop, well under a
    second even under a burst; Discord's reaction events carry no time of their own). So the store finds a
    burst's likes on a post at one instant, and keeps them as one group (storage migration 0021), where a time
    read per reaction would differ by microseconds for each.

    Nothing waits for a lot's commit. Discord never redelivers a gateway event, so waiting buys no delivery
    guarantee (missed events are what start-up reconciliation is for). Nor does a lot wait for the one before
    it: its writes queue behind the earlier lot's (the store's writer keeps their order) and go in the next
    commit, instead of waiting for the earlier commit to come back through a busy event loop first. ``done`` is
    called with each lot once it is handled (committed, or failed and logged): once per lot, so a reaction costs
    nothing more for it; :meth:`drain` waits for every lot. :attr:`failed_lots` and :attr:`failed_reactions`
    count the lots that failed and their reactions (kept only on the failure path, so the hot path pays nothing
    for them).
    """

    def __init__(
        self, dispatch: Dispatch, clock: Clock, done: Callable[[Lot], None] = UNOBSERVED.reactions_handled
    ) -> None:
        self._dispatch = dispatch
        self._clock = clock
        self._done = done
        self._lot: list[ReactionChange] = []
        self._lot_began = clock.now()
        self._flushers: set[asyncio.Task[None]] = set()
        self.failed_lots = 0
        self.failed_reactions = 0

    def add(self, ref: MessageRef, member: Member, emoji: str, added: bool) -> None:
        """Queue a reaction in the current lot, at the lot's time (the first of a turn starts the lot's task)."""
        if not self._lot:
            self._lot_began = self._clock.now()
            flusher = asyncio.get_running_loop().create_task(self._flush(), name="discord-reaction-lot")
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        self._lot.append(ReactionChange(ref, member, emoji, self._lot_began, added))

    async def drain(self) -> None:
        """Return once every lot queued so far is handled (before a clear, and on stop before the store closes)."""
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)

    async def _flush(self) -> None:
        """Dispatch the lot gathered since this task was created; later reactions start the next lot."""
        lot, self._lot = tuple(self._lot), []
        try:
            await self._dispatch(ReactionBurst(lot))
        except Exception:
            self.failed_lots += 1
            self.failed_reactions += len(lot)
            logger.exception("discord: a lot of %d reactions could not be handled", len(lot))
        finally:
            self._done(lot)


class InOrder:
    """Steps that must wait, run one after another in the order taken.

    The caller does its work synchronously while :attr:`idle`, and hands it here as a step otherwise, so
    nothing overtakes a step that is waiting. A failed step is logged (and counted in :attr:`failed`) and the
    next one runs.
    """

    def __init__(self) -> None:
        self._steps: deque[Step] = deque()
        self._worker: asyncio.Task[None] | None = None
        self.failed = 0

    @property
    def idle(self) -> bool:
        return not self._steps

    def later(self, step: Step) -> None:
        self._steps.append(step)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="discord-reactions-in-order")

    async def drain(self) -> None:
        """Return once every step taken so far has run."""
        while self._worker is not None:
            await asyncio.shield(self._worker)

    async def _work(self) -> None:
        try:
            while self._steps:
                try:
                    await self._steps[0]()
                except Exception:
                    self.failed += 1
                    logger.exception("discord: a reaction event could not be handled")
                # Only now is it gone: until the step has run, whatever comes next queues behind it.
                self._steps.popleft()
        finally:
            self._worker = None
