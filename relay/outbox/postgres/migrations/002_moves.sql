-- Outboxes moved into this one (relay outbox salvage --outbox-dsn): each is moved once, so that a second run
-- cannot queue its jobs again.
CREATE TABLE relay_moves (
  outbox   text PRIMARY KEY,
  moved_at timestamptz NOT NULL,
  jobs     int NOT NULL,
  dead     int NOT NULL,
  seen     int NOT NULL
);
