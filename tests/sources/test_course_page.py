"""The sample course page: its 18 featured comments with likes, replies and dates; re-import; a broken page."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.lesson_files import LessonFileError
from bot.sources.course_page import CHANGED, SEGMENT_BYTES, parse_course_page
from bot.sources.files import import_source, read_source
from handlers.text.intro import intro_plain_text
from handlers.vocabulary.domain import Course, PostKind
from handlers.vocabulary.imported import ImportKeys, import_key
from storage import SqliteStore
from tests.handlers.test_classify import SAMPLE_VERDICTS
from tests.paths import SAMPLE_PAGE

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("UTC"))
SHANGHAI = ZoneInfo("Asia/Shanghai")

AUTHORS = [
    "6点无痛早起学习的和尚", "学要有所用", "Geek_fed398", "水木", "影子-dxb", "Geek_db92b2", "qwfys200", "陈东",
    "运维夜谈", "Monin", "AI悦创", "Vtamins", "Janeyzhan", "St.Peter", "Seachal", "碧咸", "Geek_e17388", "💫Vivian_",
]  # fmt: skip
LIKES = [3, 0, 5, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
REPLIES = [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 0, 0, 0, 0, 0]
DATES = [
    "2023-11-01", "2023-08-27", "2023-08-14", "2023-08-15", "2023-08-15", "2023-08-31", "2024-03-14", "2023-10-09",
    "2023-08-21", "2023-08-20", "2023-08-18", "2023-08-16", "2023-08-15", "2024-11-11", "2024-11-23", "2024-08-13",
    "2024-05-16", "2023-12-02",
]  # fmt: skip


def test_the_sample_page_parses_to_eighteen_comments_exactly() -> None:
    page = parse_course_page(SAMPLE_PAGE.read_text(encoding="utf-8"), SAMPLE_PAGE, "ai")
    assert page.declared == 18
    assert [c.author for c in page.comments] == AUTHORS
    assert [c.likes for c in page.comments] == LIKES
    assert [c.replies for c in page.comments] == REPLIES
    assert [c.day.isoformat() for c in page.comments] == DATES
    # Entities decoded: &#47; is a slash, and the trailing newline inside the <div> is gone.
    assert page.comments[0].text.startswith("很好奇，这门课和目前极客其他GPT/AI课的区别？")
    assert (
        page.comments[10].text
        == "老师您好，这个课程会讲这个么：https://img-blog.csdnimg.cn/4a1d9c3343dc4afa9531517db17d16c7.png"
    )
    assert page.draft.number == 0 and page.draft.slug == "course-page-lesson-00"


def test_the_sample_page_intro_is_cut_at_a_sentence_end() -> None:
    page = parse_course_page(SAMPLE_PAGE.read_text(encoding="utf-8"), SAMPLE_PAGE, "ai", intro_length=600)
    intro = intro_plain_text(page.draft.intro)
    assert intro.startswith("你好，我是Tyler。") and len(intro) <= 600 and intro.endswith("。")
    assert "精选留言" not in intro and "<" not in intro


def test_questions_and_comments_follow_the_live_rule_and_dates_are_midnight_in_the_course_zone() -> None:
    page = parse_course_page(SAMPLE_PAGE.read_text(encoding="utf-8"), SAMPLE_PAGE, "ai")
    posts = list(page.posts("Asia/Shanghai"))
    assert [p.kind is PostKind.QUESTION for p in posts] == SAMPLE_VERDICTS  # 9 questions, 9 comments
    assert posts[0].created_at == datetime(2023, 11, 1, 0, 0, tzinfo=SHANGHAI)
    assert len({p.key for p in posts}) == 18


async def _import(store: SqliteStore, path: Path) -> None:
    source = read_source(path, "ai")
    await import_source(store, source, NOW, language="zh")


def _rows(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as raw:
        return raw.execute(
            "SELECT m.display_name, q.kind, q.base_likes, q.base_replies, q.replies, q.group_id, q.message_id,"
            " q.created_at FROM questions q JOIN members m ON m.id = q.author_id ORDER BY q.id"
        ).fetchall()


async def test_import_stores_every_comment_and_reimport_updates_without_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    page = tmp_path / "lesson-00.txt"
    page.write_text(SAMPLE_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    async with await SqliteStore.open(db) as store:
        await store.upsert_course(Course("ai", "AI", timezone="Asia/Shanghai"), NOW)
        await _import(store, page)
        rows = _rows(db)
        assert [r[0] for r in rows] == AUTHORS
        assert [r[2] for r in rows] == LIKES and [r[3] for r in rows] == REPLIES
        assert all(r[5] is None and r[6] is None for r in rows)  # no group, no platform message
        # /top shows imported likes and replies.
        top = await store.top_questions("ai", 25)
        shown = {q.question.author.display_name: (q.question.total_likes, q.question.replies) for q in top}
        assert len(top) == 9 and top[0].question.author.display_name == "6点无痛早起学习的和尚"
        assert shown["6点无痛早起学习的和尚"] == (3, 1) and shown["Monin"] == (0, 2) and shown["Seachal"] == (0, 0)
        stats = await store.stats("ai")
        assert (stats.questions, stats.comments, stats.replies, stats.likes) == (9, 9, sum(REPLIES), sum(LIKES))

        # The page changes: one more like on the first comment, one more reply on the last. Import again.
        text = page.read_text(encoding="utf-8")
        text = text.replace("👍（3） 💬（1）", "👍（4） 💬（1）", 1)
        text = text.replace("<span>💫Vivian_</span> 👍（0） 💬（0）", "<span>💫Vivian_</span> 👍（0） 💬（1）")
        page.write_text(text, encoding="utf-8")
        source = read_source(page, "ai")
        done = await import_source(store, source, NOW, language="zh")
        assert (done.result.new, done.result.posts_added, done.result.posts_updated) == (False, 0, 2)
        rows = _rows(db)
        assert len(rows) == 18 and rows[0][2] == 4 and rows[-1][3] == 1
        assert len(await store.list_lessons("ai")) == 1


async def test_a_comment_edited_on_the_site_updates_its_post_instead_of_adding_a_copy(tmp_path: Path) -> None:
    """水木 writes two comments on 2023-08-15 here (the sample's Janeyzhan comment is given to them), so the
    edited one must be told from the other by more than its author and day."""
    db = tmp_path / "s.db"
    page = tmp_path / "lesson-00.txt"
    page.write_text(SAMPLE_PAGE.read_text(encoding="utf-8").replace("<span>Janeyzhan</span>", "<span>水木</span>"))
    async with await SqliteStore.open(db) as store:
        await store.upsert_course(Course("ai", "AI", timezone="Asia/Shanghai"), NOW)
        await _import(store, page)
        with sqlite3.connect(db) as raw:
            ids = dict(raw.execute("SELECT text, id FROM questions"))
        raw.close()
        edits = {  # the first one, a comment, becomes a question
            "一点基础都没有，担心听不懂": "一点基础都没有，担心听不懂，有入门资料推荐吗？",
            "学习AI技术需要的基础有哪些？作者能详细说说吗？": "学习AI技术需要哪些基础？",
        }
        text = page.read_text(encoding="utf-8")
        for old, edited in edits.items():
            text = text.replace(f"<div>{old}</div>", f"<div>{edited}</div>")
        page.write_text(text, encoding="utf-8")
        done = await import_source(store, read_source(page, "ai"), NOW, language="zh")
        assert (done.result.posts_added, done.result.posts_updated) == (0, 2)
        with sqlite3.connect(db) as raw:
            rows = {text: (qid, kind, edited) for qid, text, kind, edited in raw.execute(
                "SELECT id, text, kind, edited_at FROM questions"
            )}  # fmt: skip
        raw.close()
        assert len(rows) == 18
        for old, edited in edits.items():
            assert old not in rows and rows[edited][0] == ids[old] and rows[edited][2] is not None
        assert rows["一点基础都没有，担心听不懂，有入门资料推荐吗？"][1] == "question"
        assert rows["这张技能全景图很好，谢谢！"] == (
            ids["这张技能全景图很好，谢谢！"],
            "comment",
            None,
        )  # 水木's other one
        again = await import_source(store, read_source(page, "ai"), NOW, language="zh")
        assert (again.result.posts_added, again.result.posts_updated) == (0, 0)


async def test_a_broken_page_is_reported_with_file_and_line_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    good = tmp_path / "lesson-00.txt"
    good.write_text(SAMPLE_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    async with await SqliteStore.open(db) as store:
        await store.upsert_course(Course("ai", "AI"), NOW)
        await _import(store, good)
        before = _rows(db)
        broken_text = good.read_text(encoding="utf-8").replace("👍（5）", "👍（five）")
        good.write_text(broken_text, encoding="utf-8")
        with pytest.raises(LessonFileError) as raised:
            read_source(good, "ai")
        assert str(raised.value).startswith(f"{good}:13: comment 3: likes 'five' is not a whole number")
        # A page cut off in the middle of a comment.
        truncated = tmp_path / "lesson-01.txt"
        truncated.write_text(SAMPLE_PAGE.read_text(encoding="utf-8")[:-300], encoding="utf-8")
        with pytest.raises(LessonFileError, match=r"lesson-01.txt:14: comment 17 is not"):
            read_source(truncated, "ai")
        assert _rows(db) == before


async def test_an_import_that_fails_half_way_leaves_no_course_lesson_or_member_behind(tmp_path: Path) -> None:
    """The course of a first import is created in the lesson's transaction: an import killed or failing after
    some comments were written must not leave an empty course that /setup then offers."""
    db = tmp_path / "s.db"
    page = tmp_path / "lesson-00.txt"
    page.write_text(SAMPLE_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    async with await SqliteStore.open(db) as store:
        pass  # migrated
    with sqlite3.connect(db) as raw:  # the 10th comment fails, after nine were inserted
        raw.execute(
            "CREATE TRIGGER fail_half_way BEFORE INSERT ON questions"
            " WHEN (SELECT COUNT(*) FROM questions) = 9 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    raw.close()
    async with await SqliteStore.open(db) as store:
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            await import_source(store, read_source(page, "ai"), NOW, language="zh")
        assert await store.list_courses() == []
    with sqlite3.connect(db) as raw:
        counts = [
            raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ("lessons", "questions", "members")
        ]
    raw.close()
    assert counts == [0, 0, 0]


def test_a_byte_that_is_not_utf8_in_a_comment_is_named_by_its_offset_in_the_file(tmp_path: Path) -> None:
    data = SAMPLE_PAGE.read_bytes()
    at = data.index("期待后续的课程".encode())
    page = tmp_path / "lesson-00.txt"
    page.write_bytes(data[:at] + b"\xff" + data[at:])
    with pytest.raises(LessonFileError, match=rf"not UTF-8 text \(invalid start byte at byte {at}\)"):
        read_source(page, "ai")


def long_page(comments: int) -> str:
    """A page of one comment a line after a two-line head: comment n is on line n + 2."""
    items = [
        f"<li><span>learner{n}</span> 👍（{n % 7}） 💬（0）<div>第{n}条：为什么要这样做？ question {n}</div>"
        f"2024-05-{1 + n % 28:02d}</li>"
        for n in range(1, comments + 1)
    ]
    return f"开篇词\n<div><strong>精选留言（{comments}）</strong></div><ul>\n" + "\n".join(items) + "\n</ul>\n"


async def test_a_page_of_several_segments_is_read_back_from_its_file_comment_for_comment(tmp_path: Path) -> None:
    """A page larger than a segment (1 MB; 10,000 comments are 1.3 MB) is not kept in memory: its comments are
    read again from the file, a segment at a time, with the same numbers, lines and texts, and all are stored."""
    path = tmp_path / "lesson-07.txt"
    path.write_text(long_page(10_000), encoding="utf-8")
    page = read_source(path, "ai").page
    assert page is not None and page.from_file and page.data == b""
    assert len(page.segments) >= 2 and path.stat().st_size > SEGMENT_BYTES
    comments = page.comments
    assert len(comments) == page.count == 10_000
    assert [c.line for c in comments] == list(range(3, 10_003))
    assert [c.author for c in comments] == [f"learner{n}" for n in range(1, 10_001)]
    assert comments[-1].text == "第10000条：为什么要这样做？ question 10000"
    in_memory = parse_course_page(path.read_bytes(), path, "ai")
    assert in_memory.comments == comments and in_memory.segments == page.segments
    db = tmp_path / "s.db"
    async with await SqliteStore.open(db) as store:
        await store.upsert_course(Course("ai", "AI"), NOW)
        done = await import_source(store, read_source(path, "ai"), NOW, language="zh")
    assert done.result.posts_added == 10_000 and len(_rows(db)) == 10_000


@pytest.mark.parametrize("change", ["edited", "cut", "removed"])
async def test_a_page_changed_after_it_was_read_is_not_imported_and_changes_nothing(
    tmp_path: Path, change: str
) -> None:
    """Between reading a page and storing it, its file changed (a comment edited, the file cut short or
    removed): the import fails with a message that says so and what to do, and nothing is stored."""
    path = tmp_path / "lesson-07.txt"
    text = long_page(10_000)  # two segments: the cut one fails after the first one's comments were written
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "s.db"
    async with await SqliteStore.open(db) as store:
        await store.upsert_course(Course("ai", "AI"), NOW)
        source = read_source(path, "ai")
        if change == "edited":
            path.write_text(text.replace("第2条", "第2个"), encoding="utf-8")
        elif change == "cut":
            path.write_text(text[: len(text) * 9 // 10], encoding="utf-8")
        else:
            path.unlink()
        with pytest.raises(LessonFileError) as raised:
            await import_source(store, source, NOW, language="zh")
        assert await store.list_lessons("ai") == []
    expected = "cannot read: No such file or directory" if change == "removed" else CHANGED
    assert str(raised.value) == f"{path}: {expected}"
    assert _rows(db) == []


def test_a_pages_keys_are_its_comments_import_keys_packed(tmp_path: Path) -> None:
    """The keys a page holds for its import are exactly its comments' import keys (a comment listed twice is
    listed twice), packed 16 bytes a key; anything else is not among them."""
    path = tmp_path / "lesson-07.txt"
    text = long_page(300)
    twice = text.split("\n")[2]  # comment 1 again at the end
    path.write_text(text.replace("\n</ul>", f"\n{twice}\n</ul>"), encoding="utf-8")
    page = read_source(path, "ai").page
    assert page is not None
    expected = [page.key(c) for c in page.comments]
    assert len(expected) == 301 and expected[0] == expected[-1]
    assert list(page.keys) == expected and len(page.keys) == 301
    assert all(key in page.keys for key in expected)
    stranger = import_key("ai", "lesson-07", "nobody", "2024-05-01", "not on the page")
    assert stranger not in page.keys and expected[0][:31] not in page.keys and 42 not in page.keys
    shifted = expected[0][2:] + expected[1][:2]  # the bytes across two keys: not a key
    assert shifted not in page.keys
    with pytest.raises(ValueError, match="16 bytes each"):
        ImportKeys(b"\x00" * 17)


async def test_a_page_read_from_a_pipe_is_kept_in_memory_and_imported_whole(tmp_path: Path) -> None:
    """A pipe (``lesson add /dev/stdin``, a shell's process substitution) cannot be read twice: its page is
    kept in memory, and every comment is stored."""
    fifo = tmp_path / "lesson-07.txt"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=(long_page(10_000),), kwargs={"encoding": "utf-8"})
    writer.start()
    source = read_source(fifo, "ai")
    writer.join()
    assert source.page is not None and not source.page.from_file and len(source.page.segments) >= 2
    db = tmp_path / "s.db"
    async with await SqliteStore.open(db) as store:
        await store.upsert_course(Course("ai", "AI"), NOW)
        done = await import_source(store, source, NOW, language="zh")
    assert done.result.posts_added == 10_000 and len(_rows(db)) == 10_000
