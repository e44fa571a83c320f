-- reason: a burst of likes finds each post once, not once per like: its likes travel grouped by post, emoji and time, and SQLite's statement took 2.0 µs a like instead of 4.2 (3,000 likes on 200 posts), most of it the seven JSON fields it read again for every like
--
-- like_groups takes a burst as a JSON array of groups, [platform, chat_id, message_id, emoji, member platform,
-- created_at, [user_id, ...]] each: the likes of those members on that post, with that emoji, at that time. A
-- burst from a platform brings many likes to the same few posts at the same few instants (a Discord lot is
-- stamped once, a Telegram update carries its second), so its groups are few. The posts are found first, once
-- per group (materialised: SQLite would otherwise look each up again for every like); then every like is kept
-- by the like rule (countable_likes, migration 0009), by the post's id, and counted as like_batches counts
-- (migration 0018): each question's count once, by the likers new to it.
--
-- like_bursts (members to upsert, then the likes) now hands its likes to like_groups; like_batches stays for
-- the lone likes the writer joins (storage.likes.ADD_REACTIONS_BATCH), which bring no group to share.
--
-- like_inbox rows written before this version hold likes in like_batches' form: they are counted first, here,
-- through the triggers they were written for, in the migration's own transaction.
INSERT INTO like_inbox_apply (kept) VALUES (NULL);

CREATE VIEW like_groups AS SELECT NULL AS likes WHERE 0;

CREATE TRIGGER like_groups_apply INSTEAD OF INSERT ON like_groups
BEGIN
    INSERT INTO like_batch (question_id) VALUES (0);

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    WITH posts AS MATERIALIZED (
        SELECT q.id AS question_id, g.value ->> 3 AS emoji, g.value ->> 4 AS member_platform,
               g.value ->> 5 AS created_at, g.value -> 6 AS likers
        FROM json_each(NEW.likes) AS g
        JOIN questions q
          ON q.platform = g.value ->> 0 AND q.chat_id = g.value ->> 1 AND q.message_id = g.value ->> 2
    )
    SELECT l.question_id, l.member_id, l.emoji, p.created_at
    FROM posts AS p
    CROSS JOIN json_each(p.likers) AS u
    CROSS JOIN countable_likes l
    WHERE l.question_id = p.question_id AND l.emoji = p.emoji AND l.member_platform = p.member_platform
      AND l.user_id = u.value;

    UPDATE questions SET likes = likes + b.added
    FROM like_batch b
    WHERE questions.id = b.question_id AND b.question_id > 0;

    DELETE FROM like_batch;
END;

DROP TRIGGER like_bursts_apply;
CREATE TRIGGER like_bursts_apply INSTEAD OF INSERT ON like_bursts
BEGIN
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(NEW.members) WHERE true
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot;

    INSERT INTO like_groups (likes) VALUES (NEW.likes);
END;
