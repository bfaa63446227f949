/**
 * The archive bucket over the S3 API (embedded s3rver, MinIO, Alibaba Cloud OSS):
 * `S3ArchiveReader` for the verifier, `putArchiveObject` for the deliverer.
 *
 * Clients must be built with `requestChecksumCalculation: 'WHEN_REQUIRED'` (else s3rver stores
 * aws-chunked framing) and, locally, `forcePathStyle: true` — see adapters/s3.ts.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type ListObjectsV2CommandOutput, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { ArchiveObjectNotFoundError, type ArchiveObject, type ArchiveReader } from '../../shared/archive/verify.ts';

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound']);

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata?.httpStatusCode;
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function foldersOf(objects: readonly ArchiveObject[], prefix: string): string[] {
  const out = new Set<string>();
  for (const { key } of objects) {
    const slash = key.indexOf('/', prefix.length);
    if (key.startsWith(prefix) && slash >= 0) out.add(key.slice(0, slash + 1));
  }
  return [...out].sort();
}

export class S3ArchiveReader implements ArchiveReader {
  private readonly pageSize: number | undefined;
  private foldersFromFullListing = false;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    options: { pageSize?: number } = {},
  ) {
    this.pageSize = options.pageSize;
  }

  /** Every page of a ListObjectsV2 of `prefix` (with `/` as delimiter when asked). */
  private async *pages(prefix: string, delimiter?: '/'): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(delimiter ? { Delimiter: delimiter } : {}),
          ...(token ? { ContinuationToken: token } : {}),
          ...(this.pageSize ? { MaxKeys: this.pageSize } : {}),
        }),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) throw new Error(`ListObjectsV2 of ${prefix} was truncated without a continuation token`);
    } while (token);
  }

  async list(prefix: string): Promise<ArchiveObject[]> {
    const out: ArchiveObject[] = [];
    for await (const page of this.pages(prefix)) {
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) out.push({ key: object.Key, size: object.Size ?? 0 });
      }
    }
    return out;
  }

  /**
   * Folders directly under `prefix`. s3rver only reports folders that hold objects directly
   * (its walk stops one level below the prefix); when a delimiter listing finds nothing although
   * deeper objects exist, this reader stops trusting delimiter listings and derives folders from
   * full listings instead.
   */
  async listFolders(prefix: string): Promise<string[]> {
    if (this.foldersFromFullListing) return foldersOf(await this.list(prefix), prefix);
    const folders = await this.listFoldersWithDelimiter(prefix);
    if (folders.length > 0) return folders;
    const probe = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1 }));
    const sample = probe.Contents?.[0]?.Key;
    if (sample === undefined || !sample.slice(prefix.length).includes('/')) return folders;
    this.foldersFromFullListing = true;
    return foldersOf(await this.list(prefix), prefix);
  }

  private async listFoldersWithDelimiter(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const page of this.pages(prefix, '/')) {
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix !== undefined) out.push(common.Prefix);
    }
    return [...new Set(out)];
  }

  async read(key: string): Promise<Buffer> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!res.Body) throw new Error(`GetObject ${key} returned no body`);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (error) {
      if (NOT_FOUND_NAMES.has(nameOf(error) ?? '') || statusOf(error) === 404) throw new ArchiveObjectNotFoundError(key);
      throw error;
    }
  }
}

export type ObjectLockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface PutArchiveObjectOptions {
  /** Default: `application/gzip` for `.gz` keys, `application/json` for `.json`, else octet-stream. */
  contentType?: string;
  /** Requests object-lock retention until this date (where the bucket supports it). */
  retainUntil?: Date;
  /** Default COMPLIANCE. */
  objectLockMode?: ObjectLockMode;
}

export interface PutArchiveObjectResult {
  /**
   * `applied`: the server took the object-lock headers and shows the retention.
   * `unconfirmed`: it took them but does not show the retention (s3rver ignores them; or the
   *   caller may not read retention) — the headers are still sent on later puts.
   * `unsupported`: it refused them; the object was stored without, and later puts to the bucket
   *   skip them.
   */
  objectLock: 'applied' | 'unconfirmed' | 'unsupported' | 'not-requested';
  eTag?: string;
}

type ObjectLockState = 'refused' | 'confirmed' | 'unconfirmed';
/** What was learnt per client and bucket about object lock. */
const objectLockStates = new WeakMap<S3Client, Map<string, ObjectLockState>>();

function stateOf(s3: S3Client, bucket: string): ObjectLockState | undefined {
  return objectLockStates.get(s3)?.get(bucket);
}

function remember(s3: S3Client, bucket: string, state: ObjectLockState): void {
  let buckets = objectLockStates.get(s3);
  if (!buckets) objectLockStates.set(s3, (buckets = new Map()));
  buckets.set(bucket, state);
}

/** Error names and statuses with which servers refuse object-lock headers on PutObject. */
const OBJECT_LOCK_REFUSAL_NAMES = new Set(['InvalidRequest', 'NotImplemented', 'InvalidArgument', 'MethodNotAllowed', 'ObjectLockConfigurationNotFoundError']);
const OBJECT_LOCK_REFUSAL_STATUSES = new Set([400, 405, 501]);

function looksLikeObjectLockRefusal(error: unknown): boolean {
  if (!(error instanceof S3ServiceException) && statusOf(error) === undefined) return false;
  const status = statusOf(error);
  return OBJECT_LOCK_REFUSAL_NAMES.has(nameOf(error) ?? '') || (status !== undefined && OBJECT_LOCK_REFUSAL_STATUSES.has(status));
}

/** Whether a put to `bucket` through `s3` found object lock refused by the server. */
export function objectLockUnsupported(s3: S3Client, bucket: string): boolean {
  return stateOf(s3, bucket) === 'refused';
}

/** Forgets what was learnt about object-lock support (after enabling it on a bucket; tests). */
export function forgetObjectLockSupport(s3: S3Client, bucket?: string): void {
  if (bucket === undefined) objectLockStates.delete(s3);
  else objectLockStates.get(s3)?.delete(bucket);
}

function defaultContentType(key: string): string {
  if (key.endsWith('.gz')) return 'application/gzip';
  if (key.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}

/**
 * Stores an archive file or digest: server-side encryption (`AES256`) on every put, a
 * Content-MD5 (the server checks the bytes; AWS also requires it with object lock), and, when
 * `retainUntil` is given, object-lock retention (`ObjectLockMode`, default COMPLIANCE, and
 * `ObjectLockRetainUntilDate`). A server that refuses the object-lock headers (s3rver may answer
 * 400/501, MinIO without object lock InvalidRequest) gets the put once more without them; when
 * that succeeds the bucket is remembered (per client) as not supporting object lock. The first
 * locked put to a bucket is checked with a HeadObject (see `objectLock` in the result).
 * Bodies are never stored with a Content-Encoding, so the stored bytes are the hashed bytes.
 * Errors other than an object-lock refusal are thrown as the SDK raised them.
 */
export async function putArchiveObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string,
  options: PutArchiveObjectOptions = {},
): Promise<PutArchiveObjectResult> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const base = {
    Bucket: bucket,
    Key: key,
    Body: bytes,
    ContentLength: bytes.byteLength,
    ContentMD5: createHash('md5').update(bytes).digest('base64'),
    ContentType: options.contentType ?? defaultContentType(key),
    ServerSideEncryption: 'AES256' as const,
  };
  const etag = (res: { ETag?: string | undefined }) => (res.ETag ? { eTag: res.ETag } : {});
  const state = stateOf(s3, bucket);
  if (options.retainUntil === undefined || state === 'refused') {
    const res = await s3.send(new PutObjectCommand(base));
    return { objectLock: options.retainUntil === undefined ? 'not-requested' : 'unsupported', ...etag(res) };
  }
  const mode = options.objectLockMode ?? 'COMPLIANCE';
  let res;
  try {
    res = await s3.send(new PutObjectCommand({ ...base, ObjectLockMode: mode, ObjectLockRetainUntilDate: options.retainUntil }));
  } catch (error) {
    if (!looksLikeObjectLockRefusal(error)) throw error;
    const retry = await s3.send(new PutObjectCommand(base));
    remember(s3, bucket, 'refused');
    return { objectLock: 'unsupported', ...etag(retry) };
  }
  if (state === undefined) remember(s3, bucket, await probeObjectLock(s3, bucket, key, mode));
  return { objectLock: stateOf(s3, bucket) === 'confirmed' ? 'applied' : 'unconfirmed', ...etag(res) };
}

/** Whether the object just put shows its retention (some servers accept the headers and ignore them). */
async function probeObjectLock(s3: S3Client, bucket: string, key: string, mode: ObjectLockMode): Promise<ObjectLockState> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.ObjectLockMode === mode && head.ObjectLockRetainUntilDate !== undefined ? 'confirmed' : 'unconfirmed';
  } catch {
    return 'unconfirmed';
  }
}
