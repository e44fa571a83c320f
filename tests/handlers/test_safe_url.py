"""One rule for the links we show (handlers.text.safe_url), used by the lesson sources and both renderers."""

from __future__ import annotations

import pytest

from bot.discord_backend.render import span_markdown
from bot.telegram_backend.render import span_html
from handlers.text import safe_url
from handlers.vocabulary.content import Span, Style


@pytest.mark.parametrize("url", ["https://example.com/a?b=1#c", "  http://example.com/x  ", "HTTPS://EXAMPLE.COM/"])
def test_http_links_with_a_host_are_kept_without_surrounding_space(url: str) -> None:
    assert safe_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<b>x</b>",
        "tg://user?id=1",
        "https:///no-host",
        "/relative/path",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "https://example.com/\x7f",
        "http://[::1",  # urlsplit refuses it
    ],
)
def test_everything_else_is_refused(url: str | None) -> None:
    assert safe_url(url) is None


def test_both_renderers_show_an_unsafe_link_as_plain_text() -> None:
    span = Span("click", Style.PLAIN, url="javascript:alert(1)")
    assert span_html(span) == "click"
    assert span_markdown(span) == "click"
    good = Span("click", Style.PLAIN, url="https://example.com/a_(b)")
    assert span_html(good) == '<a href="https://example.com/a_(b)">click</a>'
    assert span_markdown(good) == "[click](https://example.com/a_%28b%29)"
