"""The fake Bot API's updates and errors against the *real* python-telegram-bot: getUpdates and long polling,
flood control and Telegram's limits, kicked bots and migrated groups, webhooks, and a whole ``Application``.

Nothing sleeps to wait: fake-side state is awaited with ``tg.wait_for``; the only clock reading is the long-poll
test, which measures how fast an update ends a waiting getUpdates.  Fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    ReactionTypeEmoji,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram, RateLimits
from tests.fakes.telegram_client import group_with, raw, receiver, seconds

# ------------------------------------------------------------------------------ getUpdates


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await tg.wait_for(lambda t: t.long_polling, what="getUpdates to be waiting")
    tg.user_sends(group, alice, "/hello")
    updates = await asyncio.wait_for(poll, 5)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"long poll took {elapsed:.2f}s"
    assert [u.message.text for u in updates if u.message] == ["/hello"]
    # Without updates, timeout=0 answers at once with an empty list.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()


async def test_updates_are_redelivered_until_confirmed(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    for text in ("/one", "/two", "/three"):
        tg.user_sends(group, alice, text)
    first = await bot.get_updates()
    again = await bot.get_updates()
    assert [u.update_id for u in first] == [u.update_id for u in again]  # nothing confirmed yet
    assert [u.message.text for u in first if u.message] == ["/one", "/two", "/three"]
    assert len(await bot.get_updates(limit=2)) == 2
    rest = await bot.get_updates(offset=first[0].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["/two", "/three"]
    assert tg.confirmed_offset == first[0].update_id + 1
    assert tg.pending_updates() == 2
    # "The negative offset can be specified to retrieve updates starting from -offset update
    # from the end of the updates queue. All previous updates will be forgotten."
    last = await bot.get_updates(offset=-1)
    assert [u.message.text for u in last if u.message] == ["/three"]
    assert await bot.get_updates(offset=last[0].update_id + 1) == ()
    assert tg.pending_updates() == 0


async def test_allowed_updates_filter_is_remembered(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    assert await bot.get_updates(allowed_updates=["message"]) == ()
    tg.set_bot_admin(group, True)  # my_chat_member: filtered out now
    tg.user_sends(group, alice, "hi")
    updates = await bot.get_updates()  # no allowed_updates: the previous setting stays
    assert [u.message.text for u in updates if u.message] == ["hi"]
    assert len(updates) == 1
    assert ("my_chat_member", "not in allowed_updates") in tg.dropped_updates
    assert tg.allowed_updates == ["message"]
    # An empty list means the default set again.
    await bot.get_updates(offset=updates[-1].update_id + 1, allowed_updates=[])
    tg.set_bot_admin(group, False)
    assert [u.my_chat_member is not None for u in await bot.get_updates()] == [True]


async def test_reactions_need_admin_and_explicit_allowed_updates(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    sent = await bot.send_message(group["id"], "react to me")
    # Default allowed_updates: reactions are never delivered, even to an admin.
    tg.set_bot_admin(group, True)
    assert tg.user_reacts(group, sent.message_id, alice, ["👍"]) is None
    updates = await bot.get_updates(allowed_updates=["message", "message_reaction", "message_reaction_count"])
    assert [u.my_chat_member is not None for u in updates] == [True]
    await bot.get_updates(offset=updates[-1].update_id + 1)
    tg.set_bot_admin(group, False)  # my_chat_member is not in the list: dropped
    assert tg.user_reacts(group, sent.message_id, alice, ["🔥"]) is None  # not an admin: dropped
    tg.set_bot_admin(group, True)
    assert tg.user_reacts(group, sent.message_id, alice, ["❤"]) is not None
    assert tg.anonymous_reaction_count(group, sent.message_id, {"👍": 3}) is not None
    reaction, count = await bot.get_updates()
    assert reaction.message_reaction is not None and count.message_reaction_count is not None
    assert reaction.message_reaction.user is not None and reaction.message_reaction.user.id == alice["id"]
    assert reaction.message_reaction.old_reaction == (ReactionTypeEmoji("🔥"),)  # remembered by the fake
    assert reaction.message_reaction.new_reaction == (ReactionTypeEmoji("❤"),)
    assert count.message_reaction_count.reactions[0].total_count == 3


async def test_privacy_mode_in_groups(tg: FakeTelegram, bot: Bot) -> None:
    """Features page, "Privacy mode": a non-admin bot with privacy on sees commands and replies."""
    group, alice = group_with(tg)
    mine = await bot.send_message(group["id"], "bot says")
    tg.user_sends(group, alice, "chatter")
    tg.user_sends(group, alice, f"/stats@{tg.bot_username}")
    tg.user_sends(group, alice, "/stats@other_bot")
    tg.user_sends(group, alice, "reply", reply_to=mine.message_id)
    tg.user_sends(group, None, "anonymous admin", sender_chat=group)
    tg.set_bot_admin(group, True)
    tg.user_sends(group, alice, "admins see all")
    texts = [u.message.text for u in await bot.get_updates() if u.message]
    assert texts == [f"/stats@{tg.bot_username}", "reply", "admins see all"]
    async with (
        FakeTelegram(privacy_mode=False, clock=TestClock()) as open_tg,
        Bot(open_tg.token, base_url=open_tg.base_url) as b2,
    ):
        group2, bob = group_with(open_tg)
        open_tg.user_sends(group2, bob, "chatter", sender_chat=None)
        anonymous = open_tg.user_sends(group2, None, "hidden admin", sender_chat=group2)
        (_, update) = await b2.get_updates()
        assert update.message is not None and update.message.sender_chat is not None
        assert update.message.sender_chat.id == group2["id"]
        assert anonymous["from"]["username"] == "GroupAnonymousBot"


async def test_superseded_long_poll_answers_conflict(tg: FakeTelegram) -> None:
    first = asyncio.create_task(raw(tg, "getUpdates", timeout=10))
    await tg.wait_for(lambda t: t.long_polling)
    assert await raw(tg, "getUpdates", timeout=0) == (200, {"ok": True, "result": []})
    status, body = await asyncio.wait_for(first, 5)
    assert (status, body["description"]) == (
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    )


# ------------------------------------------------------------------------------ errors


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter's int/timedelta
async def test_flood_control_surfaces_as_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    group, _ = group_with(tg)
    tg.flood("sendMessage", times=1, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group["id"], "too fast")
    assert seconds(caught.value) == 7
    status, body = await raw(tg, "getMe")  # other methods are unaffected
    assert status == 200
    await bot.send_message(group["id"], "later")
    assert tg.calls["sendMessage"] == 2
    assert [(f.method, f.retry_after, f.source) for f in tg.floods] == [("sendMessage", 7, "injected")]
    tg.flood("sendMessage", retry_after=3)
    status, body = await raw(tg, "sendMessage", chat_id=group["id"], text="x")
    assert (status, body) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_built_in_limits_follow_the_published_numbers() -> None:
    ticks = [1000.0]
    async with (
        FakeTelegram(monotonic=lambda: ticks[0], clock=TestClock()) as tg,
        Bot(tg.token, base_url=tg.base_url) as bot,
    ):
        group, alice = group_with(tg)
        tg.enable_rate_limits()
        for n in range(20):  # "not able to send more than 20 messages per minute" to one group
            await bot.send_message(group["id"], f"m{n}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(group["id"], "21st")
        assert seconds(caught.value) == 60
        ticks[0] += 60
        await bot.send_message(group["id"], "a minute later")
        tg.enable_rate_limits(RateLimits(group_per_minute=None, overall_per_second=3))
        tg.start_private(alice)
        for n in range(2):
            await bot.send_message(alice["id"], f"dm{n}")
        with pytest.raises(RetryAfter):
            await bot.send_message(group["id"], "fourth within a second")
        assert [f.source for f in tg.floods] == ["limits", "limits"]
        assert tg.calls["sendMessage"] == 25  # 429s are calls too


async def test_kicked_and_unreachable_are_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    basic = tg.add_chat("group", "Old style")
    update = tg.kick_bot(group)
    tg.kick_bot(basic)
    assert update is not None and update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was kicked from the supergroup chat$"):
        await bot.send_message(group["id"], "hello?")
    status, body = await raw(tg, "sendMessage", chat_id=basic["id"], text="x")
    assert (status, body["description"]) == (403, "Forbidden: bot was kicked from the group chat")
    updates = await bot.get_updates()
    assert [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member] == ["kicked", "left"]
    # A private chat works only after the user pressed Start, and stops when they block the bot.
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(alice["id"], "hi")
    start = tg.start_private(alice)
    assert start["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    await bot.send_message(alice["id"], "hi")
    tg.block_bot(alice)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice["id"], "still there?")
    status, body = await raw(tg, "sendMessage", chat_id=-1009999, text="x")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_migrated_group_raises_chat_migrated(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg, "group")
    new = tg.migrate_to_supergroup(group)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group["id"], "anyone?")
    assert caught.value.new_chat_id == new["id"]
    status, body = await raw(tg, "getChat", chat_id=group["id"])
    assert (status, body) == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": new["id"]},
        },
    )
    moved = await bot.send_message(new["id"], "here")
    assert moved.chat.type == "supergroup"
    service = [u.message for u in await bot.get_updates() if u.message]
    assert [(m.chat.id, m.migrate_to_chat_id, m.migrate_from_chat_id) for m in service] == [
        (group["id"], new["id"], None),
        (new["id"], None, group["id"]),
    ]
    assert tg.member_status(new, alice) == "member"


async def test_injected_network_failures(tg: FakeTelegram, bot: Bot) -> None:
    group, _ = group_with(tg)
    tg.fail_next("sendMessage", 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(group["id"], "x")
    tg.fail_next("sendMessage", disconnect=True)
    with pytest.raises(NetworkError):
        await bot.send_message(group["id"], "y")
    await bot.send_message(group["id"], "z")
    assert tg.calls["sendMessage"] == 3
    assert [m["text"] for m in tg.sent(group)] == ["z"]


async def test_wait_for_times_out_with_a_clear_error(tg: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0\.05s waiting for a message that never comes"):
        await tg.wait_for(lambda t: t.calls["sendMessage"] > 0, timeout=0.05, what="a message that never comes")


# ------------------------------------------------------------------------------ webhook


async def test_webhook_delivery_with_secret_token(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    tg.user_sends(group, alice, "/before")  # queued before the webhook: delivered to it
    reply = {"method": "sendMessage", "chat_id": group["id"], "text": "answered in the webhook reply"}
    async with receiver(statuses=[500], reply=reply) as (url, got):
        assert await bot.set_webhook(url, secret_token="s3cr3t_token-1", allowed_updates=["message"])
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        tg.user_sends(group, alice, "/after")
        await tg.wait_for(lambda t: t.pending_updates() == 0 and len(t.sent(group)) == 2, what="webhook delivery")
        assert [h.get("X-Telegram-Bot-Api-Secret-Token") for h, _ in got] == ["s3cr3t_token-1"] * 3
        assert [u["message"]["text"] for _, u in got] == ["/before", "/before", "/after"]  # 500 -> retried
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 0)
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        assert [d.status for d in tg.webhook_deliveries] == [500, 200, 200]
        assert [m["text"] for m in tg.sent(group)] == ["answered in the webhook reply"] * 2
        with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
            await bot.set_webhook(url, secret_token="not allowed!")
        assert await bot.delete_webhook()
    tg.user_sends(group, alice, "/polling again")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["/polling again"]


async def test_webhook_deliveries_spread_over_connections_and_redelivery(clock: TestClock) -> None:
    """setWebhook's max_connections: "The maximum allowed number of simultaneous HTTPS connections to the webhook
    for update delivery"; and an update whose answer did not arrive is sent again (``redeliver``)."""
    peers: set[int] = set()
    seen: list[int] = []
    in_flight = most = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peers.add(int(peer[1]) if peer else 0)
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)  # a handler's round trip, so deliveries overlap
        seen.append(int((await request.json())["update_id"]))
        in_flight -= 1
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/hook"  # TLS ends at the "proxy": delivered by plain HTTP
    try:
        async with FakeTelegram(clock=clock, webhook_connections=4, webhook_tls_proxy=True) as tg:
            group, alice = group_with(tg)
            async with Bot(tg.token, base_url=tg.base_url) as bot:
                assert await bot.set_webhook(url, max_connections=3)
            for n in range(12):
                tg.user_sends(group, alice, f"/m{n}")
            await tg.wait_for(lambda t: t.pending_updates() == 0 and len(seen) == 12, what="twelve deliveries")
            assert most == 3  # at most max_connections at once, though the test allowed 4
            assert len(peers) == 12  # each on a connection of its own
            tg.redeliver(seen[0])
            await tg.wait_for(lambda t: len(seen) == 13, what="the redelivery")
            assert seen[-1] == seen[0]
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------------ a whole Application


async def test_application_polls_and_answers(tg: FakeTelegram) -> None:
    alice = tg.add_user("Alice", username="alice")
    tg.start_private(alice)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"echo: {update.message.text}")

    app: Application[Any, Any, Any, Any, Any, Any] = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        tg.user_sends(alice, alice, "hello")
        await tg.wait_for(lambda t: [m["text"] for m in t.sent(alice)] == ["echo: hello"], what="the echo")
        await app.updater.stop()
        await app.stop()
    # Updater.stop() confirms what it fetched with one last getUpdates(offset=last+1, timeout=0).
    assert tg.pending_updates() == 0
    assert tg.calls["deleteWebhook"] == 1 and tg.calls["getUpdates"] >= 2
