/**
 * Child processes of the local stack (Redis, the embedded S3 server): started on given ports
 * and data directories, stopped with their parent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Redis from Debian's `redis-server`, AOF on, data under `dir`. */
export async function startRedis(options: {
  port: number;
  dir: string;
  host?: string;
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
      '--port', String(options.port),
      '--bind', host,
      '--dir', options.dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
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
  return { url: `redis://${host}:${options.port}`, pid: child.pid, stop };
}

/** The embedded S3 server (s3rver) in its own Node process. */
export async function startS3(options: {
  port: number;
  dir: string;
  buckets: string[];
  webhookUrl?: string;
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
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
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
