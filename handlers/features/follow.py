"""Members told when a question they liked is answered (issue 16): ``/follow on|off`` and the private notice.

The asker is told by the answer itself (it replies to their message, see
:func:`handlers.features.questions.answer_everywhere`). Likers are told only if they asked for it: a private
message is an interruption, so it is off by default. A platform may not let the bot write to a member (Telegram
until they open a private chat with it, Discord when they closed DMs from the server): that member is skipped
and logged, and nobody else hears of it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from handlers.routing import CommandContext, Router
from handlers.services import Services
from handlers.text import shown_text
from handlers.vocabulary.actions import DirectMessage
from handlers.vocabulary.content import ContentBuilder
from handlers.vocabulary.domain import MessageRef, Question
from handlers.vocabulary.errors import DeliveryError, UsageError

logger = logging.getLogger(__name__)
router = Router("follow")

NOTICE_EXCERPT = 300


@router.command("follow")
async def cmd_follow(ctx: CommandContext) -> None:
    actor, raw = ctx.event.actor, ctx.event.args.strip().lower()
    store = ctx.services.store
    if not raw:
        on = await store.follows(actor.platform, actor.user_id)
        await ctx.reply(ctx.t("follow.current_on" if on else "follow.current_off"), ephemeral=True)
        return
    if raw not in ("on", "off"):
        raise UsageError("follow.usage")
    await store.set_follow(actor.platform, actor.user_id, raw == "on", ctx.event.at)
    await ctx.reply(ctx.t(f"follow.set_{raw}"), ephemeral=True)


async def tell_followers(
    services: Services, copies: Sequence[Question], answer: str, language: str, answers: dict[int, MessageRef]
) -> int:
    """A private notice to every follower who liked any copy of the answered question (each once, never its
    askers, whom the answer's reply already told). ``answers`` maps a copy to the message its answer was posted
    as, for a link. Returns how many were told."""
    askers = {(q.author.platform, q.author.user_id) for q in copies}
    told = 0
    for member in await services.store.following_likers([q.id for q in copies]):
        if (member.platform, member.user_id) in askers:
            continue
        liked = copies[0]
        out = ContentBuilder().bold(services.i18n(language, "follow.notice", id=liked.id)).line()
        out.text(_short(liked.text)).line().text(_short(answer))
        link = next((ref for ref in answers.values() if ref.platform == member.platform), None)
        if link is not None:
            out.line().message_link(services.i18n(language, "reuse.open_answer"), link)
        try:
            await services.outbox.send(DirectMessage(member.platform, member.user_id, out.build()))
        except DeliveryError as error:
            logger.info("follower on %s not told of question %s's answer: %s", member.platform, liked.id, error)
            continue
        told += 1
    return told


def _short(text: str) -> str:
    flat = " ".join(shown_text(text).split())
    return flat if len(flat) <= NOTICE_EXCERPT else flat[: NOTICE_EXCERPT - 1].rstrip() + "…"
