"""RSS 2.0 and Atom feeds as lesson sources.

* Fetched with aiohttp as conditional requests (``If-None-Match`` / ``If-Modified-Since`` from the last
  answer); a 304 costs nothing more. Parsed by feedparser (a well-kept parser that copes with the many
  dialects of RSS and Atom), never by hand.
* Entries are identified by their guid (RSS) or id (Atom), by their link only when they have neither; a
  feed entry without any of them, or without a title and text, is reported and skipped.
* A feed seen for the first time is *primed*: its entries are stored as lessons already published (so
  ``/lesson`` can post one) and nothing is broadcast. Later entries become lessons released at their
  published time and are broadcast by the scheduler's lesson duty; entries published while the bot was down
  are still in the feed and unknown, so they are caught up at the next poll.
* A feed that is down or malformed is retried with exponential backoff (the poll interval, doubled with each
  consecutive failure, at most :data:`MAX_BACKOFF`); failures are kept in the database so the backoff
  survives a restart.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import logging
import re
import xml.sax
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import FeedSource
from handlers.ports import Clock, SourceStore
from handlers.text import safe_url
from handlers.text.intro import DEFAULT_INTRO_LENGTH, make_intro, plain_text, sanitise_html, text_content
from handlers.vocabulary.content import Content
from handlers.vocabulary.domain import Lesson, LessonDraft
from handlers.vocabulary.imported import FeedEntry, FeedState

logger = logging.getLogger(__name__)

USER_AGENT = "studybot/0.1 (lesson feeds)"
MAX_BYTES = 5 * 1024 * 1024
MAX_BACKOFF = timedelta(hours=6)
TIMEOUT_SECONDS = 30  # a feed's whole request

if TYPE_CHECKING:  # aiohttp and feedparser are imported when a feed is polled: most commands never do
    import aiohttp


def session() -> aiohttp.ClientSession:
    """The HTTP session one round of polls shares."""
    import aiohttp

    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))


_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_SLUG_OK = re.compile(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+")
_WHITESPACE = re.compile(r"\s+")


class FeedError(Exception):
    """The feed could not be fetched, or is not a well-formed RSS/Atom document."""


@dataclass(frozen=True, slots=True)
class Fetched:
    not_modified: bool
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class FeedReport:
    feed: FeedSource
    lessons: list[Lesson] = field(default_factory=list)
    primed: bool = False  # the first successful poll: lessons recorded, not posted
    not_modified: bool = False
    error: str | None = None
    problems: list[str] = field(default_factory=list)


def backoff(interval: timedelta, failures: int) -> timedelta:
    """The wait after ``failures`` consecutive failures: the interval, doubled each time, capped."""
    return min(interval * 2 ** min(max(failures - 1, 0), 16), max(MAX_BACKOFF, interval))


async def fetch(session: aiohttp.ClientSession, url: str, etag: str | None, last_modified: str | None) -> Fetched:
    import aiohttp

    headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with session.get(url, headers=headers) as response:
            if response.status == 304:
                return Fetched(
                    True,
                    etag=response.headers.get("ETag") or etag,
                    last_modified=response.headers.get("Last-Modified") or last_modified,
                )
            if response.status != 200:
                raise FeedError(f"HTTP {response.status} {response.reason or ''}".strip())
            body = bytearray()
            while chunk := await response.content.read(65536):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FeedError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
            return Fetched(
                False,
                bytes(body),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                {k.lower(): v for k, v in response.headers.items()},
            )
    except (aiohttp.ClientError, TimeoutError) as error:
        raise FeedError(f"cannot fetch: {error.__class__.__name__} {error}".strip()) from None


def _text(value: str, detail: Any) -> Content:
    kind = str(getattr(detail, "type", "") or (detail or {}).get("type", "") if detail else "")
    return text_content(value) if kind == "text/plain" else sanitise_html(value)


def entry_slug(key: str) -> str:
    """A readable, stable slug from the entry's id: its last segment, and a hash so two never collide."""
    tail = re.split(r"[/:#?=]", key.rstrip("/"))[-1]
    readable = _SLUG_OK.sub("-", tail).strip("-").lower()[:40].strip("-")
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:6]
    return f"{readable}-{digest}" if readable else f"entry-{digest}"


def _published(entry: Any) -> datetime | None:
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if moment is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(moment), tz=UTC)


def entry_to_lesson(entry: Any, course: str, intro_length: int) -> FeedEntry:
    """One feedparser entry as a lesson draft; ValueError says why it cannot be one."""
    key = str(entry.get("id") or entry.get("guid") or "").strip() or str(entry.get("link") or "").strip()
    if not key:
        raise ValueError("no guid, id or link")
    summary = entry.get("summary") or ""
    detail = entry.get("summary_detail")
    if not summary and entry.get("content"):
        summary, detail = entry["content"][0].get("value", ""), entry["content"][0]
    intro = _text(summary, detail) if summary else ()
    title = _WHITESPACE.sub(" ", plain_text(_text(entry.get("title") or "", entry.get("title_detail")))).strip()
    if not title:
        first = plain_text(intro).strip().split("\n")[0]
        title = first[:80] + ("…" if len(first) > 80 else "")
    if not title:
        raise ValueError(f"entry {key!r} has neither a title nor any text")
    draft = LessonDraft(
        course_slug=course,
        slug=entry_slug(key),
        title=title[:200],
        intro=make_intro(intro, intro_length),
        link=safe_url(entry.get("link")) or "",
        release_at=_published(entry),
    )
    return FeedEntry(key, draft)


def parse_feed(
    body: bytes, headers: Mapping[str, str], course: str, intro_length: int = DEFAULT_INTRO_LENGTH
) -> tuple[list[FeedEntry], list[str]]:
    """The feed's entries as lessons, and a note for each entry skipped. FeedError for a malformed feed."""
    import feedparser

    parsed = feedparser.parse(io.BytesIO(body), response_headers=dict(headers))
    problem = parsed.get("bozo_exception")
    if not parsed.get("version") or isinstance(problem, xml.sax.SAXException):
        raise FeedError(f"not a well-formed RSS or Atom feed ({problem or 'unknown format'})")
    entries: list[FeedEntry] = []
    notes: list[str] = []
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            entries.append(entry_to_lesson(entry, course, intro_length))
        except ValueError as error:
            notes.append(f"entry {number}: {error}; skipped")
    return entries, notes


class FeedPoller:
    """Polls one feed at a time into the store; the caller decides which feeds are due."""

    def __init__(self, store: SourceStore, clock: Clock, *, interval: timedelta, intro_length: int) -> None:
        self.store, self.clock = store, clock
        self.interval, self.intro_length = interval, intro_length

    async def poll(self, session: aiohttp.ClientSession, feed: FeedSource, state: FeedState) -> FeedReport:
        report = FeedReport(feed)
        try:
            fetched = await fetch(session, feed.url, state.etag, state.last_modified)
            entries: list[FeedEntry] = []
            if fetched.not_modified:
                report.not_modified = True
            else:
                entries, report.problems = await asyncio.to_thread(
                    parse_feed, fetched.body, fetched.headers, feed.course, self.intro_length
                )
        except FeedError as error:
            now = self.clock.now()
            failures = state.failures + 1
            retry = now + backoff(self.interval, failures)
            await self.store.feed_failed(feed.course, feed.url, str(error), now, retry)
            logger.warning(
                "feed %s of %s failed (%d in a row): %s; next attempt at %s",
                feed.url, feed.course, failures, error, retry.isoformat(),
            )  # fmt: skip
            report.error = str(error)
            return report
        for note in report.problems:
            logger.warning("feed %s of %s: %s", feed.url, feed.course, note)
        now = self.clock.now()
        report.primed = state.primed_at is None
        report.lessons = await self.store.feed_polled(
            feed.course, feed.url, entries, fetched.etag, fetched.last_modified, now, now + self.interval
        )
        if report.lessons:
            logger.info(
                "feed %s of %s: %d new entries %s",
                feed.url, feed.course, len(report.lessons),
                "recorded as known (first poll)" if report.primed else "to publish",
            )  # fmt: skip
        return report
