-- reason: Telegram polling may confirm a batch of updates once its likes are kept, before they are counted: the count's SQL left the confirmation path, which is where studybot's Telegram ingest trailed the library's own rate
--
-- like_inbox keeps bursts of likes whose caller needed them only kept (storage.likes.LikeRows.keep_reactions):
-- each row is what like_bursts takes, the members to upsert and the likes, as JSON arrays. A row is committed
-- on its own, and the caller told, before the likes are counted; counting it (INSERT INTO like_inbox_apply)
-- runs every kept row through like_bursts in the order kept, by the one like rule, and deletes it, in the same
-- statement. The store counts what is kept before any later write, and at open what a stopped process left.
-- The like rule is idempotent, so a row counted by another process first adds nothing the second time.
CREATE TABLE like_inbox (id INTEGER PRIMARY KEY, members TEXT NOT NULL, likes TEXT NOT NULL);

CREATE VIEW like_inbox_apply AS SELECT NULL AS kept WHERE 0;

CREATE TRIGGER like_inbox_apply_rows INSTEAD OF INSERT ON like_inbox_apply
BEGIN
    INSERT INTO like_bursts (members, likes) SELECT members, likes FROM like_inbox ORDER BY id;
    DELETE FROM like_inbox;
END;
