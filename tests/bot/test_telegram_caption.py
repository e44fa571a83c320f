"""A photo's caption on Telegram (issue 16): the whole content when it fits 1,024 UTF-16 units, else its first
paragraph (cut to fit) with the rest kept, in order, for the messages after the photo."""

from __future__ import annotations

from bot.splitting import utf16_length
from bot.telegram_backend.render import CAPTION_LIMIT, MESSAGE_LIMIT, render_caption, render_messages
from handlers.vocabulary.content import ContentBuilder, to_plain_text


def test_a_short_content_is_all_caption() -> None:
    content = ContentBuilder().bold("标题").line().text("一行").line(2).text("第二段").build()
    caption, rest = render_caption(content)
    assert caption == "<b>标题</b>\n一行\n\n第二段" and rest == ()


def test_a_long_content_keeps_its_first_paragraph_as_caption_and_the_rest_in_order() -> None:
    out = ContentBuilder().bold("机器学习实践 · 问题摘要").line().text("12 个问题").line(2)
    for n in range(300):
        out.text(f"第{n}个问题：为什么梯度会消失？").line()
    content = out.build()
    caption, rest = render_caption(content)
    assert caption == "<b>机器学习实践 · 问题摘要</b>\n12 个问题"
    messages = render_messages(rest)
    assert all(utf16_length(m) <= MESSAGE_LIMIT for m in messages) and len(messages) > 1
    assert to_plain_text(rest).startswith("第0个问题") and "第299个问题" in to_plain_text(rest)


def test_a_first_paragraph_longer_than_a_caption_is_cut_and_goes_on_after_the_photo() -> None:
    content = ContentBuilder().text("长" * 3000).line(2).text("尾巴").build()
    caption, rest = render_caption(content)
    assert utf16_length(caption) <= CAPTION_LIMIT
    assert to_plain_text(rest).count("长") == 3000 - len(caption) and to_plain_text(rest).endswith("尾巴")
