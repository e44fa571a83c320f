-- reason: Discord: each course's instructors' channel per platform (where a digest goes when an instructor's DMs are closed), why a group needs an admin's attention (the bot lost a permission there), and recent posts by platform for the reconciliation of likes at start-up
--
-- A group that needs attention stays active: the next lesson is still tried there, so fixing the channel's
-- permissions is all an admin has to do (running /setup again clears the note). Inactive means "the bot is
-- gone from the chat", which a permission problem is not.
ALTER TABLE study_groups ADD COLUMN attention TEXT;

-- At most one instructors' channel per course and platform, set with `/setup <course> instructors`. It is not a
-- study group: nothing there is collected, it only receives digests that could not be sent privately.
CREATE TABLE instructor_channels (
    course_slug TEXT NOT NULL REFERENCES courses (slug),
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    thread_id   TEXT,
    PRIMARY KEY (course_slug, platform)
) WITHOUT ROWID;

-- Start-up reconciliation walks the posts of the last days on one platform that still have a message.
CREATE INDEX questions_by_platform_time ON questions (platform, created_at)
    WHERE deleted = 0 AND message_id IS NOT NULL;
