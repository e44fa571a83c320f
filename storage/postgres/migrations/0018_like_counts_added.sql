-- reason: the schema version at which SQLite's batches of likes stopped recounting their questions (see storage/migrations/0018); nothing changes on PostgreSQL
--
-- PostgreSQL's like statement already adds each question's new likers to its count (ADD_AND_COUNT in
-- storage/postgres/likes.py); SQLite's batches now follow the same rule.
SELECT 1;
