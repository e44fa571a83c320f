-- reason: a reminder reaches the instructors of every platform when different processes run different platforms (issue 13): each platform's leader claims and sends its own share
--
-- As storage/migrations/0016 on SQLite.
CREATE TABLE reminder_deliveries (
    question_id BIGINT NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    claimed_at  BIGINT NOT NULL,
    PRIMARY KEY (question_id, platform)
);

-- Each wake-up looks for the course's recent reminders not yet delivered on a platform: by course and time, not by
-- reading every reminder the course ever had.
CREATE INDEX question_reminders_by_course_time ON question_reminders (course_slug, reminded_at);

INSERT INTO reminder_deliveries (question_id, platform, claimed_at)
    SELECT r.question_id, i.platform, r.reminded_at
    FROM question_reminders r JOIN instructors i ON i.course_slug = r.course_slug
    ON CONFLICT DO NOTHING;
