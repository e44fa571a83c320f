"""Configuration commands. Changing things is for the chat's admins; looking is for everyone.

Every argument is validated before anything is written, so a bad command changes nothing.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import emoji as emoji_lib

from handlers.features.digests import known_courses
from handlers.routing import CommandContext, Router
from handlers.vocabulary.content import ContentBuilder
from handlers.vocabulary.domain import Instructor
from handlers.vocabulary.errors import CronError, NotPermitted, UsageError

router = Router("admin")

MAX_LIKE_EMOJIS = 10
# Discord custom emoji as they arrive in reactions and commands: <:name:id> or <a:name:id>.
_CUSTOM_EMOJI = re.compile(r"^<a?:[A-Za-z0-9_]{2,32}:\d{5,25}>$")


@router.command("setup")
async def cmd_setup(ctx: CommandContext) -> None:
    slug, _, role = ctx.event.args.strip().partition(" ")
    role = role.strip().lower()
    if ctx.event.private:
        raise UsageError("error.group_only")
    if not slug:
        await show_configuration(ctx)
        return
    if not ctx.event.actor_is_admin:
        raise NotPermitted("error.admins_only", command="setup")
    store = ctx.services.store
    course = await store.get_course(slug)
    if course is None:
        raise UsageError("error.unknown_course", course=slug, known=await known_courses(ctx))
    if role:
        await setup_instructors_channel(ctx, course.slug, course.title, role)
        return
    language = ctx.group.language if ctx.group else ctx.services.i18n.normalise(course.language)
    group = await store.setup_group(ctx.event.chat, ctx.event.chat_title, course.slug, language)
    ctx.group, ctx.language = group, group.language
    await ctx.services.schedule_changed(course.slug)
    await ctx.reply(ctx.t("setup.done", course=course.title, slug=course.slug))


async def setup_instructors_channel(ctx: CommandContext, slug: str, title: str, role: str) -> None:
    """``/setup <course> instructors``: this chat receives the digests instructors cannot get privately.

    It is not a study group (nothing posted here is collected); a group's chat may not be both.
    """
    if role not in ("instructors", "instructor"):
        raise UsageError("setup.usage")
    if ctx.group is not None and ctx.group.course_slug is not None and ctx.group.chat == ctx.event.chat:
        raise UsageError("setup.instructors_not_a_group")
    await ctx.services.store.set_instructors_channel(slug, ctx.event.chat)
    await ctx.reply(ctx.t("setup.instructors_done", course=title, slug=slug))


async def show_configuration(ctx: CommandContext) -> None:
    group = ctx.group
    if group is None or group.course_slug is None:
        await ctx.reply(ctx.t("setup.not_configured", known=await known_courses(ctx)))
        return
    store = ctx.services.store
    course = await store.get_course(group.course_slug)
    instructors = await store.instructors(group.course_slug)
    out = ContentBuilder().bold(ctx.t("setup.config_heading")).line()
    out.text(ctx.t("setup.config_course", course=course.title if course else group.course_slug)).line()
    out.text(ctx.t("setup.config_language", language=group.language)).line()
    out.text(ctx.t("setup.config_likes", emojis=" ".join(group.like_emojis))).line()
    if course is not None:
        out.text(ctx.t("setup.config_schedule", cron=course.digest_cron, timezone=course.timezone)).line()
    names = ", ".join(i.display_name for i in instructors) or "—"
    out.text(ctx.t("setup.config_instructors", names=names)).line()
    out.text(ctx.t("setup.config_active" if group.active else "setup.config_inactive"))
    if group.attention is not None:
        out.line().text(ctx.t("setup.config_attention"))
    await ctx.reply(out.build())


@router.command("unfollow")
async def cmd_unfollow(ctx: CommandContext) -> None:
    group = ctx.require_group()
    await ctx.services.store.unfollow_group(group.id)
    await ctx.reply(ctx.t("unfollow.done", course=group.course_slug))


@router.command("instructor")
async def cmd_instructor(ctx: CommandContext) -> None:
    """Make the replied-to or mentioned member (or, with neither, the admin) an instructor of the course."""
    course = ctx.course_slug()
    member = ctx.event.target or ctx.event.actor
    if member.is_bot:
        raise UsageError("instructor.not_a_bot")
    added = await ctx.services.store.add_instructor(
        Instructor(course, member.platform, member.user_id, member.display_name)
    )
    key = "instructor.added" if added else "instructor.already"
    await ctx.reply(ctx.t(key, name=member.display_name, course=course))


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError("schedule.bad_timezone", timezone=name) from None
    return name


def cron_reason(ctx: CommandContext, error: ValueError) -> str:
    """Why an expression was refused, in the chat's language: the part at fault and what it may be."""
    if not isinstance(error, CronError):
        return str(error)
    field = ctx.t(f"schedule.field_{error.field}") if error.field else ""
    return ctx.t(f"schedule.cron_{error.problem}", field=field, value=error.value)


@router.command("schedule")
async def cmd_schedule(ctx: CommandContext) -> None:
    """``/schedule <5-field cron> [timezone]``; the reply lists the next three runs."""
    course_slug = ctx.course_slug()
    fields = ctx.event.args.split()
    if len(fields) not in (5, 6):
        raise UsageError("schedule.usage")
    cron = " ".join(fields[:5])
    store = ctx.services.store
    course = await store.get_course(course_slug)
    assert course is not None  # a group follows an existing course
    timezone = validate_timezone(fields[5]) if len(fields) == 6 else course.timezone
    try:
        runs = ctx.services.cron.next_runs(
            cron, timezone, ctx.services.clock.now(), runs_to_check(ctx.services.min_digest_interval)
        )
    except ValueError as error:
        raise UsageError("schedule.bad_cron", cron=cron, reason=cron_reason(ctx, error)) from None
    check_digest_gap(ctx, cron, runs)
    await store.set_course_schedule(course_slug, cron, timezone)
    await ctx.services.schedule_changed(course_slug)
    out = ContentBuilder().text(ctx.t("schedule.done", cron=cron, timezone=timezone)).line()
    for run in runs[:3]:
        out.text("• ").text(format_run(ctx, run, timezone)).line()
    await ctx.reply(out.build())


def runs_to_check(floor: timedelta) -> int:
    """How many of a new schedule's next runs :func:`check_digest_gap` measures: eight days' worth at the
    floor's pace (at least 50, at most 2,000).

    A schedule that keeps the floor then shows at least eight days of runs, or eight firing days when it fires
    less often. A 5-field expression fires at the same times on every day it fires, so that covers all its gaps:
    those within a day, and those across midnight between consecutive firing days (every weekday is in there).
    """
    return max(50, min(2000, math.ceil(timedelta(days=8) / floor) + 1))


def check_digest_gap(ctx: CommandContext, cron: str, runs: list[datetime]) -> None:
    """Refuse a schedule whose digests would come closer together than MIN_DIGEST_INTERVAL_MINUTES.

    Instructors get each digest in a private chat: ``*/1 * * * *`` would message them every minute. The gaps
    are measured between consecutive runs, so an expression that is sparse most of the time but fires twice
    close together (``0,59 0,23 * * *``: 23:59, then 00:00) is caught too.
    """
    floor = ctx.services.min_digest_interval
    gaps = [later - earlier for earlier, later in pairwise(runs)]
    if gaps and min(gaps) < floor:
        raise UsageError(
            "schedule.too_often",
            cron=cron,
            gap=int(min(gaps).total_seconds() // 60),
            minimum=int(floor.total_seconds() // 60),
        )


def format_run(ctx: CommandContext, when: datetime, timezone: str) -> str:
    local = when.astimezone(ZoneInfo(timezone))
    weekday = ctx.t(f"weekday.{local.weekday()}")
    return ctx.t("schedule.run", date=local.strftime("%Y-%m-%d"), time=local.strftime("%H:%M"), weekday=weekday)


def is_like_emoji(token: str) -> bool:
    return bool(emoji_lib.is_emoji(token)) or bool(_CUSTOM_EMOJI.match(token))


@router.command("likes")
async def cmd_likes(ctx: CommandContext) -> None:
    group = ctx.require_group()
    tokens = ctx.event.args.split()
    if not tokens:
        raise UsageError("likes.usage", emojis=" ".join(group.like_emojis))
    bad = [token for token in tokens if not is_like_emoji(token)]
    if bad:
        raise UsageError("likes.not_emoji", value=bad[0])
    unique = list(dict.fromkeys(tokens))
    if len(unique) > MAX_LIKE_EMOJIS:
        raise UsageError("likes.too_many", maximum=MAX_LIKE_EMOJIS)
    await ctx.services.store.set_like_emojis(group.id, unique)
    await ctx.reply(ctx.t("likes.done", emojis=" ".join(unique)))


@router.command("lang")
async def cmd_lang(ctx: CommandContext) -> None:
    group = ctx.require_group()
    wanted = ctx.event.args.strip().lower()
    if wanted not in ctx.services.i18n.languages:
        raise UsageError("lang.usage", languages="|".join(ctx.services.i18n.languages))
    await ctx.services.store.set_group_language(group.id, wanted)
    ctx.language = wanted
    await ctx.reply(ctx.t("lang.done"))


@router.command("stats")
async def cmd_stats(ctx: CommandContext) -> None:
    course = ctx.course_slug()
    s = await ctx.services.store.stats(course)
    await ctx.reply(
        ctx.t(
            "stats.text",
            course=course,
            lessons=s.lessons,
            questions=s.questions,
            comments=s.comments,
            replies=s.replies,
            likes=s.likes,
            answered=s.answered,
            members=s.members,
        )
    )
