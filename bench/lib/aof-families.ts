/**
 * What a Redis server appended to its AOF, by command and key family: reads the incremental
 * files of a multi-part AOF (`appendonlydir/*.incr.aof`, Redis 7) and sums each command's bytes
 * by its name and its key with the account, numbers and eventIds taken out. Scripts are written
 * to the AOF as the commands they ran, so this splits a pipeline's AOF volume by what it stores.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface AofFamily {
  /** e.g. `HSET {tk:A}:outbox:…:data` with the account as `A` */
  family: string;
  commands: number;
  bytes: number;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** A key's family: hash tags' contents, eventIds and numbers replaced, at most 48 characters. */
export function keyFamily(key: string): string {
  return key.replace(/\{([^}]*)\}/g, (_m, tag: string) => `{${tag.replace(/\d+/g, 'A')}}`).replace(UUID, 'ID').replace(/\d+/g, 'N').slice(0, 48);
}

/** The AOF's commands by family, largest first, and the total bytes. */
export function aofFamilies(appendOnlyDir: string): { bytes: number; commands: number; families: AofFamily[] } {
  const byFamily = new Map<string, AofFamily>();
  let bytes = 0;
  let commands = 0;
  for (const file of readdirSync(appendOnlyDir).filter((f) => f.endsWith('.incr.aof'))) {
    const data = readFileSync(path.join(appendOnlyDir, file));
    let at = 0;
    while (at < data.length) {
      const start = at;
      if (data[at] !== 0x2a) {
        // not a command (an annotation line): skip the line
        const next = data.indexOf('\n', at);
        if (next < 0) break;
        at = next + 1;
        continue;
      }
      const header = data.indexOf('\r\n', at);
      const count = Number(data.toString('latin1', at + 1, header));
      at = header + 2;
      const head: string[] = [];
      for (let i = 0; i < count; i++) {
        const lengthEnd = data.indexOf('\r\n', at);
        const length = Number(data.toString('latin1', at + 1, lengthEnd));
        at = lengthEnd + 2;
        if (i < 2) head.push(data.toString('latin1', at, at + Math.min(length, 200)));
        at += length + 2;
      }
      const family = `${(head[0] ?? '').toUpperCase()} ${head[1] === undefined ? '' : keyFamily(head[1])}`.trim();
      const entry = byFamily.get(family) ?? { family, commands: 0, bytes: 0 };
      entry.commands++;
      entry.bytes += at - start;
      byFamily.set(family, entry);
      bytes += at - start;
      commands++;
    }
  }
  return { bytes, commands, families: [...byFamily.values()].sort((a, b) => b.bytes - a.bytes) };
}
