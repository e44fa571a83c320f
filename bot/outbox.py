"""One Outbox for the core that hands each action to the backend of its platform."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.actions import Action, DirectMessage, Post, PostLesson, Reply
from handlers.domain import MessageRef
from handlers.errors import TransientDeliveryError
from handlers.ports import Outbox


def action_platform(action: Action) -> str:
    match action:
        case Post() | PostLesson():
            return action.chat.platform
        case Reply():
            return action.to.platform
        case DirectMessage():
            return action.platform
    raise TypeError(f"not an action: {action!r}")


class RoutingOutbox:
    def __init__(self, backends: Mapping[str, Outbox]) -> None:
        self._backends = dict(backends)

    def _backend(self, platform: str) -> Outbox:
        backend = self._backends.get(platform)
        if backend is None:
            # A group on a platform not running here (no token set): keep its work pending, do not drop the group.
            raise TransientDeliveryError(f"no {platform} backend is running in this process")
        return backend

    async def send(self, action: Action) -> MessageRef | None:
        return await self._backend(action_platform(action)).send(action)

    def link_to(self, ref: MessageRef) -> str | None:
        backend = self._backends.get(ref.platform)
        return backend.link_to(ref) if backend else None
