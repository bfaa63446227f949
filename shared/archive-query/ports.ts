/**
 * What the archive query and compaction use cases need from the outside (docs/design.md §3.13
 * "Over the archive"): the trail's bucket, a bounded local copy of objects for the engine, and
 * the engine. Implementations: adapters/archive/archive-bucket.ts, adapters/archive/object-cache.ts,
 * adapters/duckdb/engine.ts; wired in adapters/wiring.ts.
 */

export interface StoredObject {
  key: string;
  size: number;
  /** The object's ETag as the server gives it (quotes included): the cache's content address. */
  eTag: string;
}

/** A trail's bucket over the S3 API. */
export interface ArchiveBucket {
  /** Every object under `prefix` (all pages). */
  list(bucket: string, prefix: string): Promise<StoredObject[]>;
  /** An object's bytes, or undefined when it does not exist; refuses objects over `maxBytes`. */
  read(bucket: string, key: string, maxBytes: number): Promise<Buffer | undefined>;
  put(bucket: string, key: string, body: Buffer, contentType: string): Promise<void>;
  remove(bucket: string, key: string): Promise<void>;
}

/** Local files of objects, pinned until released (the cache never evicts a leased file). */
export interface ObjectLease {
  /** Local paths, in the order the objects were asked for. */
  paths: string[];
  /** Hex SHA-256 of the local copy of the `index`-th object. */
  sha256(index: number): Promise<string>;
  /** Bytes downloaded for this lease (the rest were cached). */
  fetchedBytes: number;
  release(): void;
}

/** A bounded local cache of objects, content-addressed by bucket, key and ETag. */
export interface ObjectCache {
  acquire(bucket: string, objects: readonly StoredObject[]): Promise<ObjectLease>;
}

export interface EngineLimits {
  /** The query is interrupted after this long (QueryTimeoutError). */
  timeoutMs: number;
}

/** The embedded analytical engine. */
export interface QueryEngine {
  /** Runs a parameterised statement; rows as arrays of plain values (BIGINT as number, TIMESTAMP as ISO text). */
  query(sql: string, params: readonly (string | number)[], limits: EngineLimits): Promise<unknown[][]>;
  /** Writes the rows of `selectSql` to a Parquet file and returns its bytes. */
  toParquet(selectSql: string, limits: EngineLimits): Promise<Buffer>;
}

/** The engine interrupted a statement that ran past its time (EngineLimits.timeoutMs). */
export class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
}

/** The engine refused a statement for lack of memory (its memory_limit). */
export class QueryMemoryError extends Error {
  override name = 'QueryMemoryError';
}
