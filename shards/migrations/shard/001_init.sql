-- Every shard primary gets this schema. Keyspace ids (ksid) are stored as
-- signed bigints with the sign bit flipped so that SQL order = ksid order.

-- The ranges this shard owns. `hi` NULL means the end of the keyspace.
-- `fenced` ranges are still here (reads) but refuse writes: resharding sets
-- it at cutover.
CREATE TABLE IF NOT EXISTS tessera_owned_ranges (
  lo      bigint  PRIMARY KEY,
  hi      bigint,
  fenced  boolean NOT NULL DEFAULT false,
  CHECK (hi IS NULL OR lo < hi)
);

-- The primary key leads with ksid: it is also the replica identity, which a
-- publication row filter on ksid requires once UPDATE/DELETE are published.
CREATE TABLE IF NOT EXISTS users (
  ksid        bigint      NOT NULL,
  id          uuid        NOT NULL,
  email       text        NOT NULL,
  name        text        NOT NULL,
  profile     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  version     bigint      NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ksid, id)
);
-- Cross-shard listing walks ids in order.
CREATE INDEX IF NOT EXISTS users_id_idx ON users (id);

CREATE TABLE IF NOT EXISTS documents (
  ksid        bigint      NOT NULL,
  user_id     uuid        NOT NULL,
  key         text        COLLATE "C" NOT NULL,
  value       jsonb       NOT NULL,
  version     bigint      NOT NULL DEFAULT 1,
  -- A key can be deleted and created again; caches tell incarnations apart by this.
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ksid, user_id, key),
  FOREIGN KEY (ksid, user_id) REFERENCES users (ksid, id) ON DELETE CASCADE
);

-- Email uniqueness across shards: one row per claimed email, sharded by the
-- ksid of the email itself (a Vitess-style consistent lookup vindex).
CREATE TABLE IF NOT EXISTS email_lookup (
  ksid        bigint      NOT NULL,
  email       text        NOT NULL,
  user_id     uuid        NOT NULL,
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ksid, email)
);

-- The fence: a write for a ksid this shard does not own (or owns but has
-- fenced) fails inside its own transaction with SQLSTATE TS001. FOR SHARE
-- makes a cutover's UPDATE of the range row wait for in-flight writers, so no
-- write can commit on the source after the fence. An ordinary trigger does
-- not fire in the logical-replication apply worker (session_replication_role
-- = replica), which lets a resharding target fill before it owns the range.
CREATE OR REPLACE FUNCTION tessera_fence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  k bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN k := OLD.ksid; ELSE k := NEW.ksid; END IF;
  IF current_setting('tessera.bypass_fence', true) = 'on' THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  PERFORM 1 FROM tessera_owned_ranges r
    WHERE r.lo <= k AND (r.hi IS NULL OR k < r.hi) AND NOT r.fenced
    FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'keyspace id % is not owned by this shard', k
      USING ERRCODE = 'TS001', HINT = 'reload the shard map and retry on the owner';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

DROP TRIGGER IF EXISTS users_fence ON users;
CREATE TRIGGER users_fence BEFORE INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION tessera_fence();
DROP TRIGGER IF EXISTS documents_fence ON documents;
CREATE TRIGGER documents_fence BEFORE INSERT OR UPDATE OR DELETE ON documents
  FOR EACH ROW EXECUTE FUNCTION tessera_fence();
DROP TRIGGER IF EXISTS email_lookup_fence ON email_lookup;
CREATE TRIGGER email_lookup_fence BEFORE INSERT OR UPDATE OR DELETE ON email_lookup
  FOR EACH ROW EXECUTE FUNCTION tessera_fence();
