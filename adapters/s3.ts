/**
 * The S3-compatible client (embedded s3rver locally, MinIO, or Alibaba Cloud OSS's S3 API).
 * `requestChecksumCalculation: 'WHEN_REQUIRED'` keeps bodies free of aws-chunked framing,
 * which s3rver would store verbatim.
 */
import { CreateBucketCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RetryableError } from '../shared/errors.ts';

export interface S3Settings {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

const clients = new Map<string, S3Client>();

export function s3For(settings: S3Settings): S3Client {
  const key = `${settings.endpoint}|${settings.accessKeyId}`;
  let client = clients.get(key);
  if (!client) {
    client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.set(key, client);
  }
  return client;
}

/** Writes a JSON document (a result or rejected object), pretty-printed for the person who opens it. */
export async function putJson(client: S3Client, bucket: string, key: string, document: unknown): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(document, null, 2), ContentType: 'application/json' }));
}

/** Creates the bucket when (and only when) the server says it does not exist. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<'exists' | 'created'> {
  if (await bucketExists(client, bucket)) return 'exists';
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return 'created';
}

// ---- failures: not found vs. failed ------------------------------------------------------

/** Error names with which S3-compatible servers say an object or bucket does not exist. */
const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
/** Error names of failures worth retrying (throttling, timeouts, server-side trouble). */
const TRANSIENT_NAMES = new Set(['SlowDown', 'ThrottlingException', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'AbortError']);
const TRANSIENT_STATUSES = new Set([408, 429]);

/** The HTTP status of an S3 error, when the server answered. */
export function s3StatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** Whether an S3 error says "no such object/bucket" (404) — and nothing else. */
export function isS3NotFound(error: unknown): boolean {
  return (error instanceof Error && NOT_FOUND_NAMES.has(error.name)) || s3StatusOf(error) === 404;
}

/**
 * Whether an S3 call failed in a way a retry may fix: no answer at all (network error,
 * timeout), a 5xx, throttling. A 4xx (AccessDenied, InvalidArgument, NoSuchBucket) is not.
 */
export function isS3Transient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(error.name)) return true;
  const status = s3StatusOf(error);
  if (status === undefined) return !(error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError);
  return status >= 500 || TRANSIENT_STATUSES.has(status);
}

function describe(error: unknown): string {
  const status = s3StatusOf(error);
  return `${error instanceof Error ? error.name : 'Error'}${status !== undefined ? ` (HTTP ${status})` : ''}: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Whether an object exists: false only when the server says it does not (404); any other
 * failure (timeout, 503, AccessDenied) is a RetryableError — never "absent", since callers
 * decide what to write from the answer.
 */
export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (isS3NotFound(error)) return false;
    throw new RetryableError(`could not tell whether ${bucket}/${key} exists: ${describe(error)}`, { cause: error });
  }
}

/** Whether a bucket exists: false only on 404/NoSuchBucket; any other failure is a RetryableError. */
export async function bucketExists(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    if (isS3NotFound(error)) return false;
    throw new RetryableError(`could not tell whether bucket ${bucket} exists: ${describe(error)}`, { cause: error });
  }
}
