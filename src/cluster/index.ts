/**
 * The local stack: `up`, `down`, `status` and the pieces they are built from
 * (one PostgreSQL instance, one app, NGINX), for later commands such as
 * `tessera scale` and `tessera shard add`.
 */
export { up, type UpOptions, type UpResult, type MigrateFn } from './up.js';
export { down, stopStack, type DownOptions, type DownResult } from './down.js';
export { collectStatus, formatStatus, type StackStatus, type ComponentHealth } from './status.js';
export { describeStack } from './summary.js';
export { readStack, tryReadStack, writeStack, stackFilePath, pgInstances } from './stack-file.js';
export type { StackInfo, ShardInfo, PgInstanceInfo, ReplicaInfo, AppInfo, NginxInfo, RedisInfo, RuntimeInfo } from './stack-file.js';
export { planStack, planApp, planShard, resolveLayoutOptions, seedFromStack, pgUrl, shardName, slotName, PROJECT_ROOT, type StackLayoutOptions } from './layout.js';
export { withStackLock } from './lock.js';
export { processStates, deadProcesses } from './liveness.js';
export { evenRanges } from './key-ranges.js';
export { initInstance, startInstance, stopInstance, runningPgPid, ensureDatabase, withClient, type PgContext } from './pg-instance.js';
export { cloneReplica, ensureReplicationSlot, replicationRows, isInRecovery, waitStreaming } from './pg-replication.js';
export { pgContextFor } from './pg-stack.js';
export { startApp, stopApp, spawnApp, waitAppReady, probeReady, isOurApp, type AppWiring } from './app.js';
export { startNginx, reloadNginx, stopNginx, writeNginxConfig, renderNginxConfig } from './nginx.js';
export { startRedis, stopRedis, pingRedis } from './redis.js';
