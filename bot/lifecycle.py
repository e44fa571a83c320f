"""SIGTERM and SIGINT end ``studybot run``: the one place where a signal becomes cancellation.

Why cancellation, and not a flag: a flag (an ``asyncio.Event`` set by the handler) is only seen by code that
looks at it, and start-up never did: a login waiting on an API that accepts connections and never answers sat
there, signals and all, until aiohttp's five-minute timeout. A cancelled task is interrupted wherever it waits,
in our code or a library's (a login, a gateway handshake, a long poll, a backoff sleep), and every ``finally``
and ``async with`` on the way out runs, so what was opened is closed: HTTP sessions, the gateway, the
database. Nothing else in studybot handles signals; backends only need to clean up when cancelled.

A stop that does not finish within ``grace`` seconds (a close that waits on something that never answers) is
cancelled again, as is one that gets a second signal: the operator asked twice.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE = 10.0  # seconds a stop may take before it is cancelled again


@dataclass(frozen=True, slots=True)
class Stopped:
    """The work was cancelled because the operator asked: by this signal."""

    signal: signal.Signals


async def run_until_signalled(work: Coroutine[Any, Any, T], *, grace: float = STOP_GRACE) -> T | Stopped:
    """Run ``work`` as a task until it ends, or until SIGINT or SIGTERM cancels it (then :class:`Stopped`).

    Exceptions from ``work`` propagate as they are. Cancelling the caller cancels ``work`` too. Must run in the
    main thread (Unix signal handlers); the previous handlers are back when this returns.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[signal.Signals] = []
    force: asyncio.TimerHandle | None = None

    def cancel_again() -> None:
        if not task.done():
            logger.warning("still stopping after %g s: interrupting the clean-up", grace)
            task.cancel()

    def on_signal(signum: signal.Signals) -> None:
        nonlocal force
        received.append(signum)
        if len(received) == 1:
            logger.info("stopping (%s): closing connections and the database", signum.name)
            force = loop.call_later(grace, cancel_again)
        else:
            logger.warning("%s again: interrupting the clean-up", signum.name)
        task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if received and task.cancelled():
            return Stopped(received[0])
        raise
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        if force is not None:
            force.cancel()
