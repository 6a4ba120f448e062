import { TesseraError } from '../errors/catalog.js';

/** SQLSTATE raised by the shard fence (`tessera_fence()`). */
export const SQLSTATE_WRONG_SHARD = 'TS001';

/** The shard refused a write for a key it does not own (stale shard map). */
export class WrongShardError extends Error {
  constructor(readonly shard: string, cause: unknown) {
    super(`shard ${shard} does not own the key (stale shard map)`, { cause });
    this.name = 'WrongShardError';
  }
}

const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // query_canceled: our statement_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
  '25006', // read_only_sql_transaction: a primary that became a standby
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/** The SQLSTATE (or errno code) of a pg error, if any. */
export function sqlState(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** Whether an error means the shard could not serve (as opposed to a logic error). */
export function isUnavailable(err: unknown): boolean {
  const code = sqlState(err);
  if (code && (UNAVAILABLE_SQLSTATES.has(code) || NETWORK_CODES.has(code))) return true;
  const msg = err instanceof Error ? err.message : '';
  // pg reports pool and connect timeouts, and queries on a client whose connection died, without a code.
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout|not queryable/i.test(msg);
}

/** Maps a driver error on `shard` to the error the caller should see. */
export function mapDbError(shard: string, err: unknown): Error {
  if (err instanceof TesseraError || err instanceof WrongShardError) return err;
  const code = sqlState(err);
  if (code === SQLSTATE_WRONG_SHARD) return new WrongShardError(shard, err);
  if (isUnavailable(err)) {
    return new TesseraError('TESSERA_ERR_SHARD_UNAVAILABLE', `shard ${shard} is unavailable`, { retryAfter: 1, cause: err, shard });
  }
  if (code === '40001' || code === '40P01') {
    return new TesseraError('TESSERA_ERR_CONFLICT', 'concurrent change, retry', { retryAfter: 0, cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
