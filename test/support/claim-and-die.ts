// Claims an email the way a create does, prints "claimed", then waits to be
// killed before it writes the user: a crash between the two steps.
import { inProcess } from './runtime.js';

const [catalogUrl, email, userId] = process.argv.slice(2) as [string, string, string];
const svc = await inProcess(catalogUrl);
await svc.emails.claim(email, userId, async () => {
  process.stdout.write('claimed\n');
  await new Promise(() => undefined); // never writes the user
});
