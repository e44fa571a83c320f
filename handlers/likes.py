"""Reactions become likes. The rules (like emojis, one per member, no self-likes) are enforced by the store
atomically, so that a burst of redelivered or concurrent reaction events can never count twice."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from handlers.domain import Member, MessageRef, ReactionFix
from handlers.events import (
    ChatMoved,
    ReactionAdded,
    ReactionBurst,
    ReactionCountsChanged,
    ReactionRemoved,
    ReactionsCleared,
)
from handlers.routing import Router
from handlers.services import Services

logger = logging.getLogger(__name__)
router = Router("likes")


@router.on(ReactionAdded)
async def on_reaction_added(services: Services, event: ReactionAdded) -> None:
    if event.member.is_bot:
        return
    await services.store.add_reaction(event.ref, event.member, event.emoji, event.at)


@router.on(ReactionRemoved)
async def on_reaction_removed(services: Services, event: ReactionRemoved) -> None:
    if event.member.is_bot:
        return
    await services.store.remove_reaction(event.ref, event.member, event.emoji)


@router.on(ReactionBurst)
async def on_reaction_burst(services: Services, event: ReactionBurst) -> None:
    changes = event.changes
    if any(change.member.is_bot for change in changes):
        changes = tuple(change for change in changes if not change.member.is_bot)
    if changes:
        await services.store.apply_reactions(changes)


@router.on(ReactionsCleared)
async def on_reactions_cleared(services: Services, event: ReactionsCleared) -> None:
    await services.store.clear_reactions(event.ref, event.emoji)


@router.on(ReactionCountsChanged)
async def on_reaction_counts_changed(services: Services, event: ReactionCountsChanged) -> None:
    await services.store.set_anonymous_likes(event.ref, event.counts)


@router.on(ChatMoved)
async def on_chat_moved(services: Services, event: ChatMoved) -> None:
    """Not a like matter, but it is the reactions and questions that must not be lost with the old id."""
    moved = await services.store.move_chat(event.platform, event.old_chat_id, event.new_chat_id)
    logger.info("chat moved on %s: %d group(s) follow it to its new id", event.platform, moved)


async def reconcile_reactions(
    services: Services, ref: MessageRef, reactions: Iterable[tuple[Member, str]]
) -> ReactionFix | None:
    """Bring the kept likes of the post at ``ref`` to exactly what the platform reports now.

    ``reactions`` is the full current set of (member, emoji) on the message, e.g. read back after downtime,
    when reaction events were missed and will never be replayed. Adds and removes happen in one transaction
    under the usual rules; returns what was corrected (None when ``ref`` is not a post of ours).
    """
    humans = [(member, emoji) for member, emoji in reactions if not member.is_bot]
    fix = await services.store.reconcile_reactions(ref, humans, services.clock.now())
    if fix is not None and fix.changed:
        logger.info(
            "reconciled question %s on %s: %d like(s) added, %d removed",
            fix.question_id,
            ref.platform,
            len(fix.added),
            len(fix.removed),
        )
    return fix
