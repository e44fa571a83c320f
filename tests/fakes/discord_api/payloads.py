"""The JSON shapes of Discord's objects (member, channel, guild, GUILD_CREATE, message, reactions) as
REST answers and gateway events carry them.
"""

from __future__ import annotations

from tests.fakes.discord_api.connection import _Session
from tests.fakes.discord_api.constants import CH_DM, CH_GUILD_FORUM, INTENT_GUILD_MEMBERS, MSG_REPLY, Json
from tests.fakes.discord_api.model import FakeChannel, FakeGuild, FakeMember, FakeMessage, _iso, _snowflake_ms


class _Payloads:
    """State to the JSON Discord sends."""

    def _member_payload(
        self, guild: FakeGuild, member: FakeMember, *, with_user: bool = True, channel: FakeChannel | None = None
    ) -> Json:
        """Guild Member object ("Guild Resource"); ``permissions`` only inside interactions."""
        data: Json = {
            "roles": [str(r) for r in member.role_ids],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "joined_at": _iso(member.joined_ms),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = member.user.payload()
        if channel is not None:
            data["permissions"] = str(self.permissions(guild, member.id, channel))
        return data

    def _channel_payload(self, ch: FakeChannel) -> Json:
        """Channel object ("Channel Resource") for text/forum/category/thread/DM channels."""
        if ch.is_dm:
            recipient = self._users[ch.recipient_id or 0]
            return {
                "id": str(ch.id),
                "type": CH_DM,
                "flags": 0,
                "recipients": [recipient.payload()],
                "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            }
        data: Json = {
            "id": str(ch.id),
            "type": ch.type,
            "guild_id": str(ch.guild_id),
            "name": ch.name,
            "parent_id": str(ch.parent_id) if ch.parent_id else None,
            "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if ch.is_thread:
            data.update(
                owner_id=str(ch.owner_id),
                message_count=ch.message_count,
                member_count=1,
                total_message_sent=ch.message_count,
                applied_tags=list(ch.applied_tags),
                thread_metadata={
                    "archived": ch.archived,
                    "auto_archive_duration": ch.auto_archive_duration,
                    "archive_timestamp": _iso(ch.created_ms),
                    "locked": False,
                    "create_timestamp": _iso(ch.created_ms),
                },
            )
            return data
        data.update(
            position=ch.position,
            permission_overwrites=[
                {"id": str(o["id"]), "type": o["type"], "allow": str(o["allow"]), "deny": str(o["deny"])}
                for o in ch.overwrites
            ],
            nsfw=False,
            topic=ch.topic,
            default_auto_archive_duration=1440,
            default_thread_rate_limit_per_user=0,
        )
        if ch.type == CH_GUILD_FORUM:
            data.update(available_tags=[], default_reaction_emoji=None, default_sort_order=None, default_forum_layout=0)
        return data

    def _guild_payload(self, guild: FakeGuild) -> Json:
        """Guild object ("Guild Resource" > Guild Object) -- the REST shape."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": list(guild.emojis),
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
        }

    def _guild_create_payload(self, guild: FakeGuild, session: _Session) -> Json:
        """GUILD_CREATE ("Gateway Events" > Guild Create): the guild plus the extra gateway fields.

        Without GUILD_MEMBERS only the bot's own member is included, like Discord does; with
        it, all members (so discord.py counts the guild as chunked).
        """
        if session.intents & INTENT_GUILD_MEMBERS:
            members = list(guild.members.values())
        else:
            members = [guild.members[self.bot.id]]
        channels = [self._channels[c] for c in guild.channel_ids]
        threads = [c for c in self._channels.values() if c.is_thread and c.guild_id == guild.id and not c.archived]
        return {
            **self._guild_payload(guild),
            "joined_at": _iso(guild.joined_ms),
            "large": len(guild.members) >= 250,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": [self._member_payload(guild, m) for m in members],
            "channels": [self._channel_payload(c) for c in channels],
            "threads": [self._channel_payload(t) for t in threads],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _message_payload(self, msg: FakeMessage, *, gateway: bool = False) -> Json:
        """Message object ("Message Resource"); the gateway adds ``guild_id`` and ``member``."""
        author = self._users[msg.author_id]
        ch = self._channels.get(msg.channel_id)
        guild = self._guilds.get(msg.guild_id) if msg.guild_id is not None else None
        mentions = []
        for uid in msg.mentions:
            mentioned = self._users.get(uid)
            if mentioned is None:
                continue
            entry = mentioned.payload()
            if gateway and guild is not None and uid in guild.members:
                entry["member"] = self._member_payload(guild, guild.members[uid], with_user=False)
            mentions.append(entry)
        data: Json = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": author.payload(),
            "content": msg.content,
            "timestamp": _iso(_snowflake_ms(msg.id)),
            "edited_timestamp": _iso(msg.edited_ms) if msg.edited_ms else None,
            "tts": msg.tts,
            "mention_everyone": msg.mention_everyone,
            "mentions": mentions,
            "mention_roles": [str(r) for r in msg.mention_roles],
            "attachments": list(msg.attachments),
            "embeds": list(msg.embeds),
            "pinned": False,
            "type": msg.type,
            "flags": msg.flags,
            "components": list(msg.components),
        }
        if msg.nonce is not None:
            data["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            data["webhook_id"] = str(msg.webhook_id)
            data["application_id"] = str(self.app_id)
        if msg.interaction_id is not None:
            inter = self._interactions[msg.interaction_id]
            data["interaction_metadata"] = {
                "id": str(inter.id),
                "type": inter.type,
                "user": self._users[inter.user_id].payload(),
                "authorizing_integration_owners": {"0": str(inter.guild_id)}
                if inter.guild_id
                else {"1": str(inter.user_id)},
                "name": inter.name,
                "command_type": 1,
            }
        if msg.message_reference is not None:
            data["message_reference"] = dict(msg.message_reference)
            ref = self._messages.get(msg.reference_id or 0)
            if msg.type == MSG_REPLY:
                data["referenced_message"] = self._message_payload(ref) if ref is not None and not ref.deleted else None
        if msg.thread_id is not None and msg.thread_id in self._channels:
            data["thread"] = self._channel_payload(self._channels[msg.thread_id])
        thread_messages = self._channel_messages.get(msg.channel_id, []) if ch is not None and ch.is_thread else []
        if msg.id in thread_messages:
            data["position"] = thread_messages.index(msg.id)
        if not gateway:
            reactions = self._reaction_summary(msg.id)
            if reactions:
                data["reactions"] = reactions
        if gateway and guild is not None:
            data["guild_id"] = str(guild.id)
            if msg.webhook_id is None and msg.author_id in guild.members:
                data["member"] = self._member_payload(guild, guild.members[msg.author_id], with_user=False)
        return data

    def _reaction_summary(self, message_id: int) -> list[Json]:
        summary = []
        for emoji_obj, users in self._reactions.get(message_id, {}).values():
            if users:
                summary.append(
                    {
                        "count": len(users),
                        "count_details": {"burst": 0, "normal": len(users)},
                        "me": self.bot.id in users,
                        "me_burst": False,
                        "emoji": emoji_obj,
                        "burst_colors": [],
                    }
                )
        return summary
