"""One Outbox for the core that hands each action to the backend of its platform."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from handlers.ports import Outbox
from handlers.vocabulary.actions import Action, DirectMessage, Post, PostLesson, Reply
from handlers.vocabulary.content import Span
from handlers.vocabulary.domain import MessageRef
from handlers.vocabulary.errors import TransientDeliveryError

if TYPE_CHECKING:
    from bot.charts import ChartDrawer


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
    """Hands each action to its platform's backend, with links made and a chart drawn (``charts``; without
    one, or when drawing fails, the action goes without its picture)."""

    def __init__(self, backends: Mapping[str, Outbox], charts: ChartDrawer | None = None) -> None:
        self._backends = dict(backends)
        self._charts = charts

    def _backend(self, platform: str) -> Outbox:
        backend = self._backends.get(platform)
        if backend is None:
            # A group on a platform not running here (no token set): keep its work pending, do not drop the group.
            raise TransientDeliveryError(f"no {platform} backend is running in this process")
        return backend

    async def send(self, action: Action) -> MessageRef | None:
        # Links are made here, when the content is sent, not when the core built it (a digest is recorded well
        # before it is sent, and the core keeps messages, never a platform's links to them).
        backend = self._backend(action_platform(action))
        return await backend.send(await self._with_chart(with_links(action, self.link_to)))

    async def _with_chart(self, action: Action) -> Action:
        """The action with its chart drawn (once per chart and language, see :class:`bot.charts.ChartDrawer`),
        or without the chart when it cannot be drawn: backends send ``chart.png`` when it is there."""
        if not isinstance(action, Post | DirectMessage) or action.chart is None or action.chart.png is not None:
            return action
        png = await self._charts.png(action.chart.data, action.chart.language) if self._charts else None
        return replace(action, chart=replace(action.chart, png=png) if png is not None else None)

    def link_to(self, ref: MessageRef) -> str | None:
        backend = self._backends.get(ref.platform)
        return backend.link_to(ref) if backend else None
