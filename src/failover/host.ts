/**
 * What a failover needs from wherever the shard's instances run: stopping
 * and starting them and rewriting which primary a standby follows. The SQL
 * steps (fence, positions, promotion) are the same everywhere and live in
 * `pg-ops.ts`; the local stack implements this in `cluster/failover-host.ts`,
 * the compose stack in `cluster/compose-failover-host.ts`.
 */

/** One PostgreSQL instance of a shard, as the failover sees it. */
export interface InstanceRef {
  /** Host-side name, e.g. `shard-a-replica-1`. */
  name: string;
  /** Connection string of the shard database on it. */
  url: string;
  /** Its physical replication slot on whichever primary it follows; also its application_name. */
  slot: string;
}

/** The instances of one shard as the host knows them now. */
export interface ShardInstances {
  primary: InstanceRef;
  replicas: InstanceRef[];
}

/** Operations on a shard's instances. Every one is idempotent, so a failover can be resumed. */
export interface ShardHost {
  /** The shard's instances (primary first), or undefined when the host does not run that shard. */
  instances(shard: string): ShardInstances | undefined;
  /** Whether the instance's server runs (local: its process; compose: it answers). */
  running(inst: InstanceRef): Promise<boolean>;
  /**
   * Stops the instance (`fast`: cleanly, writing a shutdown checkpoint that
   * connected standbys receive) and waits until it has exited. With
   * `untilStopping`, a host may return as soon as the shutdown has begun (the
   * server has ended every session and takes no new connection): a planned
   * failover then waits on the standby's side for the old primary's last WAL
   * instead of for its process or container to be gone.
   */
  stop(inst: InstanceRef, mode: 'fast' | 'immediate', opts?: { untilStopping?: boolean }): Promise<void>;
  /** Undoes `demote` on a primary a failover stopped before promoting anything, and starts it as the primary again. */
  restorePrimary(inst: InstanceRef): Promise<void>;
  /** Points a running standby at `primary` (connection and slot) and reloads it: it follows the new timeline. */
  repoint(inst: InstanceRef, primary: InstanceRef): Promise<void>;
  /**
   * Marks a stopped (or stopping) instance as a standby of `primary` on disk,
   * so that however it is started again it comes up read-only: a demoted
   * primary never takes a write.
   */
  demote(inst: InstanceRef, primary: InstanceRef): Promise<void>;
  /**
   * Brings a stopped instance back as a streaming standby of `primary`:
   * started as it is when it can follow the new timeline, else (or with
   * `rebuild`, for an old primary that may hold WAL the new one never got)
   * rebuilt from a fresh copy of `primary` first.
   */
  rejoin(inst: InstanceRef, primary: InstanceRef, log: (line: string) => void, opts: { rebuild?: boolean }): Promise<'followed' | 'rebuilt'>;
  /**
   * Records which instance is the shard's primary now (the host's own
   * bookkeeping); `pendingRejoin` names demoted instances that must be
   * rebuilt before they serve.
   */
  recordRoles(shard: string, primary: InstanceRef, replicas: InstanceRef[], pendingRejoin?: string[]): Promise<void>;
}
