"""Reactions become likes. The rules (like emojis, one per member, no self-likes) are enforced by the store
atomically, so that a burst of redelivered or concurrent reaction events can never count twice."""

from __future__ import annotations

from handlers.events import ReactionAdded, ReactionRemoved, ReactionsCleared
from handlers.routing import Router
from handlers.services import Services

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


@router.on(ReactionsCleared)
async def on_reactions_cleared(services: Services, event: ReactionsCleared) -> None:
    await services.store.clear_reactions(event.ref, event.emoji)
