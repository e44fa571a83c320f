"""Lesson publication: each lesson's intro reaches every following group exactly once.

The intent is recorded (PENDING) before sending and the message after (SENT), so a crash in the middle of a
broadcast leaves exactly the unfinished groups pending; :func:`resume_pending_posts` finishes them once their
claims expire (at start-up and at every tick of the platform's leader).
The one window left is a crash between the platform accepting the message and our commit: no chat platform
offers an idempotency key for that, so such a post would be sent again on restart.

Several processes may share the database (issue 13): a platform's scheduler leader broadcasting while an admin
runs ``/lesson`` in another process. A claim therefore has an owner (``Services.holder``) and an expiry
(:data:`CLAIM_TTL`): only the owner sends; another process finds the post "claimed elsewhere" and leaves it; a
claim whose owner died is taken over once it expires, by the lease holder's next look at pending posts. The owner
is one attempt, not the whole process (:func:`claim_token`): within one process an admin's ``/lesson`` and the
scheduler's broadcast, or ``/setup`` and ``/lesson``, can reach the same group at once, and a claim shared by the
process let both send.

A broadcast sends to several groups at once (at most :data:`BROADCAST_CONCURRENCY` in flight): a send takes a
network round trip, so one at a time would cap a broadcast at one group per round trip, far below what the
platform allows. The pace is left to the backend's rate limiter (Telegram's 30 messages a second, Discord's
buckets); this module only keeps enough sends waiting on it that the limiter, not the round trip, sets the rate.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from enum import Enum
from typing import TypeVar

from handlers.routing import CommandContext, Router
from handlers.services import Services
from handlers.text.intro import decode as intro_content
from handlers.vocabulary.actions import Post, PostLesson
from handlers.vocabulary.content import Content, ContentBuilder, plain
from handlers.vocabulary.domain import ATTENTION_MISSING_PERMISSIONS, ChatRef, Group, Lesson, LessonPost, PostState
from handlers.vocabulary.errors import ChatUnavailable, DeliveryError, MissingPermissions, UsageError
from handlers.vocabulary.events import EVERY_PLATFORM, Leading, LessonPublished, SendsUnfinished

logger = logging.getLogger(__name__)
router = Router("lessons")
T = TypeVar("T")

# Sends of one broadcast in flight at once. Enough to cover the round trip at the platform's rate (30 msg/s
# × 0.3 s ≈ 9) without holding a connection per group; the backend's limiter does the pacing.
BROADCAST_CONCURRENCY = 16

# How long a claim keeps other processes off a post. Well above a send's worst case, so that a live owner is
# never overtaken mid-send: Telegram's limiter retries a 429 five times and the backend's call four times,
# each after a Retry-After that flood control sets to tens of seconds (24 waits × 60 s ≈ 24 minutes at worst);
# Discord's library retries a 429 five times within seconds. The cost of a long TTL is only how late the post
# of a process that died mid-send is finished by another.
CLAIM_TTL = timedelta(minutes=30)


def claim_token(holder: str) -> str:
    """The owner of one attempt's claim: the process's holder id and a part of its own, so two attempts of one
    process are as distinct as two processes' (see the module's note)."""
    return f"{holder}/{uuid.uuid4().hex[:12]}"


class Outcome(Enum):
    """What :func:`try_post_lesson` did in one group."""

    POSTED = "posted"
    ALREADY_POSTED = "already posted"
    CLAIMED_ELSEWHERE = "claimed elsewhere"  # another attempt owns the claim and may be sending right now
    NOT_POSTED = "not posted"  # the group is unreachable or the bot lacks permissions there


async def run_bounded(
    items: Iterable[T], job: Callable[[T], Awaitable[int]], limit: int = BROADCAST_CONCURRENCY
) -> int:
    """Run ``job`` over ``items`` with at most ``limit`` running at once, in ``items``' order; returns the sum.

    Workers pull the next item when they finish one, so claims are taken in order and one slow or
    rate-limited item (a chat under Retry-After) holds one worker while the others go on. Anything ``job``
    lets escape stops the whole run, as it did when sends were made one after another: the other workers are
    cancelled (their unfinished posts stay pending for the next start) and the first error is re-raised.
    """
    pending = iter(items)
    total = 0

    async def worker() -> None:
        nonlocal total
        for item in pending:  # the iterator is shared: each item goes to exactly one worker
            result = await job(item)
            total += result  # not ``total += await ...``, which would read ``total`` before the await

    workers = [asyncio.create_task(worker(), name=f"broadcast-{n}") for n in range(max(1, limit))]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in workers:
            task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for task in workers:
        error = task.exception() if task in done and not task.cancelled() else None
        if error is not None:
            raise error
    return total


def lesson_content(services: Services, language: str, lesson: Lesson) -> Content:
    """Heading, intro (rich: bold, links and line breaks from :mod:`handlers.text.intro`), "read more", how to ask."""
    t = services.i18n
    out = ContentBuilder()
    heading = t(language, "lesson.heading", number=lesson.number) if lesson.number is not None else ""
    out.bold(f"{heading}{lesson.title}").line(2)
    if lesson.intro:
        out.extend(intro_content(lesson.intro)).line(2)
    if lesson.link:
        out.link(t(language, "lesson.read_more"), lesson.link).line(2)
    out.italic(t(language, "lesson.how_to_ask"))
    return out.build()


async def post_lesson_to_group(services: Services, lesson: Lesson, group: Group) -> bool:
    """Post ``lesson`` in ``group`` unless it was posted there already; True if it was posted now."""
    return await try_post_lesson(services, lesson, group) is Outcome.POSTED


async def try_post_lesson(services: Services, lesson: Lesson, group: Group) -> Outcome:
    """Claim the post for this attempt and send it; nothing is sent unless the claim is this attempt's own."""
    store, now = services.store, services.clock.now()
    token = claim_token(services.holder)
    claim = await store.claim_lesson_post(lesson.id, group.id, token, now, CLAIM_TTL)
    if claim.state is PostState.SENT:
        return Outcome.ALREADY_POSTED
    if claim.claimed_by != token:
        logger.info("lesson %s in group %s is claimed by %s; not sent here", lesson.id, group.id, claim.claimed_by)
        return Outcome.CLAIMED_ELSEWHERE
    content = lesson_content(services, group.language, lesson)

    async def opened(thread: ChatRef) -> None:
        """The post's own thread exists and its messages are still to come. Failing to note it must not fail
        the post (the thread is there: a retry would open a second one); it is recorded when the post is."""
        try:
            await store.note_lesson_thread(lesson.id, group.id, token, thread)
        except Exception as error:
            logger.warning("lesson %s in group %s: its thread could not be noted yet (%s)", lesson.id, group.id, error)

    try:
        ref = await services.outbox.send(PostLesson(group.chat, lesson, content, opened))
    except ChatUnavailable:
        logger.warning("group %s is no longer reachable; marking it inactive", group.id)
        await store.set_group_active(group.id, False)
        await store.mark_lesson_post_failed(lesson.id, group.id)
        return Outcome.NOT_POSTED
    except MissingPermissions as error:
        await mark_needs_attention(services, lesson, group, str(error))
        return Outcome.NOT_POSTED
    if ref is None:
        raise DeliveryError(f"backend returned no message for lesson {lesson.id} in group {group.id}")
    await store.mark_lesson_posted(lesson.id, group.id, ref, services.clock.now())
    return Outcome.POSTED


async def mark_needs_attention(services: Services, lesson: Lesson, group: Group, reason: str) -> None:
    """The bot may not post in the group's chat any more: the group needs an admin (it stays active, so the
    next lesson is tried again). The post is marked failed, so ``/lesson`` there posts it once fixed. The
    course's instructors' channel on the same platform, if any, tells the admins which chat and what to do."""
    store = services.store
    logger.warning("group %s (%s) needs attention: %s", group.id, group.chat.platform, reason)
    await store.set_group_attention(group.id, ATTENTION_MISSING_PERMISSIONS)
    await store.mark_lesson_post_failed(lesson.id, group.id)
    channel = await store.instructors_channel(lesson.course_slug, group.chat.platform)
    if channel is None or channel == group.chat:
        return
    text = services.i18n(group.language, "lesson.needs_attention", title=lesson.title, chat=group.title or "?")
    try:
        await services.outbox.send(Post(channel, plain(text)))
    except DeliveryError:
        logger.exception("could not tell the instructors' channel of %s about group %s", lesson.course_slug, group.id)


async def leave_for_leader(services: Services, lesson: Lesson, group: Group) -> None:
    """Leave the post in a group on a platform this process does not lead as a pending post whose claim has
    already expired: that platform's leader finishes it at its next look at pending posts (every tick), the
    same way it finishes a post whose owner died. A post already sent, or claimed live by another process (an
    admin's ``/lesson`` there), is left as it is: the claim's own rules decide."""
    token = claim_token(services.holder)
    await services.store.claim_lesson_post(lesson.id, group.id, token, services.clock.now(), timedelta(0))


async def publish_lesson(services: Services, lesson_id: int, leading: Leading = EVERY_PLATFORM) -> int:
    """Broadcast a lesson to every active group following its course; returns how many posts were made.

    Groups are served concurrently (:func:`run_bounded`). One group's failure never stops the others: the
    failed one stays pending for the next attempt. Groups on platforms this process does not lead are left
    pending for their platform's leader (:func:`leave_for_leader`).
    """
    lesson = await services.store.get_lesson(lesson_id)
    if lesson is None:
        logger.warning("lesson %s was published but does not exist", lesson_id)
        return 0
    found = lesson

    async def post(group: Group) -> int:
        if not leading.leads(group.chat.platform):
            await leave_for_leader(services, found, group)
            return 0
        try:
            return int(await post_lesson_to_group(services, found, group))
        except DeliveryError:
            logger.exception("lesson %s could not be posted to group %s; left pending", found.id, group.id)
            return 0

    return await run_bounded(await services.store.groups_following(lesson.course_slug), post)


async def resume_pending_posts(services: Services, *, leading: Leading = EVERY_PLATFORM) -> int:
    """Finish broadcasts a crash interrupted, concurrently like the broadcast itself. Posts already SENT are
    never sent again.

    Only claims that have expired are taken: a live claim belongs to an attempt that may be sending right now,
    another process's or one of this process's own (a holder id is new at every start, so a live claim under
    this process's holder is an attempt still running here: a ``/lesson`` waiting out a 429 when this process
    becomes the leader). Only groups on the platforms this process leads: the others' posts wait for their own
    leader.
    """
    now = services.clock.now()

    async def finish(pending: LessonPost) -> int:
        lesson = await services.store.get_lesson(pending.lesson_id)
        group = await services.store.get_group_by_id(pending.group_id)
        if lesson is None or group is None or not group.active or not leading.leads(group.chat.platform):
            return 0
        try:
            return int(await post_lesson_to_group(services, lesson, group))
        except DeliveryError:
            logger.exception("pending lesson %s for group %s still fails", lesson.id, group.id)
            return 0

    pending = [post for post in await services.store.pending_lesson_posts() if post.claim_expired(now)]
    return await run_bounded(pending, finish)


@router.on(LessonPublished)
async def on_lesson_published(services: Services, event: LessonPublished) -> None:
    await publish_due_lesson(services, event.lesson_id, event.leading)


@router.on(SendsUnfinished)
async def on_sends_unfinished(services: Services, event: SendsUnfinished) -> None:
    """At every tick as leader: the lesson posts whose claim expired (their attempt died mid-send)."""
    await resume_pending_posts(services, leading=event.leading)


@router.command("lesson")
async def cmd_lesson(ctx: CommandContext) -> None:
    group = ctx.require_group()
    store = ctx.services.store
    key = ctx.event.args.strip()
    course = ctx.course_slug()
    lesson = await store.find_lesson(course, key) if key else await store.latest_lesson(course)
    if lesson is None:
        if key:
            raise UsageError("lesson.unknown", lesson=key, course=course)
        raise UsageError("lesson.none_yet", course=course)
    outcome = await try_post_lesson(ctx.services, lesson, group)
    if outcome is Outcome.CLAIMED_ELSEWHERE:
        await ctx.reply(ctx.t("lesson.claimed_elsewhere", title=lesson.title), ephemeral=True)
        return
    if outcome is not Outcome.POSTED:
        now = await store.get_group_by_id(group.id)
        if now is not None and now.attention is not None:
            await ctx.reply(ctx.t("lesson.missing_permissions", title=lesson.title), ephemeral=True)
            return
        await ctx.reply(ctx.t("lesson.already_posted", title=lesson.title), ephemeral=True)


async def due_lessons(services: Services, leading: Leading = EVERY_PLATFORM) -> AsyncIterator[LessonPublished]:
    """The lessons whose time has come and that were never published, one at a time.

    Each is weighed when it is reached, after the previous one was handled, so LESSON_POSTS_PER_HOUR sees the
    posts just made: a course whose groups had enough lessons this hour keeps its later lessons waiting, in order.
    """
    now, waiting = services.clock.now(), set()
    for lesson in await services.store.due_lessons(now):
        if lesson.course_slug in waiting:
            continue
        busiest = await services.store.most_lesson_posts_in_a_group(lesson.course_slug, now - timedelta(hours=1))
        if busiest >= services.lesson_posts_per_hour:
            waiting.add(lesson.course_slug)  # the course's later lessons wait too: they keep their order
            logger.info(
                "lesson %s of %s waits: a group of the course got %d lesson posts in the last hour"
                " (LESSON_POSTS_PER_HOUR=%d)",
                lesson.slug,
                lesson.course_slug,
                busiest,
                services.lesson_posts_per_hour,
            )
            continue
        yield LessonPublished(lesson.id, services.clock.now(), leading)


async def publish_due_lesson(services: Services, lesson_id: int, leading: Leading = EVERY_PLATFORM) -> int:
    """Broadcast a due lesson, then mark it published.

    A lesson is marked published only after its broadcast, so a crash in between publishes it again, and
    the per-group claims make that second broadcast skip the groups already served. Published means handed
    out: the groups of platforms led elsewhere are pending posts by then, which their leaders finish.
    """
    posted = await publish_lesson(services, lesson_id, leading)
    await services.store.mark_lesson_published(lesson_id, services.clock.now())
    return posted


async def publish_due_lessons(services: Services) -> int:
    """Publish every due lesson now, without a dispatcher (start-up recovery of one-shot commands)."""
    posted = 0
    async for event in due_lessons(services):
        posted += await publish_due_lesson(services, event.lesson_id)
    return posted
