"""How reaction events get from discord.py's parser to the core: in gateway order, in lots, without a task each.

discord.py parses everything one socket read delivers in a single step of the event loop (thousands of events
under a burst) and, for every listener, schedules a task per event. For a reaction our work is a lookup and
an append, so a task per reaction cost more than the work: thousands of tasks alive at once, each scheduled,
run and collected. So the Discord client takes raw reaction events in ``dispatch`` itself (see
``backend._Client``): a reaction whose channel is already known is added to the current :class:`ReactionLots`
at once, synchronously. Whatever needs to wait — a channel to look up over REST, a clear that must follow the
reactions before it — goes to :class:`InOrder`, and while anything waits there, everything after it queues
behind it, so the gateway's order is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from handlers.domain import ReactionChange
from handlers.events import Event, ReactionBurst

logger = logging.getLogger(__name__)

Dispatch = Callable[[Event], Awaitable[None]]
Step = Callable[[], Awaitable[None]]


class ReactionLots:
    """Reactions taken in the same turn of the event loop travel together as one ReactionBurst.

    Group commit one level up: under load, one dispatch per lot instead of per reaction; when idle, a reaction
    goes alone at once.

    Nothing waits for a lot's commit. Discord never redelivers a gateway event, so waiting buys no delivery
    guarantee (missed events are what start-up reconciliation is for). Nor does a lot wait for the one before
    it: its writes queue behind the earlier lot's (the store's writer keeps their order) and go in the next
    commit, instead of waiting for the earlier commit to come back through a busy event loop first. ``done`` is
    called for each reaction once its lot is handled (committed, or failed and logged); :meth:`drain` waits for
    every lot. :attr:`failed_lots` and :attr:`failed_reactions` count the lots that failed and their reactions
    (kept only on the failure path, so the hot path pays nothing for them).
    """

    def __init__(self, dispatch: Dispatch, done: Callable[[object], None] | None = None) -> None:
        self._dispatch = dispatch
        self._done = done
        self._lot: list[ReactionChange] = []
        self._keys: list[object] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self.failed_lots = 0
        self.failed_reactions = 0

    def add(self, change: ReactionChange, key: object = None) -> None:
        """Queue ``change``; ``done(key)`` is called once it is handled (when a ``done`` was given)."""
        if not self._lot:
            flusher = asyncio.get_running_loop().create_task(self._flush(), name="discord-reaction-lot")
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        self._lot.append(change)
        if self._done is not None:
            self._keys.append(key)

    async def drain(self) -> None:
        """Return once every lot queued so far is handled (before a clear, and on stop before the store closes)."""
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)

    async def _flush(self) -> None:
        """Dispatch the lot gathered since this task was created; later reactions start the next lot."""
        lot, keys, self._lot, self._keys = self._lot, self._keys, [], []
        try:
            await self._dispatch(ReactionBurst(tuple(lot)))
        except Exception:
            self.failed_lots += 1
            self.failed_reactions += len(lot)
            logger.exception("discord: a lot of %d reactions could not be handled", len(lot))
        finally:
            if self._done is not None:
                for key in keys:
                    self._done(key)


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
