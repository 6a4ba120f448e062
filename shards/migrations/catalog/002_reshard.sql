-- Resharding workflows: one row per moved key range. The CLI is stateless;
-- everything it needs to resume after a crash (even SIGKILL) is here.

CREATE TABLE IF NOT EXISTS reshard_workflows (
  id              text        PRIMARY KEY,
  -- Workflows started by one `plan --apply` (add-shard may move several ranges).
  batch           text        NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('split', 'merge', 'move', 'add-shard')),
  source          text        NOT NULL,
  target          text        NOT NULL,
  -- The moving ksid range, Vitess notation (`40-80`).
  range           text        NOT NULL,
  -- prepare → copy → verify → cutover → switched → cleanup → done; or
  -- rollback → rolled_back after a cutover; abort → aborted before one.
  phase           text        NOT NULL,
  rows_total      bigint      NOT NULL DEFAULT 0,
  bytes_total     bigint      NOT NULL DEFAULT 0,
  rows_copied     bigint      NOT NULL DEFAULT 0,
  copy_started_at timestamptz,
  copy_done_at    timestamptz,
  -- Per-table totals and differences of the last verify.
  verify          jsonb,
  -- Timings of the cutover (fence, catch-up, claim, publish, whole window).
  cutover         jsonb,
  map_version_before bigint,
  map_version_after  bigint,
  -- Cleanup / rollback counters and timings.
  finish          jsonb,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);

CREATE INDEX IF NOT EXISTS reshard_workflows_active_idx ON reshard_workflows (phase)
  WHERE phase NOT IN ('done', 'rolled_back', 'aborted');
