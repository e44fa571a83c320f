"""A local stand-in for Discord's REST API (v10) and gateway, for driving the *real* discord.py.

Why this exists: studybot's Discord backend must be tested end to end (gateway events in,
REST calls out, rate limits, permission errors, reconnects) without contacting Discord.
Mocking discord.py objects would only test our assumptions about discord.py; speaking the
wire protocol from the public API documentation tests the adapter against the library as
it really behaves.  Everything listens on 127.0.0.1 only.

Pointing discord.py at the fake
-------------------------------
discord.py has no public "base URL" setting and its ``proxy=``/``connector=`` hooks cannot
help (the URLs are ``https://``/``wss://``, so a proxy would need TLS).  Two class attributes
decide where it goes, and :meth:`FakeDiscord.patch_discord` swaps both and restores them:

* ``discord.http.Route.BASE`` -- prefix of every REST URL (interaction callbacks and
  webhook follow-ups included, they use the same ``Route``);
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` -- a plain ``Client`` (and an
  ``AutoShardedClient`` given ``shard_count``) connects there *without* asking
  ``GET /gateway/bot``; it is also where discord.py goes after an INVALID_SESSION.

Usage::

    async with FakeDiscord(heartbeat_interval=500, clock=TestClock()) as dc, dc.patch_discord():
        guild = dc.add_guild("Course")
        general = dc.add_channel(guild, "general")
        alice = dc.add_user("alice")
        dc.add_member(guild, alice)
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        await client.login(dc.token)
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 10)
        await dc.user_sends(general, alice, "hello")          # -> on_message
        sent = await client.get_channel(general.id).send("hi")
        assert dc.sent_by_bot(general)[0].id == sent.id
        await client.close()
        await task

What discord.py (2.7) needs that is easy to miss
-----------------------------------------------
* ``on_ready`` fires ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE:
  pass ``guild_ready_timeout=0.05`` to ``Client`` in tests.
* Every non-initial IDENTIFY (second shard of an ``AutoShardedClient``, re-identify after
  op 9) first awaits ``before_identify_hook``, which sleeps 5 s: override it in tests.
* ``client.start()`` followed at once by ``wait_until_ready()`` can race the client's setup;
  ``await client.login(token)`` then ``create_task(client.connect())`` does not.
* JSON bodies are parsed only when ``Content-Type`` is exactly ``application/json``
  (aiohttp's ``json_response`` appends ``; charset=utf-8`` -- discord.py would see text).
* A 429 is waited out only if the response has a ``Via`` header; without it discord.py
  assumes a Cloudflare ban and raises.
* discord.py asks for ``compress=zstd-stream`` when ``zstandard`` is importable, else
  ``zlib-stream``; both are served.  Its IDENTIFY also says ``compress: true`` (payload
  compression), which Discord ignores under transport compression, and so does the fake.
* Interaction callbacks and follow-ups carry no ``Authorization`` header (the token is in
  the URL) and callbacks are posted with ``?with_response=1``.
* ``Reaction.users()`` pages by 100 with ``after=`` and yields each page reversed.

Limits and latency (issue 14)
-----------------------------
Every route has a bucket ("Rate Limits" > Header Format) and every answer carries the headers discord.py reads
(``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``, ``-Reset-After``, ``-Bucket``).  ``global_limit`` (off by
default; :meth:`FakeDiscord.enable_global_limit` turns on Discord's 50 requests a second) answers 429 with
``"global": true`` and ``X-RateLimit-Global`` once a client goes over; ``latency`` adds a network round trip to
each REST call and to each heartbeat's ACK (an ACK at once would arrive before discord.py's heartbeat thread
notes that it sent the beat: it would take the whole interval for the round trip, and warn "Can't keep up").
Both measure durations with ``monotonic`` (a test may pass a manual one); dates in headers
(``X-RateLimit-Reset``) come from the test's clock.  Every 429 the server answers is kept in ``rate_limited``.

How the package is laid out
---------------------------
``server`` holds :class:`FakeDiscord` (construction, lifecycle, lookups, inspection) and mixes in one module
per concern: ``world`` (guilds, members, channels, permissions), ``acts`` (what people do), ``gateway`` (the
websocket protocol; ``connection`` below it), ``routing`` (REST middleware), ``ratelimits``, ``rest`` and
``interactions`` (endpoints by family), ``messages`` (message, thread and reaction state) and ``payloads`` (JSON
shapes).  ``constants``, ``model`` and ``validation`` are the protocol's numbers, the state types and the checks
on what a client sends.  Each is small enough to read against the documentation.

Documentation sections referred to in comments: "Gateway", "Gateway Events",
"Opcodes and Status Codes", "Rate Limits", "Permissions", "Message Resource",
"Channel Resource", "Guild Resource", "Receiving and Responding" (interactions),
"Application Commands", "Reference" (snowflakes, error messages).
"""

# The permission bits harnesses grant and deny; every other number is in .constants.
from tests.fakes.discord_api.constants import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    P_ADD_REACTIONS,
    P_ADMINISTRATOR,
    P_ATTACH_FILES,
    P_CHANGE_NICKNAME,
    P_CONNECT,
    P_CREATE_INSTANT_INVITE,
    P_CREATE_PRIVATE_THREADS,
    P_CREATE_PUBLIC_THREADS,
    P_EMBED_LINKS,
    P_MANAGE_MESSAGES,
    P_MANAGE_THREADS,
    P_MENTION_EVERYONE,
    P_READ_MESSAGE_HISTORY,
    P_SEND_MESSAGES,
    P_SEND_MESSAGES_IN_THREADS,
    P_SPEAK,
    P_USE_APPLICATION_COMMANDS,
    P_USE_EXTERNAL_EMOJIS,
    P_VIEW_CHANNEL,
)
from tests.fakes.discord_api.model import (
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    InteractionResponseRecord,
    RateLimitHit,
    RecordedRequest,
)
from tests.fakes.discord_api.server import FakeDiscord

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "P_ADD_REACTIONS",
    "P_ADMINISTRATOR",
    "P_ATTACH_FILES",
    "P_CHANGE_NICKNAME",
    "P_CONNECT",
    "P_CREATE_INSTANT_INVITE",
    "P_CREATE_PRIVATE_THREADS",
    "P_CREATE_PUBLIC_THREADS",
    "P_EMBED_LINKS",
    "P_MANAGE_MESSAGES",
    "P_MANAGE_THREADS",
    "P_MENTION_EVERYONE",
    "P_READ_MESSAGE_HISTORY",
    "P_SEND_MESSAGES",
    "P_SEND_MESSAGES_IN_THREADS",
    "P_SPEAK",
    "P_USE_APPLICATION_COMMANDS",
    "P_USE_EXTERNAL_EMOJIS",
    "P_VIEW_CHANNEL",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InteractionResponseRecord",
    "RateLimitHit",
    "RecordedRequest",
]
