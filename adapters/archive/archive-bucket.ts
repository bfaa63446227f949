/**
 * A trail's bucket for archive queries and compaction (shared/archive-query/ports.ts ArchiveBucket)
 * over the S3 API, and the scopes a trail's archive holds.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PayloadTooLargeError } from '../../shared/errors.ts';
import { discoverScopes, type ArchiveReader } from '../../shared/archive/verify.ts';
import { digestRootPrefix, type ArchiveScope } from '../../shared/archive/layout.ts';
import type { Trail } from '../../shared/trails/model.ts';
import type { ArchiveBucket, StoredObject } from '../../shared/archive-query/ports.ts';
import { isS3NotFound } from '../s3.ts';
import { S3ArchiveReader } from './s3-archive.ts';

export class S3ArchiveBucket implements ArchiveBucket {
  constructor(private readonly s3: S3Client) {}

  async list(bucket: string, prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0, eTag: o.ETag ?? '' });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async read(bucket: string, key: string, maxBytes: number): Promise<Buffer | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
        await res.Body?.transformToByteArray();
        throw new PayloadTooLargeError('ObjectTooLarge', `${key} is over ${maxBytes} bytes`);
      }
      const bytes = Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
      if (bytes.byteLength > maxBytes) throw new PayloadTooLargeError('ObjectTooLarge', `${key} is over ${maxBytes} bytes`);
      return bytes;
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      throw error;
    }
  }

  async put(bucket: string, key: string, body: Buffer, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength, ContentType: contentType, ServerSideEncryption: 'AES256' }));
  }

  async remove(bucket: string, key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }
}

/** The scopes of a trail's archive: its regions, or for an organization trail each member folder of each region. */
export async function archiveScopesOf(s3: S3Client, trail: Trail, options: { archiveOnly?: boolean } = {}): Promise<ArchiveScope[]> {
  if (!trail.ossBucketName) return [];
  const s3Reader = new S3ArchiveReader(s3, trail.ossBucketName);
  const digestRoot = digestRootPrefix(trail.ossKeyPrefix);
  const reader: ArchiveReader = options.archiveOnly
    ? {
        list: (prefix) => s3Reader.list(prefix),
        read: (key) => s3Reader.read(key),
        listFolders: async (prefix) => (prefix === digestRoot ? [] : s3Reader.listFolders(prefix)),
      }
    : s3Reader;
  const ossKeyPrefix = trail.ossKeyPrefix;
  if (!trail.isOrganizationTrail) {
    const found = await discoverScopes(reader, { ossKeyPrefix });
    return found.regions.map((region) => ({ ossKeyPrefix, region }));
  }
  const orgId = trail.organizationId ?? `rd-${trail.accountId}`;
  const found = await discoverScopes(reader, { ossKeyPrefix, organization: { orgId } });
  const scopes: ArchiveScope[] = [];
  for (const accountId of found.organizations.get(orgId) ?? []) {
    for (const region of found.regions) scopes.push({ ossKeyPrefix, region, organization: { orgId, accountId } });
  }
  return scopes;
}

/**
 * The scopes an archive query reads: archiveScopesOf's, found from the archive folders only — a
 * scope that has digests but no archive file holds no event to read, so the digest folders
 * (listed by archiveScopesOf for verification) are not listed.
 */
export function archiveQueryScopesOf(s3: S3Client, trail: Trail): Promise<ArchiveScope[]> {
  return archiveScopesOf(s3, trail, { archiveOnly: true });
}

/**
 * How long one process reuses a trail's discovered scopes for archive queries. Discovery lists
 * the bucket's folders (on s3rver, whose delimiter listings miss deep folders, every object under
 * the archive root: ~0.4–1.7 s for 30 days of 1,000 files in the benchmark), and scopes change
 * only when a trail first delivers for a new region or member — archive files themselves reach
 * the bucket up to a minute after their events, so a query never sees the last minute anyway.
 */
export const ARCHIVE_SCOPES_TTL_MS = 60_000;
/** Trails whose scopes one process keeps at most. */
const ARCHIVE_SCOPES_CACHED = 1000;

/** `discover`, remembered per trail bucket and folder for `ttlMs` (a failed discovery is not kept). */
export function cachedScopes(
  discover: (trail: Trail) => Promise<ArchiveScope[]>,
  ttlMs: number = ARCHIVE_SCOPES_TTL_MS,
  now: () => number = Date.now,
): (trail: Trail) => Promise<ArchiveScope[]> {
  const cache = new Map<string, { at: number; scopes: Promise<ArchiveScope[]> }>();
  return (trail) => {
    const key = JSON.stringify([trail.ossBucketName ?? '', trail.ossKeyPrefix ?? '', trail.accountId, trail.isOrganizationTrail === true, trail.organizationId ?? '']);
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.scopes;
    const scopes = discover(trail);
    cache.delete(key);
    cache.set(key, { at: now(), scopes });
    scopes.catch(() => {
      if (cache.get(key)?.scopes === scopes) cache.delete(key);
    });
    for (const oldest of cache.keys()) {
      if (cache.size <= ARCHIVE_SCOPES_CACHED) break;
      cache.delete(oldest);
    }
    return scopes;
  };
}
