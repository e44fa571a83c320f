"""One start's catch-up after downtime: the missed messages read back (:mod:`.replay`), then the likes
reconciled (:mod:`.reconcile`), while live events keep coming.

Why one object: the intake needs two things from it while it runs — the replay's gates that live messages in a
channel not read back yet wait at, and the set of messages that got live reactions meanwhile, which
reconciliation reads again — and both exist only during the catch-up. The intake asks this object; once the
catch-up is over, both answers are "nothing to wait for".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import discord

from bot.discord_backend.reconcile import ReconcileReport, Reconciling, reconcile_likes
from bot.discord_backend.replay import MessageReplay, ReplayReport, plan_replay
from handlers.ports import Clock
from handlers.ports.backends import CatchUpStore
from handlers.vocabulary.events import Dispatch

logger = logging.getLogger(__name__)



class CatchUp:
    """Planned before the gateway connects (:meth:`plan`), run once it has (:meth:`begin`)."""

    def __init__(self, store: CatchUpStore | None, clock: Clock, days: int) -> None:
        self._store = store
        self._clock = clock
        self._days = days
        self._since: datetime | None = None
        self._replay: MessageReplay | None = None
        # While likes are reconciled: the messages that got live reaction events (see reconcile_likes).
        self.live: set[int] | None = None
        self._task: asyncio.Task[ReconcileReport | None] | None = None

    async def plan(self) -> None:
        """Where to read missed messages back from, with its gates closed; the start of the catch-up window.

        Nothing to plan without a store or with ``DISCORD_RECONCILE_DAYS`` 0. A failure to plan the replay is
        logged; the likes are still reconciled.
        """
        if self._store is None or self._days <= 0:
            return
        self._since = self._clock.now() - timedelta(days=self._days)
        try:
            self._replay = MessageReplay(await plan_replay(self._store, self._since))
        except Exception:
            logger.exception("discord: could not plan the replay of missed messages; they will not be read back")

    def begin(self, client: discord.Client, dispatch: Dispatch) -> None:
        """Run the planned catch-up in the background (nothing when none was planned)."""
        if self._since is not None:
            self._task = asyncio.create_task(self._run(client, dispatch, self._since), name="discord-catch-up")

    async def wait_for(self, channel_id: int) -> None:
        """A live message, edit or delete in a channel whose missed messages are still to be read back waits
        until they are: a reply then finds the missed question it answers, a delete the message it deletes (see
        :mod:`.replay`). Elsewhere, and once the replay is over, it returns at once."""
        if self._replay is not None:
            await self._replay.wait_for(channel_id)

    def open_gates(self) -> None:
        """No live message waits any more (start failed, or stopped during the replay)."""
        if self._replay is not None:
            self._replay.open_all()
            self._replay = None

    async def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.open_gates()

    async def report(self) -> ReconcileReport | None:
        """The report (messages read back, likes reconciled), once done (None when it did not run or failed)."""
        return await self._task if self._task is not None else None

    async def _run(self, client: discord.Client, dispatch: Dispatch, since: datetime) -> ReconcileReport | None:
        """Missed messages first, then the likes: so the likes of the questions just read back count too."""
        assert self._store is not None
        replayed: ReplayReport | None = None
        if self._replay is not None:
            try:
                replayed = await self._replay.run(client, dispatch)
            except Exception:
                logger.exception("discord: reading missed messages back failed; live messages are still handled")
            finally:
                self._replay = None  # (its gates are open)
        self.live = set()
        core = Reconciling(self._store, self._clock, dispatch)
        try:
            return await reconcile_likes(client, core, since, self.live, replayed=replayed)
        except Exception:
            logger.exception("discord: reconciliation of likes failed; live events are still counted")
            return None
        finally:
            self.live = None
