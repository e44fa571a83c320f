"""Telegram-specific behaviour through the real python-telegram-bot and the local Bot API server."""

from __future__ import annotations

import asyncio
import re

from bot.telegram_backend.menus import menu_names
from handlers.vocabulary.domain import ChatRef, LessonDraft
from tests.fakes.telegram_api import FakeTelegram
from tests.scenarios.stories import COURSE, prepare_course
from tests.telegram.harness import TelegramHarness, visible


async def follow(h: TelegramHarness, chat: dict, admin: str = "anna") -> None:  # type: ignore[type-arg]
    user = await h._as(admin, True)
    h.tg.add_member(chat, user, status="administrator", announce=True)
    await h.settle()
    h.tg.user_sends(chat, user, f"/setup {COURSE}")
    await h.settle()


async def test_commands_in_the_bot_name_form_and_for_other_bots(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    name = telegram.backend.username
    reply = await telegram.command("anna", f"/setup@{name} {COURSE}", admin=True)
    assert "now follows" in reply
    assert await telegram.command("anna", "/top@some_other_bot", admin=True) == ""


async def test_an_anonymous_admin_counts_as_admin(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    tg, chat = telegram.tg, telegram.chat
    before = len(tg.sent(chat["id"]))
    tg.user_sends(chat, None, f"/setup {COURSE}", sender_chat=chat)
    await telegram.settle()
    assert any("now follows" in visible(m) for m in tg.sent(chat["id"])[before:])


async def test_command_menus_are_registered_per_scope(telegram: TelegramHarness) -> None:
    tg = telegram.tg
    for scope in ("all_group_chats", "all_chat_administrators", "all_private_chats"):
        for language in ("", "zh"):
            commands = tg.commands(scope, language)
            assert commands is not None and [c["command"] for c in commands] == list(menu_names(scope))
    zh = tg.commands("all_private_chats", "zh")
    assert zh is not None and any("回答" in c["description"] for c in zh)


async def test_setup_tells_the_admin_when_the_bot_is_no_admin(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    telegram.tg.set_bot_admin(telegram.chat, False)
    await telegram.settle()
    reply = await telegram.command("anna", f"/setup {COURSE}", admin=True)
    assert "now follows" in reply
    assert "The bot is not an admin of this group, so it cannot see reactions" in reply
    # And indeed: without admin rights Telegram sends it no reactions.
    post = telegram.lesson_post("Why learn AI systems")  # following the course posted its lesson
    question = await telegram.say("alice", "Why no reactions?", reply_to=post)
    telegram.tg.user_reacts(telegram.chat, int(question.key), await telegram._as("bob", False), new=["👍"])
    assert telegram.tg.dropped_updates[-1] == ("message_reaction", "bot is not an administrator")


async def test_a_changed_reaction_moves_the_like(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    await telegram.command("anna", "/lesson", admin=True)
    post = telegram.lesson_post("Why learn AI systems")
    question = await telegram.say("alice", "What is a TPU?", reply_to=post)
    await telegram.react("bob", question, "👍")
    assert "👍1" in await telegram.command("erin", "/top")
    await telegram._set_reactions("bob", question, ["🔥"])  # bob changes 👍 to 🔥 (not a like emoji here)
    assert "👍0" in await telegram.command("erin", "/top")
    await telegram._set_reactions("bob", question, ["🔥", "👍"])
    assert "👍1" in await telegram.command("erin", "/top")


async def test_anonymous_reactions_count_as_likes(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    await telegram.command("anna", "/lesson", admin=True)
    post = telegram.lesson_post("Why learn AI systems")
    question = await telegram.say("alice", "Anyone?", reply_to=post)
    await telegram.react("bob", question, "👍")
    telegram.tg.anonymous_reaction_count(telegram.chat, int(question.key), {"👍": 3, "🔥": 2})
    await telegram.settle()
    assert "👍3" in await telegram.command("erin", "/top")  # bob + two anonymous


async def test_broadcast_to_several_groups_and_a_forum_with_a_topic_per_lesson(telegram: TelegramHarness) -> None:
    tg = telegram.tg
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    second = tg.add_chat("supergroup", "Second group")
    tg.set_bot_admin(second, True)
    forum = tg.add_chat("supergroup", "Forum group", is_forum=True)
    tg.set_bot_admin(forum, True)
    await follow(telegram, second)
    await follow(telegram, forum)

    lesson = await telegram.add_lesson(LessonDraft(COURSE, "gpus", "GPUs", "Tensor cores.", "https://example.com/g", 3))
    await telegram.publish(lesson)
    await telegram.publish(lesson)
    for chat in (telegram.chat, second):
        assert sum("GPUs" in visible(m) for m in tg.sent(chat["id"])) == 1
    topics = tg.topics(forum)
    assert [t["name"] for t in topics] == ["GPUs"]
    thread = topics[0]["message_thread_id"]
    assert any("Tensor cores." in visible(m) for m in tg.sent(forum["id"], thread))

    # In the lesson's topic every top-level message is a question or comment about that lesson.
    alice = await telegram._as("alice", False)
    tg.add_member(forum, alice, announce=True)
    tg.user_sends(forum, alice, "Which GPU do you recommend?", thread_id=thread)
    tg.user_sends(forum, alice, "/ask 显存不够怎么办？", thread_id=thread)
    await telegram.settle()
    top = await telegram.command("erin", "/top")
    assert "Which GPU do you recommend?" in top and "显存不够怎么办？" in top
    ranked = await telegram.app.store.top_questions(COURSE, 10)
    lessons = {r.lesson_title for r in ranked if "GPU" in r.question.text or "显存" in r.question.text}
    assert lessons == {"GPUs"}


async def test_hostile_text_is_escaped_and_long_text_split(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    long_intro = "学习AI系统需要具备机器学习、分布式系统和高性能计算等在内的多方面能力。" * 150
    lesson = await telegram.add_lesson(LessonDraft(COURSE, "long", "Long <b>lesson</b> & </a>", long_intro))
    await telegram.publish(lesson)
    parts = [m for m in telegram.tg.sent(telegram.chat["id"]) if "多方面能力" in visible(m)]
    assert len(parts) >= 2  # split, never rejected as too long
    assert "Long <b>lesson</b> & </a>" in visible(telegram.tg.sent(telegram.chat["id"])[-len(parts)])
    post = telegram.lesson_post("Long <b>lesson</b>")
    hostile = "<b>bold?</b> & </a> <a href='javascript:x'>x</a> @everyone " + "问" * 5000
    await telegram.say("mallory", hostile, reply_to=post)
    top = await telegram.command("erin", "/top")
    assert "<b>bold?</b> & </a> <a href='javascript:x'>x</a>" in top  # shown as typed, not as markup
    assert all(
        e["type"] != "text_link"
        for m in telegram.tg.sent(telegram.chat["id"])
        for e in m.get("entities", [])
        if "javascript" in e.get("url", "")
    )


async def test_flood_control_during_a_broadcast_is_waited_out(telegram: TelegramHarness) -> None:
    tg = telegram.tg
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    others = []
    for n in range(3):
        chat = tg.add_chat("supergroup", f"Group {n}")
        tg.set_bot_admin(chat, True)
        await follow(telegram, chat)
        others.append(chat)
    tg.flood("sendMessage", times=2, retry_after=1)
    lesson = await telegram.add_lesson(LessonDraft(COURSE, "flood", "Flood lesson", "Intro."))
    await telegram.publish(lesson)
    for chat in (telegram.chat, *others):
        assert sum("Flood lesson" in visible(m) for m in tg.sent(chat["id"])) == 1
    assert len(tg.floods) == 2


async def test_a_group_that_kicked_the_bot_is_skipped_and_marked_inactive(telegram: TelegramHarness) -> None:
    tg = telegram.tg
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    gone = tg.add_chat("supergroup", "Gone group")
    tg.set_bot_admin(gone, True)
    await follow(telegram, gone)
    tg.kick_bot(gone)
    await telegram.settle()
    lesson = await telegram.add_lesson(LessonDraft(COURSE, "k", "After the kick", "Intro."))
    await telegram.publish(lesson)
    assert any("After the kick" in visible(m) for m in tg.sent(telegram.chat["id"]))
    group = await telegram.app.store.get_group(ChatRef("telegram", str(gone["id"])))
    assert group is not None and not group.active


async def test_group_to_supergroup_migration_keeps_everything(telegram: TelegramHarness) -> None:
    tg = telegram.tg
    await prepare_course(telegram)
    group = tg.add_chat("group", "Basic group")
    await follow(telegram, group)
    alice = await telegram._as("alice", False)
    tg.add_member(group, alice, announce=True)
    await telegram.settle()
    post = next(m for m in tg.sent(group["id"]) if "Why learn AI systems" in visible(m))
    tg.user_sends(group, alice, "Will this survive the upgrade?", reply_to=post["message_id"])
    await telegram.settle()

    supergroup = tg.migrate_to_supergroup(group)
    await telegram.settle()
    moved = await telegram.app.store.get_group(ChatRef("telegram", str(supergroup["id"])))
    assert moved is not None and moved.course_slug == COURSE and moved.active
    assert await telegram.app.store.get_group(ChatRef("telegram", str(group["id"]))) is None
    tg.user_sends(supergroup, alice, "/top")
    await telegram.settle()
    assert "Will this survive the upgrade?" in visible(tg.sent(supergroup["id"])[-1])


async def test_sending_to_a_migrated_group_follows_it(telegram: TelegramHarness, tg: FakeTelegram) -> None:
    await prepare_course(telegram)
    group = tg.add_chat("group", "Basic group")
    await follow(telegram, group)
    # The service message is missed (say the bot was offline and the update expired): the send itself learns.
    backend_dispatch = telegram.backend._dispatch
    supergroup = tg.migrate_to_supergroup(group)
    tg.drop_pending_updates()
    assert backend_dispatch is not None
    lesson = await telegram.add_lesson(LessonDraft(COURSE, "m", "Migrated lesson", "Intro."))
    await telegram.publish(lesson)
    assert any("Migrated lesson" in visible(m) for m in tg.sent(supergroup["id"]))
    await telegram.settle()  # the send reported the move; the intake hands it to the core after the send
    moved = await telegram.app.store.get_group(ChatRef("telegram", str(supergroup["id"])))
    assert moved is not None and moved.active
    refused = [r for r in tg.requests if r.status == 400 and str(group["id"]) in str(r.params.get("chat_id"))]
    assert len(refused) == 1  # the first refusal taught the backend the new id: nothing else went to the old one


async def test_instructor_gets_a_deep_link_and_unreachable_instructor_is_skipped(telegram: TelegramHarness) -> None:
    tg = telegram.tg
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    stranger = tg.add_user("Stranger", username="stranger")  # never pressed Start
    tg.add_member(telegram.chat, stranger, announce=True)
    await telegram.settle()
    message = tg.user_sends(telegram.chat, stranger, "I teach this")
    await telegram.settle()
    reply = await telegram.command(
        "anna", "/instructor", admin=True, reply_to=type("H", (), {"key": str(message["message_id"])})()
    )  # type: ignore[arg-type]
    assert "Stranger is now an instructor" in reply
    assert re.search(rf"https://t\.me/{telegram.backend.username}\?start=", reply)
    telegram.clock.advance(days=7)
    await telegram.digest_due(COURSE)
    refused = [r for r in tg.requests if r.method == "sendMessage" and str(stranger["id"]) in str(r.params)]
    assert refused and all(r.status == 403 for r in refused)  # "bot can't initiate conversation with a user"
    assert len(await telegram.app.store.unsent_digests()) == 1


async def test_telegram_advice_is_given_in_the_groups_language(telegram: TelegramHarness) -> None:
    await prepare_course(telegram)
    await telegram.command("anna", f"/setup {COURSE}", admin=True)
    await telegram.command("anna", "/lang zh", admin=True)
    telegram.tg.set_bot_admin(telegram.chat, False)
    await telegram.settle()
    reply = await telegram.command("anna", f"/setup {COURSE}", admin=True)
    assert "机器人还不是本群管理员" in reply and "not an admin" not in reply
    telegram.tg.set_bot_admin(telegram.chat, True)
    await telegram.settle()
    reply = await telegram.command("anna", "/instructor", admin=True)
    assert f"讲师请点这里和机器人开始私聊，才能收到摘要：https://t.me/{telegram.backend.username}?start=" in reply


async def test_a_question_in_a_lesson_topic_before_its_intro_is_sent_is_about_the_lesson(
    telegram: TelegramHarness,
) -> None:
    """The topic opens before the intro is in it, and the intro's send can wait out a 429 for seconds: a learner
    who writes there meanwhile asks about the lesson (before, the post was not yet recorded and the message was
    taken for nothing)."""
    tg = telegram.tg
    await prepare_course(telegram)
    forum = tg.add_chat("supergroup", "Forum group", is_forum=True)
    tg.set_bot_admin(forum, True)
    await follow(telegram, forum)
    lesson = await telegram.add_lesson(LessonDraft(COURSE, "gpus", "GPUs", "Tensor cores.", "https://example.com/g", 3))

    tg.flood("sendMessage", retry_after=2, chat_id=forum)  # the intro waits about 2 s for its turn
    publishing = asyncio.create_task(telegram.publish(lesson))
    def topic(t: FakeTelegram) -> int | None:
        return next((topic["message_thread_id"] for topic in t.topics(forum) if topic["name"] == "GPUs"), None)

    await tg.wait_for(topic, what="the lesson's topic")
    thread = topic(tg)
    alice = await telegram._as("alice", False)
    tg.add_member(forum, alice, announce=True)
    tg.user_sends(forum, alice, "Which GPU do you recommend?", thread_id=thread)
    await telegram.settle()
    assert not any("Tensor cores." in visible(m) for m in tg.sent(forum["id"], thread))  # still waiting
    assert not publishing.done()

    await asyncio.wait_for(publishing, 10)
    assert sum("Tensor cores." in visible(m) for m in tg.sent(forum["id"], thread)) == 1
    ranked = await telegram.app.store.top_questions(COURSE, 10)
    assert [(r.question.text, r.lesson_title) for r in ranked] == [("Which GPU do you recommend?", "GPUs")]
    post = await telegram.app.store.lesson_post_in_thread(ChatRef("telegram", str(forum["id"]), str(thread)))
    assert post is not None and post.ref is not None and post.ref.thread_id == str(thread)  # recorded in full once sent
