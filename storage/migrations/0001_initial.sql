-- reason: the first schema: courses, lessons, groups, members' posts, replies, likes counted by triggers, lesson posts, instructors, digests
--
-- Times are INTEGER microseconds since 1970-01-01 UTC: sortable, exact, and compared by plain integer indexes.
-- Platform ids are TEXT (Telegram's 64-bit ints, Discord snowflakes and console counters all fit without loss).

CREATE TABLE courses (
    slug        TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    language    TEXT NOT NULL,
    digest_cron TEXT NOT NULL,
    digest_size INTEGER NOT NULL
);

CREATE TABLE lessons (
    id          INTEGER PRIMARY KEY,
    course_slug TEXT NOT NULL REFERENCES courses (slug),
    slug        TEXT NOT NULL,
    title       TEXT NOT NULL,
    intro       TEXT NOT NULL DEFAULT '',
    link        TEXT NOT NULL DEFAULT '',
    number      INTEGER,
    release_at  INTEGER,
    created_at  INTEGER NOT NULL,
    published_at INTEGER,  -- when its broadcast finished; NULL while it still has to be published
    UNIQUE (course_slug, slug)
);
CREATE INDEX lessons_by_number ON lessons (course_slug, number);
CREATE INDEX lessons_unpublished ON lessons (COALESCE(release_at, created_at)) WHERE published_at IS NULL;

-- "groups" is an SQL keyword (window frames), hence study_groups. A group is a chat, or one forum topic of it.
CREATE TABLE study_groups (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    thread_id   TEXT,
    title       TEXT NOT NULL,
    course_slug TEXT REFERENCES courses (slug),
    language    TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);
-- NULLs are distinct in a UNIQUE index, so the chat itself (no thread) is made unique through COALESCE.
CREATE UNIQUE INDEX study_groups_by_chat ON study_groups (platform, chat_id, COALESCE(thread_id, ''));
CREATE INDEX study_groups_by_course ON study_groups (course_slug) WHERE active = 1;

-- The emojis that count as a like in a group, in the order the admin gave them.
CREATE TABLE group_like_emojis (
    group_id INTEGER NOT NULL REFERENCES study_groups (id) ON DELETE CASCADE,
    emoji    TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (group_id, emoji)
) WITHOUT ROWID;

CREATE TABLE members (
    id           INTEGER PRIMARY KEY,
    platform     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    is_bot       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (platform, user_id)
);

-- Questions and comments. course_slug is copied from the lesson (a lesson never changes course) so that one
-- index answers /top for a course without a join. score is generated, so it can never disagree with its parts.
CREATE TABLE questions (
    id          INTEGER PRIMARY KEY,
    lesson_id   INTEGER NOT NULL REFERENCES lessons (id),
    course_slug TEXT NOT NULL,
    group_id    INTEGER REFERENCES study_groups (id),
    author_id   INTEGER NOT NULL REFERENCES members (id),
    kind        TEXT NOT NULL CHECK (kind IN ('question', 'comment')),
    platform    TEXT,
    chat_id     TEXT,
    thread_id   TEXT,
    message_id  TEXT,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    deleted     INTEGER NOT NULL DEFAULT 0,
    deleted_at  INTEGER,
    answered    INTEGER NOT NULL DEFAULT 0,
    answer_text TEXT,
    answered_at INTEGER,
    likes       INTEGER NOT NULL DEFAULT 0 CHECK (likes >= 0),
    base_likes  INTEGER NOT NULL DEFAULT 0 CHECK (base_likes >= 0),
    score       INTEGER GENERATED ALWAYS AS (likes + base_likes) VIRTUAL,
    replies     INTEGER NOT NULL DEFAULT 0 CHECK (replies >= 0)
);
CREATE UNIQUE INDEX questions_by_ref ON questions (platform, chat_id, message_id);

-- Discussion under a question or comment; the count on the question follows through triggers.
CREATE TABLE replies (
    id          INTEGER PRIMARY KEY,
    question_id INTEGER NOT NULL REFERENCES questions (id),
    author_id   INTEGER NOT NULL REFERENCES members (id),
    platform    TEXT,
    chat_id     TEXT,
    thread_id   TEXT,
    message_id  TEXT,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    deleted     INTEGER NOT NULL DEFAULT 0,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX replies_by_ref ON replies (platform, chat_id, message_id);
CREATE INDEX replies_by_question ON replies (question_id, created_at);

CREATE TRIGGER replies_counted AFTER INSERT ON replies WHEN NEW.deleted = 0
BEGIN
    UPDATE questions SET replies = replies + 1 WHERE id = NEW.question_id;
END;

CREATE TRIGGER replies_deleted AFTER UPDATE OF deleted ON replies WHEN NEW.deleted <> OLD.deleted
BEGIN
    UPDATE questions SET replies = replies + CASE WHEN NEW.deleted THEN -1 ELSE 1 END WHERE id = NEW.question_id;
END;

-- Only like-emoji reactions are kept (add_reaction checks the group's emojis). A like is a member having at
-- least one row for a question, so the count moves on the member's first row and on their last one.
CREATE TABLE reactions (
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    member_id   INTEGER NOT NULL REFERENCES members (id),
    emoji       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (question_id, member_id, emoji)
) WITHOUT ROWID;

CREATE TRIGGER reactions_first_like AFTER INSERT ON reactions
WHEN NOT EXISTS (
    SELECT 1 FROM reactions
    WHERE question_id = NEW.question_id AND member_id = NEW.member_id AND emoji <> NEW.emoji
)
BEGIN
    UPDATE questions SET likes = likes + 1 WHERE id = NEW.question_id;
END;

CREATE TRIGGER reactions_last_like AFTER DELETE ON reactions
WHEN NOT EXISTS (SELECT 1 FROM reactions WHERE question_id = OLD.question_id AND member_id = OLD.member_id)
BEGIN
    UPDATE questions SET likes = likes - 1 WHERE id = OLD.question_id;
END;

-- Lesson broadcast bookkeeping: the intent (pending) is written before sending, the message (sent) after.
CREATE TABLE lesson_posts (
    lesson_id  INTEGER NOT NULL REFERENCES lessons (id),
    group_id   INTEGER NOT NULL REFERENCES study_groups (id),
    state      TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    platform   TEXT,
    chat_id    TEXT,
    thread_id  TEXT,
    message_id TEXT,
    claimed_at INTEGER NOT NULL,
    posted_at  INTEGER,
    PRIMARY KEY (lesson_id, group_id)
);
CREATE INDEX lesson_posts_by_message ON lesson_posts (platform, chat_id, message_id);
CREATE INDEX lesson_posts_by_thread ON lesson_posts (platform, chat_id, thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX lesson_posts_pending ON lesson_posts (claimed_at) WHERE state = 'pending';

CREATE TABLE instructors (
    course_slug  TEXT NOT NULL REFERENCES courses (slug),
    platform     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    PRIMARY KEY (course_slug, platform, user_id)
);
CREATE INDEX instructors_by_user ON instructors (platform, user_id);

-- One digest per course and period end, so a period is recorded (and sent) once. Items and summary are JSON:
-- they are a snapshot of what was sent, never queried inside.
CREATE TABLE digests (
    id           INTEGER PRIMARY KEY,
    course_slug  TEXT NOT NULL REFERENCES courses (slug),
    period_start INTEGER NOT NULL,
    period_end   INTEGER NOT NULL,
    items        TEXT NOT NULL,
    summary      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    UNIQUE (course_slug, period_end)
);
