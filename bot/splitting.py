"""Split platform-neutral content into messages that fit a platform's length limit.

Splitting happens on spans, before any markup exists, so a cut can never fall inside a tag or an entity:
each chunk is rendered on its own and its markup is balanced by construction. Cuts prefer a paragraph end,
then a line end, then a sentence end (。！？ and .!?), then a space; only a single word longer than the limit
is cut mid-word. Links are never cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from handlers.vocabulary.content import Content, Span, Style

Measure = Callable[[str], int]

# Zero-width split points: after a newline, after Chinese sentence ends, after Western ones followed by a space;
# and, for a sentence longer than a whole message, between words.
_SENTENCES = re.compile(r"(?<=\n)|(?<=[。！？；])|(?<=[.!?;])(?=\s)")
_WORDS = re.compile(r"(?<=\s)(?=\S)")


def utf16_length(text: str) -> int:
    """Telegram counts message length and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _pieces(span: Span, limit: int, measure: Measure) -> list[Span]:
    if span.url is not None:
        text = span.text
        while measure(text) > limit:  # a link text longer than a whole message: shorten it, keep the link
            text = text[: max(1, len(text) * 3 // 4)]
        return [Span(text, span.style, span.url)]
    pieces: list[Span] = []
    for sentence in _SENTENCES.split(span.text):
        parts = _WORDS.split(sentence) if measure(sentence) > limit else [sentence]
        for part in parts:
            pieces.extend(_hard_cut(part, span.style, limit, measure))
    return pieces


def _hard_cut(part: str, style: Style, limit: int, measure: Measure) -> list[Span]:
    pieces: list[Span] = []
    if part:
        while measure(part) > limit:  # one word longer than the limit: the only mid-word cut
            cut = limit
            while measure(part[:cut]) > limit:
                cut -= 1
            pieces.append(Span(part[:cut], style))
            part = part[cut:]
        pieces.append(Span(part, style))
    return pieces


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    """Adjacent pieces of the same style become one span again, so markup is not repeated per sentence."""
    merged: list[Span] = []
    for span in spans:
        if merged and merged[-1].style == span.style and merged[-1].url is None and span.url is None:
            merged[-1] = Span(merged[-1].text + span.text, span.style)
        else:
            merged.append(span)
    while merged and not merged[0].text.strip() and merged[0].url is None:
        merged.pop(0)
    while merged and not merged[-1].text.strip() and merged[-1].url is None:
        merged.pop()
    return tuple(merged)


def split_content(content: Content, limit: int, measure: Measure = len) -> list[Content]:
    """Chunks of ``content`` whose visible text each measures at most ``limit``."""
    chunks: list[list[Span]] = [[]]
    used = 0
    for span in content:
        for piece in _pieces(span, limit, measure):
            size = measure(piece.text)
            if used + size > limit and chunks[-1]:
                chunks.append([])
                used = 0
                if not piece.text.strip() and piece.url is None:
                    continue  # no chunk starts with the whitespace that ended the previous one
            chunks[-1].append(piece)
            used += size
    result = [_merge(chunk) for chunk in chunks]
    return [chunk for chunk in result if chunk] or [()]
