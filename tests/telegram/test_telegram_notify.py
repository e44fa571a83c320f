"""Issue 16 on Telegram: the answer is a reply to the asker's own message, which is what notifies them."""

from __future__ import annotations

from tests.scenarios.notify_stories import a_group_with_an_instructor, question_id
from tests.telegram.harness import TelegramHarness


async def test_the_answer_replies_to_the_askers_message(telegram: TelegramHarness) -> None:
    h = telegram
    post = await a_group_with_an_instructor(h)
    question = await h.say("alice", "Which GPU should I buy for the labs?", reply_to=post)
    number = await question_id(h, "Which GPU")
    await h.command("tyler", f"/answer {number} An RTX 4090 is plenty.", private=True)
    (answer,) = [m for m in h.tg.sent(h.chat["id"]) if "An RTX 4090" in m.get("text", "")]
    assert answer["reply_to_message"]["message_id"] == int(question.key)
    assert answer["reply_to_message"]["from"]["id"] == h.user("alice")["id"]


async def test_a_reused_answer_replies_to_the_new_question_and_links_the_answer(telegram: TelegramHarness) -> None:
    h = telegram
    post = await a_group_with_an_instructor(h)
    await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    number = await question_id(h, "How do I install CUDA")
    await h.command("tyler", f"/answer {number} Install the driver, then the toolkit.", private=True)
    (answer,) = [m for m in h.tg.sent(h.chat["id"]) if "Install the driver" in m.get("text", "")]
    again = await h.say("frank", "how to install cuda on windows??", reply_to=post)
    (notice,) = [m for m in h.tg.sent(h.chat["id"]) if "asked before" in m.get("text", "")]
    assert notice["reply_to_message"]["message_id"] == int(again.key)
    links = [e["url"] for e in notice.get("entities", []) if e["type"] == "text_link"]
    assert any(url.endswith(f"/{answer['message_id']}") for url in links), links


async def test_a_thinking_face_reopens_where_telegram_has_no_question_mark(telegram: TelegramHarness) -> None:
    """Telegram's fixed reaction set has no ❓: its 🤔 says the same."""
    h = telegram
    post = await a_group_with_an_instructor(h)
    await h.say("alice", "How do I install CUDA on Windows?", reply_to=post)
    number = await question_id(h, "How do I install CUDA")
    await h.command("tyler", f"/answer {number} Install the driver, then the toolkit.", private=True)
    again = await h.say("frank", "how to install cuda on windows??", reply_to=post)
    await h.react("frank", again, "🤔")
    assert any("is open again" in m for m in h.group_messages())
