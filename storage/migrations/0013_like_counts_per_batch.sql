-- reason: a batch of likes updates each question's like count once, recounted from its reaction rows, instead of once per like: every per-like update rewrote the question's row and its four score indexes, about half of what SQLite paid per like
--
-- like_batch is empty outside a batch statement. While one runs it holds the row 0 (a batch is running: the
-- per-like count trigger stands aside) and the ids of the questions the batch inserted reactions for. The batch
-- then sets each of those questions' count to its number of distinct likers, and empties like_batch, all in the
-- same statement (so in the same transaction: a failed batch statement undoes all of it, like_batch included).
-- Every other path (one like, removals, clears, reaction_changes, reconcile's deletions) keeps the per-row
-- triggers, so every count stays what the reaction rows say.
CREATE TABLE like_batch (question_id INTEGER PRIMARY KEY);

DROP TRIGGER reactions_first_like;
CREATE TRIGGER reactions_first_like AFTER INSERT ON reactions
WHEN NOT EXISTS (SELECT 1 FROM like_batch WHERE question_id = 0)
 AND NOT EXISTS (
    SELECT 1 FROM reactions
    WHERE question_id = NEW.question_id AND member_id = NEW.member_id AND emoji <> NEW.emoji
)
BEGIN
    UPDATE questions SET likes = likes + 1 WHERE id = NEW.question_id;
END;

CREATE TRIGGER reactions_batched_like AFTER INSERT ON reactions
WHEN EXISTS (SELECT 1 FROM like_batch WHERE question_id = 0)
BEGIN
    INSERT OR IGNORE INTO like_batch (question_id) VALUES (NEW.question_id);
END;

-- A batch of likes: the JSON array of the single add statement's parameter lists, [created_at, emoji, platform,
-- user_id, platform, chat_id, message_id] each. Not stored. The like rule is countable_likes' (migration 0009).
CREATE VIEW like_batches AS SELECT NULL AS likes WHERE 0;

CREATE TRIGGER like_batches_apply INSTEAD OF INSERT ON like_batches
BEGIN
    INSERT INTO like_batch (question_id) VALUES (0);

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT l.question_id, l.member_id, l.emoji, j.value ->> 0
    FROM json_each(NEW.likes) AS j
    CROSS JOIN countable_likes l
    WHERE l.platform = j.value ->> 4 AND l.chat_id = j.value ->> 5 AND l.message_id = j.value ->> 6
      AND l.emoji = j.value ->> 1 AND l.member_platform = j.value ->> 2 AND l.user_id = j.value ->> 3;

    UPDATE questions SET likes = c.n
    FROM (
        SELECT b.question_id AS id,
               (SELECT COUNT(DISTINCT r.member_id) FROM reactions r WHERE r.question_id = b.question_id) AS n
        FROM like_batch b WHERE b.question_id > 0
    ) AS c
    WHERE questions.id = c.id AND questions.likes <> c.n;

    DELETE FROM like_batch;
END;

-- A burst of likes with new members (migration 0007): the members' upserts, then its likes as one batch.
DROP TRIGGER like_bursts_apply;
CREATE TRIGGER like_bursts_apply INSTEAD OF INSERT ON like_bursts
BEGIN
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(NEW.members) WHERE true
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot;

    INSERT INTO like_batches (likes) VALUES (NEW.likes);
END;
