"""Digests: the most-liked questions of a period, for the course's instructors.

A period runs from the end of the last recorded one to the time the digest is due. It is recorded before it is
sent and marked sent after, so a crash in between is finished by :func:`resume_unsent_digests` and a period
is never sent twice (the store refuses a second record for the same period).

What a digest covers is decided by when studybot *received* the posts, not by their dates: the posts stored
after the previous digest was recorded, up to the moment this one is (a :class:`PostWindow`). A question asked
while the bot was down is dated inside a period that the catch-up digest at start may already have recorded,
before the platform's backlog was read; under this rule it is in the next digest, and every post is in
exactly one.

Besides the ranked list, a digest reports (issue 16) what is still open (unanswered questions of earlier
periods by age, the oldest and the most liked named), what changed against the previous period, and a chart of
the period (:class:`DigestChart`, drawn by the adapters). That report is built when the period is recorded and
kept with it, so a digest resumed after a crash says the same thing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from handlers.features.questions import excerpt
from handlers.routing import CommandContext, Router
from handlers.services import EMPTY_SKIP, Services
from handlers.vocabulary.actions import Chart, DirectMessage, Post
from handlers.vocabulary.charts import LessonCount, build_chart, local_date, local_days, period_dates
from handlers.vocabulary.content import Content, ContentBuilder, plain
from handlers.vocabulary.digest_report import DigestReport, LessonQuestions, OpenQuestion, change
from handlers.vocabulary.domain import Course, Digest, DigestItem, Instructor, PeriodSummary, PostWindow
from handlers.vocabulary.errors import DeliveryError, NotPermitted, RecipientUnreachable, UsageError
from handlers.vocabulary.events import EVERY_PLATFORM, DigestDue, Leading, SendsUnfinished

logger = logging.getLogger(__name__)
router = Router("digests")

EXCERPT_LENGTH = 140
OPEN_NAMED = 3  # still-open questions named, oldest and most liked each
OPEN_EXCERPT_LENGTH = 80
BUSIEST_LESSONS = 3
MAX_EXTRA_DAYS = timedelta(days=31)


async def next_window(services: Services, course_slug: str, since: datetime | None = None) -> PostWindow:
    """What a digest recorded now covers: the posts stored since the course's last recorded digest, or, with
    ``since``, every post stored so far that is dated at or after it."""
    store = services.store
    after = 0 if since is not None else await store.digested_through(course_slug)
    return PostWindow(after, await store.newest_post_id(), since)


async def build_digest_items(
    services: Services, course: Course, window: PostWindow
) -> tuple[list[DigestItem], PeriodSummary]:
    store = services.store
    ranked = await store.period_questions(course.slug, window, course.digest_size)
    reminded = await store.reminded_among([r.question.id for r in ranked])
    items = [
        DigestItem(
            question_id=r.question.id,
            lesson_title=r.lesson_title,
            likes=r.total_likes,
            author=r.question.author.display_name,
            excerpt=excerpt(r.question.text, EXCERPT_LENGTH),
            ref=r.question.ref,
            answered=r.question.answered,
            copies=r.copies,
            reminded=r.question.id in reminded,
        )
        for r in ranked
    ]
    return items, await store.period_summary(course.slug, window)


async def build_report(
    services: Services,
    course: Course,
    window: PostWindow,
    start: datetime,
    end: datetime,
    *,
    compare: bool,
) -> DigestReport:
    """Still open, what changed (against the period of the same length before ``start`` when ``compare``) and
    the chart's data. Per-day counts come from one store query over the course's local days."""
    store = services.store
    still = await store.still_open(course.slug, window, end, OPEN_NAMED)
    named = [q.question_id for q in (*still.oldest, *still.most_liked)]
    reminded = await store.reminded_among(named) if named else set()

    def shown(q: OpenQuestion) -> OpenQuestion:
        return replace(_short(q), reminded=q.question_id in reminded)

    oldest, most_liked = tuple(shown(q) for q in still.oldest), tuple(shown(q) for q in still.most_liked)
    still = replace(still, oldest=oldest, most_liked=most_liked)
    current = await store.activity_between(course.slug, start, end)
    previous = await store.activity_between(course.slug, start - (end - start), start) if compare else None
    first, last = period_dates(start, end, course.timezone) if end > start else (local_date(end, course.timezone),) * 2
    counts = await store.chart_counts(course.slug, window, local_days(first, last, course.timezone))
    if counts.outside is not None:
        # Posts stored late, dated outside the period: their days are drawn too, up to a month either side (an
        # import of old posts would otherwise stretch the bars over years; those still count per lesson).
        first = max(min(first, local_date(counts.outside[0], course.timezone)), first - MAX_EXTRA_DAYS)
        last = min(max(last, local_date(counts.outside[1], course.timezone)), last + MAX_EXTRA_DAYS)
        counts = await store.chart_counts(course.slug, window, local_days(first, last, course.timezone))
    chart = build_chart(first, last, counts.days, counts.lessons)
    return DigestReport(still, current, previous, _busiest(counts.lessons), chart)


def _short(question: OpenQuestion) -> OpenQuestion:
    return replace(question, excerpt=excerpt(question.excerpt, OPEN_EXCERPT_LENGTH))


def _busiest(lessons: list[LessonCount]) -> tuple[LessonQuestions, ...]:
    totals: dict[str, int] = {}
    for lesson in lessons:
        totals[lesson.title] = totals.get(lesson.title, 0) + lesson.questions
    ranked = sorted(((t, n) for t, n in totals.items() if n), key=lambda pair: (-pair[1], pair[0]))
    return tuple(LessonQuestions(title, count) for title, count in ranked[:BUSIEST_LESSONS])


def render_changes(services: Services, language: str, report: DigestReport, out: ContentBuilder) -> None:
    t = services.i18n
    out.line().bold(t(language, "digest.changes_heading")).line()
    before = report.previous
    for key, now, was in (
        ("digest.change_questions", report.current.questions, before.questions if before else None),
        ("digest.change_likes", report.current.likes, before.likes if before else None),
        ("digest.change_members", report.current.members, before.members if before else None),
    ):
        label = t(language, key)
        if was is None:
            out.text(t(language, "digest.change_first", label=label, now=now)).line()
            continue
        arrow, percent = change(now, was)
        if percent is None:
            out.text(t(language, "digest.change_from_zero", label=label, now=now, arrow=arrow, before=was)).line()
        else:
            line = t(language, "digest.change_percent", label=label, now=now, arrow=arrow, percent=percent, before=was)
            out.text(line).line()
    if report.busiest_lessons:
        names = ", ".join(
            t(language, "digest.lesson_questions", title=lesson.title, count=lesson.questions)
            for lesson in report.busiest_lessons
        )
        out.text(t(language, "digest.busiest_lessons", lessons=names)).line()


def render_still_open(
    services: Services, language: str, report: DigestReport, end: datetime, out: ContentBuilder
) -> None:
    still, t = report.still_open, services.i18n
    if not still.any:
        return
    out.line().bold(t(language, "digest.still_open_heading")).line()
    over1, over3, over7 = still.over
    out.text(t(language, "digest.still_open_counts", over1=over1, over3=over3, over7=over7)).line()
    for key, questions in (("digest.still_open_oldest", still.oldest), ("digest.still_open_liked", still.most_liked)):
        if not questions:
            continue
        out.text(t(language, key)).line()
        for q in questions:
            days = max((end - q.asked_at).days, 0)
            out.text("• ").text(t(language, "digest.open_item", id=q.question_id, likes=q.likes, days=days))
            out.text(" ").text(q.excerpt).text(" — ").italic(q.lesson_title)
            if q.reminded:
                out.text(" ").text(t(language, "digest.reminded_mark"))
            if q.ref is not None:
                out.text(" ").message_link(t(language, "digest.open"), q.ref)
            out.line()


def render_digest(
    services: Services,
    language: str,
    course: Course,
    start: datetime | None,
    end: datetime,
    items: list[DigestItem] | tuple[DigestItem, ...],
    summary: PeriodSummary,
    report: DigestReport | None = None,
) -> Content:
    t = services.i18n
    out = ContentBuilder()
    out.bold(t(language, "digest.heading", course=course.title)).line()
    period_start = start.strftime("%Y-%m-%d") if start else t(language, "digest.beginning")
    out.text(t(language, "digest.period", start=period_start, end=end.strftime("%Y-%m-%d"))).line()
    out.text(
        t(
            language,
            "digest.summary",
            questions=summary.questions,
            comments=summary.comments,
            likes=summary.likes,
        )
    ).line()
    if summary.most_active_lesson:
        out.text(t(language, "digest.most_active", lesson=summary.most_active_lesson)).line()
    if report is not None and (items or summary.comments):
        render_changes(services, language, report, out)
    if not items:
        out.line().text(t(language, "digest.empty")).line()
        if report is not None:
            render_still_open(services, language, report, end, out)
        return out.build()
    current_lesson = None
    for item in items_grouped_by_lesson(items):
        if item.lesson_title != current_lesson:
            current_lesson = item.lesson_title
            out.line().bold(f"📖 {item.lesson_title}").line()
        out.text(t(language, "digest.item", id=item.question_id, likes=item.likes)).text(" ")
        out.text(item.excerpt).text(" — ").italic(item.author)
        if item.copies:
            out.text(" ").text(t(language, "top.also_asked", count=len(item.copies), ids=_ids(item.copies)))
        if item.answered:
            out.text(" ").text(t(language, "digest.answered_mark"))
        if item.reminded:
            out.text(" ").text(t(language, "digest.reminded_mark"))
        if item.ref is not None:
            out.text(" ").message_link(t(language, "digest.open"), item.ref)
        elif item.link:  # recorded before links were made at send time
            out.text(" ").link(t(language, "digest.open"), item.link)
        out.line()
    if report is not None:
        render_still_open(services, language, report, end, out)
    out.line().italic(t(language, "digest.how_to_answer"))
    return out.build()


def _ids(copies: tuple[int, ...]) -> str:
    return ", ".join(f"#{c}" for c in copies)


def items_grouped_by_lesson(items: list[DigestItem] | tuple[DigestItem, ...]) -> list[DigestItem]:
    """Group by lesson, lessons ordered by their best question, keeping the like order inside each lesson."""
    order: dict[str, int] = {}
    for index, item in enumerate(items):
        order.setdefault(item.lesson_title, index)
    return sorted(items, key=lambda item: order[item.lesson_title])


async def send_digest(services: Services, digest: Digest, leading: Leading = EVERY_PLATFORM) -> bool:
    """Deliver a recorded digest to every instructor it has not reached yet; mark it sent once anyone has it.

    Each delivery is recorded as it succeeds, so a digest resumed after a crash skips the instructors who
    already received it. An instructor who cannot be reached (never opened a private chat with the bot) does
    not hold the others back; the digest counts as sent when at least one instructor has it.

    Only the instructors on platforms this process leads are sent to (``leading``); while a platform led by
    another process (``leading.elsewhere``) has an instructor the digest has not reached, it stays unsent, so
    that platform's leader finds it among the unsent digests and delivers its share.
    """
    store = services.store
    course = await store.get_course(digest.course_slug)
    if course is None:
        return False
    empty = not digest.items and not digest.summary.comments
    if empty and services.empty_digest == EMPTY_SKIP:
        await store.mark_digest_sent(digest.id, services.clock.now())
        return False
    content = render_digest(
        services,
        course.language,
        course,
        digest.period_start,
        digest.period_end,
        digest.items,
        digest.summary,
        digest.report,
    )
    report = digest.report
    # An empty period noted (EMPTY_DIGEST=note) sends no picture.
    chart = Chart(report.chart, course.language) if report and report.chart and not empty else None
    delivered = await store.digest_deliveries(digest.id)
    unreachable: list[Instructor] = []
    instructors = await store.instructors(course.slug)
    for instructor in instructors:
        key = (instructor.platform, instructor.user_id)
        if key in delivered or not leading.leads(instructor.platform):
            continue
        try:
            await services.outbox.send(DirectMessage(instructor.platform, instructor.user_id, content, chart))
        except RecipientUnreachable:
            unreachable.append(instructor)
            continue
        except DeliveryError:
            logger.warning("digest %s could not reach an instructor on %s", digest.id, instructor.platform)
            continue
        await store.mark_digest_delivered(digest.id, instructor.platform, instructor.user_id, services.clock.now())
        delivered.add(key)
    if unreachable:
        delivered |= await send_to_instructors_channel(services, digest, course, content, unreachable, chart)
    waiting = awaited_platforms(leading, instructors, delivered)
    if waiting:
        # Two platforms' leaders sending together each read the deliveries before the other's was recorded; read
        # them again, after this process's own are: of the two, the one that reads last sees both and marks it
        # sent (else it stayed unsent until a leader's next wake-up, up to a poll interval later).
        delivered |= await store.digest_deliveries(digest.id)
        waiting = awaited_platforms(leading, instructors, delivered)
    if delivered and not waiting:
        await store.mark_digest_sent(digest.id, services.clock.now())
        return True
    if waiting:
        logger.info("digest %s of %s waits for its leader on %s", digest.id, course.slug, ", ".join(sorted(waiting)))
        return False
    logger.warning("digest %s of %s reached no instructor; it stays unsent", digest.id, course.slug)
    return False


def awaited_platforms(leading: Leading, instructors: list[Instructor], delivered: set[tuple[str, str]]) -> set[str]:
    """Platforms led by another process whose instructors have none of the digest yet: their leader's share."""
    reached = {platform for platform, _ in delivered}
    return {
        i.platform
        for i in instructors
        if not leading.leads(i.platform) and i.platform in leading.elsewhere and i.platform not in reached
    }


async def send_to_instructors_channel(
    services: Services,
    digest: Digest,
    course: Course,
    content: Content,
    unreachable: list[Instructor],
    chart: Chart | None = None,
) -> set[tuple[str, str]]:
    """Instructors whose private chat refused the digest get it in the course's instructors' channel on their
    platform (once per platform, naming nobody in a way that pings), followed by a note of whose DMs are closed
    so the admins can ask them to open them. Returns the (platform, user id) counted as delivered."""
    store, delivered = services.store, set()
    for platform in dict.fromkeys(i.platform for i in unreachable):
        names = [i for i in unreachable if i.platform == platform]
        channel = await store.instructors_channel(course.slug, platform)
        if channel is None:
            logger.warning(
                "digest %s: %d instructor(s) on %s refuse DMs and the course has no instructors' channel"
                " there (set one with /setup %s instructors)",
                digest.id,
                len(names),
                platform,
                course.slug,
            )
            continue
        note = services.i18n(
            course.language, "digest.dms_closed", names=", ".join(i.display_name for i in names), course=course.slug
        )
        try:
            await services.outbox.send(Post(channel, content, chart=chart))
            await services.outbox.send(Post(channel, plain(note)))
        except DeliveryError:
            logger.exception("digest %s could not be posted in the instructors' channel on %s", digest.id, platform)
            continue
        for instructor in names:
            await store.mark_digest_delivered(digest.id, platform, instructor.user_id, services.clock.now())
            delivered.add((platform, instructor.user_id))
    return delivered


@dataclass(frozen=True, slots=True)
class Period:
    """What a digest of a course says for the period ending at ``end``, composed once for every way a digest
    is made: the scheduled one (recorded, then sent), ``/digest`` (a preview) and ``studybot digest`` (printed)."""

    start: datetime | None  # where the period begins; None: at the beginning (a course with no creation time)
    end: datetime
    window: PostWindow
    items: list[DigestItem]
    summary: PeriodSummary
    report: DigestReport

    def render(self, services: Services, language: str, course: Course) -> Content:
        return render_digest(services, language, course, self.start, self.end, self.items, self.summary, self.report)


async def compose_period(services: Services, course: Course, end: datetime, since: datetime | None = None) -> Period:
    """The period since the course's last recorded digest (or since the course began), or, with ``since``,
    every post stored so far dated at or after it; compared with the period before it only in the first case."""
    last_end = await services.store.last_digest_end(course.slug)
    start = since or last_end or course.created_at
    window = await next_window(services, course.slug, since)
    items, summary = await build_digest_items(services, course, window)
    compare = since is None and last_end is not None
    report = await build_report(services, course, window, start or end, end, compare=compare)
    return Period(start, end, window, items, summary, report)


async def record_composed(services: Services, course_slug: str, period: Period) -> Digest:
    """Record a composed period (the store refuses a second record of the same period)."""
    digest, _ = await services.store.record_digest(
        course_slug,
        period.start or period.end,
        period.end,
        period.window.through,
        period.items,
        period.summary,
        services.clock.now(),
        period.report,
    )
    return digest


async def record_period(services: Services, course_slug: str, period_end: datetime) -> Digest | None:
    """Record the period ending at ``period_end`` (once); None when there is nothing to record.

    The period starts where the last recorded one ended (or when the course was created), so a digest that
    was missed while the bot was down covers the whole gap in one message.
    """
    store = services.store
    course = await store.get_course(course_slug)
    if course is None:
        logger.warning("digest due for unknown course %s", course_slug)
        return None
    last_end = await store.last_digest_end(course_slug)
    if last_end is not None and last_end >= period_end:
        return None  # this period (or a later one) was recorded already
    if not await store.instructors(course_slug):
        logger.warning("course %s has no instructor; its digest waits for one", course_slug)
        return None
    return await record_composed(services, course_slug, await compose_period(services, course, period_end))


async def run_digest(
    services: Services, course_slug: str, period_end: datetime, leading: Leading = EVERY_PLATFORM
) -> Digest | None:
    """Record the period (once, by whichever leader comes first) and send it to the platforms led here:
    recorded before sending, marked sent after."""
    digest = await record_period(services, course_slug, period_end)
    if digest is not None and digest.sent_at is None:
        await send_digest(services, digest, leading)
    return digest


async def resume_unsent_digests(services: Services, leading: Leading = EVERY_PLATFORM) -> int:
    sent = 0
    for digest in await services.store.unsent_digests():
        sent += await send_digest(services, digest, leading)
    return sent


@router.on(DigestDue)
async def on_digest_due(services: Services, event: DigestDue) -> None:
    await run_digest(services, event.course_slug, event.period_end, event.leading)


@router.on(SendsUnfinished)
async def on_sends_unfinished(services: Services, event: SendsUnfinished) -> None:
    await resume_unsent_digests(services, event.leading)


@router.command("digest")
async def cmd_digest(ctx: CommandContext) -> None:
    """A preview of the next digest, for instructors and admins; it is not recorded or sent."""
    store = ctx.services.store
    actor = ctx.event.actor
    their_courses = await store.instructor_courses(actor.platform, actor.user_id)
    requested = ctx.event.args.strip()
    if requested:
        slug = requested
    elif ctx.group is not None and ctx.group.course_slug is not None:
        slug = ctx.group.course_slug
    elif len(their_courses) == 1:
        slug = their_courses[0]
    else:
        raise UsageError("digest.which_course")
    course = await store.get_course(slug)
    if course is None:
        raise UsageError("error.unknown_course", course=slug, known=await known_courses(ctx))
    following_here = ctx.group is not None and ctx.group.course_slug == slug
    if slug not in their_courses and not (ctx.event.actor_is_admin and following_here):
        if ctx.event.actor_is_admin and not ctx.event.private:
            # An admin is refused for where they ask, not for who they are: say so.
            raise NotPermitted("digest.not_followed_here", course=slug)
        raise NotPermitted("digest.not_allowed")
    period = await compose_period(ctx.services, course, ctx.services.clock.now())
    await ctx.reply(period.render(ctx.services, ctx.language, course))


async def known_courses(ctx: CommandContext) -> str:
    slugs = [course.slug for course in await ctx.services.store.list_courses()]
    return ", ".join(slugs) if slugs else "—"
