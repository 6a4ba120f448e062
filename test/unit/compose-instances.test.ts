import { describe, expect, it } from 'vitest';
import { composeInstance, composeSlot, conninfoUser } from '../../src/cluster/compose-failover-host.js';
import { redact } from '../../src/db/redact.js';

describe('compose instances', () => {
  it('are named by the host of their catalog URL, and stream under that name with - turned into _', () => {
    expect(composeInstance('postgres://tessera:pw@shard-a-replica:5432/tessera')).toEqual({ name: 'shard-a-replica', url: 'postgres://tessera:pw@shard-a-replica:5432/tessera', slot: 'shard_a_replica' });
    expect(composeSlot('Shard.B')).toBe('shard_b');
  });

  it('keep the replication user of a standby\'s primary_conninfo when it is pointed elsewhere', () => {
    expect(conninfoUser("host=shard-a port=5432 user=replicator application_name=shard_a_replica")).toBe('replicator');
    expect(conninfoUser("user='repl ica' password=x host='shard-a'")).toBe('repl ica');
    expect(conninfoUser("host='shard-a' user='o\\'brien'")).toBe("o'brien");
    expect(conninfoUser('host=shard-a')).toBeUndefined();
  });

  it('are shown without their password', () => {
    expect(redact('postgres://tessera:s3cret@shard-a:5432/tessera')).toBe('postgres://tessera:***@shard-a:5432/tessera');
    expect(redact('postgres://tessera@catalog:5432/tessera_catalog')).toBe('postgres://tessera@catalog:5432/tessera_catalog');
  });
});
