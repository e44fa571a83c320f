"""Reactions become likes. The rules (like emojis, one per member, no self-likes, no bots) are enforced by the
store atomically, so that a burst of redelivered or concurrent reaction events can never count twice.

Bots' reactions never get here: each backend leaves them out as it translates (the store keeps its own guard).
A backend that reads reactions back after downtime reconciles them through its own narrow port
(:class:`handlers.ports.backends.CatchUpStore`), under the same rule in the store."""

from __future__ import annotations

import logging

from handlers.features.clusters import NOT_HELPED, reopen_if_not_helped
from handlers.routing import Router
from handlers.services import Services
from handlers.vocabulary.events import (
    ChatMoved,
    ReactionAdded,
    ReactionBurst,
    ReactionCountsChanged,
    ReactionRemoved,
    ReactionsCleared,
)

logger = logging.getLogger(__name__)
router = Router("likes")


@router.on(ReactionAdded)
async def on_reaction_added(services: Services, event: ReactionAdded) -> None:
    await services.store.add_reaction(event.ref, event.member, event.emoji, event.at)
    if event.emoji in NOT_HELPED:  # not a like: the asker says a reused answer did not help (issue 16)
        await reopen_if_not_helped(services, event.ref, event.member, event.emoji)


@router.on(ReactionRemoved)
async def on_reaction_removed(services: Services, event: ReactionRemoved) -> None:
    await services.store.remove_reaction(event.ref, event.member, event.emoji)


@router.on(ReactionBurst)
async def on_reaction_burst(services: Services, event: ReactionBurst) -> None:
    if event.changes and event.kept_is_enough:
        await services.store.keep_reactions(event.changes)
    elif event.changes:
        await services.store.apply_reactions(event.changes)
    for change in event.changes:
        if change.added and change.emoji in NOT_HELPED:
            await reopen_if_not_helped(services, change.ref, change.member, change.emoji)


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
