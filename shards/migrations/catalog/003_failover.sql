-- Shard primaries can move: the catalog names each shard's primary, an epoch
-- that every move bumps, whether the shard is between primaries, and how
-- durable its commits are. Apps follow changes through the same NOTIFY
-- channel as shard-map versions.

-- serving: the primary takes reads and writes.
-- switching: a planned failover is under way; writes are fenced and apps
--   retry them until the new primary is published (clients see a delay).
-- electing: an emergency failover is under way; writes fail fast (503).
ALTER TABLE shards ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 1;
ALTER TABLE shards ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'serving';
ALTER TABLE shards DROP CONSTRAINT IF EXISTS shards_state_check;
ALTER TABLE shards ADD CONSTRAINT shards_state_check CHECK (state IN ('serving', 'switching', 'electing'));
-- sync: the primary commits only once a replica has the commit (ANY 1 of its
-- replicas), so an acknowledged write survives losing the primary. async:
-- commits do not wait; a failover may lose what the replicas had not received.
ALTER TABLE shards ADD COLUMN IF NOT EXISTS durability text NOT NULL DEFAULT 'sync';
ALTER TABLE shards DROP CONSTRAINT IF EXISTS shards_durability_check;
ALTER TABLE shards ADD CONSTRAINT shards_durability_check CHECK (durability IN ('sync', 'async'));

-- Every failover, and the one in progress: the CLI is stateless and resumes
-- (or reports exactly where the shard stands) from here after a crash.
CREATE TABLE IF NOT EXISTS shard_failovers (
  id               bigserial   PRIMARY KEY,
  shard            text        NOT NULL REFERENCES shards (name),
  kind             text        NOT NULL CHECK (kind IN ('planned', 'emergency')),
  old_primary_url  text        NOT NULL,
  new_primary_url  text        NOT NULL,
  epoch_before     bigint      NOT NULL,
  epoch_after      bigint,
  -- planned:   fence → catchup → promote → publish → repoint → rejoin → done
  -- emergency: elect → promote → publish → repoint → done (the old primary
  --            rejoins when it comes back: `tessera shard rejoin`)
  -- failed: stopped with `error`; the shard's state says what serves.
  phase            text        NOT NULL,
  -- LSNs, the write pause, step timings.
  detail           jsonb       NOT NULL DEFAULT '{}'::jsonb,
  error            text,
  started_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
-- One failover at a time per shard.
CREATE UNIQUE INDEX IF NOT EXISTS shard_failovers_active_idx ON shard_failovers (shard)
  WHERE phase NOT IN ('done', 'failed');

CREATE OR REPLACE FUNCTION tessera_notify_shards() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tessera_shard_map', 'shard:' || NEW.name);
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS shards_notify ON shards;
CREATE TRIGGER shards_notify AFTER INSERT OR UPDATE ON shards
  FOR EACH ROW EXECUTE FUNCTION tessera_notify_shards();
