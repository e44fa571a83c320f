-- reason: near-duplicate questions: each question's normalised text, the cluster it joined (duplicate_of), its candidate keys, manual merge/split decisions, and each group's notice setting
--
-- duplicate_of is the id of the cluster's first question (NULL for that first one and for every question alone).
-- Clustering an existing database needs the detector, which is Python: studybot clusters it right after this
-- step (storage.clusters.cluster_pending) and records the fingerprint version it used in cluster_state, so a
-- newer detector re-clusters once too. Nothing else changes: likes, answers and ids stay as they are.
ALTER TABLE questions ADD COLUMN normalised TEXT;
ALTER TABLE questions ADD COLUMN duplicate_of INTEGER REFERENCES questions (id);
CREATE INDEX questions_by_cluster ON questions (course_slug, duplicate_of) WHERE duplicate_of IS NOT NULL;

-- The detector's candidate keys: a new question's candidates are the course's questions sharing a key.
CREATE TABLE question_keys (
    course_slug TEXT NOT NULL,
    key         TEXT NOT NULL,
    post_id     INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    PRIMARY KEY (course_slug, key, post_id)
) WITHOUT ROWID;
-- A candidate's own keys, for the detector (and the cascade when a question row goes).
CREATE INDEX question_keys_by_post ON question_keys (post_id);

-- What instructors and admins decided about a pair of questions (first < second): same = 1 after /merge, 0 after
-- /split. Re-clustering (a new detector, a re-import) replays them over the detector, so they always win.
CREATE TABLE cluster_decisions (
    first      INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    second     INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    same       INTEGER NOT NULL CHECK (same IN (0, 1)),
    decided_at INTEGER NOT NULL,
    PRIMARY KEY (first, second),
    CHECK (first < second)
) WITHOUT ROWID;

-- One row: the fingerprint version the stored clusters were made with (NULL: never clustered yet).
CREATE TABLE cluster_state (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint_version INTEGER
);
INSERT INTO cluster_state (id, fingerprint_version) VALUES (1, NULL);

-- Per group: tell the asker where the earlier question is ('on', the default), merge silently ('quiet'), or
-- do not merge this group's questions at all ('off').
ALTER TABLE study_groups ADD COLUMN dupes TEXT NOT NULL DEFAULT 'on' CHECK (dupes IN ('on', 'quiet', 'off'));
