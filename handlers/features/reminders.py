"""Reminders of questions left unanswered (issue 16): ``/remind <days>|off`` per course, and the reminder itself.

A question asked more than the course's days ago, still unanswered and liked at least once (itself or through a
copy of its cluster, which is reminded once, by its first copy), is posted once to the instructors: on Discord
to the course's instructors' channel when it has one, elsewhere (and on Discord without one) to each
instructor's private chat. The scheduler says when to look (:class:`RemindersDue`, at every wake-up); the core
decides which, by the event's time. Each question is claimed in the store once (the next digest marks it
reminded), and then its delivery on each platform is claimed before it is sent there: processes running
different platforms (issue 13) each send their own platforms' share, and two processes, or one before and after
a restart, never both send one share. A send that fails after its claim is logged and not retried (a reminder
missed is better than one repeated).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from handlers.features.questions import excerpt
from handlers.routing import CommandContext, Router
from handlers.services import Services
from handlers.vocabulary.actions import DirectMessage, Post
from handlers.vocabulary.content import Content, ContentBuilder
from handlers.vocabulary.domain import Course, Instructor, Platform, Question
from handlers.vocabulary.errors import DeliveryError, UsageError
from handlers.vocabulary.events import RemindersDue

logger = logging.getLogger(__name__)
router = Router("reminders")

MAX_DAYS = 365
# Reminders sent per course per wake-up: a course switching reminders on with a long backlog is reminded over a
# few wake-ups (30 s apart) rather than in one flood.
BATCH = 20
EXCERPT_LENGTH = 200
# How long a reminder waits to be delivered on a platform whose leader is away: a platform back after longer, or
# whose first instructor came later, is not sent the course's whole history of reminders.
DELIVERY_WINDOW = timedelta(days=1)


def parse_days(raw: str) -> int | None:
    """``off`` → None; a whole number of days 1–365; anything else is a usage error (nothing is changed)."""
    if raw == "off":
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise UsageError("remind.usage")
    return int(raw)


@router.command("remind")
async def cmd_remind(ctx: CommandContext) -> None:
    course, raw = ctx.course_slug(), ctx.event.args.strip().lower()
    store = ctx.services.store
    if not raw:
        days = await store.remind_days(course)
        await ctx.reply(ctx.t("remind.current", days=days) if days else ctx.t("remind.current_off"))
        return
    days = parse_days(raw)
    await store.set_remind_days(course, days)
    await ctx.reply(ctx.t("remind.set", days=days) if days else ctx.t("remind.set_off"))


@router.on(RemindersDue)
async def on_reminders_due(services: Services, event: RemindersDue) -> None:
    for course_slug, days in await services.store.reminder_courses():
        try:
            await remind_course(services, course_slug, days, event)
        except Exception:  # one course's failure must not keep the others' reminders back
            logger.exception("reminders of %s failed; retrying at the next wake-up", course_slug)


async def remind_course(services: Services, course_slug: str, days: int, event: RemindersDue) -> int:
    """Claim the course's due reminders, then deliver every claimed one not yet delivered on the platforms this
    process leads; returns how many were claimed now."""
    store = services.store
    course = await store.get_course(course_slug)
    instructors = await store.instructors(course_slug)
    if course is None or not instructors:
        return 0  # nobody to remind: leave the questions unclaimed until there is
    claimed = 0
    for question in await store.reminder_candidates(course_slug, event.at - timedelta(days=days), BATCH):
        if await store.claim_reminder(question.id, course_slug, event.at):  # else another process claimed it
            claimed += 1
    by_platform: dict[str, list[Instructor]] = defaultdict(list)
    for instructor in instructors:
        by_platform[instructor.platform].append(instructor)
    for platform, theirs in by_platform.items():
        if not event.leading.leads(platform):
            continue  # that platform's leader delivers its share
        for question in await store.reminders_to_deliver(course_slug, platform, event.at - DELIVERY_WINDOW, BATCH):
            if await store.claim_reminder_delivery(question.id, platform, event.at):
                await send_reminder(services, course, days, question, platform, theirs)
    return claimed


async def send_reminder(
    services: Services, course: Course, days: int, question: Question, platform: str, theirs: list[Instructor]
) -> None:
    """The reminder on one platform: its instructors' channel on Discord when there is one, else each of the
    platform's instructors privately."""
    content = await render_reminder(services, course, days, question)
    channel = (
        await services.store.instructors_channel(course.slug, platform) if platform == Platform.DISCORD.value else None
    )
    targets: list[Post | DirectMessage] = (
        [Post(channel, content)]
        if channel is not None
        else [DirectMessage(i.platform, i.user_id, content) for i in theirs]
    )
    for action in targets:
        try:
            await services.outbox.send(action)
        except DeliveryError as error:
            logger.warning("reminder of question %s not delivered on %s: %s", question.id, platform, error)


async def render_reminder(services: Services, course: Course, days: int, question: Question) -> Content:
    store, t, language = services.store, services.i18n, course.language
    lesson = await store.get_lesson(question.lesson_id)
    cluster = await store.cluster_of(question.id)
    likes = cluster.likes if cluster is not None else question.total_likes
    title = lesson.title if lesson is not None else ""
    out = ContentBuilder().bold(t(language, "remind.heading", days=days, id=question.id, likes=likes, lesson=title))
    out.line().text(excerpt(question.text, EXCERPT_LENGTH)).text(" — ").italic(question.author.display_name)
    if question.ref is not None:
        out.text(" ").message_link(t(language, "digest.open"), question.ref)
    out.line().italic(t(language, "remind.how_to_answer", id=question.id))
    return out.build()
