"""Digests: the periods recorded for each course, and to whom each has been delivered.

A digest's report (still open, what changed, the chart's data: :class:`DigestReport`) is kept inside the
``summary`` JSON column, under ``"report"``, rather than in a column of its own: like the items, it is a snapshot
of what is sent, never queried inside, and digests recorded before it simply have none. So it needs no schema
step (and takes no migration number from the helpers adding one at the same time).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

import aiosqlite

from handlers.vocabulary.charts import DayCount, DigestChart, LessonCount
from handlers.vocabulary.digest_report import Activity, DigestReport, LessonQuestions, OpenQuestion, StillOpen
from handlers.vocabulary.domain import (
    Digest,
    DigestItem,
    MessageRef,
    PeriodSummary,
)
from storage import codec, queries
from storage.base import StoreBase

logger = logging.getLogger(__name__)


class DigestRows(StoreBase):
    """The digests part of :class:`storage.SqliteStore`."""

    # digests ---------------------------------------------------------------------------------------------
    async def last_digest_end(self, course_slug: str) -> datetime | None:
        row = await self._reader.one("SELECT MAX(period_end) FROM digests WHERE course_slug = ?", (course_slug,))
        return codec.from_micros_or_none(row[0] if row else None)

    async def digested_through(self, course_slug: str) -> int:
        row = await self._reader.one(
            "SELECT through_post FROM digests WHERE course_slug = ? ORDER BY period_end DESC LIMIT 1", (course_slug,)
        )
        return int(row[0]) if row else 0

    async def record_digest(
        self,
        course_slug: str,
        start: datetime,
        end: datetime,
        through_post: int,
        items: Sequence[DigestItem],
        summary: PeriodSummary,
        now: datetime,
        report: DigestReport | None = None,
    ) -> tuple[Digest, bool]:
        """Record the period's digest unless that period (course, end) already has one; the bool says it is new."""
        values = (
            course_slug,
            codec.to_micros(start),
            codec.to_micros(end),
            through_post,
            codec.items_to_json(items),
            summary_to_json(summary, report),
            codec.to_micros(now),
        )

        async def op(conn: aiosqlite.Connection) -> tuple[Digest, bool]:
            async with conn.execute(
                "INSERT INTO digests (course_slug, period_start, period_end, through_post, items, summary, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (course_slug, period_end) DO NOTHING",
                values,
            ) as cursor:
                new = cursor.rowcount > 0
            async with conn.execute(
                queries.DIGEST_SELECT + " WHERE course_slug = ? AND period_end = ?", (values[0], values[2])
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return digest_from(row), new

        return await self._writer.call(op)

    async def digest_deliveries(self, digest_id: int) -> set[tuple[str, str]]:
        rows = await self._reader.all(
            "SELECT platform, user_id FROM digest_deliveries WHERE digest_id = ?", (digest_id,)
        )
        return {(r[0], r[1]) for r in rows}

    async def mark_digest_delivered(self, digest_id: int, platform: str, user_id: str, at: datetime) -> None:
        await self._exec(
            "INSERT OR IGNORE INTO digest_deliveries (digest_id, platform, user_id, delivered_at) VALUES (?, ?, ?, ?)",
            (digest_id, platform, user_id, codec.to_micros(at)),
        )

    async def unsent_digests(self) -> list[Digest]:
        rows = await self._reader.all(queries.DIGEST_SELECT + " WHERE sent_at IS NULL ORDER BY period_end, id")
        return [digest_from(r) for r in rows]

    async def mark_digest_sent(self, digest_id: int, now: datetime) -> None:
        """The first send time is kept."""
        await self._exec(
            "UPDATE digests SET sent_at = ? WHERE id = ? AND sent_at IS NULL", (codec.to_micros(now), digest_id)
        )


def summary_to_json(summary: PeriodSummary, report: DigestReport | None) -> str:
    data: dict[str, Any] = asdict(summary)
    if report is not None:
        data["report"] = report_to_data(report)
    return json.dumps(data, ensure_ascii=False)


def digest_from(row: codec.Row) -> Digest:
    report = json.loads(row["summary"]).get("report")
    digest = codec.digest_from(row)
    return replace(digest, report=report_from_data(report)) if report is not None else digest


def report_to_data(report: DigestReport) -> dict[str, Any]:
    """JSON-ready: moments as epoch microseconds, dates as ISO strings."""

    def open_question(q: OpenQuestion) -> dict[str, Any]:
        data = asdict(q)
        data["asked_at"] = codec.to_micros(q.asked_at)
        return data

    chart = report.chart
    return {
        "still_open": {
            "over": list(report.still_open.over),
            "oldest": [open_question(q) for q in report.still_open.oldest],
            "most_liked": [open_question(q) for q in report.still_open.most_liked],
        },
        "current": asdict(report.current),
        "previous": asdict(report.previous) if report.previous is not None else None,
        "busiest_lessons": [[lesson.title, lesson.questions] for lesson in report.busiest_lessons],
        "chart": None
        if chart is None
        else {
            "first_day": chart.first_day.isoformat(),
            "last_day": chart.last_day.isoformat(),
            "days": [[d.day.isoformat(), d.questions, d.likes] for d in chart.days],
            "lessons": [[lesson.title, lesson.questions, lesson.likes] for lesson in chart.lessons],
            "other_lessons": chart.other_lessons,
        },
    }


def report_from_data(data: dict[str, Any]) -> DigestReport:
    def open_question(q: dict[str, Any]) -> OpenQuestion:
        ref = q.pop("ref", None)
        q["asked_at"] = codec.from_micros(q["asked_at"])
        return OpenQuestion(**q, ref=MessageRef(**ref) if ref else None)

    still = data["still_open"]
    chart = data["chart"]
    return DigestReport(
        still_open=StillOpen(
            tuple(still["over"]),
            tuple(open_question(q) for q in still["oldest"]),
            tuple(open_question(q) for q in still["most_liked"]),
        ),
        current=Activity(**data["current"]),
        previous=Activity(**data["previous"]) if data["previous"] is not None else None,
        busiest_lessons=tuple(LessonQuestions(title, count) for title, count in data["busiest_lessons"]),
        chart=None
        if chart is None
        else DigestChart(
            date.fromisoformat(chart["first_day"]),
            date.fromisoformat(chart["last_day"]),
            tuple(DayCount(date.fromisoformat(d), q, lk) for d, q, lk in chart["days"]),
            tuple(LessonCount(title, q, lk) for title, q, lk in chart["lessons"]),
            chart["other_lessons"],
        ),
    )
