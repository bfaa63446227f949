/**
 * The ports of archive queries and compaction (docs/design.md §3.13 "Over the archive"), built
 * from a function instance's services (adapters/wiring.ts re-exports them): the trail's bucket, a
 * bounded local copy of its objects and the embedded engine that reads them — one cache and one
 * engine per instance (the engine's native module loads on first use only).
 */
import os from 'node:os';
import path from 'node:path';
import { manifestCache, type ArchiveQueryPorts } from '../shared/archive-query/archive-query.ts';
import type { CompactionPorts } from '../shared/archive-query/compaction.ts';
import { archiveQueryScopesOf, archiveScopesOf, cachedScopes, S3ArchiveBucket } from './archive/archive-bucket.ts';
import { ARCHIVE_CACHE_BYTES, S3ObjectCache } from './archive/object-cache.ts';
import { publicKey } from './archive/signing-key-store.ts';
import { DuckDbEngine } from './duckdb/engine.ts';
import type { Log } from './fc/handler.ts';
import type { Services } from './wiring.ts';

let archiveLocal: { bucket: S3ArchiveBucket; cache: S3ObjectCache; engine: DuckDbEngine } | undefined;
/** Archive queries remember compacted days' manifests by ETag (one cache per instance). */
let queryManifests: ArchiveQueryPorts['manifest'];
/** Archive queries reuse a trail's scopes for ARCHIVE_SCOPES_TTL_MS, per S3 client (compaction discovers them afresh). */
const queryScopes = new WeakMap<Services['s3'], ArchiveQueryPorts['scopes']>();

function queryScopesOf(services: Services): ArchiveQueryPorts['scopes'] {
  let scopes = queryScopes.get(services.s3);
  if (!scopes) queryScopes.set(services.s3, (scopes = cachedScopes((trail) => archiveQueryScopesOf(services.s3, trail))));
  return scopes;
}

function archiveLocalOf(services: Services): NonNullable<typeof archiveLocal> {
  if (!archiveLocal) {
    const directory = services.env.TK_ARCHIVE_CACHE_DIR ?? path.join(os.tmpdir(), 'trailkeeper-archive');
    archiveLocal = {
      bucket: new S3ArchiveBucket(services.s3),
      cache: new S3ObjectCache(services.s3, directory, services.env.TK_ARCHIVE_CACHE_BYTES ?? ARCHIVE_CACHE_BYTES),
      engine: new DuckDbEngine({ directory }),
    };
  }
  return archiveLocal;
}

/** What the archive executor needs: the caller's own trails only (RunAdvancedQuery with Source=archive). */
export function archiveQueryPorts(services: Services): ArchiveQueryPorts {
  const local = archiveLocalOf(services);
  return {
    getTrail: (accountId, name) => services.trails.get(accountId, name),
    scopes: queryScopesOf(services),
    ...local,
    manifest: (queryManifests ??= manifestCache(local.bucket)),
    now: () => Date.now(),
  };
}

/** What compact-cron needs: every account's trails (accounts found through their AccessKeys), the digest public key. */
export function compactionPorts(log: Log, services: Services, now: () => number = Date.now): CompactionPorts {
  const local = archiveLocalOf(services);
  return {
    trails: async () => {
      const accounts = [...new Set((await services.accounts.listKeys()).map((k) => k.accountId))].sort();
      return (await Promise.all(accounts.map((a) => services.trails.list(a)))).flat();
    },
    scopes: (trail) => archiveScopesOf(services.s3, trail),
    ...local,
    publicKeyPem: () => publicKey(services.redis),
    now,
    log,
  };
}
