/**
 * Where the Swarm suite records whether it made the Swarm (and its gateway
 * bridge), beside the stack's env file, for the global teardown to undo once
 * the compose stack is down. No vitest import: the global setup uses it.
 */
import { dirname, join } from 'node:path';

export function swarmMarker(envFile: string): string {
  return join(dirname(envFile), 'swarm.json');
}
