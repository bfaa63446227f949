/**
 * `npm start` end to end: the start script brings the whole stack up on free ports and a
 * private state dir, lookup-http answers, a second start says the stack is running, and
 * Ctrl-C (SIGINT) stops every child.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, portInUse } from '../../emulator/stack/processes.ts';
import { repoRoot, waitUntil } from '../helpers/stack.ts';

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'tk-start-'));
const children: ChildProcessWithoutNullStreams[] = [];

function npmStart(env: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'bootstrap.mjs'), 'start'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    // its own process group, so cleanup reaches start.ts and the servers it started too
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Signals a child's whole process group (bootstrap.mjs, start.ts, Redis, the S3 server). */
function signalGroup(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

afterAll(async () => {
  // Ctrl-C first (start.ts stops what it started), then whatever is left, even after a failure
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) signalGroup(child, 'SIGINT');
  await Promise.all(running.map((child) => new Promise((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    child.once('exit', () => { clearTimeout(timer); resolve(undefined); });
  })));
  for (const child of children) signalGroup(child, 'SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

describe('npm start', () => {
  it('brings the stack up, answers on lookup-http, refuses a second start and stops cleanly on Ctrl-C', async () => {
    const ports = {
      TK_INVOKE_PORT: await freePort(),
      TK_S3_PORT: await freePort(),
      TK_REDIS_PORT: await freePort(),
      TK_INGEST_PORT: await freePort(),
      TK_LOOKUP_PORT: await freePort(),
    };
    const env = { ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), TK_STATE_DIR: stateDir, TK_LOG_LEVEL: 'warn' };
    const first = npmStart(env);
    await waitUntil(async () => first.output().includes('TrailKeeper is running'), 240_000, `the stack to start:\n${first.output()}`);
    expect(first.output()).toContain(`http://127.0.0.1:${ports.TK_LOOKUP_PORT}/`);
    expect(first.output()).toContain(`Open the console at http://127.0.0.1:${ports.TK_LOOKUP_PORT}/console`);
    const page = await fetch(`http://127.0.0.1:${ports.TK_LOOKUP_PORT}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');

    const res = await fetch(`http://127.0.0.1:${ports.TK_LOOKUP_PORT}/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ service: 'trailkeeper-lookup', status: 'ok' });

    const second = npmStart(env);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain('TrailKeeper is already running');

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('Stopped.');
    for (const port of Object.values(ports)) expect(await portInUse(port)).toBe(false);
  }, 300_000);
});
