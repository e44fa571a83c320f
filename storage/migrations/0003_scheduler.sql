-- reason: the scheduler needs a start for a course's first digest period, a lease so one process of many sends, and per-instructor delivery records so a resumed digest reaches nobody twice
--
-- Courses that existed before this step get the migration's time as their creation time: their first digest
-- then covers everything up to its scheduled time, since period_questions has no lower bound before it.

ALTER TABLE courses ADD COLUMN created_at INTEGER;
UPDATE courses SET created_at = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) WHERE created_at IS NULL;

-- One row per named duty ("scheduler"); whoever holds an unexpired lease does it. A crashed holder's lease
-- simply expires and the next process to ask takes it over.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Which instructors a digest has reached. A digest resumed after a crash skips them.
CREATE TABLE digest_deliveries (
    digest_id    INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    platform     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    delivered_at INTEGER NOT NULL,
    PRIMARY KEY (digest_id, platform, user_id)
) WITHOUT ROWID;
