-- reason: the schema version at which SQLite's like bursts began to travel grouped by post (see storage/migrations/0021); nothing changes on PostgreSQL
--
-- PostgreSQL's store builds its own like statements (storage/postgres/likes.py) and keeps no like_bursts view.
SELECT 1;
