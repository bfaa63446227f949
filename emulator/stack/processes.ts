/**
 * Child processes of the local stack (Redis, the embedded S3 server): started on given ports
 * and data directories, stopped with their parent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { clusterUrlOf } from '../../adapters/redis-url.ts';
import type { S3Credentials } from '../s3/sigv4.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export class MissingDependencyError extends Error {
  override name = 'MissingDependencyError';
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function findRedisServer(): string | undefined {
  for (const candidate of ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server']) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

export interface StartedProcess {
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

function track(child: ChildProcess): () => Promise<void> {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}: ${stderr().trim()}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} did not become ready within ${timeoutMs} ms: ${stderr().trim()}`);
}

/** Bytes of a generated Redis password (hex-encoded, so URL-safe). */
export const REDIS_PASSWORD_BYTES = 24;

export function generateRedisPassword(): string {
  return randomBytes(REDIS_PASSWORD_BYTES).toString('hex');
}

/** `redis://[:password@]host:port` (the password percent-encoded). */
function redisUrlOf(host: string, port: number, password: string | undefined): string {
  const auth = password ? `:${encodeURIComponent(password)}@` : '';
  return `redis://${auth}${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Writes the password directives into a config file only the owner reads (mode 0600), so the
 * password never shows in redis-server's argv (`ps`); `masterauth` too for a cluster's replicas.
 */
function writeAuthConfig(dir: string, password: string): string {
  if (/["\\\r\n]/.test(password)) throw new Error('a Redis password may not contain quotes, backslashes or line breaks');
  const file = path.join(dir, 'trailkeeper-auth.conf');
  writeFileSync(file, `requirepass "${password}"\nmasterauth "${password}"\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/**
 * When the local Redis compacts its append-only file (a fork that rewrites the whole data set):
 * once the file has grown by this percentage over its size after the last rewrite, and is at least
 * AOF_REWRITE_MIN_SIZE. Redis's defaults (100 %, 64mb) fit data that is mostly kept; the pipeline
 * writes ~5 KB of AOF an event (outbox JSON, summary queue rows, the local logstore's entries —
 * mostly removed again once delivered or folded), so with them a 60,000-event run forked six
 * rewrites that took 18–20 % of a core beside Redis and slowed everything sharing the cores; at
 * 400 % / 1gb none did, and end to end went 2,147 / 1,854 → 2,968 / 3,043 events/s (README,
 * Benchmarks). Durability is the same either way (appendfsync everysec): only compaction is rarer,
 * so the file may reach 5× the data set (and 1 GB) before it is rewritten.
 */
export const AOF_REWRITE_PERCENTAGE = 400;
export const AOF_REWRITE_MIN_SIZE = '1gb';

/** Redis from Debian's `redis-server`, AOF on (AOF_REWRITE_*), data under `dir`. */
export async function startRedis(options: {
  port: number;
  dir: string;
  host?: string;
  /** `requirepass` (and `masterauth`): clients then need it (the returned url carries it). */
  password?: string;
  /** redis.conf directives, e.g. { 'hash-max-listpack-value': '1024' }. */
  config?: Readonly<Record<string, string>>;
  extraArgs?: readonly string[];
}): Promise<StartedProcess> {
  const binary = findRedisServer();
  if (!binary) {
    throw new MissingDependencyError(
      'redis-server is not installed. Install it with: sudo apt-get install -y redis-server (Debian/Ubuntu)',
    );
  }
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dir, { recursive: true });
  const child = spawn(
    binary,
    [
      ...(options.password ? [writeAuthConfig(options.dir, options.password)] : []),
      '--port', String(options.port),
      '--bind', host,
      '--dir', options.dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--auto-aof-rewrite-percentage', String(AOF_REWRITE_PERCENTAGE),
      '--auto-aof-rewrite-min-size', AOF_REWRITE_MIN_SIZE,
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--logfile', '',
      ...Object.entries(options.config ?? {}).flatMap(([name, value]) => [`--${name}`, value]),
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const stop = track(child);
  await waitFor(async () => output.includes('Ready to accept connections'), `redis-server on port ${options.port}`, 10_000, child, () => output);
  return { url: redisUrlOf(host, options.port, options.password), pid: child.pid, stop };
}

export interface StartedCluster {
  /** The masters, in slot order (node i serves the i-th third of the slots). */
  readonly nodes: readonly { host: string; port: number }[];
  /** redis://[:password@]host:port of each node. */
  readonly urls: readonly string[];
  /** The TK_REDIS_URL of the cluster: redis-cluster://[:password@]host:port,host:port,host:port. */
  readonly url: string;
  readonly pids: readonly (number | undefined)[];
  stop(): Promise<void>;
}

const CLUSTER_SLOTS = 16_384;

/**
 * A three-master Redis Cluster from Debian's `redis-server`, each node with its own data dir
 * under `dir` and `<dir>/nodes-<port>.conf`, on free ports (client and cluster-bus ports both
 * chosen, so a high client port never needs port + 10000). Assembled without redis-cli: each
 * node takes a third of the slots (CLUSTER ADDSLOTSRANGE), the first MEETs the others, and this
 * returns once every node reports cluster_state:ok and knows all three.
 *
 * Takes a little over 2 s: a master turns its state to ok no sooner than 2 s after it starts
 * (redis-server's CLUSTER_WRITABLE_DELAY); the rest is well under 100 ms.
 */
export async function startRedisCluster(options: {
  dir: string;
  host?: string;
  /** redis.conf directives applied to every node, e.g. HISTORY_SERVER_CONFIG. */
  config?: Readonly<Record<string, string>>;
  /** Client ports of the three nodes (default: free ports). */
  ports?: readonly [number, number, number];
  timeoutMs?: number;
  /** Every node's `requirepass` and `masterauth`. */
  password?: string;
}): Promise<StartedCluster> {
  const host = options.host ?? '127.0.0.1';
  const ports: number[] = options.ports ? [...options.ports] : [];
  if (options.ports && (ports.length !== 3 || new Set(ports).size !== 3)) throw new Error('startRedisCluster: three distinct ports');
  while (ports.length < 3) {
    const port = await freePort(host);
    if (!ports.includes(port)) ports.push(port);
  }
  // Bus ports: Redis's own choice (port + 10000) for given ports, so a cluster restarted on its
  // nodes-<port>.conf files finds its peers where they were; otherwise free ports.
  const busPorts: number[] = [];
  for (const port of ports) {
    let bus = options.ports && port + 10_000 <= 65_535 ? port + 10_000 : await freePort(host);
    while (ports.includes(bus) || busPorts.includes(bus)) bus = await freePort(host);
    busPorts.push(bus);
  }
  mkdirSync(options.dir, { recursive: true });
  const settled = await Promise.allSettled(
    ports.map((port, i) =>
      startRedis({
        port,
        host,
        dir: path.join(options.dir, `node-${port}`),
        ...(options.config ? { config: options.config } : {}),
        ...(options.password ? { password: options.password } : {}),
        extraArgs: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', path.join(options.dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '2000',
          '--cluster-port', String(busPorts[i]),
        ],
      }),
    ),
  );
  const servers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const clients = ports.map((port) => new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1, ...(options.password ? { password: options.password } : {}) }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const infos = await Promise.all(clients.map((client) => client.cluster('INFO')));
    // A fresh cluster gets its slots; one restarted on its own nodes.conf files already has them.
    if (infos.every((info) => /cluster_slots_assigned:0\b/.test(info))) {
      await Promise.all(
        clients.map((client, i) => {
          const first = Math.floor((CLUSTER_SLOTS * i) / 3);
          const last = Math.floor((CLUSTER_SLOTS * (i + 1)) / 3) - 1;
          return client.call('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
        }),
      );
    }
    const [first] = clients as [Redis, Redis, Redis];
    await Promise.all(ports.slice(1).map((port, i) => first.call('CLUSTER', 'MEET', host, String(port), String(busPorts[i + 1]))));
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    let last = '';
    for (;;) {
      const states = await Promise.all(clients.map((client) => client.cluster('INFO')));
      const ok = (info: string) =>
        /cluster_state:ok\b/.test(info) && /cluster_known_nodes:3\b/.test(info) && /cluster_slots_ok:16384\b/.test(info) && /cluster_size:3\b/.test(info);
      if (states.every(ok)) break;
      last = states.map((info, i) => `${ports[i]}: ${/cluster_state:\w+/.exec(info)?.[0] ?? '?'} ${/cluster_known_nodes:\d+/.exec(info)?.[0] ?? '?'}`).join(', ');
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not become ready (${last})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (error) {
    await stopAll();
    throw error;
  } finally {
    for (const client of clients) client.disconnect();
  }
  const nodes = ports.map((port) => ({ host, port }));
  return {
    nodes,
    urls: nodes.map(({ port }) => redisUrlOf(host, port, options.password)),
    url: options.password ? clusterUrlOf(nodes).replace('-cluster://', `-cluster://:${encodeURIComponent(options.password)}@`) : clusterUrlOf(nodes),
    pids: servers.map((server) => server.pid),
    stop: stopAll,
  };
}

/** The embedded S3 server (s3rver) in its own Node process; secrets go in its environment, not argv. */
export async function startS3(options: {
  port: number;
  dir: string;
  buckets: string[];
  /** The only key pair the server accepts (SigV4). */
  credentials: S3Credentials;
  webhookUrl?: string;
  /** Sent to the webhook as `Authorization: Bearer <token>` (the emulator's internal token). */
  webhookToken?: string;
  host?: string;
  log?: (line: string) => void;
}): Promise<StartedProcess> {
  const host = options.host ?? '127.0.0.1';
  const args = [
    '--openssl-legacy-provider',
    '--import', 'tsx',
    path.join(repoRoot, 'emulator', 's3', 'main.ts'),
    '--host', host,
    '--port', String(options.port),
    '--dir', options.dir,
    ...options.buckets.flatMap((b) => ['--bucket', b]),
    ...(options.webhookUrl ? ['--webhook', options.webhookUrl] : []),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TK_S3_ACCESS_KEY_ID: options.credentials.accessKeyId,
    TK_S3_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
  };
  if (options.webhookToken) env['TK_WEBHOOK_TOKEN'] = options.webhookToken;
  else delete env['TK_WEBHOOK_TOKEN'];
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (options.log) for (const line of d.toString().split('\n').filter(Boolean)) options.log(line);
  });
  const stop = track(child);
  await waitFor(async () => stdout.includes('"ready":true'), `S3 server on port ${options.port}`, 20_000, child, () => stderr);
  return { url: `http://${host}:${options.port}`, pid: child.pid, stop };
}
