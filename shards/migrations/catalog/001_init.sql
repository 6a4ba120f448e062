-- The catalog: where shards live and the versioned shard map.

CREATE TABLE IF NOT EXISTS shards (
  name          text        PRIMARY KEY,
  primary_url   text        NOT NULL,
  replica_urls  text[]      NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Each version is a whole map; the newest is the one in force. Versions are
-- never edited, so any replica can say exactly which map it routes with.
CREATE TABLE IF NOT EXISTS shard_maps (
  version     bigint      PRIMARY KEY,
  keyspace    text        NOT NULL,
  strategy    text        NOT NULL,
  ranges      jsonb       NOT NULL,
  reason      text        NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every app replica reports the map version it routes with; resharding
-- cleanup waits until all live replicas report the new one.
CREATE TABLE IF NOT EXISTS app_replicas (
  app_id        text        PRIMARY KEY,
  map_version   bigint      NOT NULL,
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- Publishing a version notifies every listening replica at once; polling is
-- the backstop for a missed notification.
CREATE OR REPLACE FUNCTION tessera_notify_map() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tessera_shard_map', NEW.version::text);
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS shard_maps_notify ON shard_maps;
CREATE TRIGGER shard_maps_notify AFTER INSERT ON shard_maps
  FOR EACH ROW EXECUTE FUNCTION tessera_notify_map();
