-- reason: several processes on one database (issue 13): a lesson post's claim names its owner and expires, so only the owner sends; Telegram webhook updates are recorded by update_id, so a redelivered one is not handled twice
--
-- The same schema as storage/migrations/0014_claim_owners_and_webhook_updates.sql (see there for why); times are
-- Unix seconds in BIGINT as everywhere in this schema.
ALTER TABLE lesson_posts ADD COLUMN claimed_by TEXT;
ALTER TABLE lesson_posts ADD COLUMN claim_expires_at BIGINT;

CREATE TABLE telegram_updates (
    bot_id      TEXT NOT NULL,
    update_id   BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    handled_at  BIGINT,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX telegram_updates_by_age ON telegram_updates (received_at);
