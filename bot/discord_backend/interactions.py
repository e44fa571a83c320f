"""Slash commands and their option boxes: interactions in, the core's replies into the interaction's messages.

The interaction is acknowledged at once with a deferred ("thinking…") response, well within Discord's 3 seconds
whatever the core then does. The placeholder is a real message, and its id is the command's ``MessageRef``: a
question asked with ``/ask`` *is* the bot's public answer message, so members can 👍 it and digests can link to
it. The core's :class:`~handlers.vocabulary.actions.Reply` fills the placeholder; an ephemeral reply (an error)
replaces it with a message only the invoker sees; a command that replies nothing (``/lesson`` posted the lesson)
removes it.

The command table is :mod:`.commands`'; autocomplete reads the course catalogue through its narrow port
(:class:`~handlers.ports.backends.CourseCatalog`), never the core's services.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

from bot.discord_backend import translate
from bot.discord_backend.client import NO_MENTIONS
from bot.discord_backend.commands import CommandSpec, Completion, args_string, build_commands
from bot.discord_backend.intake import Observer
from bot.discord_backend.render import render_messages
from bot.discord_backend.sending import delivery_error
from handlers.i18n import Translator
from handlers.ports.backends import CourseCatalog
from handlers.vocabulary.content import Content, Span, Style
from handlers.vocabulary.domain import ChatRef, MessageRef
from handlers.vocabulary.events import Dispatch

logger = logging.getLogger(__name__)



@dataclass(slots=True)
class _Pending:
    """A slash command being handled: its interaction, and what has been said so far."""

    interaction: discord.Interaction
    spec: CommandSpec
    args: str
    ephemeral: bool
    filled: bool = False


class Interactions:
    """The slash commands of one backend: their invocations, their completions, and the replies that fill them."""

    def __init__(self, i18n: Translator, observer: Observer) -> None:
        self._i18n = i18n
        self._observer = observer
        self._dispatch: Dispatch | None = None
        self.catalog: CourseCatalog | None = None
        self._pending: dict[str, _Pending] = {}

    def commands(self, dispatch: Dispatch) -> list[app_commands.Command[Any, ..., Any]]:
        """The app commands to register, invoking the core through ``dispatch``."""
        self._dispatch = dispatch
        return build_commands(self._i18n, self._on_command, self._complete)

    async def _on_command(self, interaction: discord.Interaction, spec: CommandSpec, values: dict[str, Any]) -> None:
        admin = interaction.guild_id is not None and bool(interaction.permissions.manage_guild)
        # A member running an admin command will be refused: say so privately from the start.
        ephemeral = spec.admin and not admin
        response = None
        with contextlib.suppress(discord.HTTPException):
            response = await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        placeholder = response.message_id if response is not None else None
        chat = (
            translate.chat_of(interaction.channel)
            if interaction.channel is not None
            else (str(interaction.channel_id), None)
        )
        ref = translate.message_ref(chat, placeholder if placeholder is not None else f"interaction:{interaction.id}")
        args = args_string(spec, values)
        if spec.name == "likes":
            args = translate.canonical_emojis(args)
        target = values.get("member")
        pending = _Pending(interaction, spec, args, ephemeral)
        self._pending[ref.message_id] = pending
        try:
            event = translate.command_event(
                interaction, ref, spec.name, args, target=target if isinstance(target, discord.abc.User) else None
            )
            assert self._dispatch is not None
            await self._dispatch(event)
            if not pending.filled:
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
        finally:
            self._pending.pop(ref.message_id, None)
            self._observer.handled("interaction", interaction.id)

    async def _complete(self, interaction: discord.Interaction, kind: Completion, current: str) -> list[str]:
        """Course slugs, or the lessons (number or slug) of the course this channel follows."""
        if self.catalog is None:
            return []
        catalog, needle = self.catalog, current.strip().lower()
        if kind == "course":
            return [
                c.slug for c in await catalog.list_courses() if needle in c.slug.lower() or needle in c.title.lower()
            ]
        chat = translate.chat_of(interaction.channel) if interaction.channel is not None else None
        group = await catalog.get_group(ChatRef(translate.PLATFORM, chat[0])) if chat else None
        if group is None or group.course_slug is None:
            return []
        found = []
        for lesson in await catalog.list_lessons(group.course_slug):
            key = str(lesson.number) if lesson.number is not None else lesson.slug
            if needle in key.lower() or needle in lesson.title.lower():
                found.append(key)
        return found

    def is_pending(self, ref: MessageRef) -> bool:
        """Whether ``ref`` is the placeholder of a command being handled (else a reply is a plain message)."""
        return ref.message_id in self._pending

    async def reply(self, to: MessageRef, content: Content, ephemeral: bool) -> MessageRef:
        """Fill the placeholder of the command at ``to`` (see :meth:`is_pending`), then follow it up as needed."""
        pending = self._pending[to.message_id]
        interaction = pending.interaction
        if pending.spec.name == "ask" and not ephemeral and not pending.filled and pending.args:
            # The placeholder becomes the question people like: show what was asked.
            content = (Span(pending.args, Style.QUOTE), Span("\n"), *content)
        chunks = render_messages(content)
        try:
            if not pending.filled and (ephemeral == pending.ephemeral or pending.ephemeral):
                await interaction.edit_original_response(content=chunks[0], allowed_mentions=NO_MENTIONS)
                chunks = chunks[1:]
            elif not pending.filled:
                # A public placeholder cannot turn private: remove it and answer privately instead.
                await interaction.delete_original_response()
            pending.filled = True
            for chunk in chunks:
                await interaction.followup.send(chunk, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            raise delivery_error(error, private=False) from error
        return to
