"""The Discord backend: its collaborators put together, and the backend contract (:mod:`bot.backend`) they meet.

- :mod:`.client` — discord.py's AutoShardedBot and the gateway connection's lifecycle;
- :mod:`.intake` (with :mod:`.translate`) — events in: raw gateway events (raw reaction events,
  ``on_raw_message_edit/delete``) so that messages that are not in discord.py's cache — older ones, or any
  after a restart — still count, ``on_message`` for new messages; each becomes a core event, bots left out;
- :mod:`.interactions` — slash commands and autocomplete (the table is :mod:`.commands`');
- :mod:`.sending` — the outbox side: actions rendered (:mod:`.render`) and posted, errors mapped for the core;
- :mod:`.catch_up` — Discord sends nothing a bot missed while offline: at start, the messages written
  meanwhile where lessons were posted are read back (:mod:`.replay`), then the likes of recent posts
  (:mod:`.reconcile`).

It talks to the core only through core events (the dispatch given to :meth:`DiscordBackend.start`) and the
narrow ports of :mod:`handlers.ports.backends` (given to :meth:`DiscordBackend.use_ports`), never the core's
services.
"""

from __future__ import annotations

import logging

from bot.discord_backend import translate
from bot.discord_backend.catch_up import CatchUp
from bot.discord_backend.client import NO_MENTIONS, OFFICIAL_API, Client, DiscordOptions, Gateway, api_base, intents
from bot.discord_backend.commands import BY_NAME, sync_if_changed
from bot.discord_backend.connect import PORTAL, DiscordStartError, DiscordUnreachable
from bot.discord_backend.intake import UNOBSERVED, Intake, Observer
from bot.discord_backend.interactions import Interactions
from bot.discord_backend.reconcile import ReconcileReport
from bot.discord_backend.sending import Sender
from handlers.i18n import Translator
from handlers.ports import Clock
from handlers.ports.backends import CatchUpStore, CourseCatalog
from handlers.vocabulary.actions import Action, DirectMessage, Post, PostLesson, Reply
from handlers.vocabulary.domain import ChatRef, MessageRef
from handlers.vocabulary.events import Dispatch

logger = logging.getLogger(__name__)



class DiscordBackend:
    platform = translate.PLATFORM

    def __init__(
        self, options: DiscordOptions, i18n: Translator, clock: Clock, *, observer: Observer = UNOBSERVED
    ) -> None:
        self.options = options
        self._clock = clock
        # Tests attach an observer to learn when an inbound event has been handled; by default nobody listens.
        self._observer = observer
        self._gateway = Gateway(options)
        self._sender = Sender(self._gateway)
        self._interactions = Interactions(i18n, observer)
        self._store: CatchUpStore | None = None
        self._catch_up = CatchUp(None, clock, 0)
        self._intake: Intake | None = None
        self.synced_commands: bool | None = None

    def use_ports(self, catalog: CourseCatalog, catch_up: CatchUpStore) -> None:
        """Autocomplete reads the course catalogue; the start-up catch-up reads back what was missed."""
        self._interactions.catalog = catalog
        self._store = catch_up

    @property
    def client(self) -> Client | None:
        return self._gateway.client

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self, dispatch: Dispatch) -> None:
        self._catch_up = CatchUp(self._store, self._clock, self.options.reconcile_days)
        self._intake = Intake(dispatch, self._clock, self._gateway, self._catch_up, self._observer)
        await self._catch_up.plan()  # before the gateway connects: see replay.plan_replay
        try:
            client = await self._gateway.open(self._intake, self._interactions.commands(dispatch))
        except BaseException:
            self._catch_up.open_gates()
            raise
        self.synced_commands = await sync_if_changed(client.tree, client)
        self._catch_up.begin(client, dispatch)
        assert client.user is not None
        logger.info("discord: connected as %s on shard(s) %s", client.user, sorted(client.shards))

    async def stop(self) -> None:
        await self._catch_up.cancel()
        await self._gateway.close()
        if self._intake is not None:
            await self._intake.stop()

    @property
    def failed_reactions(self) -> int:
        """Reaction events logged as not handled so far (see :attr:`.intake.Intake.failed_reactions`)."""
        return self._intake.failed_reactions if self._intake is not None else 0

    async def reconciled(self) -> ReconcileReport | None:
        """The start-up catch-up's report (messages read back, likes reconciled), once it is done (None when it
        did not run or failed)."""
        return await self._catch_up.report()

    # sending (Outbox) -------------------------------------------------------------------------------------
    async def send(self, action: Action) -> MessageRef | None:
        match action:
            case PostLesson(chat=chat, lesson=lesson, content=content, opened=opened):
                return await self._sender.post_lesson(chat, lesson.title, lesson.link, content, opened)
            case Post(chat=chat, content=content, reply_to=reply_to, chart=chart, notify_replied=notify):
                png = chart.png if chart else None
                asker = action.asker_id if notify else None
                return await self._sender.send_content(chat, content, reply_to, png, notify_replied=notify, asker=asker)
            case Reply(to=to, content=content, ephemeral=ephemeral):
                if self._interactions.is_pending(to):
                    return await self._interactions.reply(to, content, ephemeral)
                # not a command being handled (it timed out, or a reply to a message)
                return await self._sender.send_content(ChatRef(to.platform, to.chat_id, to.thread_id), content, to)
            case DirectMessage(user_id=user_id, content=content, chart=chart):
                return await self._sender.direct_message(int(user_id), content, chart.png if chart else None)
        raise TypeError(f"discord cannot send {action!r}")

    def link_to(self, ref: MessageRef) -> str | None:
        return self._sender.link_to(ref)


__all__ = [
    "BY_NAME",
    "NO_MENTIONS",
    "OFFICIAL_API",
    "PORTAL",
    "DiscordBackend",
    "DiscordOptions",
    "DiscordStartError",
    "DiscordUnreachable",
    "api_base",
    "intents",
]
