"""Core content → Telegram HTML messages.

Every piece of text is escaped (``<``, ``>``, ``&``) before any tag is written, and only the tags of the
Bot API's HTML mode that we choose are ever produced, so nothing a user writes can break formatting or be
rejected as a parse error. Long content is split before rendering (see :mod:`bot.splitting`), counting
length as Telegram does: after entity parsing, in UTF-16 code units.
"""

from __future__ import annotations

import html

from bot.splitting import split_content, utf16_length
from handlers.text import safe_url
from handlers.vocabulary.content import Content, Span, Style

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption, counted like a message
_TAGS = {Style.BOLD: "b", Style.ITALIC: "i", Style.CODE: "code", Style.QUOTE: "blockquote"}


def span_html(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    tag = _TAGS.get(span.style)
    if tag:
        text = f"<{tag}>{text}</{tag}>"
    url = safe_url(span.url)
    if url:
        text = f'<a href="{html.escape(url, quote=True)}">{text}</a>'
    return text


def to_html(content: Content) -> str:
    return "".join(span_html(span) for span in content)


def render_messages(content: Content, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The HTML of each message needed to say ``content``."""
    return [to_html(chunk) for chunk in split_content(content, limit, utf16_length)]


def render_caption(content: Content, limit: int = CAPTION_LIMIT) -> tuple[str, Content]:
    """A photo's caption, as HTML, and the rest of the content, for messages after the photo.

    A digest that fits is all caption: one message, as before it had a picture. A longer one is cut after its
    first paragraph (the heading, period and counts: what goes with the chart), or as much of that as fits
    ``limit``; the rest is split into messages by :func:`render_messages`."""
    whole = split_content(content, limit, utf16_length)
    if len(whole) <= 1:
        return (to_html(whole[0]) if whole else ""), ()
    head, rest = _first_paragraph(content)
    chunks = split_content(head, limit, utf16_length)
    overflow: list[Span] = []
    for chunk in chunks[1:]:
        overflow.extend((*chunk, Span("\n")))
    if overflow and rest:
        overflow.append(Span("\n"))
    return (to_html(chunks[0]) if chunks else ""), (*overflow, *rest)


def _first_paragraph(content: Content) -> tuple[Content, Content]:
    """``content`` cut at its first blank line (which belongs to neither part)."""
    seen = ""
    for index, span in enumerate(content):
        joined = seen + span.text
        cut = joined.find("\n\n")
        if cut >= 0 and span.url is None and span.ref is None:
            at = cut - len(seen)
            before = (*content[:index], Span(span.text[: max(at, 0)], span.style)) if at > 0 else content[:index]
            after_text = joined[cut:].lstrip("\n")
            after = (Span(after_text, span.style), *content[index + 1 :]) if after_text else content[index + 1 :]
            return tuple(before), tuple(after)
        seen = joined[-1:]  # a break may straddle two spans
    return content, ()
