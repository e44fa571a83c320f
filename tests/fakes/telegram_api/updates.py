"""Updates ("Getting updates"): which ones are created (allowed_updates, privacy mode), and how they reach the
bot: long polling with getUpdates, or a webhook the server posts to.  Also getMe, logOut and close.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import json
from http import HTTPStatus
from urllib.parse import urlsplit

import aiohttp

from tests.fakes.telegram_api.entities import _utf16_slice
from tests.fakes.telegram_api.model import (
    _EXPLICIT_ONLY,
    _SECRET_TOKEN_RE,
    _SERVICE_KEYS,
    ApiError,
    Json,
    UserRef,
    WebhookDelivery,
    _bad,
    _Chat,
)
from tests.fakes.telegram_api.transport import _api, _Params


class _Updates:
    """Creating updates and handing them over by long poll or webhook."""

    def _emit(self, kind: str, payload: Json) -> Json | None:
        """Create an update if the bot's allowed_updates let it through *now* (the docs: the
        setting "doesn't affect updates created before the call", so filtering happens here)."""
        allowed = self._allowed_updates
        explicit = kind in _EXPLICIT_ONLY
        deliver = (allowed is not None and kind in allowed) if explicit else (not allowed or kind in allowed)
        if not deliver:
            self.dropped_updates.append((kind, "not in allowed_updates"))
            self._changed()
            return None
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._resolve_poll("update")
        self._webhook_wakeup.set()
        self._changed()
        return copy.deepcopy(update)

    def _emit_message(self, chat: _Chat, msg: Json) -> Json | None:
        if not self._bot_sees(chat, msg):
            self.dropped_updates.append(("message", "privacy mode"))
            return None
        return self._emit("channel_post" if chat.type == "channel" else "message", msg)

    def _bot_sees(self, chat: _Chat, msg: Json) -> bool:
        """Features page, "Privacy mode"."""
        if chat.type == "private":
            return chat.user_id not in self._blocked
        bot = self._bot_member(chat)
        if bot is None or bot.status in ("left", "kicked"):
            return False
        if chat.type == "channel" or _SERVICE_KEYS & msg.keys():
            return True
        if self._bot_is_admin(chat) or not self.privacy_mode:
            return True
        text = msg.get("text", "")
        for entity in msg.get("entities", []):
            if entity["type"] == "bot_command":
                command = _utf16_slice(text, entity["offset"], entity["length"])
                target = command.partition("@")[2]
                # "/command@this_bot" always; a general "/command" too (the fake has no other bots
                # that could have been "the last bot to send a message to the group").
                if not target or target.lower() == self.bot_username.lower():
                    return True
        replied = msg.get("reply_to_message")
        return bool(
            replied and replied.get("from", {}).get("id") == self.bot_id and not replied.get("forum_topic_created")
        )

    def _chat_member_updated(self, chat: _Chat, actor: int, old: Json, new: Json) -> Json:
        return {
            "chat": self._chat_json(chat),
            "from": self._user_json(actor),
            "date": self._unix_now(),
            "old_chat_member": old,
            "new_chat_member": new,
        }

    def _emit_my_chat_member(self, chat: _Chat, old_json: Json, by: UserRef | None) -> Json | None:
        member = chat.members[self.bot_id]
        update = self._emit(
            "my_chat_member",
            self._chat_member_updated(chat, self._actor(chat, by), old_json, self._member_json(chat, member)),
        )
        self._changed()
        return update

    def _emit_chat_member(self, chat: _Chat, user_id: int, old: Json, new: Json, by: int) -> None:
        # "chat_member": "The bot must be an administrator in the chat and must explicitly specify
        # "chat_member" in the list of allowed_updates to receive these updates."
        if not self._bot_is_admin(chat):
            self.dropped_updates.append(("chat_member", "bot is not an administrator"))
            return
        self._emit("chat_member", self._chat_member_updated(chat, by, old, new))

    def _resolve_poll(self, outcome: str) -> None:
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def _confirm(self, offset: int) -> None:
        """ "An update is considered confirmed as soon as getUpdates is called with an offset
        higher than its update_id. The negative offset can be specified to retrieve updates
        starting from -offset update from the end of the updates queue. All previous updates
        will be forgotten.\""""
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
        elif offset < 0:
            dropped = self._updates[:offset] if -offset < len(self._updates) else []
            self._updates = self._updates[len(dropped) :]
            if dropped:
                self.confirmed_offset = max(self.confirmed_offset, dropped[-1]["update_id"] + 1)

    async def _stop_webhook_task(self) -> None:
        task = self._webhook_task
        self._webhook_task = None
        if task is asyncio.current_task():
            return  # deleteWebhook answered from a webhook reply: the loop ends by itself
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _start_webhook_task(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def _webhook_loop(self) -> None:
        """Deliver pending updates in order; "In case of an unsuccessful request (a request with
        response HTTP status code different from 2XY), we will repeat the request"."""
        if self._client is None:
            self._client = aiohttp.ClientSession()
        if self.webhook_connections > 1:
            await self._webhook_loop_spread()
            return
        while self._webhook is not None:
            if not self._updates:
                self._webhook_wakeup.clear()
                await self._webhook_wakeup.wait()
                continue
            update = self._updates[0]
            delivered = await self._deliver(update)
            if delivered:
                if self._updates and self._updates[0]["update_id"] == update["update_id"]:
                    self._updates.pop(0)
                self._changed()
            else:
                self._changed()
                self._webhook_wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._webhook_wakeup.wait(), self.webhook_retry_delay)

    async def _webhook_loop_spread(self) -> None:
        """Several deliveries at once, each on a new connection (setWebhook's ``max_connections``: "the maximum
        allowed number of simultaneous HTTPS connections to the webhook for update delivery"), so that workers
        sharing the port (SO_REUSEPORT) each get some. Order is not kept, as with Telegram's parallel delivery;
        a failed delivery is tried again after ``webhook_retry_delay``."""
        loop = asyncio.get_running_loop()
        in_flight: dict[int, asyncio.Task[bool]] = {}
        not_before: dict[int, float] = {}
        spread = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        try:
            while self._webhook is not None:
                limit = min(self.webhook_connections, int(self._webhook["max_connections"]))
                now = loop.time()
                for update in self._updates:
                    uid = update["update_id"]
                    if len(in_flight) >= limit:
                        break
                    if uid not in in_flight and not_before.get(uid, 0.0) <= now:
                        in_flight[uid] = loop.create_task(self._deliver(update, spread))
                self._webhook_wakeup.clear()
                wake = loop.create_task(self._webhook_wakeup.wait())
                await asyncio.wait(
                    [*in_flight.values(), wake], timeout=self.webhook_retry_delay, return_when=asyncio.FIRST_COMPLETED
                )
                wake.cancel()
                for uid, task in list(in_flight.items()):
                    if not task.done():
                        continue
                    del in_flight[uid]
                    if task.result():
                        self._updates = [u for u in self._updates if u["update_id"] != uid]
                        not_before.pop(uid, None)
                    else:
                        not_before[uid] = loop.time() + self.webhook_retry_delay
                    self._changed()
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)
            await spread.close()

    def redeliver(self, update_id: int) -> None:
        """Telegram sends an update again when the webhook's answer did not reach it in time (the bot may have
        handled it all the same): queue an update already delivered to the webhook once more."""
        update = copy.deepcopy(self._delivered[update_id])
        self._updates.append(update)
        self._updates.sort(key=lambda u: int(u["update_id"]))
        self._webhook_wakeup.set()
        self._changed()

    async def _deliver(self, update: Json, client: aiohttp.ClientSession | None = None) -> bool:
        hook = self._webhook
        client = client or self._client
        assert hook is not None and client is not None
        headers = {"Content-Type": "application/json"}
        secret = hook.get("secret_token")
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        url = str(hook["url"])
        if self.webhook_tls_proxy and url.startswith("https://"):
            url = "http://" + url.removeprefix("https://")
        try:
            async with client.post(
                url, data=json.dumps(update), headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            message = "Connection refused" if isinstance(exc, aiohttp.ClientConnectorError) else str(exc) or "error"
            hook["last_error_date"] = self._unix_now()
            hook["last_error_message"] = message
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], None, secret, message))
            return False
        if not 200 <= status <= 299:
            message = f"Wrong response from the webhook: {status} {HTTPStatus(status).phrase}"
            hook["last_error_date"] = self._unix_now()
            hook["last_error_message"] = message
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, secret, message))
            return False
        self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, secret, None))
        self._delivered[int(update["update_id"])] = copy.deepcopy(update)
        await self._webhook_reply(body)
        return True

    async def _webhook_reply(self, body: bytes) -> None:
        """ "Making requests when getting updates": a webhook answer may itself be a method call
        (``{"method": "sendMessage", ...}``); its result is not reported anywhere."""
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError:
            return
        if isinstance(payload, dict) and isinstance(payload.get("method"), str):
            params = {k: v for k, v in payload.items() if k != "method"}
            await self._dispatch(self.token, payload["method"], params, "webhook-reply")

    @_api("getMe")
    async def _get_me(self, p: _Params) -> Json:
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @_api("logOut")
    async def _log_out(self, p: _Params) -> bool:
        return True

    @_api("close")
    async def _close(self, p: _Params) -> bool:
        return True

    @_api("getUpdates")
    async def _get_updates(self, p: _Params) -> list[Json]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset")
        limit = min(100, max(1, p.integer("limit", 100) or 100))
        try:
            timeout = max(0.0, float(p.text("timeout") or 0))
        except ValueError:
            raise _bad("invalid timeout specified") from None
        allowed = p.decoded("allowed_updates", what="allowed updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            # "If not specified, the previous setting will be used."
            self._allowed_updates = [str(a) for a in allowed] or None
        if offset is not None:
            self._confirm(offset)
        # Only one getUpdates may wait: Telegram ends the older one with 409.
        self._resolve_poll("conflict")
        if not self._updates and timeout > 0:
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._poll_waiter = waiter
            self._changed()
            try:
                outcome = await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                outcome = "timeout"
            finally:
                if self._poll_waiter is waiter:
                    self._poll_waiter = None
            if outcome == "conflict":
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            if self._webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
        return copy.deepcopy(self._updates[:limit])

    @property
    def long_polling(self) -> bool:
        """True while a getUpdates call is waiting for updates."""
        return self._poll_waiter is not None and not self._poll_waiter.done()

    @_api("setWebhook")
    async def _set_webhook(self, p: _Params) -> bool:
        url = (p.text("url") or "").strip()
        if not url:
            return await self._delete_webhook(p)
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if parts.scheme not in ("http", "https"):
            raise _bad("bad webhook: HTTPS url must be provided for webhook")
        if not loopback:
            # Deviation: Telegram would accept any public HTTPS URL; the fake must not leave the machine.
            raise _bad("bad webhook: FakeTelegram only delivers to loopback addresses")
        secret = p.text("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = p.integer("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise _bad("max_connections must be between 1 and 100")
        allowed = p.decoded("allowed_updates", what="allowed updates")
        if allowed is not None:
            self._allowed_updates = [str(a) for a in allowed] or None
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": url,
            "max_connections": max_connections,
            "secret_token": secret,
            "ip_address": p.text("ip_address"),
        }
        self._resolve_poll("webhook")
        self._start_webhook_task()
        self._webhook_wakeup.set()
        return True

    @_api("deleteWebhook")
    async def _delete_webhook(self, p: _Params) -> bool:
        self._webhook = None
        await self._stop_webhook_task()
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    @_api("getWebhookInfo")
    async def _get_webhook_info(self, p: _Params) -> Json:
        info: Json = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        hook = self._webhook
        if hook is not None:
            for key in ("ip_address", "last_error_date", "last_error_message"):
                if hook.get(key):
                    info[key] = hook[key]
            info["max_connections"] = hook["max_connections"]
            if self._allowed_updates is not None:
                info["allowed_updates"] = list(self._allowed_updates)
        return info
