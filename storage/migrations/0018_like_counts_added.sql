-- reason: a batch of likes adds each question's new likers to its count instead of recounting all its reaction rows: the recount was 58% of SQLite's time per like (6.5 of 11.2 µs with up to 50 likes a question), and it grew with every like a question already had
--
-- Migration 0013 made a batch update each question's count once. It did so by counting the question's distinct
-- likers again, which reads every reaction row of every question the batch touched: a popular question's
-- thousand rows for each batch that brought it one more like.
--
-- Now each reaction row the batch inserts is counted as it is inserted, in like_batch.added, when it is the
-- member's first reaction on the question (the per-row rule of reactions_first_like, which stands aside during
-- a batch): a second emoji of the same member, inserted in the same batch or before it, adds nothing. A row the
-- like rule ignores (a duplicate) is not inserted, so fires nothing. The batch then adds each question's count
-- once and empties like_batch, in the same statement as before.
-- like_batch is empty outside a batch statement, so it is made again with the new column.
DROP TABLE like_batch;
CREATE TABLE like_batch (question_id INTEGER PRIMARY KEY, added INTEGER NOT NULL DEFAULT 0);

DROP TRIGGER reactions_batched_like;
CREATE TRIGGER reactions_batched_like AFTER INSERT ON reactions
WHEN EXISTS (SELECT 1 FROM like_batch WHERE question_id = 0)
 AND NOT EXISTS (
    SELECT 1 FROM reactions
    WHERE question_id = NEW.question_id AND member_id = NEW.member_id AND emoji <> NEW.emoji
)
BEGIN
    INSERT INTO like_batch (question_id, added) VALUES (NEW.question_id, 1)
    ON CONFLICT (question_id) DO UPDATE SET added = added + 1;
END;

DROP TRIGGER like_batches_apply;
CREATE TRIGGER like_batches_apply INSTEAD OF INSERT ON like_batches
BEGIN
    INSERT INTO like_batch (question_id) VALUES (0);

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT l.question_id, l.member_id, l.emoji, j.value ->> 0
    FROM json_each(NEW.likes) AS j
    CROSS JOIN countable_likes l
    WHERE l.platform = j.value ->> 4 AND l.chat_id = j.value ->> 5 AND l.message_id = j.value ->> 6
      AND l.emoji = j.value ->> 1 AND l.member_platform = j.value ->> 2 AND l.user_id = j.value ->> 3;

    UPDATE questions SET likes = likes + b.added
    FROM like_batch b
    WHERE questions.id = b.question_id AND b.question_id > 0;

    DELETE FROM like_batch;
END;
