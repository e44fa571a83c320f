"""Advice a platform asks the core to give a chat: in the group's language, like everything the bot says there.

Why the core says it rather than the adapter: only the core knows the group's language. The adapter knows what
its platform needs (Telegram: the bot must be an admin to see reactions; an instructor must open a private chat
with the bot before it may send them digests) and raises :class:`~handlers.vocabulary.events.AdviceDue` through its
intake.
"""

from __future__ import annotations

from handlers.routing import Router, find_group
from handlers.services import Services
from handlers.vocabulary.actions import Post
from handlers.vocabulary.content import plain
from handlers.vocabulary.events import AdviceDue

router = Router("advice")


@router.on(AdviceDue)
async def on_advice_due(services: Services, event: AdviceDue) -> None:
    group = await find_group(services.store, event.chat)
    language = services.i18n.normalise(group.language if group else None)
    text = services.i18n(language, event.key, **dict(event.params))
    await services.outbox.send(Post(event.chat, plain(text)))
