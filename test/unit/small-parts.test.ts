import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { CircuitBreaker } from '../../src/db/breaker.js';
import { isSyncWaitCancelled } from '../../src/db/pools.js';
import { decodeCursor, encodeCursor } from '../../src/users/cursor.js';

describe('cursors', () => {
  it('round-trip the position they carry', () => {
    const c = encodeCursor('019a6f1e-8c2b-7d3e-9f00-0123456789ab');
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, () => true)).toBe('019a6f1e-8c2b-7d3e-9f00-0123456789ab');
  });

  it('refuse cursors this service did not issue with a 400', () => {
    expect(() => decodeCursor('bm90LWpzb24', () => true)).toThrow(expect.objectContaining({ status: 400, code: 'TESSERA_ERR_INVALID_CURSOR' }));
    expect(() => decodeCursor(encodeCursor('x'), (a) => a.length > 5)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, lets one trial through after the cool-down, closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker(2, 100, () => now);
    b.failure();
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 150;
    expect(b.allow()).toBe(true); // the trial
    expect(b.allow()).toBe(false); // only one at a time
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });
});

describe('configuration', () => {
  it('applies documented defaults and converts numbers', () => {
    const c = loadConfig({ TESSERA_PORT: '4100' });
    expect(c.TESSERA_PORT).toBe(4100);
    expect(c.TESSERA_MAX_DOC_BYTES).toBe(65536);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ TESSERA_PORT: 'eighty', TESSERA_LOG_LEVEL: 'loud' })).toThrow(/TESSERA_PORT/);
  });
});

describe('isSyncWaitCancelled', () => {
  it('tells the warning of a commit whose wait for a synchronous standby was cancelled from other notices', () => {
    const cancelled = {
      code: '01000',
      message: 'canceling wait for synchronous replication due to user request',
      detail: 'The transaction has already committed locally, but might not have been replicated to the standby.',
    };
    expect(isSyncWaitCancelled(cancelled)).toBe(true);
    expect(isSyncWaitCancelled({ ...cancelled, message: 'canceling the wait for synchronous replication and terminating connection due to administrator command' })).toBe(true);
    expect(isSyncWaitCancelled({ code: '01000', message: 'some other warning' })).toBe(false);
    expect(isSyncWaitCancelled({ code: '00000', message: 'relation "x" already exists, skipping' })).toBe(false);
  });
});
