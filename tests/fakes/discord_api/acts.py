"""Test control: what people do (send, edit, delete, react, run slash commands, autocomplete), each a
coroutine that returns once the resulting events were handed to the client's socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.fakes.discord_api.constants import IT_APPLICATION_COMMAND, IT_AUTOCOMPLETE, MSG_REPLY, Json
from tests.fakes.discord_api.model import FakeChannel, FakeGuild, FakeInteraction, FakeMessage, FakeUser, _dumps, _id_of
from tests.fakes.discord_api.validation import _parse_emoji


class _Acts:
    """People's acts, turned into state changes and gateway events."""

    async def user_sends(
        self,
        channel: FakeChannel | int,
        user: FakeUser | int,
        content: str,
        *,
        reference: FakeMessage | int | None = None,
        embeds: Sequence[Json] = (),
        dispatch: bool = True,
    ) -> FakeMessage:
        """A user posts in a guild channel/thread: MESSAGE_CREATE (content per MESSAGE_CONTENT)."""
        ch = self._channel(channel)
        u = self._user(user)
        if ch.guild_id is not None and u.id not in self._guilds[ch.guild_id].members:
            raise ValueError(f"{u.name} is not a member of guild {ch.guild_id}")
        msg = self._store_message(ch, u.id, content=content, embeds=list(embeds))
        if reference is not None:
            ref_id = _id_of(reference)
            msg.type = MSG_REPLY
            msg.message_reference = {"type": 0, "message_id": str(ref_id), "channel_id": str(ch.id)}
            if ch.guild_id is not None:
                msg.message_reference["guild_id"] = str(ch.guild_id)
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(content, None, ch)
        if dispatch:
            self._dispatch_message("MESSAGE_CREATE", msg)
            await self.flush()
        return msg

    async def user_sends_dm(self, user: FakeUser | int, content: str, *, dispatch: bool = True) -> FakeMessage:
        """A user DMs the bot (MESSAGE_CREATE on shard 0, DIRECT_MESSAGES intent)."""
        u = self._user(user)
        dm = self._dm_channel(u)
        msg = self._store_message(dm, u.id, content=content)
        if dispatch:
            self._dispatch_message("MESSAGE_CREATE", msg)
            await self.flush()
        return msg

    async def user_edits(self, channel: FakeChannel | int, message_id: FakeMessage | int, content: str) -> FakeMessage:
        msg = self._message(channel, message_id)
        msg.content = content
        msg.edited_ms = self._ids.now_ms()
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(
            content, None, self._channels[msg.channel_id]
        )
        self._dispatch_message("MESSAGE_UPDATE", msg)
        await self.flush()
        return msg

    async def user_deletes(self, channel: FakeChannel | int, message_id: FakeMessage | int) -> None:
        msg = self._message(channel, message_id)
        self._delete_message(msg)
        await self.flush()

    async def user_reacts(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        """MESSAGE_REACTION_ADD (with ``member`` in guilds); a repeated reaction is a no-op, as on Discord."""
        msg = self._message(channel, message_id)
        if self._add_reaction(msg, _id_of(user), emoji, dispatch=True):
            await self.flush()

    async def user_unreacts(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        msg = self._message(channel, message_id)
        if self._remove_reaction(msg, _id_of(user), emoji, dispatch=True):
            await self.flush()

    def react_while_offline(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        """Record a reaction in REST state only -- the bot was down and never got the event."""
        self._add_reaction(self._message(channel, message_id), _id_of(user), emoji, dispatch=False)

    def unreact_while_offline(
        self, channel: FakeChannel | int, message_id: FakeMessage | int, user: FakeUser | int, emoji: str | Json
    ) -> None:
        self._remove_reaction(self._message(channel, message_id), _id_of(user), emoji, dispatch=False)

    async def clear_reactions(self, channel: FakeChannel | int, message_id: FakeMessage | int) -> None:
        """A moderator removes all reactions: MESSAGE_REACTION_REMOVE_ALL."""
        msg = self._message(channel, message_id)
        self._reactions.pop(msg.id, None)
        self._dispatch(
            "MESSAGE_REACTION_REMOVE_ALL", self._reaction_base(msg), msg.guild_id, self._reaction_intent(msg)
        )
        await self.flush()

    async def clear_emoji(self, channel: FakeChannel | int, message_id: FakeMessage | int, emoji: str | Json) -> None:
        """A moderator removes one emoji's reactions: MESSAGE_REACTION_REMOVE_EMOJI."""
        msg = self._message(channel, message_id)
        key, emoji_obj = _parse_emoji(emoji)
        self._reactions.get(msg.id, {}).pop(key, None)
        self._dispatch(
            "MESSAGE_REACTION_REMOVE_EMOJI",
            {**self._reaction_base(msg), "emoji": emoji_obj},
            msg.guild_id,
            self._reaction_intent(msg),
        )
        await self.flush()

    async def burst_reactions(
        self,
        channel: FakeChannel | int,
        message_ids: Sequence[FakeMessage | int],
        users: Sequence[FakeUser | int],
        emoji: str | Json,
        n: int,
        *,
        allow_duplicates: bool = False,
    ) -> int:
        """Push ``n`` MESSAGE_REACTION_ADD dispatches as fast as possible (benchmarks).

        Reaction i is by ``users[(i // len(message_ids)) % len(users)]`` on
        ``message_ids[i % len(message_ids)]``.  All payloads are built and queued in one go
        (no per-event awaits) and the call returns once the writer has handed every frame to
        the socket.  REST state is updated too.  Real Discord never sends a duplicate
        (same user, message, emoji) -- that raises unless ``allow_duplicates``.
        Returns the number of dispatches queued (summed over sessions).
        """
        if not message_ids or not users:
            raise ValueError("need at least one message and one user")
        if n > len(message_ids) * len(users) and not allow_duplicates:
            raise ValueError(f"{n} reactions need more than {len(message_ids)} messages x {len(users)} users")
        ch = self._channel(channel)
        msgs = [self._message(ch, m) for m in message_ids]
        key, emoji_obj = _parse_emoji(emoji)
        sessions = [
            s for s in self._live_sessions() if s.owns_guild(ch.guild_id) and s.intents & self._reaction_intent(msgs[0])
        ]
        guild = self._guilds.get(ch.guild_id) if ch.guild_id is not None else None
        user_ids = [_id_of(u) for u in users]
        # Serialise the constant parts once: the payload is "<message part>,<user part>}".
        message_parts = []
        for m in msgs:
            base: Json = {
                "type": 0,
                "channel_id": str(ch.id),
                "message_id": str(m.id),
                "message_author_id": str(m.author_id),
                "emoji": emoji_obj,
                "burst": False,
                "burst_colors": [],
            }
            if guild is not None:
                base["guild_id"] = str(guild.id)
            message_parts.append(_dumps(base)[:-1])
        user_parts: dict[int, str] = {}
        for uid in user_ids:
            part = f'"user_id":"{uid}"'
            member = guild.members.get(uid) if guild is not None else None
            if guild is not None and member is not None:
                part += ',"member":' + _dumps(self._member_payload(guild, member))
            user_parts[uid] = part + "}"
        queued = 0
        for i in range(n):
            mi = i % len(msgs)
            uid = user_ids[(i // len(msgs)) % len(user_ids)]
            self._reactions.setdefault(msgs[mi].id, {}).setdefault(key, (emoji_obj, {}))[1][uid] = None
            data_json = message_parts[mi] + "," + user_parts[uid]
            for session in sessions:
                session.push_raw("MESSAGE_REACTION_ADD", data_json)
                queued += 1
        self._touch()
        await self.flush()
        return queued

    async def invoke_command(
        self,
        guild: FakeGuild | int | None,
        channel: FakeChannel | int | None,
        user: FakeUser | int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A user runs a slash command: INTERACTION_CREATE type 2 built from the *stored* definition.

        Options are typed from the synced command (so an unsynced command or an unknown or
        missing required option raises -- the Discord client would not let the user send it).
        ``guild=None`` runs it in the user's DM with the bot (global commands only).
        """
        return await self._interaction(
            IT_APPLICATION_COMMAND,
            guild,
            channel,
            user,
            name,
            options or {},
            subcommand=subcommand,
            group=group,
            focused=None,
            locale=locale,
        )

    async def autocomplete(
        self,
        guild: FakeGuild | int | None,
        channel: FakeChannel | int | None,
        user: FakeUser | int,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> FakeInteraction:
        """Type 4 APPLICATION_COMMAND_AUTOCOMPLETE: ``focused`` names the option being typed;
        its value is sent as the partial string, per "Receiving and Responding" > Autocomplete.
        """
        return await self._interaction(
            IT_AUTOCOMPLETE,
            guild,
            channel,
            user,
            name,
            options,
            subcommand=subcommand,
            group=group,
            focused=focused,
            locale="en-US",
        )
