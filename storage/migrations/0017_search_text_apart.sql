-- reason: the schema version at which PostgreSQL moved its search indexes off the questions table (see storage/postgres/migrations/0017); nothing changes on SQLite
--
-- SQLite's search tables (questions_fts, 0012; question_grams, 0015) are already tables of their own, kept by
-- triggers that fire only when a text is written, so a like never touches them. The version moves on both stores
-- together: version N means the same tables and rules on both, and `studybot db copy` compares versions.
SELECT 1;
