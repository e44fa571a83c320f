"""REST routing: the route table, the middleware every call goes through (authentication, recording, rate
limits, latency, errors as Discord words them) and the helpers that read a request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.discord_api.constants import _BODY, _FILES, API_PREFIX, P_VIEW_CHANNEL, Json
from tests.fakes.discord_api.model import (
    ApiError,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    RecordedRequest,
    _dumps,
    _missing_access,
    _unknown_channel,
    _unknown_message,
)
from tests.fakes.discord_api.ratelimits import ms_ceil


class _Routing:
    """Requests to handlers, with the checks every route shares."""

    uploads: dict[str, bytes]  # set by FakeDiscord

    def _add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/gateway", self._h_gateway),
            ("GET", "/gateway/bot", self._h_gateway_bot),
            ("GET", "/users/@me", self._h_me),
            ("POST", "/users/@me/channels", self._h_create_dm),
            ("GET", "/users/{user_id}", self._h_user),
            ("GET", "/oauth2/applications/@me", self._h_application),
            ("GET", "/applications/@me", self._h_application),
            ("GET", "/applications/{application_id}/commands", self._h_get_commands),
            ("PUT", "/applications/{application_id}/commands", self._h_put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._h_get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._h_put_commands),
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", self._h_interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self._h_followup),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._h_webhook_message),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._h_webhook_message),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self._h_webhook_message),
            ("GET", "/channels/{channel_id}", self._h_get_channel),
            ("GET", "/channels/{channel_id}/messages", self._h_history),
            ("POST", "/channels/{channel_id}/messages", self._h_create_message),
            ("POST", "/channels/{channel_id}/typing", self._h_no_content),
            ("PUT", "/channels/{channel_id}/thread-members/@me", self._h_no_content),
            ("DELETE", "/channels/{channel_id}/thread-members/@me", self._h_no_content),
            ("POST", "/channels/{channel_id}/threads", self._h_start_thread),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._h_get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._h_edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._h_delete_message),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._h_thread_from_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions", self._h_clear_reactions),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._h_add_reaction),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self._h_remove_own_reaction,
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
                self._h_remove_user_reaction,
            ),
            ("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", self._h_reaction_users),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", self._h_clear_emoji),
            ("GET", "/guilds/{guild_id}", self._h_get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._h_guild_channels),
            ("GET", "/guilds/{guild_id}/members", self._h_list_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._h_get_member),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)

    @staticmethod
    def _json(body: Any, status: int = 200) -> web.Response:
        # discord.py only parses JSON when Content-Type is exactly "application/json" (no charset)
        return web.Response(body=_dumps(body).encode(), status=status, headers={"Content-Type": "application/json"})

    @staticmethod
    def _no_content() -> web.Response:
        return web.Response(status=204)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            result: web.StreamResponse = await handler(request)
            return result
        path = request.path[len(API_PREFIX) :]
        resource = request.match_info.route.resource
        route = resource.canonical[len(API_PREFIX) :] if resource is not None else path
        method = request.method
        body: Any = None
        files: list[Json] = []
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = json.loads(await request.read() or b"null")
            except ValueError:
                return self._json({"message": "400: Bad Request", "code": 50109}, 400)  # "invalid JSON"
        elif request.content_type.startswith("multipart/") and request.can_read_body:
            body, files = await self._read_multipart(request)
        request[_BODY] = body
        request[_FILES] = files
        record = RecordedRequest(method, path, route, dict(request.query), body)
        self.requests.append(record)
        self._request_counts[f"{method} {path}"] += 1
        if route != path:
            self._request_counts[f"{method} {route}"] += 1
        self._touch()

        if self.latency > 0:
            await asyncio.sleep(self.latency / 2)  # the request's way to Discord
        response = await self._answer(request, handler, method, path, route)
        record.status = response.status
        if self.latency > 0:
            await asyncio.sleep(self.latency / 2)  # and the answer's way back
        return response

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Any], method: str, path: str, route: str
    ) -> web.StreamResponse:
        """Authentication, then the limits in the order a request meets them, then the handler."""
        now = self._monotonic()
        bucket = self._bucket(method, route, request)
        if now >= bucket.reset_at:
            bucket.remaining = bucket.limit
            bucket.reset_at = now + bucket.window

        # Interaction callbacks and webhook-token routes authenticate with the token in the URL, and "are not
        # bound to the bot's Global Rate Limit" ("Rate Limits" > Global Rate Limit).
        token_routes = route.startswith(("/interactions/", "/webhooks/{webhook_id}/{webhook_token}"))
        if not token_routes and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._json({"message": "401: Unauthorized", "code": 0}, 401)
        if (rule := self._take_rate_rule(f"{method} {path}")) is not None:
            source = "injected"
            self._hit(method, path, rule.retry_after, is_global=rule.is_global, source=source)
            scope = "global" if rule.is_global else "user"
            return self._too_many(rule.retry_after, bucket, is_global=rule.is_global, scope=scope, now=now)
        if not token_routes and (wait := self._global_wait(now)) is not None:
            self._hit(method, path, wait, is_global=True, source="global")
            return self._too_many(wait, bucket, is_global=True, scope="global", now=now)
        if bucket.remaining <= 0:
            wait = ms_ceil(bucket.reset_at - now)
            self._hit(method, path, wait, is_global=False, source="bucket")
            return self._too_many(wait, bucket, is_global=False, scope="user", now=now)
        bucket.remaining -= 1
        if not token_routes:
            self._global_note(now)
        try:
            response: web.StreamResponse = await handler(request)
        except ApiError as exc:
            response = self._json(exc.body(), exc.status)
        except web.HTTPNotFound:
            response = self._json({"message": "404: Not Found", "code": 0}, 404)
        except web.HTTPMethodNotAllowed:
            response = self._json({"message": "405: Method Not Allowed", "code": 0}, 405)
        response.headers.update(self._ratelimit_headers(bucket, now))
        return response

    async def _read_multipart(self, request: web.Request) -> tuple[Any, list[Json]]:
        """``payload_json`` + ``files[n]`` ("Reference" > Uploading Files) -> body, attachments."""
        form = await request.post()
        body: Any = json.loads(str(form.get("payload_json") or "{}"))
        described = {str(a.get("id")): a for a in (body.get("attachments") or [])} if isinstance(body, dict) else {}
        files: list[Json] = []
        for key, value in form.items():
            if isinstance(value, web.FileField):
                index = key[key.find("[") + 1 : key.find("]")] if "[" in key else str(len(files))
                content = value.file.read()
                aid = self._ids.next()
                self.uploads[str(aid)] = content  # kept, so a test can open what the bot attached
                desc = described.get(index, {})
                files.append(
                    {
                        "id": str(aid),
                        "filename": desc.get("filename") or value.filename,
                        "size": len(content),
                        "content_type": value.content_type,
                        "url": f"{self.base_url}/attachments/{aid}/{value.filename}",
                        "proxy_url": f"{self.base_url}/attachments/{aid}/{value.filename}",
                        "description": desc.get("description"),
                    }
                )
        return body, files

    @staticmethod
    def _body(request: web.Request) -> Json:
        body = request.get(_BODY)
        return body if isinstance(body, dict) else {}

    def _rest_channel(self, request: web.Request) -> FakeChannel:
        ch = self._channels.get(int(request.match_info["channel_id"]))
        if ch is None:
            raise _unknown_channel()
        if ch.guild_id is not None and not self.permissions(ch.guild_id, self.bot.id, ch) & P_VIEW_CHANNEL:
            raise _missing_access()
        return ch

    def _rest_message(self, request: web.Request, ch: FakeChannel) -> FakeMessage:
        msg = self._messages.get(int(request.match_info["message_id"]))
        if msg is None or msg.deleted or msg.channel_id != ch.id or msg.ephemeral:
            raise _unknown_message()
        return msg

    def _rest_guild(self, request: web.Request) -> FakeGuild:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild
