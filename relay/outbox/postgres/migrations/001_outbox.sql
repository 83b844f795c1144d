-- The relay's outbox, shared by its replicas: jobs (sealed as the bbolt outbox stores them), event ids seen for
-- dedupe, dead letters, and the leases and heartbeats by which replicas share the work.
CREATE SEQUENCE relay_job_ids;
CREATE TABLE relay_jobs (
  id          bigint PRIMARY KEY,
  destination text NOT NULL,
  source      text NOT NULL,
  event_id    text NOT NULL,
  job         bytea NOT NULL,
  sending_by  text
);
CREATE INDEX relay_jobs_queue ON relay_jobs (destination, id);
CREATE INDEX relay_jobs_event ON relay_jobs (source, event_id);
CREATE INDEX relay_jobs_sending ON relay_jobs (sending_by) WHERE sending_by IS NOT NULL;
CREATE TABLE relay_seen (
  source   text NOT NULL,
  event_id text NOT NULL,
  seen_at  timestamptz NOT NULL,
  PRIMARY KEY (source, event_id)
);
CREATE INDEX relay_seen_time ON relay_seen (seen_at);
CREATE TABLE relay_dead (
  id          bigint PRIMARY KEY,
  destination text NOT NULL,
  letter      bytea NOT NULL, -- the dead letter as JSON, byte for byte (jsonb would reformat its payload)
  dead_at     timestamptz NOT NULL
);
CREATE TABLE relay_leases (
  destination text PRIMARY KEY,
  holder      text NOT NULL,
  expires     timestamptz NOT NULL
);
CREATE TABLE relay_replicas (
  id        text PRIMARY KEY,
  started   timestamptz NOT NULL,
  heartbeat timestamptz NOT NULL
);
CREATE TABLE relay_backoff (
  account text PRIMARY KEY,
  until   timestamptz NOT NULL
);
