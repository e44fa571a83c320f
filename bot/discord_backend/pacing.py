"""Discord's global rate limit, kept by pacing instead of by answering 429s.

Discord allows a bot 50 requests a second over all routes ("Rate Limits" > Global Rate Limit). discord.py
keeps each route's bucket from the rate-limit headers (it waits when a bucket is empty and after a 429 for
that route only), but for the global limit it only *reacts*: it sends as fast as the callers ask until Discord
answers 429 with ``"global": true``, then stops every request. A lesson broadcast, overlapping its sends, would
hit that at once. So every REST request waits here first for its slot: slots evenly spaced, slightly under 50 a
second (the server counts arrivals, which vary by a few ms from our starts), so there is no burst at start and
no second ever carries a 51st request.

The hook is discord.py's own: ``Client(http_trace=...)`` hands an aiohttp ``TraceConfig`` to the library's
HTTP session, and aiohttp awaits its callbacks on the way out of each request — retries included, so a retry
after a route's 429 is paced too. The slot is waited for once the request has its connection (a new one or one
reused), right before it is written: waited for earlier, at the request's start, the time to open a connection
(the first requests of a broadcast each open one, while the event loop is busiest) would come between the slot
and Discord's count, and bunch those first requests together past the limit.

Not paced: the gateway's websocket (not a REST request) and the interaction and webhook-token routes, which
Discord exempts from the global limit (slash-command answers should never queue behind a broadcast).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import aiohttp

from bot.spacing import Spacing

logger = logging.getLogger(__name__)

GLOBAL_PER_SECOND = 50
# Headroom for the time between our start of a request and Discord counting it.
MARGIN = 0.04
# "are not bound to the bot's Global Rate Limit": interaction callbacks and webhook-token routes.
_EXEMPT_PATHS = ("/interactions/", "/webhooks/")


class GlobalPacer(Spacing):
    """At most one request start per ``(1 + margin) / per_second`` seconds on average, in the order asked.

    The spacing is :class:`bot.spacing.Spacing`'s: starts planned an interval apart, a late wake-up of the event
    loop not added to the next interval, and after a stall (a collection, a busy neighbour) no catch-up burst,
    which Discord would count as over the limit.
    """

    def __init__(self, per_second: int = GLOBAL_PER_SECOND, margin: float = MARGIN) -> None:
        super().__init__((1.0 + margin) / per_second, name="discord-global-pacer")

    def trace_config(self) -> aiohttp.TraceConfig:
        """The hook for ``discord.Client(http_trace=...)``: waits for a slot before each paced request."""
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._on_request_start)
        # Exactly one of these follows a request's start: its connection was reused, or a new one opened.
        config.on_connection_reuseconn.append(self._on_connection_ready)
        config.on_connection_create_end.append(self._on_connection_ready)
        return config

    async def _on_request_start(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        context.paced = is_paced(params.url.path, params.headers.get("Upgrade"))  # (a context per request)

    async def _on_connection_ready(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: object
    ) -> None:
        if getattr(context, "paced", False):
            context.paced = False  # once per request, whatever aiohttp reports
            await self.wait()


def is_paced(path: str, upgrade: str | None) -> bool:
    """REST requests count against the global limit; a websocket upgrade and the exempt routes do not."""
    if upgrade is not None and upgrade.lower() == "websocket":
        return False
    return not any(part in path for part in _EXEMPT_PATHS)
