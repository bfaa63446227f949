/** CPU seconds of the processes a benchmark measures: a Redis server (INFO cpu) and a child process (/proc). */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Redis CPU seconds so far (user + sys of the server process; its forks are redisChildCpu's). */
export async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const get = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

/**
 * CPU seconds of the forks Redis has reaped so far (AOF rewrites, RDB saves) — spent on a core
 * beside the server's own — and how many AOF rewrites it has done.
 */
export async function redisChildCpu(client: Redis): Promise<{ seconds: number; aofRewrites: number }> {
  const info = await client.info();
  const get = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return { seconds: get('used_cpu_user_children') + get('used_cpu_sys_children'), aofRewrites: get('aof_rewrites') };
}

/** CPU seconds of a child process so far (utime + stime), 0 when unreadable. */
export function pidCpu(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Waits until Redis has used under `idle` CPU seconds in each of `times` half-seconds in a row —
 * and this process (the emulator and its functions' threads, when it hosts them) under
 * `processIdle` — so the pipeline's tail is done (deliveries, summaries); at most `maxMs`.
 * Answers the ms waited.
 */
export async function waitQuiet(client: Redis, { idle = 0.02, processIdle = Infinity, times = 4, maxMs = 120_000 } = {}): Promise<number> {
  const started = performance.now();
  const processCpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  };
  let quiet = 0;
  let before = [await redisCpu(client), processCpu()] as const;
  while (quiet < times && performance.now() - started < maxMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = [await redisCpu(client), processCpu()] as const;
    quiet = now[0] - before[0] < idle && now[1] - before[1] < processIdle ? quiet + 1 : 0;
    before = now;
  }
  return performance.now() - started;
}

/**
 * This process's CPU seconds so far by thread (/proc/self/task): `main` for the main thread, the
 * others summed by their name (Node's worker threads, V8's helper threads, libuv's pool).
 */
export function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = tid === String(process.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
