"""Core content → Discord markdown messages and embeds.

Every piece of user text is escaped before any markup is written, so nothing a member writes can format,
hide or break a message; mentions are switched off where messages are sent (``AllowedMentions.none()``), so
``@everyone``, role and user mentions in user text show as text and ping nobody. Long content is split on
spans (see :mod:`bot.splitting`) into pieces that fit Discord's limits: 2,000 characters of message content,
4,096 of embed description, 6,000 of embed text per message and 10 embeds per message. Nothing is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from bot.splitting import split_content
from handlers.text import safe_url
from handlers.vocabulary.content import Content, Span, Style

MESSAGE_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
THREAD_NAME_LIMIT = 100

# Markdown Discord interprets anywhere in a line, and what only matters at a line's start (headings, lists,
# quotes, subtext). '<' would start a mention, channel link, custom emoji or timestamp.
_INLINE = re.compile(r"([\\*_~`|\[\]<>])")
_LINE_START = re.compile(r"(?m)^(\s*)([#>+-]|\d+\.)")


def escape(text: str) -> str:
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), _INLINE.sub(r"\\\1", text))


def unescape(text: str) -> str:
    """What a person reads (tests compare text with it)."""
    return re.sub(r"\\(.)", r"\1", text)


def markdown_url(url: str | None) -> str | None:
    """A safe link (:func:`handlers.text.safe_url`) with the characters that would end a markdown link
    percent-encoded."""
    safe = safe_url(url)
    return quote(safe, safe=":/?#[]@!$&'*+,;=%~-._") if safe else None


def _wrap(text: str, marker: str) -> str:
    """Markup around the text but outside its surrounding whitespace (``** a**`` is not bold)."""
    core = text.strip()
    if not core:
        return text
    start = text.index(core[0])
    return f"{text[:start]}{marker}{escape(core)}{marker}{text[start + len(core) :]}"


def span_markdown(span: Span) -> str:
    url = markdown_url(span.url)
    if span.style is Style.BOLD:
        text = _wrap(span.text, "**")
    elif span.style is Style.ITALIC:
        text = _wrap(span.text, "*")
    elif span.style is Style.CODE:
        # Inside a code span nothing can be escaped: a backtick is replaced by a look-alike instead.
        core = span.text.replace("`", "ˋ")
        text = f"`{core}`" if core.strip() else core
    elif span.style is Style.QUOTE:
        text = "\n".join(f"> {escape(line)}" for line in span.text.split("\n"))
    else:
        text = escape(span.text)
    if url:
        if span.text == span.url:
            return url
        return f"[{text}]({url})"
    return text


def to_markdown(content: Content) -> str:
    return "".join(span_markdown(span) for span in content)


def _measure(text: str) -> int:
    return len(escape(text))


def render_chunks(content: Content, limit: int) -> list[str]:
    """Markdown pieces of at most ``limit`` characters saying ``content``, cut on line and sentence ends.

    Pieces are split on the visible text with room for markup; a piece whose markup still overflows (many
    short styled spans) is split again, smaller.
    """
    result: list[str] = []
    budget = max(16, limit - limit // 10)
    for chunk in split_content(content, budget, _measure):
        markdown = to_markdown(chunk)
        if len(markdown) <= limit:
            result.append(markdown)
        elif budget > 32:
            result.extend(render_chunks(chunk, limit // 2))
        else:  # pathological: every character styled; cut the markdown itself
            result.extend(markdown[i : i + limit] for i in range(0, len(markdown), limit))
    return [piece for piece in result if piece.strip()] or ["\u200b"]


def render_messages(content: Content) -> list[str]:
    return render_chunks(content, MESSAGE_LIMIT)


@dataclass(frozen=True, slots=True)
class EmbedData:
    """What a Discord embed shows; turned into ``discord.Embed`` by the backend."""

    description: str
    title: str | None = None
    url: str | None = None


def split_title(content: Content) -> tuple[str | None, Content]:
    """A leading bold line becomes the embed's title (digests and lessons start with one)."""
    if len(content) >= 2 and content[0].style is Style.BOLD and content[0].url is None and content[1].text[:1] == "\n":
        title = content[0].text.strip()
        if title and len(title) <= EMBED_TITLE_LIMIT and "\n" not in title:
            rest = (Span(content[1].text[1:]), *content[2:]) if len(content[1].text) > 1 else content[2:]
            while rest and not rest[0].text.strip() and rest[0].url is None:
                rest = rest[1:]
            return title, tuple(rest)
    return None, content


def render_embeds(content: Content, *, url: str | None = None) -> list[list[EmbedData]]:
    """Embeds for ``content``, grouped per message: the first carries the title and link, descriptions are
    split under 4,096 characters, and a message holds at most 10 embeds and 6,000 characters of them."""
    title, body = split_title(content)
    pieces = render_chunks(body, EMBED_DESCRIPTION_LIMIT) if body else ["\u200b"]
    messages: list[list[EmbedData]] = [[]]
    used = 0
    for index, piece in enumerate(pieces):
        embed = EmbedData(piece, title if index == 0 else None, markdown_url(url) if index == 0 else None)
        size = len(piece) + len(embed.title or "")
        if messages[-1] and (used + size > EMBED_TOTAL_LIMIT or len(messages[-1]) >= EMBEDS_PER_MESSAGE):
            messages.append([])
            used = 0
        messages[-1].append(embed)
        used += size
    return messages


def thread_name(title: str) -> str:
    """Thread and forum post names: 1 to 100 characters, no newlines."""
    flat = " ".join(title.split()) or "lesson"
    return flat if len(flat) <= THREAD_NAME_LIMIT else flat[: THREAD_NAME_LIMIT - 1] + "…"
