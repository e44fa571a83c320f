"""Intros: hostile HTML reduced to the safe subset, and cutting at a sentence end, never inside a word or link."""

from __future__ import annotations

from handlers.text.intro import (
    ELLIPSIS,
    INTRO_MARK,
    cut,
    decode,
    encode,
    intro_from_text,
    plain_text,
    sanitise_html,
    text_content,
)
from handlers.vocabulary.content import Span, Style, to_plain_text

HOSTILE = (
    '<p onclick="steal()">Hello <script>alert("x")</script><style>p{}</style>'
    '<a href="javascript:alert(1)">click</a> <a href="https://ok.example/a?b=1&amp;c=2" onclick="x">safe</a>'
    '<b>bold <i>and italic<p>next <a href="data:text/html,evil">data</a> <img src=x onerror=alert(1)>'
    "<iframe src=https://evil>framed</iframe>&lt;script&gt; &amp;amp; <div><ul><li>one<li>two</ul>"
    "<script>never closed"
)


def test_hostile_html_keeps_only_text_bold_breaks_and_http_links() -> None:
    content = sanitise_html(HOSTILE)
    text = to_plain_text(content)
    assert "alert" not in text and "steal" not in text and "p{}" not in text and "framed" not in text
    assert "never closed" not in text  # an unclosed script swallows the rest, as a browser would
    assert {span.url for span in content if span.url} == {"https://ok.example/a?b=1&c=2"}
    assert {span.style for span in content} <= {Style.PLAIN, Style.BOLD}
    assert "click" in text and "data" in text  # unsafe links keep their text, lose their address
    assert "<script> &amp;" in text  # entities decoded once: text, not markup
    assert "• one\n• two" in text
    # An unclosed <b> does not run past its paragraph.
    assert all(span.style is Style.PLAIN for span in content if "next" in span.text)


def test_stored_form_round_trips_and_plain_intros_stay_plain() -> None:
    content = sanitise_html('<p><b>Bold</b> and <a href="https://x.example/">a link</a></p><p>Two<br>lines</p>')
    stored = encode(content)
    assert stored.startswith(INTRO_MARK)
    assert decode(stored) == content
    # Intros kept before sources existed (or set by hand) are plain text, even when they look like markup.
    assert decode("a <b>not bold</b>\n\nsecond") == (Span("a <b>not bold</b>"), Span("\n\n"), Span("second"))


LONG_ZH = (
    "所以如果你也深陷这种迷茫之中，请不要焦虑，因为这非常正常。学习AI系统需要具备机器学习、分布式系统和高性能计算等在内的"
    "多方面能力。只有少数足够幸运的人才有机会看到它的全貌！这也是为什么AI系统专家的待遇会更为优厚？"
) * 6
LONG_EN = (
    "Training large models is a systems problem as much as a modelling one. You will learn how data, compute "
    "and memory interact! Why does that matter? Because every design choice has a cost. "
) * 8


def test_long_chinese_is_cut_at_a_sentence_end() -> None:
    content, was_cut = cut(text_content(LONG_ZH), 600)
    text = plain_text(content)
    assert was_cut and 180 <= len(text) <= 600
    assert text[-1] in "。！？"
    assert LONG_ZH.startswith(text)


def test_long_english_is_cut_at_a_sentence_end_not_inside_a_word() -> None:
    content, was_cut = cut(text_content(LONG_EN), 600)
    text = plain_text(content)
    assert was_cut and len(text) <= 600 and text[-1] in ".!?"
    assert LONG_EN.startswith(text)
    assert text.endswith(("one.", "interact!", "matter?", "cost."))


def test_without_a_sentence_end_the_cut_falls_between_words() -> None:
    words = "supercalifragilistic " * 40
    content, was_cut = cut(text_content(words), 100)
    text = plain_text(content)
    assert was_cut and text.endswith(ELLIPSIS)
    assert all(word == "supercalifragilistic" for word in text[: -len(ELLIPSIS)].split())


def test_a_link_is_never_cut() -> None:
    content = (
        Span("Read this first. " + "x " * 20),
        Span("a link text that is rather long and crosses the limit", Style.PLAIN, "https://example.com/long"),
        Span(" and more words after it. " * 5),
    )
    shortened, was_cut = cut(content, 70)
    assert was_cut
    links = [span for span in shortened if span.url]
    assert links == [] or links[0] == content[1]
    assert plain_text(shortened).endswith(ELLIPSIS) or plain_text(shortened).endswith(".")


def test_a_short_intro_is_kept_whole() -> None:
    assert decode(intro_from_text("Short.\n\nTwo paragraphs.", 600)) == (
        Span("Short."),
        Span("\n\n"),
        Span("Two paragraphs."),
    )


def test_entities_are_decoded_before_cutting() -> None:
    content, _ = cut(sanitise_html("Tom &amp; Jerry. " * 60), 100)
    text = plain_text(content)
    assert "&amp;" not in text and text.endswith("Jerry.")
