import { InvalidArgumentError, type Command } from 'commander';
import { scaleDocker, type DockerTarget } from '../../cluster/docker-scale.js';
import { scale } from '../../cluster/scale.js';
import { describeStack } from '../../cluster/summary.js';

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer');
  return n;
}

interface ScaleFlags {
  apps: number;
  dir: string;
  compose?: boolean;
  file: string[];
  project?: string;
  envFile?: string;
  swarm?: string;
}

function dockerTarget(flags: ScaleFlags): DockerTarget | null {
  if (flags.compose && flags.swarm) throw new InvalidArgumentError('give --compose or --swarm, not both');
  if (flags.swarm) return { kind: 'swarm', stack: flags.swarm };
  if (flags.compose) return { kind: 'compose', files: flags.file, project: flags.project, envFile: flags.envFile };
  return null;
}

/** `tessera scale --apps N`: adds or removes app replicas of a running stack (local, compose or Swarm). */
export function register(program: Command): void {
  program
    .command('scale')
    .description(
      'add or remove app replicas without failing a request. Local stack (default): new replicas start in NGINX\'s ' +
        'empty upstream slots and are ready before it sends to them; removed ones drain (SIGTERM) while NGINX moves on; ' +
        'NGINX reloads only to grow past its slots (tessera up --app-slots). --compose / --swarm: the orchestrator ' +
        'starts and stops app containers and this waits until they are healthy; NGINX follows by DNS.',
    )
    .requiredOption('--apps <n>', 'app replicas wanted', count)
    .option('--dir <dir>', 'local stack folder', '.tessera')
    .option('--compose', 'scale the compose stack (run where `docker compose` works, e.g. the repository)')
    .option('--file <file...>', 'with --compose: compose file(s)', ['docker-compose.yml'])
    .option('--project <name>', 'with --compose: project name (default: compose\'s own, the folder name)')
    .option('--env-file <file>', 'with --compose: the env file (default: compose\'s own, .env)')
    .option('--swarm <stack>', 'scale the app service of this Swarm stack (`docker stack deploy … <stack>`)')
    .action(async (flags: ScaleFlags) => {
      const target = dockerTarget(flags);
      if (target) {
        const result = await scaleDocker(target, flags.apps);
        console.log(`${result.replicas.length} app replicas running and healthy: ${result.replicas.join(', ')}`);
        return;
      }
      const result = await scale({ dir: flags.dir, apps: flags.apps });
      const changed = [...result.added.map((id) => `+${id}`), ...result.removed.map((id) => `-${id}`)];
      console.error(changed.length > 0 ? `scaled to ${result.stack.apps.length} app replicas (${changed.join(', ')})` : 'nothing changed');
      console.log(describeStack(result.stack));
    });
}
