"""Helpers for the FakeDiscord self-tests: a discord.py client that connects quickly, started and always closed,
and queues of the events it dispatches.

Kept apart from the tests so each test module stays about one concern of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord

TIMEOUT = 10.0


def make_client(
    intents: discord.Intents | None = None, cls: type[discord.Client] = discord.Client, **kwargs: Any
) -> discord.Client:
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before
    # on_ready (2 s by default) -- shortened so each test connects in well under a second.
    return cls(intents=intents or discord.Intents.default(), guild_ready_timeout=0.05, **kwargs)


@contextlib.asynccontextmanager
async def running(client: discord.Client, token: str) -> AsyncIterator[discord.Client]:
    """Start ``client``, wait for on_ready (or its failure), and always close it."""
    task: asyncio.Task[None] | None = None
    ready: asyncio.Task[None] | None = None
    try:
        await client.login(token)  # what client.start() does first; it also sets up wait_until_ready
        task = asyncio.create_task(client.connect())
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            raise AssertionError("client.start() returned before READY")
        if ready not in done:
            raise AssertionError("client never became ready")
        yield client
    finally:
        if ready is not None:
            ready.cancel()
        await client.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
                await asyncio.wait_for(task, TIMEOUT)


def record(client: discord.Client, event: str) -> asyncio.Queue[Any]:
    """Queue every ``event`` the client dispatches (one argument or a tuple of them)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def handler(*args: Any) -> None:
        await queue.put(args[0] if len(args) == 1 else args)

    handler.__name__ = f"on_{event}"
    client.event(handler)
    return queue


async def next_item(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), TIMEOUT)


class QuickReidentify(discord.Client):
    """discord.py sleeps 5 s before every non-initial IDENTIFY; tests don't need to."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


class QuickShardedClient(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None
