/**
 * A bounded local cache of a bucket's objects for the engine (docs/design.md §3.13 "Over the
 * archive"): DuckDB reads local files (its httpfs extension is not shipped), so the objects of a
 * query's range are downloaded here first.
 *
 * - Content-addressed: a file is named by SHA-256 of (bucket, key, ETag), so a replaced object is
 *   a new file and a cached one is never stale; a download whose answer carries another ETag than
 *   the listing's is refused (RetryableError: the object changed while the query ran).
 * - Size-capped, least recently used first: after each lease, unleased files are removed, oldest
 *   use first, until the folder holds at most `capBytes`. A leased file is never removed; a lease
 *   larger than the cap on its own is refused up front.
 * - Downloads go to a temporary name and are renamed when complete, ARCHIVE_CACHE_DOWNLOADS at once.
 * The folder is the only one the engine may read (adapters/duckdb/engine.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PayloadTooLargeError, RetryableError } from '../../shared/errors.ts';
import type { ObjectCache, ObjectLease, StoredObject } from '../../shared/archive-query/ports.ts';

/** Default size of the cache folder (FC's /tmp: lookup-http and compact-cron are given a 10 GB disk in s.yaml). */
export const ARCHIVE_CACHE_BYTES = 2 * 1024 * 1024 * 1024;
/** Parallel downloads. */
export const ARCHIVE_CACHE_DOWNLOADS = 8;
const OBJECTS_FOLDER = 'objects';

interface Entry {
  size: number;
  lastUse: number;
  leases: number;
  /** The file is complete on disk. */
  ready: boolean;
  sha256?: string;
}

function fileNameOf(bucket: string, object: StoredObject): string {
  const address = createHash('sha256').update(`${bucket}\n${object.key}\n${object.eTag}`).digest('hex');
  const ext = object.key.endsWith('.parquet') ? '.parquet' : object.key.endsWith('.gz') ? '.gz' : '.bin';
  return `${address}${ext}`;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export class S3ObjectCache implements ObjectCache {
  private readonly folder: string;
  private readonly entries = new Map<string, Entry>();
  private readonly downloads = new Map<string, Promise<void>>();
  private loaded: Promise<void> | undefined;
  private clock = 0;

  constructor(
    private readonly s3: S3Client,
    directory: string,
    private readonly capBytes: number = ARCHIVE_CACHE_BYTES,
  ) {
    this.folder = path.join(path.resolve(directory), OBJECTS_FOLDER);
  }

  /** Files left by an earlier instance in the same folder count (oldest first by modification time). */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.folder, { recursive: true, mode: 0o700 });
      const found: { name: string; size: number; mtime: number }[] = [];
      for (const name of await readdir(this.folder)) {
        const file = path.join(this.folder, name);
        if (name.includes('.part-')) {
          await rm(file, { force: true });
          continue;
        }
        const s = await stat(file);
        found.push({ name, size: s.size, mtime: s.mtimeMs });
      }
      found.sort((a, b) => a.mtime - b.mtime);
      for (const f of found) this.entries.set(f.name, { size: f.size, lastUse: ++this.clock, leases: 0, ready: true });
    })();
    return this.loaded;
  }

  private async download(bucket: string, object: StoredObject, name: string): Promise<void> {
    const file = path.join(this.folder, name);
    const part = `${file}.part-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.key }));
      if (res.ETag !== undefined && res.ETag !== object.eTag) throw new RetryableError(`${object.key} changed while the query ran (ETag ${res.ETag}, listed ${object.eTag}); retry`);
      if (!res.Body) throw new RetryableError(`GetObject ${object.key} returned no body`);
      await pipeline(res.Body as Readable, createWriteStream(part, { mode: 0o600 }));
      const size = (await stat(part)).size;
      await rename(part, file);
      const entry = this.entries.get(name);
      if (entry) {
        entry.size = size;
        entry.lastUse = ++this.clock;
        entry.ready = true;
      } else {
        this.entries.set(name, { size, lastUse: ++this.clock, leases: 0, ready: true });
      }
    } catch (error) {
      await rm(part, { force: true });
      throw error;
    }
  }

  private async evict(): Promise<void> {
    let total = 0;
    for (const e of this.entries.values()) total += e.size;
    if (total <= this.capBytes) return;
    const idle = [...this.entries].filter(([, e]) => e.leases === 0 && e.ready).sort((a, b) => a[1].lastUse - b[1].lastUse);
    for (const [name, e] of idle) {
      if (total <= this.capBytes) break;
      this.entries.delete(name);
      total -= e.size;
      await rm(path.join(this.folder, name), { force: true });
    }
  }

  async acquire(bucket: string, objects: readonly StoredObject[]): Promise<ObjectLease> {
    await this.load();
    const wanted = objects.reduce((n, o) => n + o.size, 0);
    if (wanted > this.capBytes) throw new PayloadTooLargeError('ArchiveRangeTooLarge', `the range holds ${wanted} bytes of archive files; the local cache holds at most ${this.capBytes}`);
    const names = objects.map((o) => fileNameOf(bucket, o));
    const pinned: Entry[] = [];
    const pin = (name: string, size: number) => {
      let entry = this.entries.get(name);
      if (!entry) this.entries.set(name, (entry = { size, lastUse: 0, leases: 0, ready: false }));
      entry.leases += 1;
      entry.lastUse = ++this.clock;
      pinned.push(entry);
    };
    let fetchedBytes = 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const entry of pinned) entry.leases -= 1;
      void this.evict().catch(() => undefined);
    };
    try {
      // Pin first, so a concurrent lease's eviction never removes a file this one is about to use.
      const missing: number[] = [];
      for (const [i, name] of names.entries()) {
        pin(name, (objects[i] as StoredObject).size);
        if (!this.entries.get(name)?.ready || this.downloads.has(name)) missing.push(i);
      }
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(ARCHIVE_CACHE_DOWNLOADS, missing.length) }, async () => {
          while (next < missing.length) {
            const i = missing[next++] as number;
            const name = names[i] as string;
            let running = this.downloads.get(name);
            if (!running) {
              const object = objects[i] as StoredObject;
              running = this.download(bucket, object, name).finally(() => this.downloads.delete(name));
              this.downloads.set(name, running);
              fetchedBytes += object.size;
            }
            await running;
          }
        }),
      );
      await this.evict();
    } catch (error) {
      release();
      throw error;
    }
    const paths = names.map((name) => path.join(this.folder, name));
    return {
      paths,
      fetchedBytes,
      sha256: async (index) => {
        const entry = this.entries.get(names[index] as string);
        if (entry?.sha256) return entry.sha256;
        const digest = await sha256OfFile(paths[index] as string);
        if (entry) entry.sha256 = digest;
        return digest;
      },
      release,
    };
  }
}
