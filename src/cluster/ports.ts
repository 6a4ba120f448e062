/**
 * Port checks. Every port of the stack is probed before anything starts so
 * that a clash fails fast with the port and its role named, instead of a
 * half-started stack and a buried "address already in use" in some log.
 */
import { createServer } from 'node:net';

/** A port the stack wants and what it is for (used in the error message). */
export interface PortClaim {
  port: number;
  role: string;
}

/** True when nothing listens on 127.0.0.1:`port` (we can bind it ourselves). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws one error naming every busy or duplicated port; resolves when all are free. */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const { port, role } of claims) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${role}: invalid port ${port}`);
    const other = seen.get(port);
    if (other) problems.push(`port ${port} is assigned to both ${other} and ${role}`);
    seen.set(port, role);
  }
  const busy = await Promise.all(claims.map(async (c) => ((await isPortFree(c.port)) ? null : c)));
  for (const c of busy) if (c) problems.push(`port ${c.port} (${c.role}) is already in use on 127.0.0.1`);
  if (problems.length > 0) {
    throw new Error(`cannot start the stack:\n  ${problems.join('\n  ')}\nPick other ports (see --help) or stop what uses them.`);
  }
}
