"""Splitting long content: within the limit, at natural boundaries, never inside a link or a surrogate pair."""

from __future__ import annotations

import html
import re

from bot.splitting import split_content, utf16_length
from bot.telegram_backend.render import render_messages
from handlers.vocabulary.content import ContentBuilder, Span, Style, to_plain_text


def test_short_content_is_one_chunk() -> None:
    content = ContentBuilder().bold("Title").line().text("Body.").build()
    chunks = split_content(content, 100)
    assert len(chunks) == 1 and to_plain_text(chunks[0]) == "Title\nBody."
    assert chunks[0][0] == Span("Title", Style.BOLD)


def test_long_chinese_text_splits_at_sentence_ends() -> None:
    sentence = "学习AI系统需要具备机器学习、分布式系统和高性能计算等在内的多方面能力。"
    content = (Span(sentence * 200),)
    chunks = split_content(content, 4096, utf16_length)
    assert len(chunks) > 1
    for chunk in chunks:
        text = to_plain_text(chunk)
        assert utf16_length(text) <= 4096
        assert text.endswith("。")
    assert "".join(to_plain_text(c) for c in chunks) == sentence * 200


def test_english_prefers_paragraph_and_sentence_ends_over_words() -> None:
    paragraph = "This is a sentence about systems. " * 40 + "\n\n"
    chunks = split_content((Span(paragraph * 5),), 2000)
    for chunk in chunks[:-1]:
        assert to_plain_text(chunk).rstrip().endswith((".", "\n"))


def test_links_are_never_cut() -> None:
    builder = ContentBuilder()
    for n in range(300):
        builder.text(f"Item {n} ").link(f"open {n}", f"https://example.com/{n}").line()
    chunks = split_content(builder.build(), 500)
    links = [span for chunk in chunks for span in chunk if span.url]
    assert [span.text for span in links] == [f"open {n}" for n in range(300)]


def test_astral_characters_are_not_split_and_are_counted_as_two() -> None:
    text = "😀" * 5000
    chunks = split_content((Span(text),), 4096, utf16_length)
    assert all(utf16_length(to_plain_text(c)) <= 4096 for c in chunks)
    assert "".join(to_plain_text(c) for c in chunks) == text


def test_hostile_text_is_escaped_and_tags_balance_in_every_chunk() -> None:
    hostile = "<b>bold?</b> & </a> <script>alert(1)</script> &amp; " * 200
    content = ContentBuilder().bold("Q: ").text(hostile).link("x", "javascript:alert(1)").build()
    messages = render_messages(content)
    assert len(messages) > 1
    for message in messages:
        opened = re.findall(r"<(b|i|code|blockquote|a)[ >]", message)
        closed = re.findall(r"</(b|i|code|blockquote|a)>", message)
        assert sorted(opened) == sorted(closed)
        assert "<script>" not in message and "javascript:" not in message
        visible = html.unescape(re.sub(r"<[^>]+>", "", message))
        assert utf16_length(visible) <= 4096
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;/a&gt;" in messages[0]


def test_styles_survive_the_split() -> None:
    content = (Span("word " * 1000, Style.BOLD),)
    messages = render_messages(content, limit=1000)
    assert all(m.startswith("<b>") and m.endswith("</b>") for m in messages)
