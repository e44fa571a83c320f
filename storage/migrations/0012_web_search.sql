-- reason: the web page (issue 17): a trigram full-text index over question texts kept in step by triggers, the page's signing secret, and revocable read-only share links per course
--
-- The trigram tokenizer matches any substring of three characters or more, Chinese or English alike; the page
-- falls back to LIKE over the course's questions for one- and two-character queries (storage/web_reads.py).
CREATE VIRTUAL TABLE questions_fts USING fts5 (text, content = 'questions', content_rowid = 'id', tokenize = 'trigram');
INSERT INTO questions_fts (questions_fts) VALUES ('rebuild');

CREATE TRIGGER questions_fts_insert AFTER INSERT ON questions BEGIN
    INSERT INTO questions_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER questions_fts_delete AFTER DELETE ON questions BEGIN
    INSERT INTO questions_fts (questions_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER questions_fts_update AFTER UPDATE OF text ON questions BEGIN
    INSERT INTO questions_fts (questions_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO questions_fts (rowid, text) VALUES (new.id, new.text);
END;

-- One row: the secret that signs the page's links, made on first use when WEB_SECRET is not set.
CREATE TABLE web_state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);

-- A course's read-only share link: the token in the link; revoked by /web share off (the row goes).
CREATE TABLE web_shares (
    course_slug TEXT PRIMARY KEY REFERENCES courses (slug),
    token       TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
