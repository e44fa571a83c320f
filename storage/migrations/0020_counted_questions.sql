-- reason: reads that show or rank likes name `counted_questions`, a question with its counts: the same row here, on PostgreSQL a row and its counts kept apart (see storage/postgres/migrations/0020)
--
-- SQLite keeps a question's likes in its own row (the like path's triggers and batches count there, and
-- PostgreSQL's reason to move them does not apply: SQLite rewrites a row and its index entries alike). The view
-- lets the queries both stores share name one source of a question with its likes.
CREATE VIEW counted_questions AS SELECT * FROM questions;
