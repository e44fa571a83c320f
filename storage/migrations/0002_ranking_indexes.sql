-- reason: /top, per-lesson /top and digest periods read through indexes instead of scanning every post
--
-- Partial indexes: only what the queries can return (questions that are not deleted) is indexed, and the
-- queries repeat the same WHERE terms literally so that SQLite may use them.

-- /top for a course: walk the best scores first and stop after LIMIT rows.
CREATE INDEX questions_top ON questions (course_slug, score DESC, created_at, id)
    WHERE kind = 'question' AND deleted = 0;

-- /top for one lesson.
CREATE INDEX questions_top_by_lesson ON questions (lesson_id, score DESC, created_at, id)
    WHERE kind = 'question' AND deleted = 0;

-- Digest periods: a range of created_at, covering everything period_questions ranks by and period_summary
-- counts, so neither touches the table for rows it does not return.
CREATE INDEX questions_by_time ON questions (course_slug, created_at, kind, score, lesson_id)
    WHERE deleted = 0;
