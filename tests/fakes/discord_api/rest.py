"""REST endpoints by resource: gateway discovery, users and the application, channels and messages,
threads, reactions, guilds and members.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.discord_api.constants import (
    _FILES,
    CH_GUILD_ANNOUNCEMENT,
    CH_GUILD_FORUM,
    CH_GUILD_TEXT,
    CH_PRIVATE_THREAD,
    CH_PUBLIC_THREAD,
    FLAG_HAS_THREAD,
    P_ADD_REACTIONS,
    P_CREATE_PRIVATE_THREADS,
    P_CREATE_PUBLIC_THREADS,
    P_MANAGE_MESSAGES,
    P_SEND_MESSAGES,
)
from tests.fakes.discord_api.model import ApiError, _field_error, _invalid_form, _missing_access, _missing_permissions
from tests.fakes.discord_api.validation import _check_thread_name, _parse_emoji, _query_int


class _Rest:
    """The REST handlers other than interactions and commands."""

    async def _h_gateway(self, request: web.Request) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _h_gateway_bot(self, request: web.Request) -> web.Response:
        # "Gateway" > Get Gateway Bot
        return self._json(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _h_me(self, request: web.Request) -> web.Response:
        return self._json(
            {
                **self.bot.payload(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "email": None,
                "locale": "en-US",
                "premium_type": 0,
            }
        )

    async def _h_user(self, request: web.Request) -> web.Response:
        user = self._users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return self._json(user.payload())

    async def _h_application(self, request: web.Request) -> web.Response:
        # "Application Resource" > Application Object
        return self._json(
            {
                "id": str(self.app_id),
                "name": self.bot.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.owner.payload(),
                "team": None,
                "flags": self.application_flags,
                "bot": self.bot.payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "install_params": None,
                "integration_types_config": {"0": {}},
                "approximate_guild_count": len(self._guilds),
            }
        )

    async def _h_create_dm(self, request: web.Request) -> web.Response:
        body = self._body(request)
        try:
            user = self._users[int(body["recipient_id"])]
        except (KeyError, ValueError):
            error = _field_error(["recipient_id"], "BASE_TYPE_REQUIRED", "This field is required")
            raise _invalid_form(error) from None
        return self._json(self._channel_payload(self._dm_channel(user)))

    async def _h_no_content(self, request: web.Request) -> web.Response:
        self._rest_channel(request)
        return self._no_content()

    async def _h_get_channel(self, request: web.Request) -> web.Response:
        return self._json(self._channel_payload(self._rest_channel(request)))

    async def _h_history(self, request: web.Request) -> web.Response:
        """Get Channel Messages: newest first, ``before``/``after``/``around``, limit 1-100."""
        ch = self._rest_channel(request)
        if ch.history_refused:
            raise _missing_access()
        limit = _query_int(request, "limit", 50, 1, 100)
        ids = [m.id for m in self.messages(ch)]
        if "before" in request.query:
            before = int(request.query["before"])
            chosen = [i for i in ids if i < before][-limit:]
        elif "after" in request.query:
            after = int(request.query["after"])
            chosen = [i for i in ids if i > after][:limit]
        elif "around" in request.query:
            around = int(request.query["around"])
            older = [i for i in ids if i <= around][-(limit // 2 + limit % 2) :]
            chosen = older + [i for i in ids if i > around][: limit // 2]
        else:
            chosen = ids[-limit:]
        return self._json([self._message_payload(self._messages[i]) for i in sorted(chosen, reverse=True)])

    async def _h_create_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        self._check_send(ch)
        msg = self._create_bot_message(ch, self._body(request), request[_FILES])
        self._dispatch_message("MESSAGE_CREATE", msg)  # Discord echoes the bot's own message
        return self._json(self._message_payload(msg))

    async def _h_get_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        return self._json(self._message_payload(self._rest_message(request, ch)))

    async def _h_edit_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if msg.author_id != self.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_bot_message(msg, self._body(request), request[_FILES])
        self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._message_payload(msg))

    async def _h_delete_message(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if (
            msg.author_id != self.bot.id
            and ch.guild_id is not None
            and not (self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES)
        ):
            raise _missing_permissions()
        self._delete_message(msg)
        return self._no_content()

    async def _h_thread_from_message(self, request: web.Request) -> web.Response:
        """Start Thread from Message: the thread's id IS the message's id ("Channel Resource")."""
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        body = self._body(request)
        name = _check_thread_name(body)
        if ch.type not in (CH_GUILD_TEXT, CH_GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if msg.thread_id is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        assert ch.guild_id is not None
        if not self.permissions(ch.guild_id, self.bot.id, ch) & P_CREATE_PUBLIC_THREADS:
            raise _missing_permissions()
        thread = self._new_thread(
            ch,
            name,
            self.bot.id,
            msg.id,
            thread_type=10 if ch.type == CH_GUILD_ANNOUNCEMENT else CH_PUBLIC_THREAD,
            auto_archive=int(body.get("auto_archive_duration") or 1440),
        )
        msg.thread_id = thread.id
        msg.flags |= FLAG_HAS_THREAD
        self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._channel_payload(thread))

    async def _h_start_thread(self, request: web.Request) -> web.Response:
        """Start Thread without Message, or in a forum: a forum post needs ``message`` and its
        starter message shares the thread's id ("Channel Resource" > Start Thread in Forum)."""
        ch = self._rest_channel(request)
        body = self._body(request)
        name = _check_thread_name(body)
        assert ch.guild_id is not None
        perms = self.permissions(ch.guild_id, self.bot.id, ch)
        if ch.type == CH_GUILD_FORUM:
            message_body = body.get("message")
            if not isinstance(message_body, dict):
                raise _invalid_form(_field_error(["message"], "BASE_TYPE_REQUIRED", "This field is required"))
            if not perms & P_SEND_MESSAGES:  # forum posts need SEND_MESSAGES ("Permissions")
                raise _missing_permissions()
            self._message_from_body(ch, message_body, request[_FILES])  # validate before creating anything
            thread_id = self._ids.next()
            thread = self._new_thread(
                ch,
                name,
                self.bot.id,
                thread_id,
                auto_archive=int(body.get("auto_archive_duration") or 1440),
                applied_tags=[str(t) for t in body.get("applied_tags") or []],
            )
            starter = self._create_bot_message(thread, message_body, request[_FILES], message_id=thread_id)
            self._dispatch_message("MESSAGE_CREATE", starter)
            return self._json({**self._channel_payload(thread), "message": self._message_payload(starter)})
        if ch.type not in (CH_GUILD_TEXT, CH_GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        thread_type = int(body.get("type") or CH_PRIVATE_THREAD)
        needed = P_CREATE_PRIVATE_THREADS if thread_type == CH_PRIVATE_THREAD else P_CREATE_PUBLIC_THREADS
        if not perms & needed:
            raise _missing_permissions()
        thread = self._new_thread(
            ch,
            name,
            self.bot.id,
            self._ids.next(),
            thread_type=thread_type,
            auto_archive=int(body.get("auto_archive_duration") or 1440),
        )
        return self._json(self._channel_payload(thread))

    async def _h_add_reaction(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        key, emoji_obj = _parse_emoji(request.match_info["emoji"])
        if emoji_obj["id"] is not None and not any(
            e["id"] == emoji_obj["id"] for g in self._guilds.values() for e in g.emojis
        ):
            raise ApiError(400, 10014, "Unknown Emoji")
        existing = self._reactions.get(msg.id, {}).get(key)
        first_of_its_kind = not (existing and existing[1])  # adding to an existing reaction needs no permission
        if (
            ch.guild_id is not None
            and first_of_its_kind
            and not (self.permissions(ch.guild_id, self.bot.id, ch) & P_ADD_REACTIONS)
        ):
            raise _missing_permissions()
        self._add_reaction(msg, self.bot.id, emoji_obj, dispatch=True)
        return self._no_content()

    async def _h_remove_own_reaction(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        self._remove_reaction(msg, self.bot.id, request.match_info["emoji"], dispatch=True)
        return self._no_content()

    async def _h_remove_user_reaction(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES:
            raise _missing_permissions()
        self._remove_reaction(msg, int(request.match_info["user_id"]), request.match_info["emoji"], dispatch=True)
        return self._no_content()

    async def _h_reaction_users(self, request: web.Request) -> web.Response:
        """Get Reactions: users ordered by id, ``after`` a user id, ``limit`` 1-100 (default 25)."""
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        key, _ = _parse_emoji(request.match_info["emoji"])
        limit = _query_int(request, "limit", 25, 1, 100)
        after = int(request.query.get("after", "0") or 0)
        if request.query.get("type", "0") == "1":  # burst (super) reactions: the fake has none
            return self._json([])
        entry = self._reactions.get(msg.id, {}).get(key)
        ids = sorted(u for u in (entry[1] if entry else {}) if u > after)[:limit]
        return self._json([self._users[u].payload() for u in ids])

    async def _h_clear_reactions(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES:
            raise _missing_permissions()
        await self.clear_reactions(ch, msg)
        return self._no_content()

    async def _h_clear_emoji(self, request: web.Request) -> web.Response:
        ch = self._rest_channel(request)
        msg = self._rest_message(request, ch)
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_MANAGE_MESSAGES:
            raise _missing_permissions()
        await self.clear_emoji(ch, msg, request.match_info["emoji"])
        return self._no_content()

    async def _h_get_guild(self, request: web.Request) -> web.Response:
        guild = self._rest_guild(request)
        data = self._guild_payload(guild)
        if request.query.get("with_counts", "").lower() in ("1", "true"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return self._json(data)

    async def _h_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._rest_guild(request)
        return self._json([self._channel_payload(self._channels[c]) for c in guild.channel_ids])

    async def _h_list_members(self, request: web.Request) -> web.Response:
        """List Guild Members needs the GUILD_MEMBERS privileged intent enabled for the app."""
        guild = self._rest_guild(request)
        if not self._privileged["members"]:
            raise _missing_access()
        limit = _query_int(request, "limit", 1, 1, 1000)
        after = int(request.query.get("after", "0") or 0)
        ids = sorted(u for u in guild.members if u > after)[:limit]
        return self._json([self._member_payload(guild, guild.members[u]) for u in ids])

    async def _h_get_member(self, request: web.Request) -> web.Response:
        guild = self._rest_guild(request)
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return self._json(self._member_payload(guild, member))
