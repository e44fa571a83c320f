"""What the detector compares in a normalised question: its content terms, and the "contrast" marks that keep
same-topic-but-different questions apart.

Why two parts: overlap of wording finds rewordings ("LoRA 和全量微调有什么区别" / "lora微调和全量微调区别是啥")
but cannot see that one changed word changes the question: "作业什么时候交" and "作业在哪里交" share almost all
their characters. So the words that carry such a difference (the kind of question asked, the operating system,
the framework, training or inference, the numbers) are read out into :class:`Marks`, and two questions whose
marks of one kind differ are never merged, however alike the rest.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from handlers.text.duplicates.first_chars import WORD_START, Alternation, with_first_chars
from handlers.text.duplicates.lexicon import (
    ASKS,
    ASPECTS,
    EN_STOP,
    FACTS,
    GENERIC,
    GLOSSARY,
    KINDS,
    ZH_STOP,
)

# "区别在哪" asks what the difference is, not where; "快在哪" and "好在哪" ask why it is faster or better.
_WHERE_NOT_A_PLACE = re.compile(r"(?<=区别|差别|不同|差异|难点|好处)在哪(?:里|儿)?|(?<=[难差])在哪(?:里|儿)?")
_WHERE_IT_GAINS = re.compile(r"(?<=[好强快])在哪(?:里|儿)?")
# Asking what something is or how it goes: one kind, tested after the others have taken their words
# ("什么时候" is *when*, "how many" is *amount*).
_EXPLAIN = re.compile(r"什么|啥|怎么|怎样|如何|咋|\bwhat\b|\bhow\b")

_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# Chinese ordinals and counted course units: 第三讲, 第十二章, 四讲; bits (量化成四位) and months (三月).
_ZH_NUMBER = re.compile(r"(?<=第)[零一二两三四五六七八九十]+|[零一二两三四五六七八九十]+(?=[讲章节课周期位月]|比特)")
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_COMPOUND = re.compile(r"(?<=[a-z])(?=attention\b)")
# What joins two names as a pair, whose order says nothing.
_PAIRED = re.compile(r"\s*(?:和|与|跟|及|以及|、|/|还是|或|或者|and|or|vs\.?|versus|&|,)?\s*")
# A conversion or a change between two named things, and its direction: "convert a hf model to gguf", "from the
# monthly plan to annual", "safetensors 转成 gguf". Two questions naming the same two the other way round differ.
_DETERMINER = r"(?:(?:a|an|the|my|our|this|that|your)\s+)?"
_DIRECTIONS = (
    re.compile(
        rf"\b(?:convert(?:ing|ed|s)?|from)\s+{_DETERMINER}([a-z][a-z0-9]*)(?:\s+[a-z]+)?\s+(?:back\s+)?(?:to|into)\s+"
        rf"{_DETERMINER}([a-z][a-z0-9]*)"
    ),
    re.compile(
        r"([a-z][a-z0-9]*)\s*(?:模型|文件|格式|权重)?\s*(?:怎么|如何)?\s*(?:转换|转|导出|换)(?:回|成|为|到)+\s*([a-z][a-z0-9]*)"
    ),
)
_SPLIT_NUMBERS = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")


@dataclass(frozen=True, slots=True)
class Marks:
    """The contrast marks of one question; see the module's docstring."""

    asks: frozenset[str]  # when, where, why, amount, which, who, whether, explain
    things: frozenset[tuple[str, str]]  # (kind, name)
    numbers: frozenset[str]
    directions: frozenset[tuple[str, str]] = frozenset()  # (from, to) of a conversion or a change of plan
    sequences: frozenset[tuple[str, tuple[str, ...]]] = frozenset()  # (kind, its names in order), not as a pair

    def conflicts_with(self, other: Marks) -> bool:
        """True when the two questions differ in a mark both of them carry."""
        if self.asks and other.asks and self.asks & FACTS != other.asks & FACTS:
            return True
        if any((to, source) in other.directions for source, to in self.directions):
            return True  # the same two things, the other way round: HF to GGUF is not GGUF back to HF
        for kind, order in self.sequences:
            if any(k == kind and o != order and set(o) == set(order) for k, o in other.sequences):
                return True  # "训练时够用，推理时爆显存" / "推理时够用，训练时爆显存": what holds where, swapped
        if self.numbers and other.numbers and self.numbers != other.numbers:
            return True
        for kind in KINDS:
            mine = {name for k, name in self.things if k == kind}
            theirs = {name for k, name in other.things if k == kind}
            if mine and theirs and mine != theirs:
                return True
        return False


def _at_word_start(pattern: str) -> re.Pattern[str]:
    """``pattern`` tried only where a Latin word or a number begins, or at a Chinese character: the same
    matches for the alternations here (whose Latin alternatives all begin a word), two to three times faster,
    as most positions in a text are then passed over at once. And only at a character that can begin a match
    (see :mod:`.first_chars`), which passes over most of the rest."""
    return re.compile(with_first_chars(rf"{WORD_START}(?:{pattern})"))


# Each of these reads a text in one pass (named groups say what matched), in the order of the lexicon's dicts: where
# two kinds could take the same words, the earlier takes them ("什么时候" is *when*, not *explain*).
_ASK_ANY = _at_word_start(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in ASKS.items()) + f"|(?P<explain>{_EXPLAIN.pattern})"
)
_THING_ANY = Alternation(
    [f"(?P<{kind}__{name}>{pattern})" for kind, names in KINDS.items() for name, pattern in names.items()]
)


def _zh_number(text: str) -> str:
    """A Chinese numeral up to 99 as digits: 三 → 3, 十二 → 12, 二十 → 20."""
    if "十" not in text:
        return "".join(str(_ZH_DIGITS[char]) for char in text)
    tens, _, ones = text.partition("十")
    return str((_ZH_DIGITS.get(tens, 1) if tens else 1) * 10 + (_ZH_DIGITS.get(ones, 0) if ones else 0))


def with_arabic_numbers(normalised: str) -> str:
    """Course units counted in Chinese numerals written in digits (第三讲 → 第3讲), so both spellings agree; and
    the attention family written as one word split as learners also write it (flashattention → flash attention)."""
    return _COMPOUND.sub(" ", _ZH_NUMBER.sub(lambda m: _zh_number(m.group()), normalised))


def marks(normalised: str) -> Marks:
    """The contrast marks read from a normalised question (see :func:`handlers.text.duplicates.normalise.normalise`)."""
    text = with_arabic_numbers(normalised)
    asks = _asks(text)
    found = [(m, *_kind_and_name(m.lastgroup)) for m in _THING_ANY.finditer(text) if m.lastgroup]
    things = frozenset((kind, name) for _, kind, name in found)
    spaced = _SPLIT_NUMBERS.sub(" ", text)  # fp16 → fp 16, 7b → 7 b
    directions = frozenset((m[1], m[2]) for pattern in _DIRECTIONS for m in pattern.finditer(text) if m[1] != m[2])
    return Marks(asks, things, frozenset(_NUMBER.findall(spaced)), directions, _sequences(text, found))


def asks(normalised: str) -> frozenset[str]:
    """The kinds of question a normalised question asks (its marks' ``asks``), without reading the other marks:
    what a question's index keys need of them (a third of the time of all its marks)."""
    return _asks(with_arabic_numbers(normalised))


def _asks(text: str) -> frozenset[str]:
    asked = _WHERE_IT_GAINS.sub("为什么", _WHERE_NOT_A_PLACE.sub("是什么", text))
    return frozenset(m.lastgroup for m in _ASK_ANY.finditer(asked) if m.lastgroup)


def _kind_and_name(group: str) -> tuple[str, str]:
    kind, _, name = group.partition("__")
    return kind, name


def _sequences(text: str, found: list[tuple[re.Match[str], str, str]]) -> frozenset[tuple[str, tuple[str, ...]]]:
    """Per kind named two or more times, its names in the order first named; not a kind whose names come as a
    pair ("训练和推理", "training or inference", "PyTorch vs JAX"), where the order says nothing."""
    by_kind: dict[str, list[tuple[re.Match[str], str]]] = {}
    for match, kind, name in found:
        named = by_kind.setdefault(kind, [])
        if all(name != n for _, n in named):
            named.append((match, name))
    sequences = []
    for kind, named in by_kind.items():
        if len(named) < 2:
            continue
        if any(_PAIRED.fullmatch(text[a.end() : b.start()]) for (a, _), (b, _) in itertools.pairwise(named)):
            continue
        sequences.append((kind, tuple(name for _, name in named)))
    return frozenset(sequences)


_GLOSSARY_PATTERN = Alternation([f"(?P<g{i}>{p})" for i, p in enumerate(GLOSSARY.values())])
_GLOSSARY_TERMS = list(GLOSSARY)

_ZH_STOP = _at_word_start("|".join(sorted(ZH_STOP.split("|"), key=len, reverse=True)))  # longest first
# The generic words written in Chinese, found as whole words: Chinese is otherwise split into characters, where
# "报错" would be two subjects (报, 错) rather than one word any question may use.
_ZH_GENERIC = re.compile("|".join(sorted((w for w in GENERIC if w >= "\u3400"), key=len, reverse=True)))
_EN_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")


# "without merging them", "instead of merging": the word a question excludes is another term than the word it
# names ("merge the LoRA weights" / "load them without merging"), so a question that excludes what the other one
# does is not inside it.
_WITHOUT = re.compile(r"\b(?:without|instead of) (?:(?:a|an|the|any|my|our|your|them|it) )*([a-z]{3,})\b")
_EXCLUDED = "!"  # marks the term of a word a question excludes


# A consonant doubled before -ing or -ed (runn-ing, padd-ed), undoubled as English spelling doubles it; l, s and z
# stay doubled (install-ing, pass-ed, buzz-ing), as they are in the word itself.
_DOUBLED = re.compile(r"([b-df-hj-km-np-rtv-y])\1$")


def _stem(word: str) -> str:
    """A light English stem so that plurals and -ing forms meet (installs/installing → install), and a verb's
    final e goes as it goes before -ing (merge/merging → merg)."""
    for suffix in ("ings", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            stem = word[: -len(suffix)]
            if suffix in ("ings", "ing", "ed") and _DOUBLED.search(stem):
                return stem[:-1]  # running/run, padded/pad, debugging/debug (but installing/install)
            return stem
    if len(word) == 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]  # runs, labs, docs
    if len(word) > 4 and word.endswith("e") and word not in GENERIC:  # weighed as written ("course")
        return word[:-1]
    return word


def _content_stem(word: str) -> str:
    """The stem of an English word that says what is asked, or "" for one that says how ("getting" is "get")."""
    if word in EN_STOP:
        return ""
    stem = _stem(word)
    return "" if stem in EN_STOP else stem


def weight(term: str) -> float:
    """How much a shared term says that two questions ask the same: a subject counts fully, an aspect of one
    ("区别", "安装") or a word any question may use ("报错", "course") counts for less."""
    if term in ASPECTS or term in GENERIC:
        return 0.4
    return 0.5 if len(term) == 1 and term >= "\u3400" else 1.0  # a Chinese word is about two characters


_MARKED_KINDS = ("os", "framework", "device")
_NAMED_KINDS = _at_word_start("|".join(p for kind in _MARKED_KINDS for p in KINDS[kind].values()))
_NAMED_BY_KIND = {kind: _at_word_start("|".join(KINDS[kind].values())) for kind in _MARKED_KINDS}


@lru_cache(maxsize=4096)
def mark_kind(term: str) -> str | None:
    """The kind of mark a term is, when :class:`Marks` compares it already: "number", or a system, framework
    or device name (as a term, a stem: "window"), with its synonyms ("win11" is "windows"). None otherwise."""
    if term.isdigit():
        return "number"
    for kind, pattern in _NAMED_BY_KIND.items():
        if any(pattern.fullmatch(word) for word in (term, term + "s", term + "e")):
            return kind
    return None


def names(normalised: str) -> frozenset[str]:
    """The Latin-letter words in a question written in Chinese: there they are names (vllm, fsdp, nccl)."""
    if not _CJK_RUN.search(normalised):
        return frozenset()
    text = _SPLIT_NUMBERS.sub(" ", _GLOSSARY_PATTERN.sub(" ", with_arabic_numbers(normalised)))  # zero3 is zero 3
    text = _NAMED_KINDS.sub(" ", text)  # systems and frameworks are compared as marks, with their synonyms
    return frozenset(w for w in re.findall(r"[a-z][a-z0-9]+", text) if w not in EN_STOP and w not in GENERIC)


def english_words(normalised: str) -> frozenset[str]:
    """The stems of a question's English words as written, glossary words included: a typo is compared with
    these, since a word the glossary takes ("tokenizer" is 分词器) may be mistyped on the other side."""
    words = _EN_WORD.findall(_WITHOUT.sub(" ", normalised))  # an excluded word is not written as it is
    return frozenset(stem for stem in map(_content_stem, words) if stem)


def terms(normalised: str) -> frozenset[str]:
    """The content terms of a normalised question: glossary terms, English word stems and numbers, and the
    characters of its Chinese. Characters, not bigrams or segmented words: a rewording in Chinese keeps the
    key characters but rarely their neighbours ("作业什么时候交" / "作业啥时候提交"), and a segmenter (jieba)
    would add a dictionary load of a second to the first question."""
    text = with_arabic_numbers(normalised)
    found: set[str] = set()

    def glossary(match: re.Match[str]) -> str:
        found.add(_GLOSSARY_TERMS[int(match.lastgroup[1:]) if match.lastgroup else 0])
        return " "

    text = _GLOSSARY_PATTERN.sub(glossary, text)

    def excluded(match: re.Match[str]) -> str:
        found.add(_EXCLUDED + _stem(match.group(1)))
        return " "

    text = _WITHOUT.sub(excluded, text)
    text = _ZH_STOP.sub(" ", text)

    def generic(match: re.Match[str]) -> str:
        found.add(match.group())
        return " "

    text = _ZH_GENERIC.sub(generic, text)
    found.update(stem for stem in map(_content_stem, _EN_WORD.findall(text)) if stem)
    for run in _CJK_RUN.findall(text):
        found.update(run)
    return frozenset(found)
