"""Tell a question from a plain comment, in Chinese and English.

Learners rarely write textbook questions: "这个课程会讲这个么：<link>" has no question mark and "AI系统难学吗"
ends without one. So the rule looks for what marks a question in each language: question marks (？ and ?),
Chinese interrogative words and sentence-final particles, and English sentences that open with an
interrogative or an inverted auxiliary. Anything else ("期待更新", "thanks!") is a comment: still kept, shown
apart from questions.

The rule reads the text as learners write it (issue 12): it sees the text through the duplicate detector's
normalisation (:func:`handlers.text.duplicates.canonical`), so traditional characters (嗎, 什麼, 為什麼), full-width
forms and emoji change nothing, and casual forms count as question words (咋, 啥, 几号, "do u", "anyone know").
"""

from __future__ import annotations

import re

from handlers.text.duplicates.normalise import canonical
from handlers.vocabulary.domain import PostKind

# Words that make a Chinese sentence a question wherever they stand.
_ZH_INTERROGATIVES = (
    "什么",
    "怎么",
    "怎样",
    "如何",
    "为什么",
    "为何",
    "能否",
    "是否",
    "可否",
    "有没有",
    "是不是",
    "能不能",
    "会不会",
    "可不可以",
    "要不要",
    "哪些",
    "哪个",
    "哪里",
    "哪儿",
    "多少",
    "几个",
    "请问",
    "求问",
    "难道",
    # casual forms
    "咋",
    "啥",
    "几号",
    "几点",
    "几时",
    "多久",
    "哪天",
    "为啥",
)
# Sentence-final particles: a question only when they end a clause ("好吗" yes, "吗啡" no).
_ZH_PARTICLES = re.compile(r"[吗嘛么呢][\s，,。.：:！!~～…]*(?=$|[\s，,。.：:！!])")
# "没什么" (nothing much), "要么" (either), "啥都不会" (can't do anything), "不咋样" (not great) are not questions.
_ZH_NOT_QUESTIONS = re.compile(r"没什么|没有什么|不怎么|要么|什么都|怎么都|多少有点|没啥|啥都|啥也|不咋")

_EN_OPENERS = (
    "how",
    "what",
    "why",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "whose",
    "can",
    "could",
    "would",
    "will",
    "should",
    "shall",
    "do",
    "does",
    "did",
    "is",
    "are",
    "was",
    "were",
    "am",
    "may",
    "might",
    "has",
    "have",
    "any",
    "anyone",
    "anybody",
    "isn't",
    "aren't",
    "don't",
    "doesn't",
    "can't",
    "won't",
    "wondering",
)
_EN_PHRASES = re.compile(
    r"\b(i wonder|i'm wondering|i am wondering|wondering (if|whether|how|why|what)|please explain"
    r"|could you|can you|would you|can someone|can anyone|does anyone|is it possible|is there"
    r"|anyone know|anybody know|any ideas?|any tips|do u|can u|could u|r u)\b",
    re.IGNORECASE,
)
_SENTENCE_SPLIT = re.compile(r"[.!。！\n;；]+")
_WORD = re.compile(r"[a-z']+")


def is_question(text: str) -> bool:
    """True when ``text`` reads as a question in Chinese or English."""
    body = canonical(text)  # links, mentions and emoji out; simplified, half-width (？ → ?), case folded
    if not body:
        return False
    if "?" in body:
        return True
    stripped_zh = _ZH_NOT_QUESTIONS.sub("", body)
    if any(word in stripped_zh for word in _ZH_INTERROGATIVES):
        return True
    if _ZH_PARTICLES.search(stripped_zh):
        return True
    if _EN_PHRASES.search(body):
        return True
    for sentence in _SENTENCE_SPLIT.split(body):
        first = _WORD.search(sentence)
        if first and first.start() <= 2 and first.group() in _EN_OPENERS:
            return True
    return False


def classify(text: str) -> PostKind:
    return PostKind.QUESTION if is_question(text) else PostKind.COMMENT
