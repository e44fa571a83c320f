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
    """A photo's caption (the content's first part that fits ``limit``, as HTML) and the rest of the content,
    which goes in messages after the photo (split by :func:`render_messages`)."""
    chunks = split_content(content, limit, utf16_length)
    rest: list[Span] = []
    for chunk in chunks[1:]:
        if rest:
            rest.append(Span("\n\n"))
        rest.extend(chunk)
    return (to_html(chunks[0]) if chunks else ""), tuple(rest)
