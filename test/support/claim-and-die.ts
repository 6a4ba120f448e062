// Creates a user the way the service does, prints "claimed" once the email
// is claimed, then waits to be killed before it finishes: a crash between
// two steps. Mode `two-step` (an email change's protocol): the claim is
// committed and the user row not yet written. Mode `together` (a create's
// one transaction): claim and user row written, the transaction not committed.
import { colocatedId } from '../../src/users/colocated-create.js';
import { normalizeEmail } from '../../src/routing/strategies/hash.js';
import { inProcess } from './runtime.js';

const [catalogUrl, email, userId, mode = 'two-step'] = process.argv.slice(2) as [string, string, string, string?];
const svc = await inProcess(catalogUrl);
const never = () => new Promise(() => undefined);
if (mode === 'together') {
  const norm = normalizeEmail(email);
  const emailKsid = svc.router.emailKsid(norm);
  const picked = colocatedId(svc.router, svc.db, emailKsid)!;
  await svc.db.tx(picked.ksid, async ({ client }) => {
    // The create's statement, in a transaction held open (the service sends it with its commit in one round trip).
    await client.query(svc.emails.claimTogetherSql((t) => client.escapeLiteral(t), emailKsid, norm, { ksid: picked.ksid, id: picked.id, email, name: 'Ghost', profile: {} }));
    process.stdout.write('claimed\n');
    await never(); // never commits
  });
} else {
  await svc.emails.claim(email, userId, async () => {
    process.stdout.write('claimed\n');
    await never(); // never writes the user
  });
}
