"""A real HTTP server on 127.0.0.1 (port 0) serving feeds the way a web server does: ETag → 304, failures."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass
class Item:
    guid: str | None
    title: str
    published: datetime
    html: str = "<p>Intro.</p>"
    link: str | None = None


@dataclass
class FeedServer:
    """``feeds`` maps a path to its body; ``fail`` makes that many next requests answer 500; ``waits_for``
    makes a path a slow site: it answers only once the path it names has been requested too."""

    feeds: dict[str, bytes] = field(default_factory=dict)
    fail: int = 0
    log: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every request
    port: int = 0
    waits_for: dict[str, str] = field(default_factory=dict)
    _requested: defaultdict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self._requested[request.path].set()
        if request.path in self.waits_for:
            await self._requested[self.waits_for[request.path]].wait()
        if self.fail > 0:
            self.fail -= 1
            self.log.append((request.path, 500))
            return web.Response(status=500, text="down")
        body = self.feeds.get(request.path)
        if body is None:
            self.log.append((request.path, 404))
            return web.Response(status=404)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.log.append((request.path, 304))
            return web.Response(status=304, headers={"ETag": etag})
        self.log.append((request.path, 200))
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": "application/xml; charset=utf-8"})


@asynccontextmanager
async def serve() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    app = web.Application()
    app.router.add_get("/{name:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        await runner.cleanup()


def rss(items: list[Item]) -> bytes:
    parts = []
    for item in items:
        guid = f'<guid isPermaLink="false">{escape(item.guid)}</guid>' if item.guid else ""
        link = f"<link>{escape(item.link)}</link>" if item.link else ""
        parts.append(
            f"<item><title>{escape(item.title)}</title>{guid}{link}"
            f"<pubDate>{format_datetime(item.published)}</pubDate>"
            f"<description>{escape(item.html)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Course</title>'
        "<link>https://course.example/</link><description>d</description>" + "".join(parts) + "</channel></rss>"
    ).encode()


def atom(items: list[Item]) -> bytes:
    parts = []
    for item in items:
        link = f'<link rel="alternate" href="{escape(item.link)}"/>' if item.link else ""
        parts.append(
            f"<entry><id>{escape(item.guid or '')}</id><title>{escape(item.title)}</title>{link}"
            f"<published>{item.published.isoformat()}</published><updated>{item.published.isoformat()}</updated>"
            f'<summary type="html">{escape(item.html)}</summary></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Course</title>'
        "<id>tag:course.example,2026:feed</id><updated>2026-11-23T08:00:00Z</updated>" + "".join(parts) + "</feed>"
    ).encode()
