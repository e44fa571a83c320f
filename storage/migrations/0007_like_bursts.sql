-- reason: a burst of likes that brings members seen for the first time is applied set-based in ONE statement (members first, then every like), instead of row by row through reaction_changes, which cost SQLite about 60% more per like
--
-- Rows inserted into this view are not stored: members and likes are JSON arrays. members holds the new or
-- renamed members, [platform, user_id, display_name, is_bot]; likes holds the likes, each as the parameters of
-- the single add statement: [created_at, emoji, platform, user_id, platform, chat_id, message_id]. Only adds
-- come this way (the rules are those of the single statement: a group's like emojis only, never the author's
-- own, one like per member); a burst with removals keeps reaction_changes, which applies its rows in order.
CREATE VIEW like_bursts AS SELECT NULL AS members, NULL AS likes WHERE 0;

CREATE TRIGGER like_bursts_apply INSTEAD OF INSERT ON like_bursts
BEGIN
    INSERT INTO members (platform, user_id, display_name, is_bot)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(NEW.members) WHERE true
    ON CONFLICT (platform, user_id) DO UPDATE SET display_name = excluded.display_name, is_bot = excluded.is_bot
    WHERE display_name IS NOT excluded.display_name OR is_bot IS NOT excluded.is_bot;

    INSERT OR IGNORE INTO reactions (question_id, member_id, emoji, created_at)
    SELECT q.id, m.id, e.emoji, j.value ->> 0
    FROM json_each(NEW.likes) AS j
    CROSS JOIN questions q ON q.platform = j.value ->> 4 AND q.chat_id = j.value ->> 5 AND q.message_id = j.value ->> 6
    CROSS JOIN group_like_emojis e ON e.group_id = q.group_id AND e.emoji = j.value ->> 1
    CROSS JOIN members m ON m.platform = j.value ->> 2 AND m.user_id = j.value ->> 3
    WHERE m.id <> q.author_id AND m.is_bot = 0;
END;
