"""Finding the study group a message belongs to."""

from __future__ import annotations

from handlers.ports import Store
from handlers.vocabulary.domain import ChatRef, Group


async def find_group(store: Store, chat: ChatRef) -> Group | None:
    """The group for ``chat``: the topic itself when it was set up as a group, else its parent chat.

    A lesson's thread (Discord) or topic (Telegram forum) lives inside the group's chat, so messages there
    carry a thread id the group itself was not set up with.
    """
    group = await store.get_group(chat)
    if group is None and chat.thread_id is not None:
        group = await store.get_group(ChatRef(chat.platform, chat.chat_id))
    return group
