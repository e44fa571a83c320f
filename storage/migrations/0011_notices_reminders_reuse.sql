-- reason: askers and followers told when answered, reminders of unanswered questions, answers reused for duplicates
--
-- follows: a member who asked for a private notice when a question they liked is answered (/follow on); no row
-- is off, the default. Keyed by the platform's user id, as instructors are, so it holds in every group.
CREATE TABLE follows (
    platform    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    followed_at INTEGER NOT NULL,
    PRIMARY KEY (platform, user_id)
) WITHOUT ROWID;

-- Per course: after how many days an unanswered, liked question is posted to the instructors (/remind); no row
-- is off.
CREATE TABLE course_reminders (
    course_slug TEXT PRIMARY KEY REFERENCES courses (slug),
    days        INTEGER NOT NULL CHECK (days >= 1)
) WITHOUT ROWID;

-- One row per question reminded, inserted (claimed) before the reminder is sent, so that no question is ever
-- reminded twice, even by two processes or across a restart. The digest marks these questions "reminded".
CREATE TABLE question_reminders (
    question_id INTEGER PRIMARY KEY REFERENCES questions (id) ON DELETE CASCADE,
    course_slug TEXT NOT NULL,
    reminded_at INTEGER NOT NULL
);

-- The messages an answer was posted as, one per question copy answered: what a reused answer links to.
CREATE TABLE answer_posts (
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    thread_id   TEXT,
    message_id  TEXT NOT NULL,
    guild_id    TEXT,
    posted_at   INTEGER NOT NULL,
    PRIMARY KEY (question_id, platform, chat_id, message_id)
) WITHOUT ROWID;

-- A new question answered at once with an earlier copy's answer; reopened_at is set when its asker said (❓) that
-- it did not help, which also splits it from the cluster (a cluster_decisions row, so re-clustering keeps it out).
CREATE TABLE answer_reuses (
    question_id INTEGER PRIMARY KEY REFERENCES questions (id) ON DELETE CASCADE,
    source_id   INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    reused_at   INTEGER NOT NULL,
    reopened_at INTEGER
);

-- The reminder's look for candidates: liked open questions not reminded, by age. reminded_at mirrors the
-- question_reminders row of a cluster's first copy (written in the claim's transaction) so that reminded
-- questions leave this index: each wake-up then reads only what may still be due, never the course's history.
ALTER TABLE questions ADD COLUMN reminded_at INTEGER;
CREATE INDEX questions_to_remind ON questions (course_slug, created_at)
    WHERE answered = 0 AND deleted = 0 AND kind = 'question' AND score >= 1 AND reminded_at IS NULL;
