"""Test control: the world a test builds (users, guilds, roles, members, channels, threads, emoji, intents)
and the permission arithmetic ("Permissions") every REST call checks against it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.fakes.discord_api.constants import (
    ALL_PERMISSIONS,
    APP_FLAG_APPLICATION_COMMAND_BADGE,
    APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED,
    APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED,
    APP_FLAG_GATEWAY_PRESENCE_LIMITED,
    CH_GUILD_CATEGORY,
    CH_GUILD_FORUM,
    CHANNEL_KINDS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    P_ADMINISTRATOR,
    P_SEND_MESSAGES,
    P_SEND_MESSAGES_IN_THREADS,
    P_VIEW_CHANNEL,
    SEND_DENY_MASK,
    Json,
)
from tests.fakes.discord_api.model import (
    ApiError,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    _id_of,
    _missing_access,
    _missing_permissions,
    _snowflake_ms,
)


class _World:
    """Guilds and what is in them, and who may do what there."""

    def enable_intents(self, message_content: bool = True, members: bool = False, presences: bool = False) -> None:
        """Toggle the application's privileged intents (Developer Portal switches).

        Sessions identified before keep their intents, as on Discord.
        """
        self._privileged = {"message_content": message_content, "members": members, "presences": presences}
        self._touch()

    @property
    def application_flags(self) -> int:
        flags = APP_FLAG_APPLICATION_COMMAND_BADGE
        if self._privileged["message_content"]:
            flags |= APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED
        if self._privileged["members"]:
            flags |= APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED
        if self._privileged["presences"]:
            flags |= APP_FLAG_GATEWAY_PRESENCE_LIMITED
        return flags

    def add_user(self, name: str, bot: bool = False) -> FakeUser:
        user = FakeUser(self._ids.next(), name, bot=bot)
        self._users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeUser | None = None,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild the bot is in, with @everyone, the bot's managed role, the bot and an owner.

        ``shard=(shard_id, shard_count)`` picks an id the sharding formula maps there.
        If a session already runs on that shard it receives GUILD_CREATE (as on a bot join).
        """
        gid = self._ids.next_for_shard(*shard) if shard else self._ids.next()
        owner = owner or self.add_user(f"{name}-owner")
        guild = FakeGuild(gid, name, owner.id, joined_ms=_snowflake_ms(gid))
        guild.roles[gid] = FakeRole(gid, gid, "@everyone", everyone_permissions)
        bot_role = FakeRole(
            self._ids.next(), gid, self.bot.name, bot_permissions, position=1, managed=True, bot_id=self.bot.id
        )
        guild.roles[bot_role.id] = bot_role
        self._guilds[gid] = guild
        self._add_member(guild, owner, [])
        self._add_member(guild, self.bot, [bot_role.id])
        for session in self._live_sessions():
            if session.owns_guild(gid) and session.intents & INTENT_GUILDS:
                session.push("GUILD_CREATE", self._guild_create_payload(guild, session))
        self._touch()
        return guild

    def add_role(self, guild: FakeGuild | int, name: str, permissions: int = 0) -> FakeRole:
        g = self._guild(guild)
        role = FakeRole(self._ids.next(), g.id, name, permissions, position=len(g.roles))
        g.roles[role.id] = role
        self._dispatch("GUILD_ROLE_CREATE", {"guild_id": str(g.id), "role": role.payload()}, g.id, INTENT_GUILDS)
        return role

    def add_member(
        self,
        guild: FakeGuild | int,
        user: FakeUser | int,
        admin: bool = False,
        permissions: int | None = None,
        *,
        roles: Sequence[FakeRole | int] = (),
        nick: str | None = None,
    ) -> FakeMember:
        """Join ``user`` to ``guild``; ``admin``/``permissions`` give it a dedicated role."""
        g = self._guild(guild)
        u = self._user(user)
        role_ids = [_id_of(r) for r in roles]
        if admin or permissions is not None:
            perms = P_ADMINISTRATOR if admin else int(permissions or 0)
            role = FakeRole(self._ids.next(), g.id, f"{u.name}-role", perms, position=len(g.roles))
            g.roles[role.id] = role
            self._dispatch("GUILD_ROLE_CREATE", {"guild_id": str(g.id), "role": role.payload()}, g.id, INTENT_GUILDS)
            role_ids.append(role.id)
        member = self._add_member(g, u, role_ids, nick=nick)
        data = {"guild_id": str(g.id), **self._member_payload(g, member)}
        self._dispatch("GUILD_MEMBER_ADD", data, g.id, INTENT_GUILD_MEMBERS)
        return member

    def _add_member(self, guild: FakeGuild, user: FakeUser, role_ids: list[int], nick: str | None = None) -> FakeMember:
        member = FakeMember(guild.id, user, role_ids, nick, joined_ms=self._ids.now_ms())
        guild.members[user.id] = member
        return member

    def add_channel(
        self,
        guild: FakeGuild | int,
        name: str,
        type: str = "text",
        *,
        parent: FakeChannel | int | None = None,
        topic: str | None = None,
    ) -> FakeChannel:
        """A guild channel: ``type`` is "text" (0), "forum" (15), "category" (4) or "announcement" (5)."""
        g = self._guild(guild)
        if type not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel type {type!r}; use one of {sorted(CHANNEL_KINDS)}")
        cid = self._ids.next()
        channel = FakeChannel(
            cid,
            CHANNEL_KINDS[type],
            name,
            g.id,
            position=len(g.channel_ids),
            parent_id=_id_of(parent) if parent is not None else None,
            topic=topic,
            created_ms=_snowflake_ms(cid),
        )
        self._channels[cid] = channel
        g.channel_ids.append(cid)
        self._channel_messages[cid] = []
        self._dispatch("CHANNEL_CREATE", self._channel_payload(channel), g.id, INTENT_GUILDS)
        return channel

    def add_thread(self, channel: FakeChannel | int, name: str, owner: FakeUser | int) -> FakeChannel:
        """A public thread a user opened in ``channel`` (THREAD_CREATE to connected sessions)."""
        parent = self._channel(channel)
        thread = self._new_thread(parent, name, _id_of(owner), self._ids.next())
        return thread

    def add_emoji(self, guild: FakeGuild | int, name: str, animated: bool = False) -> Json:
        """A custom guild emoji the bot may react with (unknown custom emoji answer 10014)."""
        g = self._guild(guild)
        emoji = {
            "id": str(self._ids.next()),
            "name": name,
            "animated": animated,
            "roles": [],
            "require_colons": True,
            "managed": False,
            "available": True,
        }
        g.emojis.append(emoji)
        return {"id": emoji["id"], "name": name, "animated": animated}

    def deny_send(self, channel: FakeChannel | int) -> None:
        """Deny the bot SEND_MESSAGES (+ thread sends/creation) in ``channel`` via a member overwrite.

        REST sends then fail with 403 / 50013 Missing Permissions, and the bot's cache learns
        the overwrite through CHANNEL_UPDATE, as after a moderator's change.
        """
        ch = self._channel(channel)
        target = self._channels[ch.parent_id] if ch.is_thread and ch.parent_id else ch
        target.overwrites = [o for o in target.overwrites if not (o["type"] == 1 and o["id"] == self.bot.id)]
        target.overwrites.append({"id": self.bot.id, "type": 1, "allow": 0, "deny": SEND_DENY_MASK})
        self._dispatch("CHANNEL_UPDATE", self._channel_payload(target), target.guild_id, INTENT_GUILDS)

    def allow_send(self, channel: FakeChannel | int) -> None:
        """Undo :meth:`deny_send`."""
        ch = self._channel(channel)
        ch.overwrites = [o for o in ch.overwrites if not (o["type"] == 1 and o["id"] == self.bot.id)]
        self._dispatch("CHANNEL_UPDATE", self._channel_payload(ch), ch.guild_id, INTENT_GUILDS)

    def close_dms(self, user: FakeUser | int) -> None:
        """The user's privacy settings refuse DMs: sending to them answers 403 / 50007."""
        self._user(user).dms_closed = True

    def permissions(
        self, guild: FakeGuild | int, user: FakeUser | int, channel: FakeChannel | int | None = None
    ) -> int:
        """Effective permissions per "Permissions" > Permission Overwrites (threads use the parent)."""
        g = self._guild(guild)
        uid = _id_of(user)
        if uid == g.owner_id:
            return ALL_PERMISSIONS
        member = g.members.get(uid)
        if member is None:
            return 0
        perms = g.everyone.permissions
        for rid in member.role_ids:
            if rid in g.roles:
                perms |= g.roles[rid].permissions
        if perms & P_ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        ch = self._channel(channel)
        if ch.is_thread and ch.parent_id is not None:
            ch = self._channels[ch.parent_id]
        overwrites = {(o["type"], o["id"]): o for o in ch.overwrites}
        everyone = overwrites.get((0, g.id))
        if everyone:
            perms = (perms & ~everyone["deny"]) | everyone["allow"]
        allow = deny = 0
        for rid in member.role_ids:
            o = overwrites.get((0, rid))
            if o:
                allow |= o["allow"]
                deny |= o["deny"]
        perms = (perms & ~deny) | allow
        own = overwrites.get((1, uid))
        if own:
            perms = (perms & ~own["deny"]) | own["allow"]
        if not perms & P_VIEW_CHANNEL:
            return 0  # "Permissions" > Implicit Permissions: no VIEW_CHANNEL denies everything else
        return perms

    def _check_send(self, ch: FakeChannel) -> None:
        if ch.is_dm:
            recipient = self._users[ch.recipient_id or 0]
            if recipient.dms_closed or recipient.bot:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        if ch.type == CH_GUILD_FORUM or ch.type == CH_GUILD_CATEGORY:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        assert ch.guild_id is not None
        perms = self.permissions(ch.guild_id, self.bot.id, ch)
        if not perms & P_VIEW_CHANNEL:
            raise _missing_access()
        needed = P_SEND_MESSAGES_IN_THREADS if ch.is_thread else P_SEND_MESSAGES
        if not perms & needed:
            raise _missing_permissions()
        if ch.is_thread and ch.archived:
            raise ApiError(400, 50083, "Thread is archived")
