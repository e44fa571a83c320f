-- reason: several processes on one database (issue 13): a lesson post's claim names its owner and expires, so only the owner sends; Telegram webhook updates are recorded by update_id, so a redelivered one is not handled twice
--
-- claimed_by is the claiming process's holder id (the one its scheduler lease uses), claim_expires_at when another
-- process may take a PENDING claim over (the owner crashed or stalled). Rows claimed before this migration have
-- neither: their claims count as expired, so the next claimant finishes them, as before.
ALTER TABLE lesson_posts ADD COLUMN claimed_by TEXT;
ALTER TABLE lesson_posts ADD COLUMN claim_expires_at INTEGER;

-- One row per webhook update a worker began to handle: handled_at is set once its effect is committed. A row
-- whose handling never finished (the worker died) may be taken over after a while; rows older than Telegram
-- keeps an update (24 hours) are pruned by received_at.
CREATE TABLE telegram_updates (
    bot_id      TEXT NOT NULL,
    update_id   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    handled_at  INTEGER,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
CREATE INDEX telegram_updates_by_age ON telegram_updates (received_at);
