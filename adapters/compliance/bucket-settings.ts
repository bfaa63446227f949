/**
 * A bucket's compliance-relevant settings over the S3 API (docs/design.md §3.11): default
 * encryption (GetBucketEncryption), object lock (GetObjectLockConfiguration), and public access
 * (GetBucketAcl, GetBucketPolicyStatus, GetPublicAccessBlock). "Not configured" answers (e.g.
 * ServerSideEncryptionConfigurationNotFoundError) are facts; any other failure — s3rver answers
 * 501 NotImplemented to all five — is an unknown with the server's answer as the reason.
 */
import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyStatusCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { known, unknown, type BucketFact, type Known, type ObjectLockFact, type PublicAccessFact } from '../../shared/compliance/facts.ts';
import { s3StatusOf } from '../s3.ts';

/** Days in a year of object-lock retention given in Years. */
const DAYS_PER_YEAR = 365;
/** Grantees that make a bucket public: everyone, or anyone with any account. */
const PUBLIC_GRANTEES = [/\/global\/AllUsers$/, /\/global\/AuthenticatedUsers$/];

type Sender = Pick<S3Client, 'send'>;

function reasonOf(call: string, error: unknown): string {
  const status = s3StatusOf(error);
  const name = error instanceof Error ? error.name : 'Error';
  if (name === 'NotImplemented' || status === 501 || status === 405) {
    return `the storage server does not implement ${call} (${name}${status !== undefined ? `, HTTP ${status}` : ''})`;
  }
  return `${call} failed: ${name}${status !== undefined ? ` (HTTP ${status})` : ''}${error instanceof Error && error.message ? `: ${error.message.slice(0, 200)}` : ''}`;
}

/** Runs one S3 call: its value, `absent` when the server says the setting is not configured, else unknown. */
async function read<T>(call: string, run: () => Promise<T>, notConfigured: readonly string[], absent: () => T): Promise<Known<T>> {
  try {
    return known(await run());
  } catch (error) {
    if (error instanceof Error && notConfigured.includes(error.name)) return known(absent());
    return unknown(reasonOf(call, error));
  }
}

async function encryption(s3: Sender, bucket: string): Promise<BucketFact['encryption']> {
  return read(
    'GetBucketEncryption',
    async () => {
      const out = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
      const rule = out.ServerSideEncryptionConfiguration?.Rules?.find((r) => r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm);
      const sse = rule?.ApplyServerSideEncryptionByDefault;
      if (!sse?.SSEAlgorithm) return null;
      return { algorithm: sse.SSEAlgorithm, ...(sse.KMSMasterKeyID ? { kmsKeyId: sse.KMSMasterKeyID } : {}) };
    },
    ['ServerSideEncryptionConfigurationNotFoundError', 'NoSuchEncryptionConfiguration'],
    () => null,
  );
}

async function objectLock(s3: Sender, bucket: string): Promise<Known<ObjectLockFact>> {
  return read(
    'GetObjectLockConfiguration',
    async (): Promise<ObjectLockFact> => {
      const out = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
      const config = out.ObjectLockConfiguration;
      const retention = config?.Rule?.DefaultRetention;
      const days = retention?.Days ?? (retention?.Years !== undefined ? retention.Years * DAYS_PER_YEAR : undefined);
      return {
        enabled: config?.ObjectLockEnabled === 'Enabled',
        ...(retention?.Mode === 'COMPLIANCE' || retention?.Mode === 'GOVERNANCE' ? { mode: retention.Mode } : {}),
        ...(days !== undefined ? { days } : {}),
      };
    },
    ['ObjectLockConfigurationNotFoundError'],
    () => ({ enabled: false }),
  );
}

async function publicAccess(s3: Sender, bucket: string): Promise<PublicAccessFact> {
  const [acl, policy, block] = await Promise.all([
    read(
      'GetBucketAcl',
      async () => {
        const out = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
        const publicGrants = (out.Grants ?? [])
          .filter((g) => g.Grantee?.Type === 'Group' && PUBLIC_GRANTEES.some((p) => p.test(g.Grantee?.URI ?? '')))
          .map((g) => `${(g.Grantee?.URI ?? '').split('/').pop() ?? ''} ${g.Permission ?? ''}`.trim());
        return { publicGrants };
      },
      [],
      () => ({ publicGrants: [] }),
    ),
    read(
      'GetBucketPolicyStatus',
      async () => {
        const out = await s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }));
        return { isPublic: out.PolicyStatus?.IsPublic === true };
      },
      ['NoSuchBucketPolicy'],
      () => null,
    ),
    read(
      'GetPublicAccessBlock',
      async () => {
        const out = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
        const c = out.PublicAccessBlockConfiguration ?? {};
        return {
          blockPublicAcls: c.BlockPublicAcls === true,
          ignorePublicAcls: c.IgnorePublicAcls === true,
          blockPublicPolicy: c.BlockPublicPolicy === true,
          restrictPublicBuckets: c.RestrictPublicBuckets === true,
        };
      },
      ['NoSuchPublicAccessBlockConfiguration'],
      () => null,
    ),
  ]);
  return { acl, policy, block };
}

/** Every setting of the bucket the controls read; never throws. */
export async function bucketSettings(s3: Sender, bucket: string): Promise<BucketFact> {
  const [enc, lock, access] = await Promise.all([encryption(s3, bucket), objectLock(s3, bucket), publicAccess(s3, bucket)]);
  return { bucket, encryption: enc, objectLock: lock, publicAccess: access };
}
