-- reason: the like rule (a reaction counts when its emoji is one of the group's like emojis and its member is neither the post's author nor a bot) stated once, as the view countable_likes that every path keeping a like reads; and each post's guild kept, so a digest's links are made when it is sent
--
-- Before, the rule was written in the store's two add statements, in the two burst triggers below and in the
-- Python of the reconciliation. Now those read the views: may_like says who may like which post (never its
-- author, never a bot), countable_likes which of their reactions count (the group's like emojis). A reaction is
-- kept only when it is a row of countable_likes; nothing else decides. SQLite flattens both views into the
-- statement that reads them, so each like still finds its post, emoji and member through their unique indexes.
CREATE VIEW may_like AS
    SELECT q.id AS question_id, q.group_id, q.platform, q.chat_id, q.message_id,
           m.id AS member_id, m.platform AS member_platform, m.user_id
    FROM questions q
    JOIN members m ON m.id <> q.author_id AND m.is_bot = 0;

CREATE VIEW countable_likes AS
    SELECT l.question_id, l.platform, l.chat_id, l.message_id, l.member_id, l.member_platform, l.user_id, e.emoji
    FROM may_like l
    JOIN group_like_emojis e ON e.group_id = l.group_id;

-- The burst triggers of migrations 0006 and 0007, the same but for the like rule, which they now read.
DROP TRIGGER reaction_changes_apply;
CREATE TRIGGER reaction_changes_apply INSTEAD OF INSERT ON reaction_changes
BEGIN
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT NEW.platform, NEW.user_id, NEW.display_name, COALESCE(NEW.is_bot, 0) WHERE NEW.display_name IS NOT NULL
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot;

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT l.question_id, l.member_id, l.emoji, NEW.created_at
    FROM countable_likes l
    WHERE NEW.added AND l.platform = NEW.platform AND l.chat_id = NEW.chat_id AND l.message_id = NEW.message_id
      AND l.emoji = NEW.emoji AND l.member_platform = NEW.platform AND l.user_id = NEW.user_id;

    DELETE FROM reactions
    WHERE NOT NEW.added
      AND question_id = (
          SELECT id FROM questions
          WHERE platform = NEW.platform AND chat_id = NEW.chat_id AND message_id = NEW.message_id
      )
      AND member_id = (SELECT id FROM members WHERE platform = NEW.platform AND user_id = NEW.user_id)
      AND emoji = NEW.emoji;
END;

DROP TRIGGER like_bursts_apply;
CREATE TRIGGER like_bursts_apply INSTEAD OF INSERT ON like_bursts
BEGIN
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(NEW.members) WHERE true
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot;

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT l.question_id, l.member_id, l.emoji, j.value ->> 0
    FROM json_each(NEW.likes) AS j
    CROSS JOIN countable_likes l
    WHERE l.platform = j.value ->> 4 AND l.chat_id = j.value ->> 5 AND l.message_id = j.value ->> 6
      AND l.emoji = j.value ->> 1 AND l.member_platform = j.value ->> 2 AND l.user_id = j.value ->> 3;
END;

-- Digest links are made when a digest is sent, no longer stored in it (its items keep the question's message).
-- A Discord link needs the message's guild: kept with the post, so that a process without that guild in its
-- cache (another shard's) still makes the right link. NULL for posts stored before and on platforms without
-- guilds; the sending process then finds the guild in its cache as before. Digests recorded before keep the
-- links stored in their items.
ALTER TABLE questions ADD COLUMN guild_id TEXT;
