"""Searches of one or two characters (migration 0015): the index of characters and pairs finds exactly the
questions whose text holds the query, as ``LIKE`` does (ASCII case folded), in Chinese and English; a deleted
question is never found, an edited one only by its new text; and an older database gets the index filled once.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from storage import upgrade_database
from storage.connection import connect_raw
from storage.schema import _apply, load_migrations
from storage.web_reads import WebFilter
from tests.web.conftest import COURSE, WebSetup

MORE = {
    "homework": "AI 作业什么时候交？",
    "english": "How is the ai homework graded?",
    "memory": "显存和内存有什么区别",
    "percent": "Is 100% of the grade the exam_final?",
}


# The three ways a search's hits are ranked (storage/web_reads.py), chosen by how many there are; a small course
# is sent down each by the store's thresholds (fewer than the first: read each hit; fewer than the second: walk the
# ranking testing ids; else walk it testing texts). Each must find the same questions.
PATHS = {"read each hit": (2_000, 10_000), "walk, testing ids": (0, 10_000), "walk, testing texts": (0, 0)}


@pytest.fixture(params=list(PATHS))
def searched(request: pytest.FixtureRequest, web: WebSetup) -> WebSetup:
    store = web.h.app.store
    store.sparse_hits, store.dense_hits = PATHS[request.param]
    return web


async def found(web: WebSetup, query: str, **filters: object) -> set[int]:
    shown, _ = await web.h.app.store.web_questions(WebFilter(COURSE, query=query, **filters))  # type: ignore[arg-type]
    return {q.id for q in shown}


async def ask_more(web: WebSetup) -> dict[str, int]:
    post = web.h.lesson_post("Why learn AI systems")
    for user, text in zip(("erin", "frank", "grace", "heidi"), MORE.values(), strict=True):
        await web.h.say(user, text, reply_to=post)
    shown, _ = await web.h.app.store.web_questions(WebFilter(COURSE))
    ids = {key: next(q.id for q in shown if q.text == text) for key, text in MORE.items()}
    return {**web.questions, **ids}


def folded(text: str) -> str:
    """LIKE's folding: ASCII letters only."""
    return "".join(c.lower() if c.isascii() else c for c in text)


async def test_every_short_query_finds_exactly_the_questions_that_hold_it(searched: WebSetup) -> None:
    web = searched
    ids = await ask_more(web)
    shown, _ = await web.h.app.store.web_questions(WebFilter(COURSE))
    texts = {q.id: q.text for q in shown}
    assert set(ids.values()) <= set(texts) and all(q.copies == 1 for q in shown)
    queries = {text[i : i + n] for text in texts.values() for n in (1, 2) for i in range(len(text) - n + 1)}
    queries = {q for q in queries if q.strip() == q and q}  # the page strips the query
    queries |= {"龘", "zq", "GPU"[:2], "Ai", "aI", "%", "_", "\\", '"', "''"}
    for query in sorted(queries):
        expected = {qid for qid, text in texts.items() if folded(query) in folded(text)}
        assert await found(web, query) == expected, query
    week = web.h.clock.now() - timedelta(days=7)
    for query in ("AI", "显", "?", "？", "s"):
        expected = {qid for qid, text in texts.items() if folded(query) in folded(text)}
        assert await found(web, query, since=week) == expected, query
        assert await found(web, query, state="answered") == set(), query


async def test_short_queries_in_chinese_and_english(searched: WebSetup) -> None:
    web = searched
    ids = await ask_more(web)
    assert await found(web, "作业") == {ids["homework"]}
    assert await found(web, "显存") == {ids["short"], ids["memory"]}
    assert await found(web, "存") == {ids["short"], ids["memory"]}
    assert await found(web, "AI") == {ids["homework"], ids["english"]}  # ASCII case folded, as LIKE does
    assert await found(web, "？") == {ids["zh"], ids["homework"]}  # the full-width mark, not "?"
    assert await found(web, "%") == {ids["percent"]}  # LIKE's wildcards are text
    assert await found(web, "_f") == {ids["percent"]}
    assert await found(web, "的") == set()
    # With the page's filters: open only, and answered.
    assert await found(web, "AI", state="open") == {ids["homework"], ids["english"]}
    assert await found(web, "AI", state="answered") == set()
    # Over HTTP, as a person searches.
    response = await web.client.get(web.login_link(), allow_redirects=False)
    assert response.status == 303
    page = await (await web.client.get(f"/c/{COURSE}", params={"q": "作业"})).text()
    assert "AI 作业什么时候交" in page and "显存" not in page


async def test_a_deleted_question_is_never_found_and_an_edited_one_by_its_new_text_only(searched: WebSetup) -> None:
    web = searched
    ids = await ask_more(web)
    h = web.h
    post = h.lesson_post("Why learn AI systems")
    doomed = await h.say("ivan", "龙芯能跑吗", reply_to=post)
    edited = await h.say("judy", "What about TPU v4?", reply_to=post)
    assert len(await found(web, "龙芯")) == 1 and len(await found(web, "v4")) == 1
    await h.delete("ivan", doomed)
    assert await found(web, "龙芯") == set() and await found(web, "芯") == set()
    await h.edit("judy", edited, "什么是昇腾 NPU？")
    (judy,) = await found(web, "昇腾")
    assert await found(web, "v4") == set() and await found(web, "4?") == set()
    assert await found(web, "昇") == {judy} and await found(web, "np") == {judy}
    assert ids["gpu"] not in await found(web, "昇")


async def test_a_deleted_wording_brings_no_cluster(searched: WebSetup) -> None:
    web = searched
    h = web.h
    post = h.lesson_post("Why learn AI systems")
    await h.say("ivan", "量子计算要学吗", reply_to=post)
    second = await h.say("judy", "需要学习量子计算吗，考不考", reply_to=post)
    shown, _ = await h.app.store.web_questions(WebFilter(COURSE, query="量子"))
    ids = sorted(q.id for q in shown)
    if len(ids) == 2:  # the detector kept them apart: merge them as an instructor would
        assert "merged" in (await h.command("tyler", f"/merge {ids[0]} {ids[1]}")).lower()
    (head,) = await found(web, "量子")
    assert await found(web, "考") == {head}  # found by the other wording, shown once through the first
    await h.delete("judy", second)
    assert await found(web, "考") == set()
    assert await found(web, "量子") == {head}


async def test_an_older_database_gets_the_index_filled_once_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = await connect_raw(path)
    try:
        for migration in load_migrations()[:14]:  # the schema before the index of characters and pairs
            await _apply(conn, migration, str(path))
        await conn.execute(
            "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
            " VALUES (?, 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)",
            (COURSE,),
        )
        await conn.execute(
            "INSERT INTO lessons (id, course_slug, slug, title, created_at) VALUES (1, ?, 'i', 'I', 0)", (COURSE,)
        )
        await conn.execute("INSERT INTO members (id, platform, user_id, display_name) VALUES (1, 't', '1', 'A')")
        for number, text in enumerate(["AI 作业", "显存不够", "Why AI?", ""], start=1):
            await conn.execute(
                "INSERT INTO questions (id, lesson_id, course_slug, author_id, kind, text, created_at)"
                " VALUES (?, 1, ?, 1, 'question', ?, ?)",
                (number, COURSE, text, number),
            )
        await conn.commit()
    finally:
        await conn.close()
    assert await upgrade_database(path) == (14, len(load_migrations()))

    def hits(query: str) -> set[int]:
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT rowid FROM question_grams_fts WHERE question_grams_fts MATCH '\"' || hex(lower(?)) || '\"'",
                (query,),
            ).fetchall()
        return {r[0] for r in rows}

    assert hits("ai") == {1, 3} and hits("作业") == {1} and hits("存") == {2} and hits("?") == {3}
    assert hits("I ") == {1} and hits("i?") == {3} and hits("x") == set()
    await upgrade_database(path)
    assert hits("ai") == {1, 3}  # filled once: no duplicates from a second run
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO question_grams_fts (question_grams_fts) VALUES ('integrity-check')")
