"""A TCP server on 127.0.0.1 that accepts every connection and never answers: a platform that has gone silent.

This is what a half-dead proxy, a firewall that drops packets after the handshake, or an overloaded API looks
like from the client: the connection is up, the request is sent, and nothing ever comes back. Any wait for an
answer that has no deadline of its own hangs here.
"""

from __future__ import annotations

import asyncio
import socket

__all__ = ["SilentServer", "unused_port"]


class SilentServer:
    """``async with SilentServer() as silent:`` then point a client at ``silent.url``."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.accepted = 0
        self._accepted = asyncio.Event()
        self.port = 0

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self.accepted += 1
        self._accepted.set()
        await reader.read()  # whatever is sent is read and ignored, until the client goes away

    async def wait_accepted(self, timeout: float) -> None:  # noqa: ASYNC109
        """Until a client has connected (and so is waiting for an answer that never comes)."""
        await asyncio.wait_for(self._accepted.wait(), timeout)


def unused_port() -> int:
    """A local port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
