"""One Outbox for the core that hands each action to the backend of its platform."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from handlers.ports import Outbox
from handlers.vocabulary.actions import Action, DirectMessage, Post, PostLesson, Reply
from handlers.vocabulary.content import Span
from handlers.vocabulary.domain import MessageRef
from handlers.vocabulary.errors import TransientDeliveryError


def action_platform(action: Action) -> str:
    match action:
        case Post() | PostLesson():
            return action.chat.platform
        case Reply():
            return action.to.platform
        case DirectMessage():
            return action.platform
    raise TypeError(f"not an action: {action!r}")


def with_links(action: Action, link_to: Callable[[MessageRef], str | None]) -> Action:
    """The action with each link to a message (a span with a ``ref``) made into a URL, by the platform of that
    message: a digest sent on Telegram may link to a question asked on Discord. A message without a link (a
    platform that has none, a backend not running here) keeps its text, unlinked."""
    if not any(span.ref is not None for span in action.content):
        return action
    content = tuple(
        Span(span.text, span.style, link_to(span.ref)) if span.ref is not None else span for span in action.content
    )
    return replace(action, content=content)


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
        # Links are made here, when the content is sent, not when the core built it (a digest is recorded well
        # before it is sent, and the core keeps messages, never a platform's links to them).
        return await self._backend(action_platform(action)).send(with_links(action, self.link_to))

    def link_to(self, ref: MessageRef) -> str | None:
        backend = self._backends.get(ref.platform)
        return backend.link_to(ref) if backend else None
