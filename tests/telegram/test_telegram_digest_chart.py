"""Issue 16 on Telegram: a long Chinese digest goes as a photo whose caption keeps Telegram's 1,024 limit, then
messages of at most 4,096 UTF-16 units, everything after the caption included once."""

from __future__ import annotations

import io

from PIL import Image

from bot.charts import HEIGHT_PX, WIDTH_PX
from bot.splitting import utf16_length
from handlers.vocabulary.domain import Course, LessonDraft
from tests.telegram.harness import TelegramHarness, visible

COURSE = "ml-zh"


def chinese_question(n: int) -> str:
    """A long question unlike the others (so duplicate detection keeps them apart)."""
    body = "".join(chr(0x4E00 + (n * 331 + k * 97) % 0x4000) for k in range(130))
    return f"第{n}个问题：{body}？"


async def test_a_long_chinese_digest_is_a_photo_with_a_short_caption_then_messages(telegram: TelegramHarness) -> None:
    h = telegram
    await h.app.store.upsert_course(Course(COURSE, "机器学习实践", language="zh", digest_size=25), h.clock.now())
    await h.add_lesson(LessonDraft(COURSE, "intro", "第一课：机器学习导论", "欢迎。", "https://example.com/0", 0))
    await h.command("anna", f"/setup {COURSE}", admin=True)
    await h.command("tyler", "/instructor", admin=True)
    await h.command("anna", "/lesson", admin=True)
    post = h.lesson_post("第一课：机器学习导论")
    asked = [chinese_question(n) for n in range(1, 26)]
    for n, text in enumerate(asked):
        await h.say(f"member{n}", text, reply_to=post)

    h.clock.advance(days=7)
    await h.digest_due(COURSE)

    chat = h._users["tyler"]["id"]
    sent = h.tg.sent(chat)[h._dm_baseline["tyler"] :]
    photo, *messages = sent
    assert "photo" in photo and messages, [sorted(m) for m in sent]
    caption = photo["caption"]
    assert caption.startswith("机器学习实践")
    assert 0 < utf16_length(caption) <= 1024
    assert all(utf16_length(m["text"]) <= 4096 for m in messages)
    text = "\n".join(visible(m) for m in sent)
    for question in asked:
        assert question[:60] in text  # each question's excerpt, once the caption and the messages are read
    with Image.open(io.BytesIO(h.direct_charts("tyler")[0])) as image:
        image.load()
        assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX)
