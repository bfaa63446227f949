/**
 * archiveQueryScopesOf (adapters/archive/archive-bucket.ts): the scopes an archive query reads are
 * archiveScopesOf's — found from the archive folders alone (the digest folders are not listed) —
 * for a single-account trail and an organization trail, on a real S3 server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveQueryScopesOf, archiveScopesOf } from '../../adapters/archive/archive-bucket.ts';
import { putArchiveObject } from '../../adapters/archive/s3-archive.ts';
import { generateS3Credentials } from '../../emulator/s3/embedded.ts';
import { freePort, startS3, type StartedProcess } from '../../emulator/stack/processes.ts';
import { archiveFileKey, digestKey, type ArchiveScope } from '../../shared/archive/layout.ts';
import { trailSchema } from '../../shared/trails/model.ts';

const BUCKET = 'tk-scopes-test';
const ACCOUNT = '1234567890123456';
const MEMBER = '2234567890123456';
const ORG = 'rd-scopes';
let dir: string;
let server: StartedProcess;
let s3: S3Client;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tk-scopes-'));
  const credentials = generateS3Credentials();
  server = await startS3({ port: await freePort(), dir, buckets: [BUCKET], credentials });
  s3 = new S3Client({ endpoint: server.url, region: 'cn-hangzhou', forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const at = new Date(Date.UTC(2026, 10, 3, 10));
  const file = (scope: ArchiveScope) => archiveFileKey({ ...scope, deliveredAt: at, eventCount: 1, fileSize: 2, md5: 'a'.repeat(32) });
  const keys = [
    file({ region: 'cn-hangzhou' }),
    file({ region: 'cn-beijing' }),
    file({ region: 'cn-shanghai', organization: { orgId: ORG, accountId: MEMBER } }),
    file({ region: 'cn-hangzhou', organization: { orgId: ORG, accountId: ACCOUNT } }),
    // digests only: no event to read
    digestKey({ region: 'ap-southeast-1', accountId: ACCOUNT, trailName: 'trail-one', hourStart: at }),
    digestKey({ region: 'cn-hangzhou', accountId: ACCOUNT, trailName: 'trail-one', hourStart: at }),
  ];
  for (const key of keys) await putArchiveObject(s3, BUCKET, key, Buffer.from('[]'));
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sorted = (scopes: ArchiveScope[]) => scopes.map((s) => JSON.stringify(s)).sort();

describe('archiveQueryScopesOf', () => {
  it('finds the archive scopes of a single-account trail and of an organization trail, as archiveScopesOf does', async () => {
    const single = trailSchema.parse({ name: 'trail-one', accountId: ACCOUNT, homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: BUCKET, status: 'Enable', createdAtMs: 0, updatedAtMs: 0 });
    const org = trailSchema.parse({ ...single, name: 'trail-org', isOrganizationTrail: true, organizationId: ORG });
    const singleScopes = await archiveQueryScopesOf(s3, single);
    expect(sorted(singleScopes)).toEqual(sorted([{ region: 'cn-beijing' }, { region: 'cn-hangzhou' }].map((s) => ({ ossKeyPrefix: undefined, ...s }))));
    // archiveScopesOf also lists the digest folders; for reading events it finds nothing more
    const withDigests = await archiveScopesOf(s3, single);
    expect(sorted(withDigests.filter((s) => singleScopes.some((q) => q.region === s.region)))).toEqual(sorted(singleScopes));
    const orgScopes = await archiveQueryScopesOf(s3, org);
    expect(sorted(orgScopes)).toEqual(sorted(await archiveScopesOf(s3, org)));
    expect(orgScopes.map((s) => `${s.organization?.accountId}/${s.region}`).sort()).toEqual(
      [`${ACCOUNT}/cn-hangzhou`, `${ACCOUNT}/cn-shanghai`, `${MEMBER}/cn-hangzhou`, `${MEMBER}/cn-shanghai`].sort(),
    );
  });
});
