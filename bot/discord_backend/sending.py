"""The outbox side of the Discord backend: the core's actions become messages, embeds and threads.

Every message goes out with mentions disabled; text is escaped and split to Discord's limits (:mod:`.render`).
discord.py keeps to each route's rate-limit bucket and waits out a 429 for that route only; the global limit
(50 requests a second) is paced ahead of every request by :mod:`.pacing`, hooked into the client.
Errors map to the core's delivery errors: 50007 (DMs closed) → RecipientUnreachable, 50013/50001 (missing
permission or access in a channel) → MissingPermissions (the group needs attention; nothing else is lost),
Unknown Channel → ChatUnavailable, 5xx and network errors → TransientDeliveryError.

A reply to a slash command fills the command's placeholder instead (:mod:`.interactions`); the backend decides
which (:meth:`.backend.DiscordBackend.send`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import aiohttp
import discord

from bot.discord_backend import translate
from bot.discord_backend.client import NO_MENTIONS, Client, Gateway
from bot.discord_backend.render import MESSAGE_LIMIT, EmbedData, render_embeds, render_messages, thread_name
from handlers.vocabulary.content import Content
from handlers.vocabulary.domain import ChatRef, MessageRef
from handlers.vocabulary.errors import (
    ChatUnavailable,
    DeliveryError,
    MissingPermissions,
    RecipientUnreachable,
    TransientDeliveryError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week: a lesson's questions keep coming for days
PLATFORM = translate.PLATFORM
# An answer's reply pings the asker and nobody else: no @everyone, role or user named in the text.
REPLIED_USER_ONLY = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)


class Sender:
    """Posts for the core through the gateway's client (its REST side)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def _client(self) -> Client:
        client = self._gateway.client
        if client is None:
            raise TransientDeliveryError("the Discord backend is not started")
        return client

    async def _channel(self, channel_id: int) -> Any:
        client = self._client()
        channel = client.get_channel(channel_id)
        if channel is None:
            channel = await call(client.fetch_channel(channel_id))
        return channel

    async def post_lesson(
        self,
        chat: ChatRef,
        title: str,
        link: str,
        content: Content,
        opened: Callable[[ChatRef], Awaitable[None]] | None = None,
    ) -> MessageRef:
        """An embed (title, intro, link) and a public thread on it; in a forum, one post per lesson. ``opened``
        hears of a forum post's thread when more of the intro is still to be sent in it (see ``PostLesson``)."""
        channel = await self._channel(int(chat.thread_id or chat.chat_id))
        batches = [[_embed(e) for e in batch] for batch in render_embeds(content, url=link or None)]
        if isinstance(channel, discord.ForumChannel):
            created = await call(
                channel.create_thread(
                    name=thread_name(title),
                    embeds=batches[0],
                    allowed_mentions=NO_MENTIONS,
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                )
            )
            thread = created.thread
            if opened is not None and len(batches) > 1:
                await opened(ChatRef(PLATFORM, chat.chat_id, str(thread.id)))
            for batch in batches[1:]:
                await call(thread.send(embeds=batch, allowed_mentions=NO_MENTIONS))
            return MessageRef(PLATFORM, chat.chat_id, str(created.message.id), str(thread.id))
        first = await call(channel.send(embeds=batches[0], allowed_mentions=NO_MENTIONS))
        for batch in batches[1:]:
            await call(channel.send(embeds=batch, allowed_mentions=NO_MENTIONS))
        if isinstance(channel, discord.Thread):
            return MessageRef(PLATFORM, chat.chat_id, str(first.id), str(channel.id))
        try:
            thread = await call(
                first.create_thread(name=thread_name(title), auto_archive_duration=THREAD_ARCHIVE_MINUTES)
            )
        except MissingPermissions:
            # The lesson is posted; replies to it still count. The thread is what the admin should fix.
            logger.warning(
                "discord: no permission to start a thread in channel %s; lesson posted without", chat.chat_id
            )
            return MessageRef(PLATFORM, chat.chat_id, str(first.id))
        return MessageRef(PLATFORM, chat.chat_id, str(first.id), str(thread.id))

    async def send_content(
        self,
        chat: ChatRef,
        content: Content,
        reply_to: MessageRef | None,
        png: bytes | None = None,
        *,
        notify_replied: bool = False,
        asker: str | None = None,
    ) -> MessageRef:
        """Text messages; the first replies to ``reply_to`` and carries ``png`` (a digest's chart) when given.
        ``notify_replied`` pings the replied-to author and nobody else (an answer to their question): never
        @everyone, roles or users named in the text. When the replied-to message is the bot's own (a question
        asked with /ask), the ping goes to ``asker`` instead, by a mention of them alone."""
        client = self._client()
        channel = client.get_partial_messageable(int(chat.thread_id or chat.chat_id))
        first: discord.Message | None = None
        chunks = render_messages(content)
        replied_mentions = REPLIED_USER_ONLY
        replied = reply_to.message_id if reply_to is not None and reply_to.message_id.isdigit() else None
        if notify_replied and asker and asker.isdigit() and replied and await self._is_own_message(channel, replied):
            replied_mentions = discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(id=int(asker))], replied_user=False
            )
            mention = f"<@{asker}> "
            if len(mention) + len(chunks[0]) <= MESSAGE_LIMIT:
                chunks[0] = mention + chunks[0]
            else:
                chunks.insert(0, mention.strip())
        for index, text in enumerate(chunks):
            reference = None
            if reply_to is not None and index == 0 and reply_to.message_id.isdigit():
                # fail_if_not_exists=False: a question deleted meanwhile still gets its answer, as a plain post.
                reference = discord.MessageReference(
                    message_id=int(reply_to.message_id),
                    channel_id=int(reply_to.thread_id or reply_to.chat_id),
                    fail_if_not_exists=False,
                )
            extra: dict[str, Any] = {"reference": reference} if reference is not None else {}
            if png is not None and index == 0:
                extra["file"] = chart_file(png)
            mentions = replied_mentions if reference is not None and notify_replied else NO_MENTIONS
            message = await call(channel.send(text, allowed_mentions=mentions, suppress_embeds=True, **extra))
            first = first or message
        assert first is not None  # render_messages always gives at least one message
        return MessageRef(PLATFORM, chat.chat_id, str(first.id), chat.thread_id)

    async def _is_own_message(self, channel: Any, message_id: str) -> bool:
        """Whether the message replied to is the bot's (one extra read per answer, which are few); False when
        it cannot be read, so the usual reply ping is kept."""
        me = self._client().user
        try:
            message = await channel.fetch_message(int(message_id))
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            return False
        return me is not None and message.author.id == me.id

    async def direct_message(self, user_id: int, content: Content, png: bytes | None = None) -> MessageRef:
        """Digests: embeds (a title, the items with jump links), split as needed; a chart is attached to the
        first message and shown as the first embed's image (``attachment://chart.png``)."""
        client = self._client()
        try:
            user = client.get_user(user_id) or await client.fetch_user(user_id)
            channel = user.dm_channel or await user.create_dm()
        except discord.HTTPException as error:
            raise delivery_error(error, private=True) from error
        first: discord.Message | None = None
        for index, batch in enumerate(render_embeds(content)):
            embeds = [_embed(e) for e in batch]
            extra: dict[str, Any] = {}
            if png is not None and index == 0:
                embeds[0].set_image(url=f"attachment://{CHART_FILENAME}")
                extra["file"] = chart_file(png)
            message = await call(channel.send(embeds=embeds, allowed_mentions=NO_MENTIONS, **extra), private=True)
            first = first or message
        assert first is not None
        return MessageRef(PLATFORM, str(channel.id), str(first.id))

    def link_to(self, ref: MessageRef) -> str | None:
        """A jump link. The guild id is part of it: the one kept with the post, else (posts stored before it was
        kept) the one of the channel, for channels this process sees."""
        if not ref.message_id.isdigit():
            return None
        if ref.guild_id is not None:
            return f"https://discord.com/channels/{ref.guild_id}/{ref.thread_id or ref.chat_id}/{ref.message_id}"
        client = self._gateway.client
        if client is None:
            return None
        channel = client.get_channel(int(ref.chat_id))
        guild = getattr(channel, "guild", None)
        where = str(guild.id) if guild is not None else "@me"
        return f"https://discord.com/channels/{where}/{ref.thread_id or ref.chat_id}/{ref.message_id}"


CHART_FILENAME = "chart.png"


def chart_file(png: bytes) -> discord.File:
    return discord.File(io.BytesIO(png), filename=CHART_FILENAME)


def _embed(data: EmbedData) -> discord.Embed:
    return discord.Embed(title=data.title, url=data.url, description=data.description)


async def call(request: Awaitable[T], *, private: bool = False) -> T:
    """One REST call with Discord's failures mapped for the core (discord.py already waited out 429s)."""
    try:
        return await request
    except discord.HTTPException as error:
        raise delivery_error(error, private=private) from error
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TransientDeliveryError(f"discord unreachable: {error}") from error


def delivery_error(error: discord.HTTPException, *, private: bool) -> DeliveryError:
    described = f"{error.status} {error.code} {error.text}"
    if isinstance(error, discord.Forbidden):
        if private or error.code == 50007:
            return RecipientUnreachable(described)
        return MissingPermissions(described)
    if isinstance(error, discord.NotFound) and error.code == 10003:
        return ChatUnavailable(described)
    if isinstance(error, discord.DiscordServerError) or error.status == 429:
        return TransientDeliveryError(described)
    return DeliveryError(f"discord refused the message: {described}")
