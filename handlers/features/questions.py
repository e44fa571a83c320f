"""Members' messages: questions, comments and the discussion under them.

A message is about a lesson when it replies to the lesson post, or stands at the top level of the lesson's own
thread/topic, or is ``/ask``. Such a message is a question or a comment by :func:`handlers.text.classify.classify`
(``/ask`` is always a question). A reply to a question or comment is discussion: it counts towards the 💬
number of what it answers and is never a new question. Everything else in the chat is none of our business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from handlers.features.clusters import tell_if_duplicate
from handlers.features.follow import tell_followers
from handlers.routing import CommandContext, Router, find_group
from handlers.services import Services
from handlers.text import is_blank, kept_text, shown_text
from handlers.text.classify import classify
from handlers.vocabulary.actions import Post
from handlers.vocabulary.content import ContentBuilder
from handlers.vocabulary.domain import Group, Lesson, MessageRef, NewPost, PostKind, Question
from handlers.vocabulary.errors import DeliveryError, NotPermitted, UsageError
from handlers.vocabulary.events import MessageDeleted, MessageEdited, MessagePosted

logger = logging.getLogger(__name__)
router = Router("questions")

MAX_TOP = 25
DEFAULT_TOP = 5


async def lesson_for_message(services: Services, ref: MessageRef, reply_to: MessageRef | None) -> Lesson | None:
    """The lesson a top-level message is about, if it is about one."""
    store = services.store
    post = await store.lesson_post_at(reply_to) if reply_to is not None else None
    if post is None and ref.thread_id is not None:
        post = await store.lesson_post_in_thread(ref.chat)
    return await store.get_lesson(post.lesson_id) if post is not None else None


@router.on(MessagePosted)
async def on_message_posted(services: Services, event: MessagePosted) -> None:
    if is_blank(event.text):  # (bots' messages never get here: the backends leave them out)
        return  # nothing anyone could read: not a question, not a comment, not discussion
    store, text = services.store, kept_text(event.text)
    if event.reply_to is not None:
        answered = await store.question_by_ref(event.reply_to)
        if answered is not None:
            await store.add_reply(answered.id, event.author, event.ref, text, event.at)
            return
    group = await find_group(store, event.ref.chat)
    if group is None or not group.active or group.course_slug is None:
        return
    lesson = await lesson_for_message(services, event.ref, event.reply_to)
    if lesson is None:
        return
    question = await store.add_post(
        NewPost(lesson.id, group.id, event.author, event.ref, text, classify(text), event.at)
    )
    await tell_if_duplicate(services, group, question)


@router.on(MessageEdited)
async def on_message_edited(services: Services, event: MessageEdited) -> None:
    if not is_blank(event.text):  # an edit that leaves nothing visible keeps what was there
        await services.store.edit_post(event.ref, kept_text(event.text), event.at)


@router.on(MessageDeleted)
async def on_message_deleted(services: Services, event: MessageDeleted) -> None:
    await services.store.delete_post(event.ref, event.at)


async def current_lesson(ctx: CommandContext, group: Group) -> Lesson:
    """The lesson ``/ask`` is about: the thread's or replied-to lesson, else the latest one posted in this group
    (never a lesson the group has not seen, however new it is in the course)."""
    lesson = await lesson_for_message(ctx.services, ctx.event.ref, ctx.event.reply_to)
    if lesson is None:
        lesson = await ctx.services.store.latest_lesson_posted(group.id)
    if lesson is None:
        raise UsageError("ask.no_lesson_here")
    return lesson


@router.command("ask")
async def cmd_ask(ctx: CommandContext) -> None:
    group = ctx.require_group()
    text = kept_text(ctx.event.args).strip()
    if is_blank(text):
        raise UsageError("ask.usage")
    lesson = await current_lesson(ctx, group)
    question = await ctx.services.store.add_post(
        NewPost(lesson.id, group.id, ctx.event.actor, ctx.event.ref, text, PostKind.QUESTION, ctx.event.at)
    )
    await ctx.reply(ctx.t("ask.recorded", id=question.id, lesson=lesson.title))
    await tell_if_duplicate(ctx.services, group, question)


def parse_count(raw: str, default: int, maximum: int) -> int:
    raw = raw.strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise UsageError("error.bad_count", value=raw, maximum=maximum)
    return int(raw)


@router.command("top")
async def cmd_top(ctx: CommandContext) -> None:
    course = ctx.course_slug()
    limit = parse_count(ctx.event.args, DEFAULT_TOP, MAX_TOP)
    ranked = await ctx.services.store.top_questions(course, limit)
    if not ranked:
        await ctx.reply(ctx.t("top.empty"))
        return
    out = ContentBuilder().bold(ctx.t("top.heading", count=len(ranked))).line()
    for position, item in enumerate(ranked, start=1):
        q = item.question
        out.text(ctx.t("top.item", position=position, id=q.id, likes=item.total_likes, replies=q.replies))
        out.text(" ").text(excerpt(q.text, 80))
        out.text(" — ").italic(q.author.display_name)
        if item.copies:
            out.text(" ").text(also_asked(ctx.t, item.copies))
        if q.answered:
            out.text(" ").text(ctx.t("digest.answered_mark"))
        out.line()
    await ctx.reply(out.build())


@router.command("answer")
async def cmd_answer(ctx: CommandContext) -> None:
    """The instructor's answer goes under the question, in the question's own group."""
    raw_id, _, text = ctx.event.args.strip().partition(" ")
    raw_id = raw_id.lstrip("#")
    if not raw_id:
        raise UsageError("answer.usage")
    if not raw_id.isdigit():
        raise UsageError("answer.bad_id", value=raw_id)
    text = kept_text(text).strip()
    if is_blank(text):
        raise UsageError("answer.usage")
    store = ctx.services.store
    question = await store.get_question(int(raw_id))
    if question is None:
        raise UsageError("answer.unknown_question", id=raw_id)
    lesson = await store.get_lesson(question.lesson_id)
    assert lesson is not None  # questions reference lessons by foreign key
    actor = ctx.event.actor
    if lesson.course_slug not in await store.instructor_courses(actor.platform, actor.user_id):
        raise NotPermitted("answer.not_instructor", course=lesson.course_slug)
    copies = await answer_everywhere(ctx, question, text)
    if len(copies) > 1:
        await ctx.reply(ctx.t("answer.done_copies", id=question.id, count=len(copies)))
    else:
        await ctx.reply(ctx.t("answer.done", id=question.id))


async def answer_everywhere(ctx: CommandContext, question: Question, text: str) -> list[Question]:
    """The answer goes under the question in its own group and, for a cluster of near-duplicates, under the
    first copy asked in every other group (issue 12); every copy is marked answered. A further copy in a group
    already answered gets a short reply with a link to that answer instead of the answer again: the group reads
    the answer once, and each asker is still told (Telegram notifies a reply's author; Discord pings them, and
    only them). Members who liked a copy and follow answers get a private notice (issue 16). Returns the copies."""
    store, actor = ctx.services.store, ctx.event.actor
    cluster = await store.cluster_of(question.id)
    copies = [question, *(q for q in (cluster.questions if cluster else ()) if q.id != question.id)]
    groups: dict[int, Group | None] = {}
    posted_in: dict[int, MessageRef | None] = {}  # group → its answer's message (None: not posted)
    answers: dict[int, MessageRef] = {}
    for copy in copies:
        if copy.group_id is None or copy.ref is None:
            continue
        if copy.group_id not in groups:
            groups[copy.group_id] = await store.get_group_by_id(copy.group_id)
        group = groups[copy.group_id]
        if group is None:
            continue
        if copy.group_id in posted_in:
            answer = posted_in[copy.group_id]
            if answer is not None and not copy.deleted:
                await _point_to_answer(ctx, group, copy, answer)
            continue
        body = (
            ContentBuilder()
            .bold(ctx.services.i18n(group.language, "answer.heading", name=actor.display_name))
            .line()
            .text(text)
            .build()
        )
        reply_to = None if copy.deleted else copy.ref
        posted = await ctx.services.outbox.send(
            Post(
                copy.ref.chat,
                body,
                reply_to=reply_to,
                notify_replied=reply_to is not None,
                asker_id=copy.asker_id,
            )
        )
        posted_in[copy.group_id] = posted
        if posted is not None:
            answers[copy.id] = posted
            await store.record_answer_post(copy.id, posted, ctx.event.at)
    for copy in copies:
        await store.mark_answered(copy.id, text, ctx.event.at)
    lesson = await store.get_lesson(question.lesson_id)
    course = await store.get_course(lesson.course_slug) if lesson is not None else None
    language = course.language if course is not None else ctx.services.default_language
    await tell_followers(ctx.services, copies, text, language, answers)
    return copies


async def _point_to_answer(ctx: CommandContext, group: Group, copy: Question, answer: MessageRef) -> None:
    """A reply under ``copy`` that its group's answer is there (the answer is recorded as the copy's too, so a
    later repeat of the question links to it). A copy that cannot be told is logged: the others still are."""
    assert copy.ref is not None
    language = group.language
    body = (
        ContentBuilder()
        .text(ctx.services.i18n(language, "answer.copy_answered"))
        .text(" ")
        .message_link(ctx.services.i18n(language, "reuse.open_answer"), answer)
        .build()
    )
    try:
        await ctx.services.outbox.send(
            Post(copy.ref.chat, body, reply_to=copy.ref, notify_replied=True, asker_id=copy.asker_id)
        )
    except DeliveryError:
        logger.warning("could not tell the asker of question %s that it is answered", copy.id)
    await ctx.services.store.record_answer_post(copy.id, answer, ctx.event.at)


def also_asked(t: Callable[..., str], copies: Sequence[int]) -> str:
    """"also asked by N (#12, #15)": the other wordings of a cluster, reachable by their ids."""
    return t("top.also_asked", count=len(copies), ids=", ".join(f"#{c}" for c in copies))


def excerpt(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut at a space where the text has spaces; no control or bidi
    character of the member's can reach what is shown around it."""
    flat = " ".join(shown_text(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
