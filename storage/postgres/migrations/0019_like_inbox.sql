-- reason: the schema version at which SQLite's store began keeping bursts of likes before counting them (see storage/migrations/0019); nothing changes on PostgreSQL
--
-- PostgreSQL's store counts a kept burst at once (keep_reactions is apply_reactions there): its like statement
-- runs on the server, not on a writer thread of the process that polls Telegram.
SELECT 1;
