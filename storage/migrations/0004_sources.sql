-- reason: lesson sources: course-page comments imported as posts (keyed so a re-import updates them, with their reply counts), and each feed's polling state and known entries
--
-- An imported post has no group and no platform message (group_id and the message columns stay NULL). Its
-- import_key (a hash of course, lesson, author, date and text) identifies it across re-imports, so importing
-- the same page again updates its counts instead of adding it twice.
ALTER TABLE questions ADD COLUMN import_key TEXT;
-- Replies counted where the post was imported from; `replies` (members' replies we keep) is maintained by the
-- triggers on the replies table, so the imported count is kept apart and added where replies are shown.
ALTER TABLE questions ADD COLUMN base_replies INTEGER NOT NULL DEFAULT 0 CHECK (base_replies >= 0);
CREATE UNIQUE INDEX questions_by_import_key ON questions (import_key) WHERE import_key IS NOT NULL;

-- One row per (course, feed URL) from FEEDS. The validators make the next poll a conditional request;
-- failures and next_attempt_at hold the backoff, so it survives a restart.
CREATE TABLE feeds (
    id              INTEGER PRIMARY KEY,
    course_slug     TEXT NOT NULL REFERENCES courses (slug),
    url             TEXT NOT NULL,
    etag            TEXT,
    last_modified   TEXT,
    added_at        INTEGER NOT NULL,
    primed_at       INTEGER,  -- first successful poll: entries seen then were recorded as known, not posted
    polled_at       INTEGER,  -- last successful poll
    failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),  -- consecutive failed polls
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL,
    UNIQUE (course_slug, url)
);

-- Entries a feed has shown us (by guid/id, the link only when an entry has neither), and the lesson each became.
CREATE TABLE feed_entries (
    feed_id   INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_key TEXT NOT NULL,
    lesson_id INTEGER REFERENCES lessons (id),
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
) WITHOUT ROWID;
