"""The question/comment rule on real learner comments (the sample course page) and on English."""

from __future__ import annotations

import html
import re

import pytest

from handlers.text.classify import classify, is_question
from handlers.vocabulary.domain import PostKind
from tests.paths import SAMPLE_PAGE


def sample_comments() -> list[str]:
    page = SAMPLE_PAGE.read_text(encoding="utf-8")
    return [html.unescape(m.group(1)) for m in re.finditer(r"<div>(.*?)</div>\d{4}-", page, re.S)]


# What a person reading the sample page calls each of its 18 featured comments, in page order.
SAMPLE_VERDICTS = [
    True,  # 很好奇，这门课和……的区别？
    True,  # 学习AI技术需要的基础有哪些？
    False,  # 期待后续的课程！感谢讲解
    False,  # 这张技能全景图很好，谢谢！
    False,  # 加油，一起学习
    False,  # 期待
    True,  # 有没有办法给大模型喂自己的数据……？
    False,  # 一步一个脚印学习。
    True,  # 后续能否出一个完整的AI学习路径
    True,  # 是熟悉LangChain……还是深度学习……？
    True,  # 这个课程会讲这个么：<link>
    False,  # 期待能够学有所得，快更新
    False,  # 一点基础都没有，担心听不懂
    False,  # 一起努力
    True,  # AI系统难学吗？
    False,  # tag
    True,  # 您对我的选择有什么建议吗？
    True,  # 老师后面你还会有新课吗？
]


def test_sample_page_has_eighteen_comments() -> None:
    assert len(sample_comments()) == 18


@pytest.mark.parametrize(("index", "expected"), list(enumerate(SAMPLE_VERDICTS)))
def test_sample_comment_is_classified_like_a_reader_would(index: int, expected: bool) -> None:
    text = sample_comments()[index]
    assert is_question(text) is expected, text


@pytest.mark.parametrize(
    "text",
    [
        "How do I install CUDA",
        "What is a parameter server",
        "why is my loss NaN",
        "Can we get the slides",
        "Does this work on a Mac",
        "Great lesson. Could you share the notebook",
        "I wonder whether FP8 training is stable",
        "Is there a recording?",
        "这个怎么部署",
        "为什么要用混合精度",
        "可以讲讲推理优化吗",
        "作业什么时候交呢",
        "能否补充一下参考资料",
    ],
)
def test_questions(text: str) -> None:
    assert classify(text) is PostKind.QUESTION


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "Great lesson, thank you.",
        "This is what I needed.",
        "Looking forward to the next one",
        "期待更新",
        "没什么问题，谢谢老师",
        "打卡",
        "吗啡不是药",  # 吗 that is not a particle
        "https://example.com/what?x=1",  # a link's question mark is not a question
        "",
        "   ",
    ],
)
def test_comments(text: str) -> None:
    assert classify(text) is PostKind.COMMENT


@pytest.mark.parametrize(
    "text",
    [
        # traditional characters, with and without a question mark
        "這個課程難嗎",
        "作業什麼時候交",
        "模型怎麼部署",
        "為什麼要用混合精度",
        "這個可以在 Windows 上跑嗎？",
        # casual forms
        "这个咋装",
        "咋回事，loss 一直是 nan",
        "这是啥",
        "作业几号截止",
        "直播几点开始",
        "7B 模型要多少显存",
        "为啥训练这么慢",
        "do u need a gpu for the labs",
        "anyone know how to install flash-attn",
        "hi all, anyone know where the slides are",
        "any ideas why my loss is nan",
        # full-width and emoji do not hide a question
        "ＣＵＤＡ装不上怎么办😭",
        "这个课有回放吗🙏",
    ],
)
def test_questions_as_learners_write_them(text: str) -> None:
    assert classify(text) is PostKind.QUESTION, text


@pytest.mark.parametrize(
    "text",
    [
        "啥都不会，从头学起",
        "没啥问题，谢谢老师",
        "这课讲得不咋样",
        "今天学到了很多",
        "謝謝老師，講得很清楚",
        "期待後續更新",
        "作业交了",
        "thank u so much",
        "I know how to install it now, thanks",
        "see u next week",
        "@teacher 👍",
    ],
)
def test_statements_stay_statements(text: str) -> None:
    assert classify(text) is PostKind.COMMENT, text
