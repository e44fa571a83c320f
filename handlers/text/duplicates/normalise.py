"""What does not change a question's meaning, taken out of its text: one normalisation for the question rule
(:mod:`handlers.text.classify`) and the duplicate detector.

Why these steps: learners on the same course write the same words in different forms. Full-width ``ＣＵＤＡ``
and ``CUDA``, traditional ``為什麼`` and simplified ``为什么``, ``vLLM`` and ``vllm`` are one spelling to a
reader; a link, an @mention, an emoji or a "请问，大家好" says nothing about what is asked. :func:`canonical`
removes the differences of form and keeps punctuation (the question rule needs ``?``); :func:`normalise`
also drops punctuation and greeting filler, and is what the detector compares and stores.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import cache, lru_cache
from typing import Protocol

logger = logging.getLogger(__name__)

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Discord mentions and custom emoji (<@123>, <#123>, <:name:123>), then @name mentions as chat apps write them.
_MARKUP = re.compile(r"<(?:@[!&]?|#)\d+>|<a?:\w+:\d+>")
_MENTION = re.compile(r"(?<![\w.])@\w[\w.-]*")
# Characters that carry no words: symbols (emoji are So), modifiers, format and private-use characters.
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cf", "Co", "Cs", "Cn"})
_SPACES = re.compile(r"\s+")
# Punctuation and symbols between words; a dot or comma between digits stays ("3.10" is a version).
_PUNCTUATION = re.compile(r"(?<!\d)[.,](?!\d)|[^\w\s.,]|(?<=\d)[.,](?!\d)|(?<!\d)[.,](?=\d)|_")

# Greetings and filler around a question, removed as whole phrases (longest first). Chinese is matched anywhere,
# English only as whole words.
_ZH_FILLER = (
    "大家好",
    "各位好",
    "老师好",
    "你们好",
    "您好",
    "你好",
    "请问一下",
    "请问",
    "想问一下",
    "想问下",
    "问一下",
    "问下",
    "请教一下",
    "请教",
    "求助",
    "求教",
    "有人知道",
    "有没有人知道",
    "谢谢",
    "感谢",
    "各位",
    "大佬们",
    "大佬",
    "老师",
    "同学们",
)
_EN_FILLER = (
    "does anyone know",
    "does anybody know",
    "anyone know",
    "anybody know",
    "hi all",
    "hello all",
    "hi everyone",
    "hello everyone",
    "hey everyone",
    "hey all",
    "hi guys",
    "hey guys",
    "hello",
    "hi",
    "hey",
    "quick question",
    "thanks in advance",
    "thank you",
    "thanks",
    "please",
    "pls",
    "plz",
    "sorry",
)
_FILLER = re.compile(
    "|".join(sorted(_ZH_FILLER, key=len, reverse=True))
    + "|"
    + r"\b(?:"
    + "|".join(re.escape(p) for p in sorted(_EN_FILLER, key=len, reverse=True))
    + r")\b"
)


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _to_simplified() -> _Converter:
    """OpenCC's traditional→simplified converter, built once per process on first use (its dictionaries take
    ~15 ms to load, which ``studybot --help`` should not pay)."""
    import opencc  # loaded on first use, see above

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text)


@lru_cache(maxsize=4096)
def canonical(text: str) -> str:
    """``text`` in one form: NFKC (full-width → half-width), simplified characters, case folded, without links,
    mentions, emoji and invisible characters; punctuation kept. Spaces collapsed.

    Cached for the last few thousand texts: the question rule reads a message first and the detector again
    when it is stored as a question (an import classifies a chunk of 2,000 comments, then places its questions).
    """
    text = unicodedata.normalize("NFKC", text)
    text = _LINK.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    text = _MENTION.sub(" ", text)
    if _has_cjk(text):
        text = _to_simplified().convert(text)
    text = text.casefold()
    text = "".join(" " if unicodedata.category(char) in _DROPPED_CATEGORIES else char for char in text)
    return _SPACES.sub(" ", text).strip()


def normalise(text: str) -> str:
    """The text the detector compares: :func:`canonical`, then punctuation and greeting filler removed.

    Words are kept in order and separated by single spaces; Chinese stays as written (no segmentation here)."""
    text = _PUNCTUATION.sub(" ", canonical(text))
    text = _FILLER.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
