"""Interactions ("Receiving and Responding") and application commands: building an INTERACTION_CREATE,
its callback, follow-ups and the original response, and the command lists a bot puts.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.fakes.discord_api.constants import (
    _BODY,
    _FILES,
    CB_AUTOCOMPLETE_RESULT,
    CB_CHANNEL_MESSAGE_WITH_SOURCE,
    CB_DEFERRED_CHANNEL_MESSAGE,
    CB_DEFERRED_UPDATE_MESSAGE,
    CB_MODAL,
    CB_UPDATE_MESSAGE,
    DEFAULT_BOT_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    IT_AUTOCOMPLETE,
    MSG_CHAT_INPUT_COMMAND,
    OPT_BOOLEAN,
    OPT_CHANNEL,
    OPT_INTEGER,
    OPT_MENTIONABLE,
    OPT_NUMBER,
    OPT_ROLE,
    OPT_STRING,
    OPT_SUB_COMMAND,
    OPT_SUB_COMMAND_GROUP,
    OPT_USER,
    Json,
)
from tests.fakes.discord_api.model import (
    ApiError,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    InteractionResponseRecord,
    _field_error,
    _id_of,
    _invalid_form,
    _unknown_message,
)
from tests.fakes.discord_api.validation import _find_option, _normalise_command, _validate_commands


class _Interactions:
    """Slash commands in, interaction responses and command registrations out."""

    async def _interaction(
        self,
        itype: int,
        guild: FakeGuild | int | None,
        channel: FakeChannel | int | None,
        user: FakeUser | int,
        name: str,
        options: dict[str, Any],
        *,
        subcommand: str | None,
        group: str | None,
        focused: str | None,
        locale: str,
    ) -> FakeInteraction:
        u = self._user(user)
        g = self._guild(guild) if guild is not None else None
        if g is not None:
            if channel is None:
                raise ValueError("a guild interaction needs a channel")
            ch = self._channel(channel)
            if u.id not in g.members:
                raise ValueError(f"{u.name} is not a member of {g.name}")
        else:
            ch = self._dm_channel(u)
        command = None
        if g is not None:
            command = next((c for c in self._commands.get(g.id, []) if c["name"] == name and c["type"] == 1), None)
        if command is None:
            command = next((c for c in self._commands.get(None, []) if c["name"] == name and c["type"] == 1), None)
        if command is None:
            raise LookupError(f"slash command {name!r} is not registered (did the bot sync its tree?)")
        resolved: Json = {}
        option_defs = command.get("options", [])
        if group is not None:
            gdef = _find_option(option_defs, group, OPT_SUB_COMMAND_GROUP)
            if subcommand is None:
                raise ValueError("a subcommand group needs a subcommand")
            sdef = _find_option(gdef.get("options", []), subcommand, OPT_SUB_COMMAND)
            inner = self._build_options(sdef.get("options", []), options, resolved, g, ch, focused)
            built = [
                {
                    "type": OPT_SUB_COMMAND_GROUP,
                    "name": group,
                    "options": [{"type": OPT_SUB_COMMAND, "name": subcommand, "options": inner}],
                }
            ]
        elif subcommand is not None:
            sdef = _find_option(option_defs, subcommand, OPT_SUB_COMMAND)
            inner = self._build_options(sdef.get("options", []), options, resolved, g, ch, focused)
            built = [{"type": OPT_SUB_COMMAND, "name": subcommand, "options": inner}]
        else:
            built = self._build_options(option_defs, options, resolved, g, ch, focused)
        data: Json = {"id": command["id"], "name": name, "type": 1}
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]  # only for guild-registered commands
        iid = self._ids.next()
        token = f"fake-interaction-{uuid.uuid4().hex}"
        payload: Json = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": itype,
            "data": data,
            "channel_id": str(ch.id),
            "channel": self._interaction_channel(ch, g, u),
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if g is not None:
            payload.update(
                guild_id=str(g.id),
                guild={"id": str(g.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=self._member_payload(g, g.members[u.id], channel=ch),
                app_permissions=str(self.permissions(g, self.bot.id, ch)),
                authorizing_integration_owners={"0": str(g.id)},
                context=0,
            )
        else:
            payload.update(
                user=u.payload(),
                app_permissions=str(DEFAULT_BOT_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        interaction = FakeInteraction(iid, token, itype, g.id if g else None, ch.id, u.id, name, payload)
        self._interactions[iid] = interaction
        self._interactions_by_token[token] = interaction
        # INTERACTION_CREATE needs no intent ("Gateway" > Gateway Intents)
        self._dispatch("INTERACTION_CREATE", payload, g.id if g else None, None)
        await self.flush()
        return interaction

    def _interaction_channel(self, ch: FakeChannel, g: FakeGuild | None, u: FakeUser) -> Json:
        data = self._channel_payload(ch)
        if g is not None:
            data["permissions"] = str(self.permissions(g, u.id, ch))
        return data

    def _build_options(
        self,
        defs: list[Json],
        values: dict[str, Any],
        resolved: Json,
        g: FakeGuild | None,
        ch: FakeChannel,
        focused: str | None,
    ) -> list[Json]:
        """Typed options ("Application Commands" > Application Command Interaction Data Option)."""
        leaf_defs = [d for d in defs if d["type"] not in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP)]
        if not leaf_defs:
            return []
        built = []
        for name, value in values.items():
            d = next((x for x in leaf_defs if x["name"] == name), None)
            if d is None:
                raise ValueError(f"option {name!r} is not defined; defined: {[x['name'] for x in leaf_defs]}")
            otype = d["type"]
            entry: Json = {"name": name, "type": otype}
            if name == focused:
                entry["value"] = str(value)
                entry["focused"] = True
            else:
                entry["value"] = self._option_value(otype, value, resolved, g, ch)
                choices = d.get("choices")
                if choices and entry["value"] not in [c["value"] for c in choices]:
                    raise ValueError(f"{value!r} is not one of the choices of {name!r}")
            built.append(entry)
        missing = [d["name"] for d in leaf_defs if d.get("required") and d["name"] not in values]
        if missing and focused is None:
            raise ValueError(f"required options missing: {missing}")
        return built

    def _option_value(self, otype: int, value: Any, resolved: Json, g: FakeGuild | None, ch: FakeChannel) -> Any:
        if otype == OPT_STRING:
            return str(value)
        if otype == OPT_INTEGER:
            if isinstance(value, bool):
                raise ValueError("an INTEGER option needs an int")
            return int(value)
        if otype == OPT_NUMBER:
            return float(value)
        if otype == OPT_BOOLEAN:
            return bool(value)
        snowflake = _id_of(value)
        if otype in (OPT_USER, OPT_MENTIONABLE) and snowflake in self._users:
            user = self._users[snowflake]
            resolved.setdefault("users", {})[str(snowflake)] = user.payload()
            if g is not None and snowflake in g.members:
                resolved.setdefault("members", {})[str(snowflake)] = self._member_payload(
                    g, g.members[snowflake], with_user=False, channel=ch
                )
            return str(snowflake)
        if otype in (OPT_ROLE, OPT_MENTIONABLE) and g is not None and snowflake in g.roles:
            resolved.setdefault("roles", {})[str(snowflake)] = g.roles[snowflake].payload()
            return str(snowflake)
        if otype == OPT_CHANNEL and snowflake in self._channels:
            target = self._channels[snowflake]
            entry = self._channel_payload(target)
            if g is not None:
                entry["permissions"] = str(self.permissions(g, self.bot.id, target))
            resolved.setdefault("channels", {})[str(snowflake)] = entry
            return str(snowflake)
        raise ValueError(f"option value {value!r} does not resolve for option type {otype}")

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["application_id"]) != self.app_id:
            raise ApiError(404, 10002, "Unknown Application")
        if "guild_id" in request.match_info:
            return self._rest_guild(request).id
        return None

    async def _h_get_commands(self, request: web.Request) -> web.Response:
        return self._json(self._commands.get(self._command_scope(request), []))

    async def _h_put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite ("Application Commands" > Bulk Overwrite ...): ids survive for
        unchanged names, ``version`` changes when a definition changes."""
        scope = self._command_scope(request)
        body = request.get(_BODY)
        if not isinstance(body, list):
            raise _invalid_form(
                {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Only iterables may be used in a ListType"}]}
            )
        _validate_commands(body)
        existing = {(c["name"], c["type"]): c for c in self._commands.get(scope, [])}
        stored = []
        changed = len(existing) != len(body)
        for raw in body:
            norm = _normalise_command(raw)
            old = existing.get((norm["name"], norm["type"]))
            same = old is not None and {k: old.get(k) for k in norm} == norm
            changed = changed or not same
            command = {
                **norm,
                "id": old["id"] if old else str(self._ids.next()),
                "application_id": str(self.app_id),
                "version": old["version"] if old and same else str(self._ids.next()),
            }
            if scope is not None:
                command["guild_id"] = str(scope)
            stored.append(command)
        self._commands[scope] = stored
        self._command_puts[scope] += 1
        if changed:
            self._command_changes[scope] += 1
        self._touch()
        return self._json(stored)

    def _interaction_for(self, request: web.Request) -> FakeInteraction:
        interaction = self._interactions_by_token.get(
            request.match_info.get("interaction_token") or request.match_info.get("webhook_token", "")
        )
        if interaction is None:
            if "webhook_id" in request.match_info:
                raise ApiError(404, 10015, "Unknown Webhook")
            raise ApiError(404, 10062, "Unknown interaction")
        if "interaction_id" in request.match_info and int(request.match_info["interaction_id"]) != interaction.id:
            raise ApiError(404, 10062, "Unknown interaction")
        if "webhook_id" in request.match_info and int(request.match_info["webhook_id"]) != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    async def _h_interaction_callback(self, request: web.Request) -> web.Response:
        """ "Receiving and Responding" > Create Interaction Response (one per interaction)."""
        interaction = self._interaction_for(request)
        if interaction.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = self._body(request)
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        ch = self._channels[interaction.channel_id]
        message: FakeMessage | None = None
        if cb_type == CB_CHANNEL_MESSAGE_WITH_SOURCE:
            ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._create_bot_message(
                ch,
                data,
                request[_FILES],
                visible=not ephemeral,
                webhook=True,
                interaction=interaction,
                msg_type=MSG_CHAT_INPUT_COMMAND,
            )
            interaction.original_message_id = message.id
            if not ephemeral:
                self._dispatch_message("MESSAGE_CREATE", message)
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = int(data.get("flags") or 0) & FLAG_EPHEMERAL
            interaction.deferred = True
            interaction.deferred_flags = flags
            # the "thinking..." placeholder is a real message with the LOADING flag
            message = self._store_message(
                ch,
                self.bot.id,
                visible=not flags,
                flags=flags | FLAG_LOADING,
                webhook_id=self.app_id,
                interaction_id=interaction.id,
                type=MSG_CHAT_INPUT_COMMAND,
                request=body,
            )
            interaction.original_message_id = message.id
            if not flags:
                self._dispatch_message("MESSAGE_CREATE", message)
        elif cb_type == CB_AUTOCOMPLETE_RESULT:
            if interaction.type != IT_AUTOCOMPLETE:
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    _field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type"),
                )
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise _invalid_form(
                    _field_error(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                )
        elif cb_type not in (CB_DEFERRED_UPDATE_MESSAGE, CB_UPDATE_MESSAGE, CB_MODAL, 1):
            raise _invalid_form(
                _field_error(["type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9}.")
            )
        interaction.responses.append(InteractionResponseRecord("callback", cb_type, data, message))
        self._touch()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return self._no_content()
        result: Json = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": cb_type == CB_DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message.ephemeral),
            }
        }
        if message is not None:
            result["resource"] = {"type": cb_type, "message": self._message_payload(message)}
        else:
            result["resource"] = {"type": cb_type}
        return self._json(result)

    async def _h_followup(self, request: web.Request) -> web.Response:
        """Create Followup Message; after a deferred reply the first follow-up fills the placeholder."""
        interaction = self._interaction_for(request)
        if not interaction.acknowledged:  # the follow-up webhook exists only after the first response
            raise ApiError(404, 10015, "Unknown Webhook")
        body = self._body(request)
        ch = self._channels[interaction.channel_id]
        original = self._messages.get(interaction.original_message_id or 0)
        # a deleted placeholder is not filled: the follow-up is a message of its own (e.g. an ephemeral one)
        if interaction.deferred and original is not None and not original.deleted and original.flags & FLAG_LOADING:
            self._edit_bot_message(original, body, request[_FILES])
            msg = original
            if not msg.ephemeral:
                self._dispatch_message("MESSAGE_UPDATE", msg)
        else:
            ephemeral = bool(int(body.get("flags") or 0) & FLAG_EPHEMERAL)
            msg = self._create_bot_message(
                ch, body, request[_FILES], visible=not ephemeral, webhook=True, interaction=interaction
            )
            interaction.message_ids.append(msg.id)
            if not ephemeral:
                self._dispatch_message("MESSAGE_CREATE", msg)
        interaction.responses.append(InteractionResponseRecord("followup", None, body, msg))
        self._touch()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return self._json(self._message_payload(msg))
        return self._no_content()

    async def _h_webhook_message(self, request: web.Request) -> web.Response:
        """GET/PATCH/DELETE ``/webhooks/{app}/{token}/messages/{id | @original}``."""
        interaction = self._interaction_for(request)
        raw_id = request.match_info["message_id"]
        if raw_id == "@original":
            mid = interaction.original_message_id
        else:
            mid = int(raw_id) if raw_id.isdigit() else None
            if mid not in interaction.message_ids and mid != interaction.original_message_id:
                mid = None
        msg = self._messages.get(mid or 0)
        if msg is None or msg.deleted:
            raise _unknown_message()
        if request.method == "GET":
            return self._json(self._message_payload(msg))
        if request.method == "DELETE":
            self._delete_message(msg)
            interaction.responses.append(InteractionResponseRecord("delete", None, {}, msg))
            return self._no_content()
        body = self._body(request)
        self._edit_bot_message(msg, body, request[_FILES])
        interaction.responses.append(InteractionResponseRecord("edit", None, body, msg))
        if not msg.ephemeral:
            self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._message_payload(msg))
