"""Issue 16 on Telegram: a long Chinese digest goes as a photo whose caption keeps Telegram's 1,024 limit, then
messages of at most 4,096 UTF-16 units, everything after the caption included once."""

from __future__ import annotations

import io

from matplotlib.font_manager import findfont
from matplotlib.text import Text
from PIL import Image

from bot.charts import HEIGHT_PX, WIDTH_PX, ChartRenderer
from bot.splitting import utf16_length
from handlers.i18n import Translator
from handlers.vocabulary.domain import Course, LessonDraft, PeriodSummary
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
    end = h.clock.now()
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

    # The picture's words, Chinese included, are all in the chart's font (as tests/bot/test_charts.py checks):
    # the digest as recorded (recording the same period again gives it back, unchanged) drawn once more.
    recorded, new = await h.app.store.record_digest(COURSE, end, end, 0, [], PeriodSummary(0, 0, 0, None), end)
    assert not new and recorded.report is not None and recorded.report.chart is not None
    renderer = ChartRenderer(Translator.load())
    figure = renderer.draw(recorded.report.chart, "zh")
    figure.canvas.draw()
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text()]
    assert "第一课：机器学习导论" in {t.get_text() for t in texts}
    for text in texts:
        assert findfont(text.get_fontproperties()) == str(renderer.font.path), text.get_text()
        assert not renderer.font.missing(text.get_text()), text.get_text()
