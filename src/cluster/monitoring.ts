/**
 * `tessera up --monitoring`: Prometheus (Debian's package) beside the local
 * stack, with the Redis and PostgreSQL exporters, loading the shipped alert
 * rules (monitoring/alerts.yml).
 *
 * The apps are found through a file_sd target file that the launcher
 * rewrites whenever the set of apps changes (`up`, `tessera scale`);
 * Prometheus re-reads it on change, so a scaled stack is scraped whole within
 * seconds, without a reload. One PostgreSQL exporter per instance (Debian's
 * 0.11 cannot serve several data sources from one process), labelled with
 * the instance, its shard and role; one Redis exporter.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from './project-root.js';
import { answers, runningSidecarPid, startSidecar, stopSidecar, type SidecarInfo } from './sidecar.js';
import { pgInstances, type StackInfo } from './stack-file.js';
import { findBinary } from './which.js';

/** Prometheus and its exporters, as stack.json records them. */
export interface MonitoringInfo {
  prometheus: SidecarInfo;
  /** The file_sd file listing the apps. */
  targetsFile: string;
  /** The rendered prometheus.yml. */
  config: string;
  /** Scrape and rule-evaluation interval, e.g. `5s`. */
  interval: string;
  exporters: SidecarInfo[];
}

/** The alert rules every Prometheus of Tessera loads. */
export const ALERT_RULES = join(PROJECT_ROOT, 'monitoring', 'alerts.yml');

const INSTALL_HINT = 'Install it (apt-get install prometheus prometheus-redis-exporter prometheus-postgres-exporter) or run `npm run bootstrap -- --with-monitoring` as root.';

/**
 * Plans Prometheus on `port`, the Redis exporter on the next port and one
 * PostgreSQL exporter per instance on the ports after it, under
 * `<dir>/prometheus`. Binaries are looked up now (a missing one fails
 * before anything starts).
 */
export function planMonitoring(info: Pick<StackInfo, 'dir' | 'catalog' | 'shards'>, port: number, interval = '5s'): MonitoringInfo {
  const home = join(info.dir, 'prometheus');
  const logs = join(info.dir, 'logs');
  const config = join(home, 'prometheus.yml');
  const sidecar = (name: string, bin: string, p: number, args: string[], path = '/metrics'): SidecarInfo => ({
    name, bin: findBinary(bin, INSTALL_HINT), args, url: `http://127.0.0.1:${p}${path}`, port: p, pid: 0, log: join(logs, `${name}.log`),
  });
  return {
    config,
    targetsFile: join(home, 'apps.json'),
    interval,
    prometheus: sidecar('prometheus', 'prometheus', port, [
      `--config.file=${config}`, `--storage.tsdb.path=${join(home, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=2d', '--web.enable-lifecycle',
    ], ''),
    exporters: [
      sidecar('redis-exporter', 'prometheus-redis-exporter', port + 1, []),
      ...pgInstances(info as StackInfo).map((inst, i) => {
        const p = port + 2 + i;
        const shard = info.shards.find((sh) => sh.primary.name === inst.name || sh.replicas.some((r) => r.name === inst.name));
        // Debian 12's exporter (0.11) predates PostgreSQL 17, which moved the bgwriter's checkpoint columns.
        const s = sidecar(`postgres-exporter-${inst.name}`, 'prometheus-postgres-exporter', p, [`--web.listen-address=127.0.0.1:${p}`, '--log.level=warn', '--no-collector.bgwriter']);
        s.labels = { pg_instance: inst.name, ...(shard ? { shard: shard.name, role: shard.primary.name === inst.name ? 'primary' : 'replica' } : { role: 'catalog' }) };
        return s;
      }),
    ],
  };
}

/** prometheus.yml for a stack: the apps (file_sd), the exporters, Prometheus itself, and the alert rules. */
export function renderPrometheusConfig(m: MonitoringInfo, rules = ALERT_RULES): string {
  const target = (s: SidecarInfo) => `127.0.0.1:${s.port}`;
  const redis = m.exporters.find((e) => e.name === 'redis-exporter');
  const postgres = m.exporters.filter((e) => e.name.startsWith('postgres-exporter'));
  return [
    '# Rendered by `tessera up --monitoring` (src/cluster/monitoring.ts); edit there.',
    'global:',
    `  scrape_interval: ${m.interval}`,
    `  evaluation_interval: ${m.interval}`,
    '  scrape_timeout: 4s',
    'rule_files:',
    `  - ${JSON.stringify(rules)}`,
    'scrape_configs:',
    '  # Every app replica: the launcher rewrites this file on `up` and `tessera scale`.',
    '  - job_name: tessera-app',
    '    file_sd_configs:',
    `      - files: [${JSON.stringify(m.targetsFile)}]`,
    '        refresh_interval: 5s',
    ...(redis ? ['  - job_name: redis', '    static_configs:', `      - targets: ["${target(redis)}"]`] : []),
    ...(postgres.length > 0 ? ['  - job_name: postgres', '    static_configs:', ...postgres.flatMap((e) => [`      - targets: ["${target(e)}"]`, `        labels: ${JSON.stringify(e.labels ?? {})}`])] : []),
    '  - job_name: prometheus',
    '    static_configs:',
    `      - targets: ["${target(m.prometheus)}"]`,
    '',
  ].join('\n');
}

/** Writes the apps' scrape targets (file_sd), atomically: Prometheus never reads half a file. */
export async function writeScrapeTargets(info: StackInfo): Promise<void> {
  const m = info.monitoring;
  if (!m) return;
  const groups = [{ targets: info.apps.map((a) => `127.0.0.1:${a.port}`), labels: { stack: info.dir } }];
  const tmp = `${m.targetsFile}.${process.pid}.tmp`;
  await mkdir(join(m.targetsFile, '..'), { recursive: true });
  await writeFile(tmp, `${JSON.stringify(groups, null, 2)}\n`);
  await rename(tmp, m.targetsFile);
}

/** The exporters' settings that depend on the stack: which Redis and which PostgreSQL instances. */
function wireExporters(info: StackInfo, m: MonitoringInfo): void {
  for (const e of m.exporters) {
    if (e.name === 'redis-exporter') e.args = ['-redis.addr', info.redis.url, '-web.listen-address', `127.0.0.1:${e.port}`];
    const inst = pgInstances(info).find((i) => i.name === e.labels?.pg_instance);
    // sslmode=disable: local instances speak plain TCP on loopback.
    if (inst) e.env = { DATA_SOURCE_NAME: `${inst.url}${inst.url.includes('?') ? '&' : '?'}sslmode=disable` };
  }
}

/** Starts what is not running: the exporters, then Prometheus (config and targets written first). */
export async function startMonitoring(info: StackInfo, log: (line: string) => void): Promise<void> {
  const m = info.monitoring;
  if (!m) return;
  wireExporters(info, m);
  await mkdir(join(m.config, '..'), { recursive: true });
  await writeFile(m.config, renderPrometheusConfig(m));
  await writeScrapeTargets(info);
  for (const s of m.exporters) {
    if (runningSidecarPid(s)) continue;
    log(`starting ${s.name} on :${s.port}`);
    s.pid = await startSidecar(s, () => answers(s.url));
  }
  if (!runningSidecarPid(m.prometheus)) {
    log(`starting prometheus on :${m.prometheus.port} (alert rules: ${ALERT_RULES})`);
    m.prometheus.pid = await startSidecar(m.prometheus, () => answers(`${m.prometheus.url}/-/ready`), 60_000);
  }
}

/** Stops Prometheus and the exporters. */
export async function stopMonitoring(info: StackInfo): Promise<void> {
  const m = info.monitoring;
  if (!m) return;
  await stopSidecar(m.prometheus);
  m.prometheus.pid = 0;
  for (const s of m.exporters) {
    await stopSidecar(s);
    s.pid = 0;
  }
}

/**
 * Installs Prometheus and the exporters when one is missing, through the
 * bootstrap (Debian's packages; needs root and apt-get), so that
 * `up --monitoring` works on a fresh machine as `up` does.
 */
export function ensureMonitoringTools(log: (line: string) => void): void {
  const bins = ['prometheus', 'prometheus-redis-exporter', 'prometheus-postgres-exporter'];
  const missing = bins.filter((b) => {
    try {
      findBinary(b, '');
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  log(`installing ${missing.join(', ')} (npm run bootstrap -- --with-monitoring)`);
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'bootstrap.mjs'), '--with-monitoring', '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`could not install ${missing.join(', ')}. ${INSTALL_HINT}`);
}
