/** CPU seconds of the processes a benchmark measures: a Redis server (INFO cpu) and a child process (/proc). */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Redis CPU seconds so far (user + sys, main thread and children). */
export async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const get = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
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
