/**
 * The embedded analytical engine behind archive queries and compaction (docs/design.md §3.13
 * "Over the archive"): DuckDB through `@duckdb/node-api`, whose JSON and Parquet readers are built
 * in (no extension is downloaded or loaded at run time).
 *
 * One in-memory DuckDB per function instance, created on first use (the native module is loaded
 * only then: functions that never query never load it), locked down before any query runs:
 *  - files: only the object cache's folder (`allowed_directories`, `enable_external_access=false`),
 *    so no statement can read or write anything else, whatever it says;
 *  - the query language's value rules as macros (shared/archive-query/sql-macros.ts);
 *  - no extension installs or autoloads; `lock_configuration` so no statement can change a limit;
 *  - `memory_limit` and `threads` (DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS), a spill folder capped at
 *    DUCKDB_MAX_TEMP_BYTES inside the cache folder;
 *  - every statement on its own connection, interrupted after its timeout (QueryTimeoutError);
 *    "Out of Memory" becomes QueryMemoryError;
 *  - at most DUCKDB_MAX_CONCURRENT statements at once per instance; others wait their turn.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DuckDBInstance as DuckDBInstanceType } from '@duckdb/node-api';
import { QueryMemoryError, QueryTimeoutError, type EngineLimits, type QueryEngine } from '../../shared/archive-query/ports.ts';
import { pathLiteral } from '../../shared/archive-query/compile.ts';
import { PARQUET_ROW_GROUP_SIZE } from '../../shared/archive-query/compaction.ts';
import { QUERY_MACROS } from '../../shared/archive-query/sql-macros.ts';

/** DuckDB's memory limit per instance (lookup-http has 1,024 MB; the rest is Node's and the cache's). */
export const DUCKDB_MEMORY_LIMIT = '512MB';
/** Worker threads of the engine. */
export const DUCKDB_THREADS = 2;
/** Spill to disk at most this much (inside the cache folder). */
export const DUCKDB_MAX_TEMP_BYTES = 512 * 1024 * 1024;
/** Statements running at once per instance. */
export const DUCKDB_MAX_CONCURRENT = 2;

export interface DuckDbEngineOptions {
  /** The only folder the engine may read and write: the object cache's. */
  directory: string;
  memoryLimit?: string;
  threads?: number;
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && /Out of Memory Error/i.test(error.message);
}

export class DuckDbEngine implements QueryEngine {
  private instance: Promise<DuckDBInstanceType> | undefined;
  private readonly gate = new Semaphore(DUCKDB_MAX_CONCURRENT);
  private readonly directory: string;

  constructor(private readonly options: DuckDbEngineOptions) {
    this.directory = path.resolve(options.directory);
  }

  private async open(): Promise<DuckDBInstanceType> {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const spill = path.join(this.directory, 'spill');
    await mkdir(spill, { recursive: true, mode: 0o700 });
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(this.options.threads ?? DUCKDB_THREADS),
      memory_limit: this.options.memoryLimit ?? DUCKDB_MEMORY_LIMIT,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      preserve_insertion_order: 'false',
      temp_directory: spill,
      max_temp_directory_size: `${DUCKDB_MAX_TEMP_BYTES}B`,
    });
    const setup = await instance.connect();
    try {
      for (const macro of QUERY_MACROS) await setup.run(macro);
      await setup.run(`SET allowed_directories = [${pathLiteral(`${this.directory}/`)}]`);
      await setup.run('SET enable_external_access = false');
      await setup.run('SET lock_configuration = true');
    } finally {
      setup.closeSync();
    }
    return instance;
  }

  private db(): Promise<DuckDBInstanceType> {
    this.instance ??= this.open().catch((error: unknown) => {
      this.instance = undefined;
      throw error;
    });
    return this.instance;
  }

  private async withConnection<T>(limits: EngineLimits, work: (run: (sql: string, params?: readonly (string | number)[]) => Promise<unknown[][]>) => Promise<T>): Promise<T> {
    return this.gate.run(async () => {
      const connection = await (await this.db()).connect();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        connection.interrupt();
      }, limits.timeoutMs);
      try {
        return await work(async (sql, params) => (await connection.runAndReadAll(sql, params ? [...params] : undefined)).getRowsJS() as unknown[][]);
      } catch (error) {
        if (timedOut) throw new QueryTimeoutError(`the statement ran longer than ${limits.timeoutMs} ms`, { cause: error });
        if (isOutOfMemory(error)) throw new QueryMemoryError('the statement ran out of memory', { cause: error });
        throw error;
      } finally {
        clearTimeout(timer);
        connection.closeSync();
      }
    });
  }

  query(sql: string, params: readonly (string | number)[], limits: EngineLimits): Promise<unknown[][]> {
    return this.withConnection(limits, (run) => run(sql, params));
  }

  async toParquet(selectSql: string, limits: EngineLimits): Promise<Buffer> {
    const out = path.join(this.directory, `compacted-${randomUUID()}.parquet`);
    try {
      await this.withConnection(limits, (run) => run(`COPY (${selectSql}) TO ${pathLiteral(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${PARQUET_ROW_GROUP_SIZE})`));
      return await readFile(out);
    } finally {
      await rm(out, { force: true });
    }
  }
}
