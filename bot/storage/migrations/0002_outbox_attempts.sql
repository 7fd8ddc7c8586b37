-- why: the delivery worker retries failed sends; it needs to count attempts and keep the last error.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
