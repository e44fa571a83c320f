"""Clusters of near-duplicate questions (issue 12) on a real SQLite file: placement when a question is stored
(live and imported), rankings by cluster with distinct likers, manual merges and splits that outlive
re-clustering and restarts, and an existing database clustered once on upgrade."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from handlers.ports.clusters import DupesMode
from handlers.text.duplicates import fingerprint
from handlers.vocabulary.domain import ChatRef, Course, LessonDraft, Member, MessageRef, NewPost, PostKind, PostWindow
from handlers.vocabulary.imported import ImportedPost
from storage import SqliteStore, upgrade_database
from storage.candidates import MAX_CANDIDATES, MAX_POSTINGS
from storage.connection import connect_raw
from storage.locations import Database, open_store, upgrade_store
from storage.postgres.clusters import candidates_sql
from storage.schema import _apply, load_migrations
from tests.storage.helpers import BOB, CAT, DAN, T0, AnyStore, World, make_world

WINDOWS = "How do I install CUDA on Windows?"
WINDOWS_AGAIN = "how to install cuda on windows??"
LINUX = "How do I install CUDA on Linux?"
EVE = Member("telegram", "5", "Eve")


async def test_a_reworded_question_joins_the_earlier_one_and_a_different_one_stays_apart(world: World) -> None:
    first = await world.post(WINDOWS)
    linux = await world.post(LINUX, author=BOB)
    again = await world.post(WINDOWS_AGAIN, author=CAT)
    comment = await world.post(WINDOWS_AGAIN, author=DAN, kind=PostKind.COMMENT)
    assert first.duplicate_of is None
    assert linux.duplicate_of is None
    assert again.duplicate_of == first.id
    assert comment.duplicate_of is None  # comments are never clustered
    cluster = await world.store.cluster_of(again.id)
    assert cluster is not None and [q.id for q in cluster.questions] == [first.id, again.id]


async def test_a_cluster_counts_each_member_who_liked_any_copy_once(world: World) -> None:
    first = await world.post(WINDOWS)
    other_group = await world.store.setup_group(ChatRef("telegram", "-200"), "Second group", "ai", "en")
    elsewhere = MessageRef("telegram", "-200", "x1")
    again = await world.store.add_post(
        NewPost(world.lesson.id, other_group.id, BOB, elsewhere, WINDOWS_AGAIN, PostKind.QUESTION, T0)
    )
    linux = await world.post(LINUX, author=DAN)
    assert again.duplicate_of == first.id
    assert first.ref is not None and again.ref is not None and linux.ref is not None
    await world.store.add_reaction(first.ref, CAT, "👍", T0)
    await world.store.add_reaction(again.ref, CAT, "👍", T0)  # the same member on both copies
    await world.store.add_reaction(again.ref, DAN, "👍", T0)
    await world.store.add_reaction(linux.ref, EVE, "👍", T0)
    await world.store.set_base_likes(first.id, 3)

    top = await world.store.top_questions("ai", 10)
    assert [(r.question.id, r.total_likes, r.copies) for r in top] == [
        (first.id, 5, (again.id,)),  # Cat and Dan, plus 3 imported; the first copy (4 of its own) is shown
        (linux.id, 1, ()),
    ]
    period = await world.store.period_questions("ai", PostWindow(0, await world.store.newest_post_id()), 10)
    assert [(r.question.id, r.total_likes) for r in period] == [(first.id, 5), (linux.id, 1)]
    later = await world.store.period_questions("ai", PostWindow(again.id, await world.store.newest_post_id()), 10)
    assert [r.question.id for r in later] == [linux.id]  # the cluster has no copy in that window
    cluster = await world.store.cluster_of(first.id)
    assert cluster is not None and cluster.likes == 5


async def test_merge_and_split_are_kept_and_win_over_the_detector(database: Database) -> None:
    store = await open_store(database)
    world = await make_world(store)
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    linux = await world.post(LINUX, author=CAT)
    await store.split_question(again.id, T0)
    await store.merge_questions(linux.id, first.id, T0)
    assert (await store.get_question(again.id)).duplicate_of is None  # type: ignore[union-attr]
    assert (await store.get_question(linux.id)).duplicate_of == first.id  # type: ignore[union-attr]
    # A new detector version re-clusters everything once at the next start: the decisions are replayed.
    await execute(store, "UPDATE cluster_state SET fingerprint_version = NULL")
    await store.close()
    store = await open_store(database)
    try:
        assert (await store.get_question(again.id)).duplicate_of is None  # type: ignore[union-attr]
        assert (await store.get_question(linux.id)).duplicate_of == first.id  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_splitting_the_first_question_leaves_the_others_together(world: World) -> None:
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    third = await world.post("How do I install CUDA on Windows??", author=CAT)
    assert third.duplicate_of == first.id
    await world.store.split_question(first.id, T0)
    cluster = await world.store.cluster_of(third.id)
    assert cluster is not None and [q.id for q in cluster.questions] == [again.id, third.id]
    assert (await world.store.get_question(first.id)).duplicate_of is None  # type: ignore[union-attr]


async def _edit(world: World, question: Any, text: str) -> Any:
    assert question.ref is not None
    assert await world.store.edit_post(question.ref, text, T0 + timedelta(minutes=5))
    return await world.store.get_question(question.id)


async def test_a_copy_edited_to_ask_something_else_leaves_its_cluster_and_is_found_by_its_new_words(
    world: World,
) -> None:
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    assert again.duplicate_of == first.id
    edited = await _edit(world, again, LINUX)
    assert edited.duplicate_of is None and edited.text == LINUX
    cluster = await world.store.cluster_of(first.id)
    assert cluster is not None and [q.id for q in cluster.questions] == [first.id]
    later = await world.post("how to install cuda on linux??", author=CAT)
    assert later.duplicate_of == again.id  # the keys follow the new words, not the old ones


async def test_a_lone_question_edited_into_a_rewording_joins_the_earlier_one(world: World) -> None:
    first = await world.post(WINDOWS)
    linux = await world.post(LINUX, author=BOB)
    assert linux.duplicate_of is None
    edited = await _edit(world, linux, WINDOWS_AGAIN)
    assert edited.duplicate_of == first.id


async def test_an_edit_that_changes_nothing_that_counts_moves_nothing(world: World) -> None:
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    await world.store.split_question(again.id, T0)  # apart by decision; an unchanged meaning must not re-decide
    await execute(world.store, "DELETE FROM cluster_decisions")
    edited = await _edit(world, again, WINDOWS_AGAIN + "!!")  # punctuation: the same normalised text
    assert edited.duplicate_of is None and edited.text == WINDOWS_AGAIN + "!!"
    assert (await world.store.get_question(first.id)).duplicate_of is None  # type: ignore[union-attr]


async def test_the_first_question_of_a_cluster_keeps_its_copies_when_edited(world: World) -> None:
    first = await world.post(WINDOWS)
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    edited = await _edit(world, first, LINUX)
    assert edited.duplicate_of is None
    assert (await world.store.get_question(again.id)).duplicate_of == first.id  # type: ignore[union-attr]
    later = await world.post("how to install cuda on linux??", author=CAT)
    assert later.duplicate_of == first.id  # found by the first question's new words


async def test_a_question_placed_by_a_manual_merge_keeps_its_place_when_edited(world: World) -> None:
    first = await world.post(WINDOWS)
    linux = await world.post(LINUX, author=BOB)
    await world.store.merge_questions(linux.id, first.id, T0)
    edited = await _edit(world, linux, "How do I install CUDA on Linux with conda?")
    assert edited.duplicate_of == first.id


async def test_editing_a_comment_or_an_unknown_message_places_nothing(world: World) -> None:
    first = await world.post(WINDOWS)
    comment = await world.post("thanks, that helped", author=BOB, kind=PostKind.COMMENT)
    edited = await _edit(world, comment, WINDOWS_AGAIN)
    assert edited.duplicate_of is None and edited.text == WINDOWS_AGAIN
    assert not await world.store.edit_post(world.ref("no-such-message"), WINDOWS, T0)
    assert (await world.store.get_question(first.id)).duplicate_of is None  # type: ignore[union-attr]


async def test_imported_questions_are_placed_in_the_import_transaction(world: World) -> None:
    live = await world.post(WINDOWS)
    posts = [
        ImportedPost("k1", "zoe", WINDOWS_AGAIN, PostKind.QUESTION, 4, 0, T0),
        ImportedPost("k2", "yan", LINUX, PostKind.QUESTION, 1, 0, T0),
    ]
    draft = LessonDraft("ai", "intro", "Introduction", number=1)
    await world.store.import_lesson(draft, posts, T0)
    await world.store.import_lesson(draft, posts, T0 + timedelta(days=1))  # a re-import changes no cluster
    rows = {r.question.text: r.question for r in await world.store.export_rows("ai")}
    assert rows[WINDOWS_AGAIN].duplicate_of == live.id
    assert rows[LINUX].duplicate_of is None


async def test_a_question_edited_on_the_course_page_is_placed_again_on_re_import(world: World) -> None:
    live = await world.post(WINDOWS)
    draft = LessonDraft("ai", "intro", "Introduction", number=1)
    await world.store.import_lesson(draft, [ImportedPost("k1", "zoe", WINDOWS_AGAIN, PostKind.QUESTION, 4, 0, T0)], T0)
    rows = {r.question.text: r.question for r in await world.store.export_rows("ai")}
    assert rows[WINDOWS_AGAIN].duplicate_of == live.id
    imported = rows[WINDOWS_AGAIN].id
    edited = [ImportedPost("k1-edited", "zoe", LINUX, PostKind.QUESTION, 4, 0, T0)]  # same author and time
    await world.store.import_lesson(draft, edited, T0 + timedelta(days=1))
    rows = {r.question.text: r.question for r in await world.store.export_rows("ai")}
    assert WINDOWS_AGAIN not in rows and rows[LINUX].id == imported  # the same question, edited
    assert rows[LINUX].duplicate_of is None


async def test_a_group_with_duplicates_off_keeps_its_questions_apart(world: World) -> None:
    first = await world.post(WINDOWS)
    await world.store.set_dupes_mode(world.group.id, DupesMode.OFF)
    assert await world.store.dupes_mode(world.group.id) is DupesMode.OFF
    again = await world.post(WINDOWS_AGAIN, author=BOB)
    assert again.duplicate_of is None and first.duplicate_of is None


async def test_an_old_database_is_clustered_once_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = await connect_raw(path)
    try:
        for migration in load_migrations()[:8]:  # the schema before clusters
            await _apply(conn, migration, str(path))
        await conn.execute(
            "INSERT INTO courses (slug, title, timezone, language, digest_cron, digest_size, created_at)"
            " VALUES ('ai', 'AI', 'UTC', 'en', '0 9 * * 1', 10, 0)"
        )
        await conn.execute(
            "INSERT INTO lessons (id, course_slug, slug, title, created_at) VALUES (1, 'ai', 'i', 'I', 0)"
        )
        await conn.execute("INSERT INTO members (id, platform, user_id, display_name) VALUES (1, 't', '1', 'A')")
        for number, text in enumerate([WINDOWS, LINUX, WINDOWS_AGAIN, "期待更新"], start=1):
            kind = "comment" if text == "期待更新" else "question"
            await conn.execute(
                "INSERT INTO questions (id, lesson_id, course_slug, author_id, kind, text, created_at, likes)"
                " VALUES (?, 1, 'ai', 1, ?, ?, ?, ?)",
                (number, kind, text, number, number),
            )
    finally:
        await conn.close()

    seen: list[tuple[int, int]] = []
    before, after = await upgrade_database(path, lambda done, total: seen.append((done, total)))
    assert (before, after) == (8, len(load_migrations()))  # every later migration too
    assert seen[-1] == (3, 3)
    with sqlite3.connect(path) as db:
        clusters = dict(db.execute("SELECT id, duplicate_of FROM questions ORDER BY id").fetchall())
        likes = db.execute("SELECT SUM(likes) FROM questions").fetchone()[0]
    assert clusters == {1: None, 2: None, 3: 1, 4: None}
    assert likes == 10  # nothing else changed
    seen.clear()
    await upgrade_database(path, lambda done, total: seen.append((done, total)))
    assert seen == []  # once


async def execute(store: AnyStore, sql: str) -> None:
    """A statement the ports do not offer (both dialects alike), committed before it returns."""
    if isinstance(store, SqliteStore):
        await store._writer.execute(sql, ())
    else:
        await store._execute(sql)


async def test_a_postgresql_database_is_clustered_once_on_upgrade(postgres_url: str) -> None:
    """PostgreSQL starts at the baseline (there is no schema before clusters to upgrade from): a database whose
    clusters a different detector version made is clustered again, once, with progress, by `db upgrade`."""
    database = Database.parse(postgres_url)
    store = await open_store(database)
    try:
        world = await make_world(store)
        for text in (WINDOWS, LINUX, WINDOWS_AGAIN):
            await world.post(text, author=BOB)
        await world.post("期待更新", author=BOB, kind=PostKind.COMMENT)
        await execute(store, "UPDATE questions SET duplicate_of = NULL")
        await execute(store, "DELETE FROM question_keys")
        await execute(store, "UPDATE cluster_state SET fingerprint_version = 0")
    finally:
        await store.close()
    seen: list[tuple[int, int]] = []
    before, after = await upgrade_store(database, lambda done, total: seen.append((done, total)))
    assert before == after == load_migrations()[-1].version
    assert seen[-1] == (3, 3)
    store = await open_store(database)
    try:
        top = await store.top_questions("ai", 10)
        assert [(r.question.text, r.copies != ()) for r in top] == [(WINDOWS, True), (LINUX, False)]
    finally:
        await store.close()
    seen.clear()
    await upgrade_store(database, lambda done, total: seen.append((done, total)))
    assert seen == []  # once


async def test_after_a_large_import_candidates_are_read_by_id_on_postgresql(postgres_url: str) -> None:
    """Placing a question reads each candidate by its primary key. An import into a fresh database once left the
    planner with the statistics of an empty table, so it read each candidate through a whole index, one scan per
    candidate: an import of n posts took time in n² (37 s for 1,500). A large import now refreshes them."""
    texts = [f"How do I set up CUDA on machine {i}?" for i in range(600)]
    posts = [ImportedPost(f"k{i}", f"a{i % 7}", text, PostKind.QUESTION, 0, 0, T0) for i, text in enumerate(texts)]
    store = await open_store(Database.parse(postgres_url))
    try:
        await store.upsert_course(Course("ai", "AI"), T0)
        done = await store.import_lesson(LessonDraft("ai", "l1", "One"), posts, T0)
        assert done.posts_added == 600
    finally:
        await store.close()
    conn = await asyncpg.connect(postgres_url)
    try:
        newest = await conn.fetchval("SELECT max(id) FROM questions")
        fp = fingerprint(texts[-1])
        params = [v for key in fp.keys for v in ("ai", key, newest, MAX_POSTINGS)]
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + candidates_sql(len(fp.keys)), *params, MAX_CANDIDATES)
    finally:
        await conn.close()

    def reads_of_questions(node: dict[str, Any]) -> list[tuple[Any, Any]]:
        found = [(node.get("Node Type"), node.get("Index Name"))] if node.get("Relation Name") == "questions" else []
        for child in node.get("Plans", []):
            found += reads_of_questions(child)
        return found

    reads = reads_of_questions(json.loads(plan)[0]["Plan"])
    assert reads and all(index == "questions_pkey" for _, index in reads), reads
