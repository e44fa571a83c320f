"""The fake Bot API must be good enough for the *real* python-telegram-bot to run against it.

Most tests drive a real ``telegram.Bot`` (or a whole ``Application``) against the fake and
check one documented behaviour end to end.  Exact error texts are checked over raw HTTP,
because PTB rewrites them (it strips "Bad Request: " and lower-cases the rest).  Nothing
sleeps to wait: fake-side state is awaited with ``tg.wait_for``; the only clock reading is
the long-poll test, which measures how fast an update ends a waiting getUpdates.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram, RateLimits, utf16_len

Json = dict[str, Any]


# ------------------------------------------------------------------------------ helpers


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(clock=TestClock()) as fake:
        yield fake
        assert fake.server_errors == []


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url) as real_bot:  # initialize() calls getMe
        yield real_bot


async def raw(
    tg: FakeTelegram, method: str, *, encoding: str = "form", token: str | None = None, **params: Any
) -> tuple[int, Json]:
    """One Bot API call over HTTP without PTB, so the exact answer can be checked."""
    url = f"{tg.base_url}{token or tg.token}/{method}"
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with aiohttp.ClientSession() as session:
        if encoding == "json":
            request = session.post(url, json=params)
        elif encoding == "form":
            request = session.post(url, data=text)
        elif encoding == "multipart":
            form = aiohttp.FormData(default_to_multipart=True)
            for key, value in text.items():
                form.add_field(key, value)
            request = session.post(url, data=form)
        else:
            request = session.get(url, params=text)
        async with request as response:
            return response.status, await response.json()


def seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@contextlib.asynccontextmanager
async def receiver(
    statuses: list[int] | None = None,
    reply: Json | None = None,
) -> AsyncIterator[tuple[str, list[tuple[Mapping[str, str], Json]]]]:
    """A tiny webhook endpoint on 127.0.0.1: records (headers, update); answers ``statuses`` in turn."""
    got: list[tuple[Mapping[str, str], Json]] = []
    answers = list(statuses or [])

    async def handle(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.json()))
        status = answers.pop(0) if answers else 200
        if status == 200 and reply is not None:
            return web.json_response(reply)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", got
    finally:
        await runner.cleanup()


def group_with(tg: FakeTelegram, kind: str = "supergroup", **kwargs: Any) -> tuple[Json, Json]:
    alice = tg.add_user("Alice", username="alice")
    group = tg.add_chat(kind, "Course", **kwargs)
    tg.add_member(group, alice)
    return group, alice


# ------------------------------------------------------------------------------ basics


async def test_get_me_and_tokens(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (tg.bot_id, tg.bot_username, True)
    assert me.can_read_all_group_messages is False  # privacy mode is on by default
    assert str(me.id) == tg.token.split(":")[0]
    assert tg.calls["getMe"] == 2  # initialize() asked once already

    status, body = await raw(tg, "getMe", token=tg.token[:-1] + ("A" if tg.token[-1] != "A" else "B"))
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(InvalidToken):
        async with Bot(tg.token + "x", base_url=tg.base_url):
            pass
    status, body = await raw(tg, "noSuchMethod")
    assert (status, body["description"]) == (404, "Not Found")
    assert tg.unknown_methods == ["noSuchMethod"]


async def test_every_encoding_is_accepted(tg: FakeTelegram, bot: Bot) -> None:
    """ "Making requests": query string, urlencoded, JSON, multipart; PTB itself posts forms."""
    group, alice = group_with(tg)
    first = tg.user_sends(group, alice, "question")
    await bot.send_message(group["id"], "via PTB")
    assert tg.requests[-1].content_type == "application/x-www-form-urlencoded"
    for encoding in ("json", "form", "multipart", "query"):
        status, body = await raw(
            tg,
            "sendMessage",
            encoding=encoding,
            chat_id=group["id"],
            text=encoding,
            reply_parameters={"message_id": first["message_id"]},
        )
        assert status == 200, body
        assert body["result"]["text"] == encoding
        assert body["result"]["reply_to_message"]["message_id"] == first["message_id"]
    assert [m["text"] for m in tg.sent(group)] == ["via PTB", "json", "form", "multipart", "query"]
    assert tg.calls["sendMessage"] == 5


# ------------------------------------------------------------------------------ formatting


async def test_html_text_and_utf16_entities(tg: FakeTelegram, bot: Bot) -> None:
    group, _ = group_with(tg)
    html = (
        '😀 <b>粗体</b> and <i>𝒾talic 🎉</i> <a href="https://example.com">link</a> '
        '<code>x&lt;y</code> <tg-spoiler>s</tg-spoiler> <pre><code class="language-python">p</code></pre>'
    )
    message = await bot.send_message(group["id"], html, parse_mode="HTML")
    assert message.text == "😀 粗体 and 𝒾talic 🎉 link x<y s p"
    offsets = [(e.type, e.offset, e.length) for e in message.entities]
    assert offsets == [
        ("bold", 3, 2),
        ("italic", 10, 10),
        ("text_link", 21, 4),
        ("code", 26, 3),
        ("spoiler", 30, 1),
        ("pre", 32, 1),
    ]
    # PTB slices by UTF-16 code units: each entity must cover exactly the formatted words.
    assert [message.parse_entity(e) for e in message.entities] == ["粗体", "𝒾talic 🎉", "link", "x<y", "s", "p"]
    assert message.entities[2].url == "https://example.com/"
    assert message.entities[5].language == "python"
    assert message.from_user is not None and message.from_user.id == tg.bot_id
    stored = tg.last_sent(group)
    assert stored is not None and stored["message_id"] == message.message_id
    assert stored["entities"] == [e.to_dict() for e in message.entities]


async def test_entities_parameter_and_auto_detected_entities(tg: FakeTelegram, bot: Bot) -> None:
    group, _ = group_with(tg)
    text = "🎉 bold /help @alice_x #news https://t.me/x"
    message = await bot.send_message(group["id"], text, entities=[MessageEntity("bold", 3, 4)])
    assert [(e.type, message.parse_entity(e)) for e in message.entities] == [
        ("bold", "bold"),
        ("bot_command", "/help"),
        ("mention", "@alice_x"),
        ("hashtag", "#news"),
        ("url", "https://t.me/x"),
    ]
    trimmed = await bot.send_message(group["id"], "  <b> padded </b>  ", parse_mode="HTML")
    assert trimmed.text == "padded"  # Telegram strips leading and trailing white space
    assert [(e.offset, e.length) for e in trimmed.entities] == [(0, 6)]


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<x>hi</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("é <blink>", 'Unsupported start tag "blink" at byte offset 3'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<a href=https://x.org>x</a>", "Unexpected end of name token at byte offset 8"),
        ('<span class="big">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<tg-emoji>x</tg-emoji>", "Invalid custom emoji identifier specified"),
        (
            "&#xD83D;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
        ("AT&T", 'Character "&" must be escaped as "&amp;" at byte offset 2'),  # strict_html only
        ("a &nbsp; b", 'Unsupported HTML entity "&nbsp;" at byte offset 2'),  # strict_html only
        ("a -> b", 'Character ">" must be escaped as "&gt;" at byte offset 3'),  # strict_html only
    ],
)
async def test_html_parse_errors(tg: FakeTelegram, html: str, reason: str) -> None:
    group, _ = group_with(tg)
    status, body = await raw(tg, "sendMessage", chat_id=group["id"], text=html, parse_mode="HTML")
    assert (status, body) == (
        400,
        {"ok": False, "error_code": 400, "description": f"Bad Request: can't parse entities: {reason}"},
    )
    assert tg.sent(group) == []


async def test_lenient_html_matches_telegram_and_ptb_sees_bad_request() -> None:
    async with FakeTelegram(strict_html=False, clock=TestClock()) as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        group, _ = group_with(tg)
        message = await bot.send_message(group["id"], "AT&T &nbsp; a->b &lt;ok&gt;", parse_mode="HTML")
        assert message.text == "AT&T &nbsp; a->b <ok>"  # what tdlib does with bare & and >
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
            await bot.send_message(group["id"], "<x>", parse_mode="HTML")


async def test_markdown_is_refused_loudly_because_studybot_sends_html(tg: FakeTelegram) -> None:
    group, _ = group_with(tg)
    for mode in ("MarkdownV2", "Markdown"):
        status, body = await raw(tg, "sendMessage", chat_id=group["id"], text="*bold*", parse_mode=mode)
        assert status == 500
        assert f"does not model parse_mode {mode}" in body["description"]
    assert len(tg.server_errors) == 2
    tg.server_errors.clear()
    status, body = await raw(tg, "sendMessage", chat_id=group["id"], text="x", parse_mode="BBCode")
    assert (status, body["description"]) == (400, "Bad Request: unsupported parse_mode")
    assert tg.sent(group) == []


async def test_length_limits(tg: FakeTelegram, bot: Bot) -> None:
    group, _ = group_with(tg)
    assert len((await bot.send_message(group["id"], "a" * 4096)).text or "") == 4096
    # The limit applies after entity parsing: markup does not count.
    await bot.send_message(group["id"], "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    # Telegram counts characters (code points) here, not UTF-16 units: 4096 emoji are accepted.
    emoji = await bot.send_message(group["id"], "😀" * 4096)
    assert utf16_len(emoji.text or "") == 8192
    for too_long in ("a" * 4097, "😀" * 4097):
        status, body = await raw(tg, "sendMessage", chat_id=group["id"], text=too_long)
        assert (status, body["description"]) == (400, "Bad Request: message is too long")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(group["id"], "<i>" + "b" * 4097 + "</i>", parse_mode="HTML")
    for empty in ("", "   ", "<b></b>"):
        status, body = await raw(tg, "sendMessage", chat_id=group["id"], text=empty, parse_mode="HTML")
        assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    assert len(tg.sent(group)) == 3


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


# ------------------------------------------------------------------------------ messages, topics, commands


async def test_edit_and_delete(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])
    sent = await bot.send_message(group["id"], "draft", reply_markup=keyboard)
    edited = await bot.edit_message_text(
        "<b>final</b>", chat_id=group["id"], message_id=sent.message_id, parse_mode="HTML", reply_markup=keyboard
    )
    assert isinstance(edited, type(sent)) and edited.text == "final" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>final</b>", chat_id=group["id"], message_id=sent.message_id, parse_mode="HTML", reply_markup=keyboard
        )
    theirs = tg.user_sends(group, alice, "/mine")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", chat_id=group["id"], message_id=theirs["message_id"])
    with pytest.raises(BadRequest, match="Message can't be deleted for everyone"):
        await bot.delete_message(group["id"], theirs["message_id"])
    assert await bot.delete_message(group["id"], sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(group["id"], sent.message_id)
    assert tg.sent(group) == []
    tg.user_edits(group, theirs["message_id"], "/mine edited")
    updates = await bot.get_updates()
    assert [u.edited_message.text for u in updates if u.edited_message] == ["/mine edited"]


async def test_forum_topics(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg, is_forum=True)
    with pytest.raises(BadRequest, match="Not enough rights to create a topic"):
        await bot.create_forum_topic(group["id"], "Lesson 1")
    tg.set_bot_admin(group, True, {"can_manage_topics": True})
    topic = await bot.create_forum_topic(group["id"], "Lesson 1")
    thread = topic.message_thread_id
    posted = await bot.send_message(group["id"], "Welcome", message_thread_id=thread)
    assert (posted.message_thread_id, posted.is_topic_message) == (thread, True)
    # A topic message that replies to nothing replies to the topic's creation message.
    assert posted.reply_to_message is not None and posted.reply_to_message.forum_topic_created is not None
    general = await bot.send_message(group["id"], "General chat")
    assert general.message_thread_id is None
    answer = tg.user_sends(group, alice, "question", thread_id=thread)
    assert answer["is_topic_message"] is True
    assert [m["text"] for m in tg.sent(group, thread)] == ["Welcome"]
    assert [m["text"] for m in tg.sent(group, 0)] == ["General chat"]
    assert await bot.close_forum_topic(group["id"], thread)
    with pytest.raises(BadRequest, match="Topic_not_modified"):
        await bot.close_forum_topic(group["id"], thread)
    assert tg.topics(group) == [
        {"message_thread_id": thread, "name": "Lesson 1", "icon_color": 7322096, "is_closed": True}
    ]
    await bot.send_message(group["id"], "admins may still post", message_thread_id=thread)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(group["id"], "x", message_thread_id=999)
    plain, _ = group_with(tg)
    tg.set_bot_admin(plain, True)
    with pytest.raises(BadRequest, match="The chat is not a forum"):
        await bot.create_forum_topic(plain["id"], "Nope")
    replied = await bot.send_message(group["id"], "re", reply_parameters=ReplyParameters(answer["message_id"]))
    assert replied.message_thread_id == thread and replied.reply_to_message is not None
    assert replied.reply_to_message.message_id == answer["message_id"]


async def test_chat_queries(tg: FakeTelegram, bot: Bot) -> None:
    group, alice = group_with(tg)
    tg.add_member(group, tg.add_user("Teacher"), "administrator", rights={"can_delete_messages": False})
    chat = await bot.get_chat(group["id"])
    assert (chat.id, chat.type, chat.title) == (group["id"], "supergroup", "Course")
    admins = await bot.get_chat_administrators(group["id"])
    assert [a.status for a in admins] == ["creator", "administrator"]
    assert admins[1].can_delete_messages is False  # type: ignore[attr-defined]
    assert (await bot.get_chat_member(group["id"], tg.bot_id)).status == "member"
    assert (await bot.get_chat_member(group["id"], alice["id"])).status == "member"
    assert await bot.get_chat_member_count(group["id"]) == 4  # owner, bot, alice, teacher
    tg.start_private(alice)
    with pytest.raises(BadRequest, match="There are no administrators in the private chat"):
        await bot.get_chat_administrators(alice["id"])
    assert await bot.leave_chat(group["id"])
    with pytest.raises(Forbidden, match="bot is not a member of the supergroup chat"):
        await bot.get_chat(group["id"])


async def test_membership_updates(tg: FakeTelegram, bot: Bot) -> None:
    """ "chat_member": the bot must be an administrator *and* ask for it in allowed_updates."""
    group, alice = group_with(tg)
    bob, carol = tg.add_user("Bob"), tg.add_user("Carol")
    await bot.get_updates(allowed_updates=["message", "my_chat_member", "chat_member"])
    tg.add_member(group, bob, announce=True)  # bot is no admin: only the service message arrives
    tg.set_bot_admin(group, True)
    tg.add_member(group, carol, announce=True)
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await bot.get_updates()]
    assert kinds == ["message", "my_chat_member", "message", "chat_member"]
    assert ("chat_member", "bot is not an administrator") in tg.dropped_updates
    assert await bot.leave_chat(group["id"])
    tg.add_bot(group, by=alice)
    tail = (await bot.get_updates())[-3:]
    assert [u.my_chat_member.new_chat_member.status for u in tail if u.my_chat_member] == ["left", "member"]
    assert tail[-1].message is not None and tail[-1].message.new_chat_members[0].id == tg.bot_id
    status, body = await raw(tg, "getChat", chat_id=carol["id"])  # never talked to the bot
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_methods_studybot_does_not_use_answer_not_found(tg: FakeTelegram) -> None:
    """Cut from the server (issue 15): PTB raises InvalidToken for 404, and the call is recorded."""
    group, _ = group_with(tg)
    for method in ("answerCallbackQuery", "setMessageReaction", "editForumTopic", "deleteForumTopic"):
        status, body = await raw(tg, method, chat_id=group["id"])
        assert (status, body["description"]) == (404, "Not Found")
    assert tg.unknown_methods == ["answerCallbackQuery", "setMessageReaction", "editForumTopic", "deleteForumTopic"]


async def test_commands_are_stored_per_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    group, _ = group_with(tg)
    everyone = [BotCommand("help", "How to use the bot")]
    groups = [BotCommand("lesson", "Today's lesson"), BotCommand("stats", "Who did what")]
    german = [BotCommand("lesson", "Heutige Lektion")]
    assert await bot.set_my_commands(everyone)
    assert await bot.set_my_commands(groups, scope=BotCommandScopeAllGroupChats())
    assert await bot.set_my_commands(german, scope=BotCommandScopeChat(group["id"]), language_code="de")
    assert await bot.get_my_commands() == tuple(everyone)
    assert await bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == tuple(groups)
    assert await bot.get_my_commands(scope=BotCommandScopeChat(group["id"]), language_code="de") == tuple(german)
    assert await bot.get_my_commands(scope=BotCommandScopeChat(group["id"])) == ()  # no fallback
    assert tg.commands() == [{"command": "help", "description": "How to use the bot"}]
    assert tg.commands("all_group_chats") == [c.to_dict() for c in groups]
    assert tg.commands(BotCommandScopeChat(group["id"]), "de") == [c.to_dict() for c in german]
    assert await bot.delete_my_commands(scope=BotCommandScopeDefault())
    assert tg.commands() is None
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


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
