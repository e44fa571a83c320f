"""Near-duplicate questions in the chat (issue 12): telling the asker where the question was asked before, and
answering it at once with an earlier copy's answer (issue 16, reopened by the asker's ❓), and the commands that
steer clusters — ``/dupes on|quiet|off`` (admins), ``/merge A B`` and ``/split A``
(instructors of the course, and admins of a group following it).

The store places every new question in its cluster when it stores it; this module only says so in the chat.
Every argument is checked before anything is written, so a refused or mistyped command changes nothing.
"""

from __future__ import annotations

import logging

from handlers.ports.clusters import Cluster, DupesMode
from handlers.routing import CommandContext, Router
from handlers.services import Services
from handlers.text import shown_text
from handlers.vocabulary.actions import Post
from handlers.vocabulary.content import ContentBuilder
from handlers.vocabulary.domain import Group, Member, MessageRef, PostKind, Question
from handlers.vocabulary.errors import DeliveryError, NotPermitted, UsageError

logger = logging.getLogger(__name__)
router = Router("clusters")

NOTICE_EXCERPT = 200
# The reactions by which an asker says a reused answer did not help. Telegram's fixed reaction set has no ❓, so
# 🤔 counts too.
NOT_HELPED = frozenset({"❓", "🤔"})


async def tell_if_duplicate(services: Services, group: Group, question: Question) -> None:
    """A new question that joined an earlier one's cluster: tell the asker where that one is and how many likes
    it has, so the group's likes gather in one place; with its answer at once when it was answered."""
    if question.kind is not PostKind.QUESTION or question.duplicate_of is None or question.ref is None:
        return
    if await services.store.dupes_mode(group.id) is not DupesMode.ON:
        return
    cluster = await services.store.cluster_of(question.id)
    if cluster is None:
        return
    earlier = _earlier(cluster, question)
    if earlier is None:
        return
    t, language = services.i18n, group.language
    out = ContentBuilder().text(t(language, "dupes.notice", id=earlier.id, likes=cluster.likes))
    link = services.outbox.link_to(earlier.ref) if earlier.ref is not None else None
    if link:
        out.text(" ").link(t(language, "digest.open"), link)
    answered = next((q for q in cluster.others(question.id) if q.answered and q.answer_text), None)
    if answered is not None and answered.answer_text is not None:
        await _reuse_answer(services, group, question, cluster, answered, answered.answer_text, out)
        return
    out.line().text(t(language, "dupes.like_there"))
    try:
        await services.outbox.send(Post(question.ref.chat, out.build(), reply_to=question.ref))
    except DeliveryError:
        logger.warning("could not tell question %s's asker about its earlier copy", question.id)


async def _reuse_answer(
    services: Services,
    group: Group,
    question: Question,
    cluster: Cluster,
    answered: Question,
    answer: str,
    out: ContentBuilder,
) -> None:
    """Answer reuse (issue 16): the new question is answered at once with the earlier copy's answer and a link to
    where it was posted, and counts as answered; its asker can say (❓) that it did not help."""
    assert question.ref is not None
    t, language, store = services.i18n, group.language, services.store
    out.line().bold(t(language, "dupes.answered")).line().text(_short(answer))
    posted = await store.answer_post(
        [q.id for q in cluster.others(question.id)], question.ref.platform, question.ref.chat_id
    )
    if posted is not None:
        out.text(" ").message_link(t(language, "reuse.open_answer"), posted)
    out.line().italic(t(language, "reuse.not_helped"))
    await store.reuse_answer(question.id, answered.id, answer, services.clock.now())
    try:
        await services.outbox.send(
            Post(question.ref.chat, out.build(), reply_to=question.ref, notify_replied=True, asker_id=question.asker_id)
        )
    except DeliveryError:
        logger.warning("could not give question %s's asker the earlier answer", question.id)


async def reopen_if_not_helped(services: Services, ref: MessageRef, member: Member, emoji: str) -> bool:
    """The asker reacted ❓ (or 🤔: Telegram's reactions have no ❓) to their question answered by reuse: it
    leaves its cluster, recorded as ``/split`` records it so that re-clustering keeps it apart, and is open
    again. Anyone else's ❓, or one on a question answered by an instructor, changes nothing."""
    if emoji not in NOT_HELPED:
        return False
    store = services.store
    question = await store.question_by_ref(ref)
    if question is None or (question.author.platform, question.author.user_id) != (member.platform, member.user_id):
        return False
    if await store.reused_answer_of(question.id) is None:
        return False
    if not await store.reopen_question(question.id, services.clock.now()):
        return False
    group = await store.get_group(ref.chat)
    language = group.language if group is not None else services.default_language
    text = ContentBuilder().text(services.i18n(language, "reuse.reopened", id=question.id)).build()
    try:
        await services.outbox.send(Post(ref.chat, text, reply_to=ref))
    except DeliveryError:
        logger.warning("could not say that question %s is open again", question.id)
    return True


def _earlier(cluster: Cluster, question: Question) -> Question | None:
    """The copy to point at: the most liked of the others, the earliest on a tie."""
    others = cluster.others(question.id)
    return min(others, key=lambda q: (-q.total_likes, q.id)) if others else None


def _short(text: str) -> str:
    flat = " ".join(shown_text(text).split())
    return flat if len(flat) <= NOTICE_EXCERPT else flat[: NOTICE_EXCERPT - 1].rstrip() + "…"


@router.command("dupes")
async def cmd_dupes(ctx: CommandContext) -> None:
    group = ctx.require_group()
    raw = ctx.event.args.strip().lower()
    if not raw:
        mode = await ctx.services.store.dupes_mode(group.id)
        await ctx.reply(ctx.t("dupes.current", mode=mode.value))
        return
    try:
        mode = DupesMode(raw)
    except ValueError:
        raise UsageError("dupes.usage") from None
    await ctx.services.store.set_dupes_mode(group.id, mode)
    await ctx.reply(ctx.t(f"dupes.set_{mode.value}"))


def parse_ids(raw: str, count: int, usage: str) -> list[int]:
    """Exactly ``count`` question ids as /top shows them (``12`` or ``#12``)."""
    parts = raw.split()
    if len(parts) != count:
        raise UsageError(usage)
    ids = []
    for part in parts:
        value = part.lstrip("#")
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise UsageError("clusters.bad_id", value=part)
        ids.append(int(value))
    return ids


async def _may_correct(ctx: CommandContext) -> list[str]:
    """The courses whose instructor the actor is; refused outright for whoever is neither an instructor nor an
    admin, before any id is looked up."""
    actor = ctx.event.actor
    theirs = await ctx.services.store.instructor_courses(actor.platform, actor.user_id)
    if not theirs and not ctx.event.actor_is_admin:
        raise NotPermitted("clusters.not_allowed")
    return theirs


async def _question(ctx: CommandContext, question_id: int, theirs: list[str]) -> tuple[Question, str]:
    """The question and its course, when the actor may change its cluster (instructor of the course, or admin
    of this group following it)."""
    store = ctx.services.store
    question = await store.get_question(question_id)
    if question is None or question.deleted or question.kind is not PostKind.QUESTION:
        raise UsageError("clusters.unknown_question", id=question_id)
    lesson = await store.get_lesson(question.lesson_id)
    assert lesson is not None  # questions reference lessons by foreign key
    course = lesson.course_slug
    admin_here = ctx.event.actor_is_admin and ctx.group is not None and ctx.group.course_slug == course
    if course not in theirs and not admin_here:
        raise NotPermitted("clusters.not_allowed_course", course=course)
    return question, course


@router.command("merge")
async def cmd_merge(ctx: CommandContext) -> None:
    theirs = await _may_correct(ctx)
    first_id, second_id = parse_ids(ctx.event.args, 2, "merge.usage")
    first, course = await _question(ctx, first_id, theirs)
    second, other_course = await _question(ctx, second_id, theirs)
    if course != other_course:
        raise UsageError("merge.other_course", first=first.id, second=second.id)
    store = ctx.services.store
    one, two = await store.cluster_of(first.id), await store.cluster_of(second.id)
    if one is not None and two is not None and one.root == two.root:
        raise UsageError("merge.already", first=first.id, second=second.id)
    await store.merge_questions(first.id, second.id, ctx.event.at)
    merged = await store.cluster_of(first.id)
    size = len(merged.questions) if merged else 2
    await ctx.reply(ctx.t("merge.done", first=first.id, second=second.id, count=size))


@router.command("split")
async def cmd_split(ctx: CommandContext) -> None:
    theirs = await _may_correct(ctx)
    (question_id,) = parse_ids(ctx.event.args, 1, "split.usage")
    question, _ = await _question(ctx, question_id, theirs)
    store = ctx.services.store
    cluster = await store.cluster_of(question.id)
    if cluster is None or len(cluster.questions) < 2:
        raise UsageError("split.alone", id=question.id)
    await store.split_question(question.id, ctx.event.at)
    await ctx.reply(ctx.t("split.done", id=question.id))
