-- reason: a like on PostgreSQL no longer rewrites its question's full-text index entries: the search indexes move to a table of their own, written only when a text is written (about 4x faster likes on questions of ordinary length)
--
-- A like changes its question's count. The count is in the ranking indexes, so PostgreSQL cannot update the row
-- in place (no HOT update): it writes a new row version with an entry in every index of `questions`. With the two
-- GIN indexes over the text there (0013's trigrams, 0015's characters and pairs), every like extracted every
-- trigram and every character pair of its question's text again: 206 ms per 1,000 likes on questions of 80
-- characters, 46 ms without them (benchmarks/storage.py --store postgresql). The text stays in `questions`;
-- `question_texts` holds a copy that only an insert or a change of the text writes, as SQLite's search tables are
-- kept by triggers, in the writing transaction.
CREATE TABLE question_texts (
    question_id BIGINT PRIMARY KEY REFERENCES questions (id) ON DELETE CASCADE,
    text        TEXT NOT NULL
);
INSERT INTO question_texts (question_id, text) SELECT id, text FROM questions;

DROP INDEX questions_text_trigrams;
DROP INDEX questions_text_grams;
-- Built once the copy is there, in one pass rather than row by row: about 12 s per 100,000 questions on the
-- development machine (2 cores), so an upgrade of a very large database takes minutes.
CREATE INDEX question_texts_trigrams ON question_texts USING gin (text gin_trgm_ops);
CREATE INDEX question_texts_grams ON question_texts USING gin (text_grams(text));

CREATE FUNCTION keep_question_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO question_texts (question_id, text) VALUES (NEW.id, NEW.text)
        ON CONFLICT (question_id) DO UPDATE SET text = EXCLUDED.text;
    RETURN NULL;
END
$$;
CREATE TRIGGER questions_text_added AFTER INSERT ON questions
    FOR EACH ROW EXECUTE FUNCTION keep_question_text();
CREATE TRIGGER questions_text_changed AFTER UPDATE OF text ON questions
    FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text) EXECUTE FUNCTION keep_question_text();
