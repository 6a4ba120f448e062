/** What `tessera up` prints on stdout once the stack is up: where to send requests, and how. */
import { upstreamPorts } from './layout.js';
import type { StackInfo } from './stack-file.js';

/** A short, copy-pasteable description of a running stack. */
export function describeStack(info: StackInfo): string {
  const url = info.nginx.url;
  const shardLines = info.shards.map((s) => {
    const replicas = s.replicas.map((r) => `:${r.port}`).join(' ');
    return `  ${s.name} ${s.ranges.join(',')}  primary :${s.primary.port}${replicas ? `  replicas ${replicas}` : ''}`;
  });
  return [
    `Tessera is up: send requests to ${url}`,
    '',
    `  curl -s -X POST ${url}/v1/users -H 'content-type: application/json' -d '{"email":"ada@example.com","name":"Ada"}'`,
    `  curl -s ${url}/v1/users/<id>`,
    '',
    `apps      ${info.apps.map((a) => a.url).join('  ')}   (${upstreamPorts(info.nginx, info.apps).length} NGINX slots: \`tessera scale --apps N\` up to that needs no reload)`,
    `catalog   ${info.catalog.url}`,
    `redis     ${info.redis.url}`,
    `shards (${info.strategy}):`,
    ...shardLines,
    ...(info.tracing ? [`traces    ${info.tracing.uiUrl}   (Jaeger; apps sample ${info.tracing.sample * 100}% of new traces, OTLP at ${info.tracing.otlpUrl})`] : []),
    ...(info.monitoring ? [`metrics   ${info.monitoring.prometheus.url}   (Prometheus: every app, Redis, PostgreSQL; alerts at /alerts)   live view: npx tessera top${info.dir.endsWith('/.tessera') ? '' : ` --dir ${info.dir}`}`] : []),
    `logs      ${info.dir}/logs   stack file ${info.dir}/stack.json`,
    `status: npx tessera status${info.dir.endsWith('/.tessera') ? '' : ` --dir ${info.dir}`}   stop: npm run down${info.dir.endsWith('/.tessera') ? '' : ` -- --dir ${info.dir}`}`,
  ].join('\n');
}
