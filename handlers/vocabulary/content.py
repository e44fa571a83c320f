"""Platform-neutral rich text.

Handlers never write HTML or Markdown: they build a tuple of spans, and each backend's renderer escapes every
span for its platform. User text can therefore never inject markup, mentions or broken entities, whatever it
contains, because no code path concatenates it into markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.vocabulary.domain import MessageRef


class Style(StrEnum):
    PLAIN = "plain"
    BOLD = "bold"
    ITALIC = "italic"
    CODE = "code"
    QUOTE = "quote"


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: Style = Style.PLAIN
    url: str | None = None
    # A link to a platform message, made when the content is sent (bot.outbox turns it into ``url``): the core
    # keeps messages, never the platforms' links to them.
    ref: MessageRef | None = None


Content = tuple[Span, ...]


class ContentBuilder:
    """Accumulates spans; ``line()`` ends a line so renderers can split long messages on line boundaries."""

    __slots__ = ("_spans",)

    def __init__(self) -> None:
        self._spans: list[Span] = []

    def text(self, text: str) -> ContentBuilder:
        if text:
            self._spans.append(Span(text))
        return self

    def bold(self, text: str) -> ContentBuilder:
        if text:
            self._spans.append(Span(text, Style.BOLD))
        return self

    def italic(self, text: str) -> ContentBuilder:
        if text:
            self._spans.append(Span(text, Style.ITALIC))
        return self

    def code(self, text: str) -> ContentBuilder:
        if text:
            self._spans.append(Span(text, Style.CODE))
        return self

    def quote(self, text: str) -> ContentBuilder:
        if text:
            self._spans.append(Span(text, Style.QUOTE))
        return self

    def link(self, text: str, url: str) -> ContentBuilder:
        self._spans.append(Span(text or url, Style.PLAIN, url or None))
        return self

    def message_link(self, text: str, ref: MessageRef) -> ContentBuilder:
        self._spans.append(Span(text, Style.PLAIN, None, ref))
        return self

    def line(self, count: int = 1) -> ContentBuilder:
        self._spans.append(Span("\n" * count))
        return self

    def extend(self, content: Content) -> ContentBuilder:
        self._spans.extend(content)
        return self

    def build(self) -> Content:
        spans = list(self._spans)
        while spans and spans[-1].text.strip("\n") == "" and spans[-1].url is None and spans[-1].ref is None:
            spans.pop()
        return tuple(spans)


def plain(text: str) -> Content:
    return (Span(text),)


def to_plain_text(content: Content) -> str:
    """The content as a person reads it without formatting (console, logs, tests)."""
    parts: list[str] = []
    for span in content:
        if span.url and span.text != span.url:
            parts.append(f"{span.text} <{span.url}>")
        else:
            parts.append(span.text)
    return "".join(parts)
