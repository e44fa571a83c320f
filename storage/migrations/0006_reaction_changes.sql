-- reason: a burst of reactions (adds, removes, and the upserts of members seen for the first time) is applied by ONE statement, so that it costs one round trip to the writer thread and needs no explicit transaction
--
-- Rows inserted into this view are not stored: the trigger below applies each in the order given, by the same
-- rules as the single statements (only a group's like emojis, never the author's own, one like per member).
-- display_name is NULL when the member is known to be stored as they are; otherwise the member is upserted
-- first. Under load every round trip to SQLite's thread waits for a busy event loop to hear the answer, and
-- a burst of likes with new members took four (BEGIN, members, likes, COMMIT) instead of one.
CREATE VIEW reaction_changes AS
    SELECT NULL AS platform, NULL AS chat_id, NULL AS message_id, NULL AS user_id, NULL AS emoji, NULL AS added,
           NULL AS created_at, NULL AS display_name, NULL AS is_bot
    WHERE 0;

CREATE TRIGGER reaction_changes_apply INSTEAD OF INSERT ON reaction_changes
BEGIN
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT NEW.platform, NEW.user_id, NEW.display_name, COALESCE(NEW.is_bot, 0) WHERE NEW.display_name IS NOT NULL
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot;

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT q.id, m.id, e.emoji, NEW.created_at
    FROM questions q
    JOIN group_like_emojis e ON e.group_id = q.group_id AND e.emoji = NEW.emoji
    JOIN members m ON m.platform = NEW.platform AND m.user_id = NEW.user_id
    WHERE NEW.added AND q.platform = NEW.platform AND q.chat_id = NEW.chat_id AND q.message_id = NEW.message_id
      AND m.id <> q.author_id AND m.is_bot = 0;

    DELETE FROM reactions
    WHERE NOT NEW.added
      AND question_id = (
          SELECT id FROM questions
          WHERE platform = NEW.platform AND chat_id = NEW.chat_id AND message_id = NEW.message_id
      )
      AND member_id = (SELECT id FROM members WHERE platform = NEW.platform AND user_id = NEW.user_id)
      AND emoji = NEW.emoji;
END;
