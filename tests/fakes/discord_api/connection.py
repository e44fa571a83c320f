"""Gateway plumbing below the protocol: transport compression, one websocket's ordered writer, a session
that outlives its connection (for RESUME), and the patch that points discord.py at the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord_api.constants import Json
from tests.fakes.discord_api.model import _dumps


def _make_compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    """Transport compression ("Gateway" > Transport Compression).

    ``zlib-stream``: ONE zlib context for the whole connection; each payload is compressed
    and flushed with Z_SYNC_FLUSH, so every frame ends with ``00 00 ff ff`` -- the marker
    clients wait for before inflating.  ``zstd-stream`` (which discord.py prefers when the
    ``zstandard`` package is importable) uses one zstd stream, flushed per payload.
    """
    if kind is None:
        return None
    if kind == "zlib-stream":
        compressor = zlib.compressobj()

        def compress_zlib(data: bytes) -> bytes:
            return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

        return compress_zlib
    if kind == "zstd-stream":
        import zstandard  # type: ignore[import-not-found]  # optional: only if the client asks

        zobj = zstandard.ZstdCompressor().compressobj()

        def compress_zstd(data: bytes) -> bytes:
            return bytes(zobj.compress(data) + zobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))

        return compress_zstd
    raise ValueError(f"unsupported compress={kind!r}")


class _Connection:
    """One gateway websocket.  A single writer task drains an ordered outbox.

    Why a queue: the compression stream and the sequence numbers must reach the wire in the
    order they were produced, while dispatches come from test code, REST handlers and the
    reader loop concurrently.  Producers only append (synchronously); the writer sends.
    """

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compress_kind = compress
        self._compress = _make_compressor(compress)
        self.outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.session: _Session | None = None
        self.identified = False
        self.closed = False
        self.server_closed = False
        self.close_code: int | None = None  # the code the fake closed with, if it did
        self.frames_sent = 0
        self._writer = asyncio.create_task(self._run_writer())

    def enqueue(self, text: str) -> None:
        if self.closed:
            return
        self.outbox.append(text)
        self._idle.clear()
        self._wake.set()

    def enqueue_many(self, texts: Iterable[str]) -> None:
        if self.closed:
            return
        self.outbox.extend(texts)
        self._idle.clear()
        self._wake.set()

    def send_op(self, op: int, data: Any) -> None:
        self.enqueue(_dumps({"op": op, "d": data, "s": None, "t": None}))

    async def flush(self) -> None:
        """Return once everything queued so far has been handed to the socket."""
        if not self.closed:
            await self._idle.wait()

    async def _run_writer(self) -> None:
        ws, compress = self.ws, self._compress
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.outbox:
                    text = self.outbox.popleft()
                    if compress is not None:
                        await ws.send_bytes(compress(text.encode()))
                    else:
                        await ws.send_str(text)
                    self.frames_sent += 1
                self._idle.set()
        except (ConnectionError, RuntimeError):
            # the peer went away mid-write; the session's history still has everything
            self.closed = True
        finally:
            self._idle.set()

    async def close(self, code: int, message: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self.server_closed = True
        self.close_code = code
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._idle.set()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=message.encode())

    async def close_after_flush(self, code: int, message: str) -> None:
        """Send what is queued (e.g. a final op), then close -- used for error closes."""
        await self.flush()
        await self.close(code, message)

    def stop(self) -> None:
        self.closed = True
        self._writer.cancel()
        self._idle.set()


class _DiscordPatch:
    """Swap ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``; a sync *and* async context manager."""

    def __init__(self, api_base: str, gateway_url: str) -> None:
        self._api_base = api_base
        self._gateway_url = gateway_url
        self._saved: tuple[str, Any] | None = None

    def __enter__(self) -> None:
        import discord.gateway
        import discord.http
        import yarl

        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self._api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway_url)

    def __exit__(self, *exc: object) -> None:
        import discord.gateway
        import discord.http

        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


@dataclass(eq=False)
class _Session:
    """A gateway session: survives its connection so RESUME can replay ("Gateway" > Resuming)."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    # what RESUME can replay; bounded like Discord's own resume window
    history: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=100_000))
    conn: _Connection | None = None
    invalid: bool = False
    presence: Json | None = None

    def owns_guild(self, guild_id: int | None) -> bool:
        # "Gateway" > Sharding: shard_id = (guild_id >> 22) % num_shards; DMs only on shard 0
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def push(self, event: str, data: Json) -> int:
        return self.push_raw(event, _dumps(data))

    def push_raw(self, event: str, data_json: str) -> int:
        """Dispatch an already-serialised ``d`` (lets bursts reuse JSON fragments)."""
        self.seq += 1
        text = f'{{"op":0,"t":"{event}","s":{self.seq},"d":{data_json}}}'
        self.history.append((self.seq, text))
        if self.conn is not None:
            self.conn.enqueue(text)
        return self.seq
