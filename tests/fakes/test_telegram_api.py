"""The fake Bot API must be good enough for the *real* python-telegram-bot to run against it: basics, formatting,
and the methods studybot calls (messages, forum topics, chats, commands).

Most tests drive a real ``telegram.Bot`` against the fake and check one documented behaviour end to end.  Exact
error texts are checked over raw HTTP, because PTB rewrites them (it strips "Bad Request: " and lower-cases the
rest).  Nothing sleeps to wait: fake-side state is awaited with ``tg.wait_for``.  Fixtures are in conftest.py.
"""

from __future__ import annotations

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
)
from telegram.error import BadRequest, Forbidden, InvalidToken

from tests.clock import TestClock
from tests.fakes.telegram_api import FakeTelegram, utf16_len
from tests.fakes.telegram_client import group_with, raw

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
