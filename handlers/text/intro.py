"""Lesson intros: a small safe subset of HTML turned into rich content, and cut to a length at a sentence end.

Lesson sources hand us HTML we do not trust (feed entries, course pages, Markdown rendered to HTML). Only
what every platform can show safely survives: paragraphs and line breaks, list items as lines ("• "), bold
(``b``, ``strong``, headings) and links whose address is http(s). Everything else keeps its text and loses its
markup; ``script``, ``style`` and their kind are removed with their content. The result is
:mod:`handlers.vocabulary.content` spans, which each backend escapes for its platform, so no source can inject markup.
``html.parser`` is used because it accepts any input, balanced or not, and decodes entities.

How an intro is kept (``LessonDraft.intro`` / ``Lesson.intro`` stay strings): an intro made by studybot's
sources starts with :data:`INTRO_MARK` and holds the subset :func:`encode` writes (``<b>``, ``<a href>``,
``<br>``, escaped text), which :func:`decode` reads back through the same sanitiser. Any other intro (set by
hand, or stored before sources existed) is plain text.

Cutting (:func:`cut`) works on the spans, never on markup: at the last sentence end (。！？ and .!? before a
space or a line end, or a paragraph end) within the limit, else between two words with "…"; never inside a
word, a link or an entity (entities are decoded before anything is counted).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from handlers.text import safe_url
from handlers.vocabulary.content import Content, Span, Style

INTRO_MARK = "<!--studybot:html-->"
DEFAULT_INTRO_LENGTH = 600
ELLIPSIS = "…"
# A sentence end earlier than this share of the limit makes an intro too short: cut between words instead.
_MIN_SHARE = 0.3

_DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head", "title",
     "textarea", "select", "option", "button", "canvas", "audio", "video"}
)  # fmt: skip
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "address", "blockquote",
     "pre", "table", "tr", "ul", "ol", "dl", "figure", "figcaption", "hr", "details", "summary",
     "h1", "h2", "h3", "h4", "h5", "h6"}
)  # fmt: skip
_BOLD = frozenset({"b", "strong", "h1", "h2", "h3", "h4", "h5", "h6"})
_LINES = frozenset({"li", "dt", "dd"})
_WHITESPACE = re.compile(r"\s+")
_CLOSERS = "”’」』）)》〉】\"'"
_ZH_ENDS = "。！？"
_EN_ENDS = ".!?"


@dataclass(slots=True)
class _Text:
    text: str
    bold: bool
    url: str | None


@dataclass(slots=True)
class _Break:
    lines: int  # 1: a line break, 2: a paragraph break


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[_Text | _Break] = []
        self._bold = 0
        self._links: list[str | None] = []
        self._dropped = 0
        self._pre = 0

    # tags --------------------------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self._dropped += 1
            return
        if self._dropped:
            return
        if tag == "br":
            self._break(1)
        elif tag in _LINES:
            self._break(1)
            self.tokens.append(_Text("• ", False, None))
        elif tag in _BLOCKS:
            self._block()
        if tag in _BOLD:
            self._bold += 1
        if tag == "pre":
            self._pre += 1
        if tag == "a":
            self._links.append(safe_url(dict(attrs).get("href")))

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self._dropped = max(0, self._dropped - 1)
            return
        if self._dropped:
            return
        if tag in _BLOCKS:
            self._block()
        elif tag in _LINES:
            self._break(1)
        if tag in _BOLD:
            self._bold = max(0, self._bold - 1)
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag == "a" and self._links:
            self._links.pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag != "br":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._dropped or not data:
            return
        if self._pre:
            lines = data.split("\n")
            for index, line in enumerate(lines):
                if index:
                    self._break(1)
                if line:
                    self._text(line)
            return
        self._text(_WHITESPACE.sub(" ", data))

    # output ------------------------------------------------------------------------------------------------
    def _text(self, text: str) -> None:
        url = self._links[-1] if self._links else None
        self.tokens.append(_Text(text, self._bold > 0, url))

    def _break(self, lines: int) -> None:
        self.tokens.append(_Break(lines))

    def _block(self) -> None:
        """A paragraph boundary. Bold and links left open do not cross it, so one unclosed tag in hostile
        input cannot turn everything after it bold or into a link."""
        self._break(2)
        self._bold = 0
        self._links.clear()


def _normalise(tokens: list[_Text | _Break]) -> Content:
    """Tokens → spans: whitespace collapsed, breaks merged (at most a paragraph), neighbours of one style joined."""
    out: list[_Text | _Break] = []
    for token in tokens:
        if isinstance(token, _Break):
            while out and isinstance(out[-1], _Text) and out[-1].url is None and not out[-1].text.strip():
                out.pop()
            if out and isinstance(out[-1], _Text):
                out[-1] = _Text(out[-1].text.rstrip(), out[-1].bold, out[-1].url)
            if not out:
                continue  # nothing before it: no leading break
            if isinstance(out[-1], _Break):
                out[-1] = _Break(min(2, out[-1].lines + token.lines))
            else:
                out.append(_Break(min(2, token.lines)))
            continue
        text = token.text
        previous = out[-1] if out else None
        if previous is None or isinstance(previous, _Break) or previous.text.endswith((" ", "\u3000")):
            text = text.lstrip(" ")
        if not text:
            continue
        if isinstance(previous, _Text) and (previous.bold, previous.url) == (token.bold, token.url):
            out[-1] = _Text(previous.text + text, token.bold, token.url)
        else:
            out.append(_Text(text, token.bold, token.url))
    while out and (isinstance(out[-1], _Break) or (out[-1].url is None and not out[-1].text.strip())):
        out.pop()
    if out and isinstance(out[-1], _Text):
        out[-1] = _Text(out[-1].text.rstrip(), out[-1].bold, out[-1].url)
    spans: list[Span] = []
    for item in out:
        if isinstance(item, _Break):
            spans.append(Span("\n" * item.lines))
        elif item.text:
            spans.append(Span(item.text, Style.BOLD if item.bold else Style.PLAIN, item.url))
    return tuple(spans)


def sanitise_html(markup: str) -> Content:
    """Rich content from untrusted HTML: only paragraphs, line breaks, list lines, bold and http(s) links."""
    parser = _Sanitiser()
    parser.feed(markup)
    parser.close()
    return _normalise(parser.tokens)


def text_content(text: str) -> Content:
    """Rich content from plain text: blank lines are paragraph breaks, single newlines line breaks."""
    tokens: list[_Text | _Break] = []
    for number, paragraph in enumerate(re.split(r"\n[ \t\u3000]*\n\s*", text.replace("\r\n", "\n").strip())):
        if number:
            tokens.append(_Break(2))
        for index, line in enumerate(paragraph.split("\n")):
            if index:
                tokens.append(_Break(1))
            if line.strip():
                tokens.append(_Text(line.strip(), False, None))
    return _normalise(tokens)


def plain_text(content: Content) -> str:
    """The visible text (links without their address): what the length limit counts."""
    return "".join(span.text for span in content)


# cutting ---------------------------------------------------------------------------------------------------
def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3000 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def _in_word(char: str) -> bool:
    return (char.isalnum() or char in "'’-_@#%&/") and not _is_cjk(char)


@dataclass(frozen=True, slots=True)
class _Cut:
    offset: int  # visible characters kept
    span: int  # spans[:span] are whole ...
    index: int  # ... and spans[span].text[:index] is kept
    sentence: bool


def _cut_points(content: Content) -> list[_Cut]:
    """Every place a cut may fall, in order: sentence ends, and boundaries that are not inside a word."""
    text = plain_text(content)
    points: list[_Cut] = []
    offset = 0
    for number, span in enumerate(content):
        length = len(span.text)
        if span.url is not None:
            # A link is whole or absent: a cut may fall just before or just after it.
            before = text[offset - 1] if offset else " "
            if offset and not (_in_word(before) and _in_word(span.text[:1] or " ")):
                points.append(_Cut(offset, number, 0, False))
            offset += length
            after = text[offset] if offset < len(text) else " "
            if not (_in_word(span.text[-1:] or " ") and _in_word(after)):
                points.append(_Cut(offset, number + 1, 0, False))
            continue
        for index in range(1, length + 1):
            at = offset + index
            left = text[at - 1]
            right = text[at] if at < len(text) else "\n"
            if left.isspace():
                continue
            if _sentence_end(text, at) or not (_in_word(left) and _in_word(right)):
                points.append(_Cut(at, number, index, _sentence_end(text, at)))
        offset += length
    return points


def _sentence_end(text: str, at: int) -> bool:
    """Whether a sentence ends between ``text[at - 1]`` and ``text[at]`` (a closing quote stays with it)."""
    right = text[at] if at < len(text) else "\n"
    if right == "\n":
        return True
    core = text[at - 1]
    if core in _CLOSERS and at >= 2:
        core = text[at - 2]
    if right in _CLOSERS:
        return False
    return core in _ZH_ENDS or (core in _EN_ENDS and right.isspace())


def _take(content: Content, point: _Cut) -> list[Span]:
    kept = list(content[: point.span])
    if point.index and point.span < len(content):
        span = content[point.span]
        kept.append(Span(span.text[: point.index], span.style, span.url))
    while kept and kept[-1].url is None and not kept[-1].text.strip():
        kept.pop()
    if kept and kept[-1].url is None:
        last = kept[-1]
        kept[-1] = Span(last.text.rstrip(), last.style, None)
    return kept


def cut(content: Content, limit: int) -> tuple[Content, bool]:
    """``content`` shortened to at most ``limit`` visible characters where possible; True when it was cut.

    The cut falls at the last sentence end within the limit; when that would keep less than a third of it, at
    the last boundary between words, marked with "…". Only a first word or link longer than the whole limit
    makes the result longer than ``limit``: it is kept whole.
    """
    if len(plain_text(content)) <= limit:
        return content, False
    points = _cut_points(content)
    fitting = [p for p in points if 0 < p.offset <= limit]
    sentences = [p for p in fitting if p.sentence]
    if sentences and sentences[-1].offset >= limit * _MIN_SHARE:
        best = sentences[-1]
    elif fitting:
        best = fitting[-1]
    else:
        later = [p for p in points if p.offset > limit]
        if not later:
            return content, False
        best = later[0]
    kept = _take(content, best)
    if not best.sentence:
        kept.append(Span(ELLIPSIS))
    return tuple(kept), True


# keeping ---------------------------------------------------------------------------------------------------
def encode(content: Content) -> str:
    """The stored form of an intro: :data:`INTRO_MARK` and the subset :func:`sanitise_html` reads back."""
    if not content:
        return ""
    parts = [INTRO_MARK]
    for span in content:
        text = html.escape(span.text, quote=False).replace("\n", "<br>")
        if span.style is Style.BOLD:
            text = f"<b>{text}</b>"
        url = safe_url(span.url)
        if url:
            text = f'<a href="{html.escape(url, quote=True)}">{text}</a>'
        parts.append(text)
    return "".join(parts)


def decode(intro: str) -> Content:
    """The rich content of a stored intro (marked subset, or plain text for any other string)."""
    if intro.startswith(INTRO_MARK):
        return sanitise_html(intro[len(INTRO_MARK) :])
    return text_content(intro)


def make_intro(content: Content, limit: int | None) -> str:
    """Cut ``content`` to ``limit`` (None: keep it whole) and encode it for storage."""
    if limit is not None:
        content, _ = cut(content, limit)
    return encode(content)


def intro_from_html(markup: str, limit: int | None = DEFAULT_INTRO_LENGTH) -> str:
    return make_intro(sanitise_html(markup), limit)


def intro_from_text(text: str, limit: int | None = DEFAULT_INTRO_LENGTH) -> str:
    return make_intro(text_content(text), limit)


def intro_plain_text(intro: str) -> str:
    """A stored intro as plain text (links without their address), e.g. for listings."""
    return plain_text(decode(intro))
