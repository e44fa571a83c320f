"""Messages, threads and reactions as state: storing and deleting messages, what a bot's message body may
say (mentions, embeds, files), new threads, and reactions added or removed with their events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.fakes.discord_api.constants import (
    _MENTION_RE,
    _ROLE_MENTION_RE,
    CH_PUBLIC_THREAD,
    FLAG_LOADING,
    INTENT_DIRECT_MESSAGE_REACTIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    MAX_CONTENT,
    MSG_DEFAULT,
    MSG_REPLY,
    Json,
)
from tests.fakes.discord_api.model import (
    ApiError,
    FakeChannel,
    FakeInteraction,
    FakeMessage,
    _field_error,
    _invalid_form,
    _merge,
)
from tests.fakes.discord_api.validation import _normalise_embed, _parse_emoji, _validate_embeds


class _Messages:
    """Message, thread and reaction state shared by REST handlers and test acts."""

    def _store_message(
        self,
        ch: FakeChannel,
        author_id: int,
        *,
        content: str = "",
        embeds: list[Json] | None = None,
        visible: bool = True,
        **fields: Any,
    ) -> FakeMessage:
        mid = fields.pop("id", None) or self._ids.next()
        msg = FakeMessage(mid, ch.id, ch.guild_id, author_id, content=content, embeds=embeds or [], **fields)
        self._messages[mid] = msg
        if visible:
            self._channel_messages.setdefault(ch.id, []).append(mid)
            ch.last_message_id = mid
            if ch.is_thread:
                ch.message_count += 1
        self._touch()
        return msg

    def _delete_message(self, msg: FakeMessage) -> None:
        msg.deleted = True
        self._reactions.pop(msg.id, None)
        if not msg.ephemeral:
            data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            intent = INTENT_DIRECT_MESSAGES if msg.guild_id is None else INTENT_GUILD_MESSAGES
            self._dispatch("MESSAGE_DELETE", data, msg.guild_id, intent)
        self._touch()

    def _parse_mentions(self, content: str, allowed: Json | None, ch: FakeChannel) -> tuple[list[int], list[int], bool]:
        """Who a message actually pings, honouring ``allowed_mentions``
        ("Message Resource" > Allowed Mentions Object; absent = parse everything)."""
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        users = []
        for raw in _MENTION_RE.findall(content):
            uid = int(raw)
            if uid in self._users and ("users" in parse or uid in allowed_users) and uid not in users:
                users.append(uid)
        roles = []
        guild = self._guilds.get(ch.guild_id) if ch.guild_id is not None else None
        for raw in _ROLE_MENTION_RE.findall(content):
            rid = int(raw)
            if guild is not None and rid in guild.roles and ("roles" in parse or rid in allowed_roles):
                roles.append(rid)
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return users, roles, everyone

    def _message_from_body(self, ch: FakeChannel, body: Json, files: list[Json], *, partial: bool = False) -> Json:
        """Validate a message create/edit body; returns the normalised fields."""
        errors: Json = {}
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            content = str(content)
        embeds = body.get("embeds")
        if body.get("embed") is not None and embeds is None:
            embeds = [body["embed"]]
        if content is not None and len(content) > MAX_CONTENT:
            _merge(
                errors, _field_error(["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
            )
        if embeds is not None:
            _merge(errors, _validate_embeds(embeds))
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            target = self._messages.get(int(ref["message_id"]))
            if (target is None or target.deleted) and ref.get("fail_if_not_exists", True):
                _merge(
                    errors, _field_error(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                )
        if errors:
            raise _invalid_form(errors)
        if not partial and not (
            content or embeds or files or body.get("sticker_ids") or body.get("components") or body.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        return {"content": content, "embeds": embeds, "ref": ref}

    def _create_bot_message(
        self,
        ch: FakeChannel,
        body: Json,
        files: list[Json],
        *,
        visible: bool = True,
        webhook: bool = False,
        interaction: FakeInteraction | None = None,
        msg_type: int = MSG_DEFAULT,
        message_id: int | None = None,
    ) -> FakeMessage:
        fields = self._message_from_body(ch, body, files)
        flags = int(body.get("flags") or 0)
        ref = fields["ref"]
        embeds = [_normalise_embed(e) for e in fields["embeds"] or []]
        msg = self._store_message(
            ch,
            self.bot.id,
            content=fields["content"] or "",
            embeds=embeds,
            visible=visible,
            id=message_id,
            attachments=files,
            components=list(body.get("components") or []),
            flags=flags,
            tts=bool(body.get("tts")),
            nonce=body.get("nonce"),
            allowed_mentions=body.get("allowed_mentions"),
            webhook_id=self.app_id if webhook else None,
            interaction_id=interaction.id if interaction is not None else None,
            request=body,
            type=msg_type,
        )
        if ref and ref.get("message_id") and int(ref["message_id"]) in self._messages:
            msg.type = MSG_REPLY if msg_type == MSG_DEFAULT else msg_type
            msg.message_reference = {
                "type": int(ref.get("type", 0)),
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id") or ch.id),
            }
            if ch.guild_id is not None:
                msg.message_reference["guild_id"] = str(ch.guild_id)
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(
            msg.content, body.get("allowed_mentions"), ch
        )
        # "Allowed Mentions Object": replied_user defaults to false; without any allowed_mentions a reply
        # pings its author, as every mention is parsed then
        if msg.type == MSG_REPLY and msg.reference_id in self._messages:
            allowed = body.get("allowed_mentions")
            replied_user = True if allowed is None else bool(allowed.get("replied_user", False))
            target_author = self._messages[msg.reference_id or 0].author_id
            if replied_user and target_author not in msg.mentions:
                msg.mentions.append(target_author)
        return msg

    def _edit_bot_message(self, msg: FakeMessage, body: Json, files: list[Json]) -> None:
        ch = self._channels[msg.channel_id]
        fields = self._message_from_body(ch, body, files, partial=True)
        if fields["content"] is not None or "content" in body:
            msg.content = fields["content"] or ""
        if fields["embeds"] is not None:
            msg.embeds = [_normalise_embed(e) for e in fields["embeds"]]
        if "components" in body:
            msg.components = list(body.get("components") or [])
        if "flags" in body and body["flags"] is not None:
            # only SUPPRESS_EMBEDS may change; LOADING clears once the deferred reply is filled
            msg.flags = (msg.flags & ~(1 << 2)) | (int(body["flags"]) & (1 << 2))
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if files or "attachments" in body:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            msg.attachments = [a for a in msg.attachments if a["id"] in keep] + files
        msg.flags &= ~FLAG_LOADING
        msg.edited_ms = self._ids.now_ms()
        msg.request = body
        msg.mentions, msg.mention_roles, msg.mention_everyone = self._parse_mentions(
            msg.content, msg.allowed_mentions, ch
        )
        self._touch()

    def _new_thread(
        self,
        parent: FakeChannel,
        name: str,
        owner_id: int,
        thread_id: int,
        *,
        thread_type: int = CH_PUBLIC_THREAD,
        auto_archive: int = 1440,
        applied_tags: Sequence[str] = (),
    ) -> FakeChannel:
        thread = FakeChannel(
            thread_id,
            thread_type,
            name,
            parent.guild_id,
            parent_id=parent.id,
            owner_id=owner_id,
            auto_archive_duration=auto_archive,
            applied_tags=list(applied_tags),
            created_ms=self._ids.now_ms(),
        )
        self._channels[thread_id] = thread
        self._channel_messages[thread_id] = []
        # "Gateway Events" > Thread Create: newly_created is set for brand-new threads
        self._dispatch(
            "THREAD_CREATE", {**self._channel_payload(thread), "newly_created": True}, parent.guild_id, INTENT_GUILDS
        )
        return thread

    @staticmethod
    def _reaction_intent(msg: FakeMessage) -> int:
        return INTENT_DIRECT_MESSAGE_REACTIONS if msg.guild_id is None else INTENT_GUILD_MESSAGE_REACTIONS

    @staticmethod
    def _reaction_base(msg: FakeMessage) -> Json:
        data: Json = {"channel_id": str(msg.channel_id), "message_id": str(msg.id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        return data

    def _add_reaction(self, msg: FakeMessage, user_id: int, emoji: str | Json, *, dispatch: bool) -> bool:
        key, emoji_obj = _parse_emoji(emoji)
        users = self._reactions.setdefault(msg.id, {}).setdefault(key, (emoji_obj, {}))[1]
        if user_id in users:
            return False
        users[user_id] = None
        if dispatch:
            # "Gateway Events" > Message Reaction Add
            data: Json = {
                **self._reaction_base(msg),
                "user_id": str(user_id),
                "emoji": emoji_obj,
                "type": 0,
                "message_author_id": str(msg.author_id),
                "burst": False,
                "burst_colors": [],
            }
            guild = self._guilds.get(msg.guild_id) if msg.guild_id is not None else None
            if guild is not None and user_id in guild.members:
                data["member"] = self._member_payload(guild, guild.members[user_id])
            self._dispatch("MESSAGE_REACTION_ADD", data, msg.guild_id, self._reaction_intent(msg))
        else:
            self._touch()
        return True

    def _remove_reaction(self, msg: FakeMessage, user_id: int, emoji: str | Json, *, dispatch: bool) -> bool:
        key, emoji_obj = _parse_emoji(emoji)
        entry = self._reactions.get(msg.id, {}).get(key)
        if entry is None or user_id not in entry[1]:
            return False
        del entry[1][user_id]
        if dispatch:
            data = {**self._reaction_base(msg), "user_id": str(user_id), "emoji": emoji_obj, "type": 0, "burst": False}
            self._dispatch("MESSAGE_REACTION_REMOVE", data, msg.guild_id, self._reaction_intent(msg))
        else:
            self._touch()
        return True
