"""The gateway ("Gateway", "Gateway Events"): the websocket handshake, IDENTIFY and RESUME, heartbeats,
member requests, dispatching events to the sessions that may see them, and the disconnects a test causes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

from aiohttp import WSMsgType, web

from tests.fakes.discord_api.connection import _Connection, _Session
from tests.fakes.discord_api.constants import (
    API_VERSION,
    CLOSE_ALREADY_AUTHENTICATED,
    CLOSE_AUTHENTICATION_FAILED,
    CLOSE_DECODE_ERROR,
    CLOSE_DISALLOWED_INTENTS,
    CLOSE_INVALID_API_VERSION,
    CLOSE_INVALID_INTENTS,
    CLOSE_INVALID_SEQ,
    CLOSE_INVALID_SHARD,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_SHARDING_REQUIRED,
    CLOSE_UNKNOWN_ERROR,
    CLOSE_UNKNOWN_OPCODE,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_PRESENCE_UPDATE,
    OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS,
    OP_RESUME,
    OP_VOICE_STATE_UPDATE,
    VALID_INTENTS,
    Json,
)
from tests.fakes.discord_api.model import FakeMessage


class _Gateway:
    """Sessions, their events, and the ways a test breaks the connection."""

    def _dispatch(
        self,
        event: str,
        data: Json,
        guild_id: int | None,
        intent: int | None,
        transform: Callable[[_Session, Json], Json] | None = None,
    ) -> None:
        """Send a DISPATCH to each live session whose shard owns ``guild_id`` and that asked
        for ``intent`` ("Gateway" > Gateway Intents lists which intent gates which event)."""
        for session in self._live_sessions():
            if not session.owns_guild(guild_id):
                continue
            if intent is not None and not session.intents & intent:
                continue
            session.push(event, transform(session, data) if transform else data)
        self._touch()

    def _dispatch_message(self, event: str, msg: FakeMessage) -> None:
        """MESSAGE_CREATE/UPDATE, with content hidden from sessions without MESSAGE_CONTENT.

        "Gateway" > Message Content Intent: without it content, embeds, attachments and
        components arrive empty -- except in DMs, for the bot's own messages and for
        messages that mention the bot.
        """
        payload = self._message_payload(msg, gateway=True)
        visible_anyway = msg.guild_id is None or msg.author_id == self.bot.id or self.bot.id in msg.mentions

        def redact(session: _Session, data: Json) -> Json:
            if visible_anyway or session.intents & INTENT_MESSAGE_CONTENT:
                return data
            return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

        intent = INTENT_DIRECT_MESSAGES if msg.guild_id is None else INTENT_GUILD_MESSAGES
        self._dispatch(event, payload, msg.guild_id, intent, redact)

    def _live_sessions(self) -> list[_Session]:
        return [s for s in self._sessions.values() if not s.invalid]

    @property
    def sessions(self) -> list[_Session]:
        return list(self._sessions.values())

    @property
    def connected_shards(self) -> list[tuple[int, int]]:
        return sorted(
            (s.shard_id, s.shard_count) for s in self._live_sessions() if s.conn is not None and not s.conn.closed
        )

    async def disconnect(self, code: int = CLOSE_UNKNOWN_ERROR, *, hold: bool = False) -> None:
        """Drop every gateway connection (sessions stay resumable).

        With ``hold=True`` new gateway connections wait until :meth:`release_gateway`, so a
        test can make things happen while the bot is away and then watch RESUME replay them.
        """
        if hold:
            self._gateway_gate.clear()
        for conn in list(self._connections):
            await conn.close(code, "fake disconnect")
        self._touch()

    def release_gateway(self) -> None:
        self._gateway_gate.set()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT ("Gateway" > Reconnect): the client should resume elsewhere."""
        for conn in list(self._connections):
            conn.send_op(OP_RECONNECT, None)
        await self.flush()

    async def kill_session(self) -> None:
        """Invalidate every session and tell connected clients with op 9 (d=false): they must
        IDENTIFY again -- discord.py then waits in ``before_identify_hook`` (5 s by default)."""
        for session in list(self._sessions.values()):
            session.invalid = True
            if session.conn is not None:
                session.conn.send_op(OP_INVALID_SESSION, False)
        await self.flush()
        self._touch()

    async def flush(self) -> None:
        """Wait until every connection has written everything queued so far."""
        for conn in list(self._connections):
            await conn.flush()

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        self.gateway_attempts += 1
        self._touch()
        await self._gateway_gate.wait()
        ws = web.WebSocketResponse(max_msg_size=0, autoclose=True, autoping=True)
        try:
            await ws.prepare(request)
        except ConnectionResetError:  # the client gave up while the connection was held: nobody to answer
            return ws
        query = request.query
        compress = query.get("compress")
        try:
            conn = _Connection(ws, compress)
        except (ValueError, ImportError):
            await ws.close(code=CLOSE_DECODE_ERROR, message=b"Unsupported compression.")
            return ws
        self._connections.add(conn)
        try:
            if query.get("encoding", "json") != "json":
                await conn.close_after_flush(CLOSE_DECODE_ERROR, "Only encoding=json is supported by the fake.")
                return ws
            if query.get("v") not in ("9", "10"):
                await conn.close_after_flush(CLOSE_INVALID_API_VERSION, "Invalid API version.")
                return ws
            conn.send_op(OP_HELLO, {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-gateway"]})
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_gateway_message(conn, msg.data)
                    if conn.closed:
                        break
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(conn)
            conn.stop()
            code = conn.close_code if conn.server_closed else ws.close_code
            if code is not None:
                self.gateway_closes.append(code)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # "Gateway" > Disconnecting: a client close with 1000/1001 ends the session
                if not conn.server_closed and code in (1000, 1001):
                    session.invalid = True
            self._touch()
        return ws

    async def _on_gateway_message(self, conn: _Connection, raw: str | bytes) -> None:
        try:
            packet = json.loads(raw)
            op = packet["op"]
            data = packet.get("d")
        except (ValueError, KeyError, TypeError):
            await conn.close_after_flush(CLOSE_DECODE_ERROR, "Error while decoding payload.")
            return
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            if self.latency > 0:  # the beat and its ACK cross the same network as a REST call and its answer
                asyncio.get_running_loop().call_later(self.latency, conn.send_op, OP_HEARTBEAT_ACK, None)
            else:
                conn.send_op(OP_HEARTBEAT_ACK, None)
            self._touch()
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif not conn.identified:
            await conn.close_after_flush(CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
        elif op == OP_REQUEST_GUILD_MEMBERS:
            self._request_guild_members(conn, data or {})
        elif op == OP_PRESENCE_UPDATE:
            if conn.session is not None:
                conn.session.presence = data
            self._touch()
        elif op == OP_VOICE_STATE_UPDATE:
            pass
        else:
            await conn.close_after_flush(CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")

    async def _identify(self, conn: _Connection, data: Json) -> None:
        """IDENTIFY ("Gateway Events" > Identify) with the checks whose close codes the docs list."""
        if conn.identified:
            await conn.close_after_flush(CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.close_after_flush(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents & ~VALID_INTENTS:
            await conn.close_after_flush(CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return
        disallowed = (
            (intents & INTENT_MESSAGE_CONTENT and not self._privileged["message_content"])
            or (intents & INTENT_GUILD_MEMBERS and not self._privileged["members"])
            or (intents & INTENT_GUILD_PRESENCES and not self._privileged["presences"])
        )
        if disallowed:
            await conn.close_after_flush(CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return
        shard = data.get("shard") or [0, 1]
        try:
            shard_id, shard_count = int(shard[0]), int(shard[1])
        except (TypeError, ValueError, IndexError):
            shard_id, shard_count = -1, 0
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            await conn.close_after_flush(CLOSE_INVALID_SHARD, "Invalid shard.")
            return
        session = _Session(uuid.uuid4().hex, shard_id, shard_count, intents)
        guilds = [g for g in self._guilds.values() if session.owns_guild(g.id)]
        if len(guilds) > self.max_guilds_per_shard:
            await conn.close_after_flush(CLOSE_SHARDING_REQUIRED, "Sharding required.")
            return
        conn.identified = True
        conn.session = session
        session.conn = conn
        session.presence = data.get("presence")
        self._sessions[session.session_id] = session
        self.identifies += 1
        ready: Json = {
            "v": API_VERSION,
            "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-gateway"],
        }
        if data.get("shard") is not None:
            ready["shard"] = [shard_id, shard_count]
        session.push("READY", ready)
        # "Gateway" > Connections: the unavailable guilds of READY are filled in by GUILD_CREATE
        if intents & INTENT_GUILDS:
            for guild in guilds:
                session.push("GUILD_CREATE", self._guild_create_payload(guild, session))
        self._touch()

    async def _resume(self, conn: _Connection, data: Json) -> None:
        """RESUME: replay what the session missed after ``seq``, then RESUMED ("Gateway" > Resuming)."""
        if conn.identified:
            await conn.close_after_flush(CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.close_after_flush(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        session = self._sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        too_old = bool(session and session.history and seq < session.history[0][0] - 1)
        if session is None or session.invalid or too_old:
            conn.send_op(OP_INVALID_SESSION, False)  # not resumable: the client must IDENTIFY
            return
        if seq > session.seq:
            await conn.close_after_flush(CLOSE_INVALID_SEQ, "Invalid seq.")
            return
        old = session.conn
        if old is not None and old is not conn:
            await old.close(CLOSE_UNKNOWN_ERROR, "Session resumed elsewhere.")
        conn.identified = True
        conn.session = session
        session.conn = conn
        self.resumes += 1
        conn.enqueue_many(text for s, text in session.history if s > seq)
        session.push("RESUMED", {"_trace": ["fake-gateway"]})
        self._touch()

    def _request_guild_members(self, conn: _Connection, data: Json) -> None:
        """op 8 answered with a single GUILD_MEMBERS_CHUNK ("Gateway Events" > Request Guild Members)."""
        session = conn.session
        assert session is not None
        raw_ids = data.get("guild_id")
        guild_ids = raw_ids if isinstance(raw_ids, list) else [raw_ids]
        for raw in guild_ids:
            guild = self._guilds.get(int(raw))
            if guild is None:
                continue
            limit = int(data.get("limit") or 0) or len(guild.members)
            wanted = data.get("user_ids")
            if wanted is not None:
                wanted_ids = [int(u) for u in (wanted if isinstance(wanted, list) else [wanted])]
                members = [guild.members[u] for u in wanted_ids if u in guild.members]
                not_found = [str(u) for u in wanted_ids if u not in guild.members]
            else:
                prefix = str(data.get("query") or "").lower()
                members = [m for m in guild.members.values() if m.user.name.lower().startswith(prefix)]
                not_found = []
            chunk: Json = {
                "guild_id": str(guild.id),
                "members": [self._member_payload(guild, m) for m in members[:limit]],
                "chunk_index": 0,
                "chunk_count": 1,
            }
            if not_found:
                chunk["not_found"] = not_found
            if data.get("presences"):
                chunk["presences"] = []
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            session.push("GUILD_MEMBERS_CHUNK", chunk)
        self._touch()
