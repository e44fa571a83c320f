-- reason: a reminder reaches the instructors of every platform when different processes run different platforms (issue 13): each platform's leader claims and sends its own share
--
-- question_reminders (0011) still says once whether a question is reminded (the digest marks it so); each
-- platform's delivery of that reminder is claimed here before it is sent, so every platform's instructors get it
-- once, from whichever process runs that platform. Reminders already sent count as delivered on the platforms of
-- their course's instructors, so none is sent again after the upgrade.
CREATE TABLE reminder_deliveries (
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    claimed_at  INTEGER NOT NULL,
    PRIMARY KEY (question_id, platform)
) WITHOUT ROWID;

-- Each wake-up looks for the course's recent reminders not yet delivered on a platform: by course and time, not by
-- reading every reminder the course ever had.
CREATE INDEX question_reminders_by_course_time ON question_reminders (course_slug, reminded_at);

INSERT OR IGNORE INTO reminder_deliveries (question_id, platform, claimed_at)
    SELECT r.question_id, i.platform, r.reminded_at
    FROM question_reminders r JOIN instructors i ON i.course_slug = r.course_slug;
