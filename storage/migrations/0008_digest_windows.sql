-- reason: a digest covers the posts stored since the last digest was recorded (by post id), not those dated in its period, so a question that arrives late (asked while the bot was down, or a moment after its period was recorded) reaches the next digest instead of none
--
-- through_post is the newest post a digest covers. For digests recorded before this migration it is the
-- newest post dated before the period's end, which is what those digests covered.
ALTER TABLE digests ADD COLUMN through_post INTEGER NOT NULL DEFAULT 0;
UPDATE digests SET through_post = COALESCE(
    (SELECT MAX(q.id) FROM questions q WHERE q.course_slug = digests.course_slug AND q.created_at < digests.period_end),
    0);

-- Digest windows: a range of post ids within a course, covering everything period_questions ranks by and
-- period_summary counts (created_at for `studybot digest --since`), so neither touches the table for rows
-- it does not return. It replaces the index on created_at that periods used before.
DROP INDEX questions_by_time;
CREATE INDEX questions_by_post ON questions (course_slug, id, kind, score, lesson_id, created_at)
    WHERE deleted = 0;
