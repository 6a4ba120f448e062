import type { Command } from 'commander';
import { writeKeyPair } from '../../auth/keys.js';

/** `tessera keys generate|rotate`: signing key pairs for deployments that do not use `tessera up`. */
export function register(program: Command): void {
  const keys = program.command('keys').description('make token signing keys: a private JWK (mode 0600) and the public JWKS the apps read');
  keys
    .command('generate')
    .description('write a new key pair into <out>: signing-key.jwk (private, 0600) and jwks.json (public, for TESSERA_AUTH_JWKS_FILE)')
    .requiredOption('--out <dir>', 'folder to write into')
    .action(async (flags: { out: string }) => {
      const { kid } = await writeKeyPair(flags.out);
      console.error(`wrote ${flags.out}/signing-key.jwk and ${flags.out}/jwks.json (kid ${kid})`);
    });
  keys
    .command('rotate')
    .description('make a new signing key and add its public key to <out>/jwks.json beside the old ones; apps pick it up without a restart')
    .requiredOption('--out <dir>', 'folder holding jwks.json')
    .action(async (flags: { out: string }) => {
      const { kid, keys: count } = await writeKeyPair(flags.out, { rotate: true });
      console.error(`new signing key ${kid}; ${flags.out}/jwks.json holds ${count} keys (remove old ones once their tokens have expired)`);
    });
}
