/** verifyArchive over an in-memory bucket: the edge cases of the chain and coverage rules. */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createDigestDocument,
  describeArchiveFile,
  generateSigningKeyPair,
  linkTo,
  serialiseSignedDigest,
  signDigest,
  type PreviousDigestLink,
  type SigningKeyPair,
} from '../../shared/archive/digest.ts';
import { HOUR_MS, archiveFileKey, digestKey, type ArchiveScope } from '../../shared/archive/layout.ts';
import { ArchiveObjectNotFoundError, discoverScopes, verifyArchive, type ArchiveObject, type ArchiveReader } from '../../shared/archive/verify.ts';

class MemoryBucket implements ArchiveReader {
  readonly objects = new Map<string, Buffer>();
  constructor(private readonly folders = true) {}
  async list(prefix: string): Promise<ArchiveObject[]> {
    return [...this.objects].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, v]) => ({ key, size: v.byteLength }));
  }
  async read(key: string): Promise<Buffer> {
    const v = this.objects.get(key);
    if (!v) throw new ArchiveObjectNotFoundError(key);
    return v;
  }
  get listFolders(): ((prefix: string) => Promise<string[]>) | undefined {
    if (!this.folders) return undefined;
    return async (prefix: string) => {
      const out = new Set<string>();
      for (const key of this.objects.keys()) {
        if (!key.startsWith(prefix)) continue;
        const rest = key.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash >= 0) out.add(prefix + rest.slice(0, slash + 1));
      }
      return [...out].sort();
    };
  }
}

const TRAIL = 'default-trail';
const ACCOUNT = '1234567890123456';
const keys: SigningKeyPair = generateSigningKeyPair();
const NOW = new Date('2024-03-05T12:40:00Z');
const H = (n: number) => new Date(Date.UTC(2024, 2, 5, n)); // hour n of 2024-03-05

interface Written {
  files: string[];
  digestKey: string;
  link: PreviousDigestLink;
}

function putFile(bucket: MemoryBucket, scope: ArchiveScope, deliveredAt: Date, tag: string): string {
  const events = [{ eventId: `${tag}-1`, eventTime: new Date(deliveredAt.getTime() - 5_000).toISOString() }];
  const body = gzipSync(JSON.stringify(events));
  const key = archiveFileKey({ ...scope, deliveredAt, eventCount: 1, fileSize: body.byteLength, md5: createHash('md5').update(body).digest('hex') });
  bucket.objects.set(key, body);
  return key;
}

function writeHour(
  bucket: MemoryBucket,
  hour: Date,
  previous: PreviousDigestLink | null,
  options: { scope?: ArchiveScope; trail?: string; files?: number; signer?: SigningKeyPair; accountId?: string; accountFolder?: string } = {},
): Written {
  const scope = options.scope ?? { ossKeyPrefix: 'audit', region: 'cn-hangzhou' };
  const trail = options.trail ?? TRAIL;
  const signer = options.signer ?? keys;
  const entries = [];
  const files: string[] = [];
  for (let i = 0; i < (options.files ?? 2); i++) {
    const at = new Date(hour.getTime() + (i + 1) * 600_000 + 7_000);
    const key = putFile(bucket, scope, at, `${trail}-${hour.getTime()}-${i}`);
    files.push(key);
    entries.push(describeArchiveFile({ key, body: bucket.objects.get(key) as Buffer, events: [{ eventTime: new Date(at.getTime() - 5_000).toISOString() }] }));
  }
  const doc = createDigestDocument({
    trailName: trail,
    accountId: options.accountId ?? scope.organization?.accountId ?? ACCOUNT,
    region: scope.region,
    hour,
    files: entries,
    previous,
    publicKeyFingerprint: signer.fingerprint,
    signedAt: new Date(hour.getTime() + HOUR_MS + 180_000),
  });
  const text = serialiseSignedDigest(signDigest(doc, signer.privateKeyPem));
  const key = digestKey({ ...scope, accountId: options.accountFolder, trailName: trail, hourStart: hour });
  bucket.objects.set(key, Buffer.from(text));
  return { files, digestKey: key, link: linkTo(key, text) };
}

/** Hours 8..11 digested (chained), files in hour 12 (current, pending). */
function chainOf(bucket: MemoryBucket, first = 8, last = 11, scope?: ArchiveScope): Written[] {
  const out: Written[] = [];
  let previous: PreviousDigestLink | null = null;
  for (let h = first; h <= last; h++) {
    const w = writeHour(bucket, H(h), previous, scope ? { scope } : {});
    out.push(w);
    previous = w.link;
  }
  return out;
}

const trail = { name: TRAIL, accountId: ACCOUNT, ossKeyPrefix: 'audit', regions: ['cn-hangzhou'] };
const verify = (bucket: MemoryBucket, from = H(6), to = NOW) => verifyArchive({ reader: bucket, trail, from, to, publicKeyPem: keys.publicKeyPem, now: NOW });

describe('verifyArchive (in memory)', () => {
  let bucket: MemoryBucket;
  let chain: Written[];
  beforeEach(() => {
    bucket = new MemoryBucket();
    chain = chainOf(bucket);
    putFile(bucket, { ossKeyPrefix: 'audit', region: 'cn-hangzhou' }, new Date('2024-03-05T12:05:00Z'), 'current');
  });

  it('verifies a clean chain; the current hour is pending, not tampering', async () => {
    const report = await verify(bucket);
    expect(report).toMatchObject({ ok: true, digestsChecked: 4, filesChecked: 8, modified: [], deleted: [], inserted: [], badSignatures: [], brokenChain: [] });
    expect(report.pendingHours).toEqual([{ region: 'cn-hangzhou', hourStart: '2024-03-05T12:00:00.000Z', files: 1, overdue: false }]);
    expect(report.from).toBe('2024-03-05T06:00:00.000Z');
    expect(report.to).toBe('2024-03-05T13:00:00.000Z');
  });

  it('follows the link of the first digest in the range to the older one', async () => {
    expect((await verify(bucket, H(10))).ok).toBe(true);
    bucket.objects.delete(chain[1]?.digestKey ?? '');
    const report = await verify(bucket, H(10));
    expect(report.brokenChain).toMatchObject([{ key: chain[2]?.digestKey, reason: 'previous-missing', previousKey: chain[1]?.digestKey }]);
  });

  it('checks that the first digest after the range links to the last one in it', async () => {
    expect((await verify(bucket, H(8), H(10))).ok).toBe(true);
    bucket.objects.delete(chain[1]?.digestKey ?? '');
    const report = await verify(bucket, H(8), H(10));
    // Hour 9 lost its digest: its files are no longer listed anywhere, and hour 10 points at nothing.
    expect(report.brokenChain).toMatchObject([{ key: chain[2]?.digestKey, reason: 'previous-missing' }]);
    expect(report.inserted.map((i) => i.key).sort()).toEqual([...(chain[1]?.files ?? [])].sort());
  });

  it('a deleted latest digest leaves an overdue pending hour', async () => {
    bucket.objects.delete(chain[3]?.digestKey ?? '');
    const report = await verify(bucket);
    expect(report.ok).toBe(true);
    expect(report.pendingHours).toEqual([
      { region: 'cn-hangzhou', hourStart: '2024-03-05T11:00:00.000Z', files: 2, overdue: true },
      { region: 'cn-hangzhou', hourStart: '2024-03-05T12:00:00.000Z', files: 1, overdue: false },
    ]);
  });

  it('with the deliverer\'s chain head, a deleted or replaced latest digest is a broken chain', async () => {
    const head = chain[3]?.link;
    if (!head) throw new Error('fixture');
    const withHead = () => verifyArchive({ reader: bucket, trail, from: H(6), to: NOW, publicKeyPem: keys.publicKeyPem, now: NOW, heads: [head] });
    expect((await withHead()).ok).toBe(true);
    const original = bucket.objects.get(head.key) as Buffer;
    bucket.objects.set(head.key, Buffer.from(original.toString().replace('"version":1', '"version":1 ')));
    expect((await withHead()).brokenChain).toMatchObject([{ key: head.key, reason: 'head-mismatch' }]);
    bucket.objects.delete(head.key);
    const report = await withHead();
    expect(report.brokenChain).toMatchObject([{ key: head.key, reason: 'head-missing' }]);
    // Hour 11 is covered by the head: its files are no longer accounted for.
    expect(report.inserted.map((i) => i.key).sort()).toEqual([...(chain[3]?.files ?? [])].sort());
    // Everything deleted: still detected through the head.
    bucket.objects.clear();
    expect((await withHead()).brokenChain).toMatchObject([{ key: head.key, reason: 'head-missing' }]);
  });

  it('reports a validly signed digest copied over another hour as misplaced', async () => {
    bucket.objects.set(chain[2]?.digestKey ?? '', bucket.objects.get(chain[1]?.digestKey ?? '') as Buffer);
    const report = await verify(bucket);
    expect(report.badSignatures).toMatchObject([{ key: chain[2]?.digestKey, reason: 'misplaced' }]);
    expect(report.brokenChain.map((b) => b.reason)).toContain('previous-hash-mismatch');
  });

  it('reports digests signed by another key, unparseable digests, and a restarted chain', async () => {
    const other = generateSigningKeyPair();
    const fresh = new MemoryBucket();
    const a = writeHour(fresh, H(8), null);
    const b = writeHour(fresh, H(9), a.link, { signer: other });
    fresh.objects.set(digestKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', trailName: TRAIL, hourStart: H(10) }), Buffer.from('{"version":1'));
    const d = writeHour(fresh, H(11), null);
    const report = await verify(fresh);
    expect(report.badSignatures.map((x) => [x.key, x.reason])).toEqual([
      [b.digestKey, 'unknown-key'],
      [digestKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', trailName: TRAIL, hourStart: H(10) }), 'malformed'],
    ]);
    expect(report.brokenChain).toMatchObject([{ key: d.digestKey, reason: 'chain-restarted' }]);
    expect(report.ok).toBe(false);
  });

  it('reports a digest that the next one skips', async () => {
    const fresh = new MemoryBucket();
    const a = writeHour(fresh, H(8), null);
    const b = writeHour(fresh, H(9), a.link);
    writeHour(fresh, H(10), a.link);
    const report = await verify(fresh);
    expect(report.brokenChain).toMatchObject([{ key: b.digestKey, reason: 'unlinked-digest' }]);
  });

  it('accepts empty hours and skipped hours declared by the chain, but not files in them', async () => {
    const fresh = new MemoryBucket();
    const a = writeHour(fresh, H(8), null);
    const b = writeHour(fresh, H(9), a.link, { files: 0 });
    writeHour(fresh, H(11), b.link);
    expect((await verify(fresh)).ok).toBe(true);
    const sneaked = putFile(fresh, { ossKeyPrefix: 'audit', region: 'cn-hangzhou' }, new Date('2024-03-05T10:30:00Z'), 'x');
    const early = putFile(fresh, { ossKeyPrefix: 'audit', region: 'cn-hangzhou' }, new Date('2024-03-05T06:30:00Z'), 'y');
    const report = await verify(fresh);
    expect(report.inserted.map((i) => i.key).sort()).toEqual([early, sneaked].sort());
  });

  it('does not count files of another trail sharing the bucket and prefix as inserted', async () => {
    let previous: PreviousDigestLink | null = null;
    for (const h of [9, 10]) previous = writeHour(bucket, H(h), previous, { trail: 'second-trail' }).link;
    const report = await verify(bucket);
    expect(report.ok).toBe(true);
    expect(report.digestsChecked).toBe(4);
  });

  it('reports objects with names that are not archive file names', async () => {
    bucket.objects.set('audit/AliyunLogs/Actiontrail/cn-hangzhou/2024/03/05/notes.txt', Buffer.from('hi'));
    const report = await verify(bucket);
    expect(report.inserted).toMatchObject([{ key: 'audit/AliyunLogs/Actiontrail/cn-hangzhou/2024/03/05/notes.txt', reason: 'unrecognised-name' }]);
  });

  it('verifies organization scopes separately', async () => {
    const org = new MemoryBucket();
    const scopes = ['1000000000000001', '1000000000000002'].map((accountId) => ({ region: 'cn-hangzhou', organization: { orgId: 'rd-abc', accountId } }));
    for (const scope of scopes) chainOf(org, 8, 11, scope);
    const orgTrail = { name: TRAIL, regions: ['cn-hangzhou'], organization: { orgId: 'rd-abc', accountIds: ['1000000000000001', '1000000000000002'] } };
    const report = await verifyArchive({ reader: org, trail: orgTrail, from: H(6), to: NOW, publicKeyPem: keys.publicKeyPem, now: NOW });
    expect(report).toMatchObject({ ok: true, digestsChecked: 8, filesChecked: 16 });
    org.objects.delete([...org.objects.keys()].find((k) => k.includes('/1000000000000002/') && k.endsWith('.gz')) ?? '');
    const tampered = await verifyArchive({ reader: org, trail: orgTrail, from: H(6), to: NOW, publicKeyPem: keys.publicKeyPem, now: NOW });
    expect(tampered.deleted).toMatchObject([{ organization: { orgId: 'rd-abc', accountId: '1000000000000002' } }]);
  });
});

describe('discoverScopes', () => {
  for (const folders of [true, false]) {
    it(`finds regions and organization accounts (${folders ? 'folder listing' : 'full listing'})`, async () => {
      const bucket = new MemoryBucket(folders);
      chainOf(bucket, 8, 8);
      chainOf(bucket, 8, 8, { ossKeyPrefix: 'audit', region: 'cn-shanghai' });
      chainOf(bucket, 8, 8, { ossKeyPrefix: 'audit', region: 'cn-beijing', organization: { orgId: 'rd-abc', accountId: '1000000000000009' } });
      putFile(bucket, { ossKeyPrefix: 'audit', region: 'eu-central-1' }, H(9), 'only-a-file');
      const single = await discoverScopes(bucket, { ossKeyPrefix: 'audit' });
      expect(single.regions).toEqual(['cn-hangzhou', 'cn-shanghai', 'eu-central-1']);
      const org = await discoverScopes(bucket, { ossKeyPrefix: 'audit', organization: {} });
      expect(org.regions).toEqual(['cn-beijing']);
      expect([...org.organizations]).toEqual([['rd-abc', ['1000000000000009']]]);
      expect((await discoverScopes(bucket, { ossKeyPrefix: 'audit', organization: { orgId: 'rd-other' } })).regions).toEqual([]);
    });

    it(`keeps an organization's members when a member's single-account trail names a region after the organization id (${folders ? 'folder listing' : 'full listing'})`, async () => {
      // A member's single-account trail may share the organization trail's bucket and prefix; an
      // event with acsRegion `rd-abc` (a valid region id) puts its file in `Actiontrail/rd-abc/<YYYY>/…`,
      // inside the organization's folder `Actiontrail/rd-abc/<member>/…`.
      // Archive files only, as archive queries discover scopes (adapters/archive/archive-bucket.ts).
      const bucket = new MemoryBucket(folders);
      putFile(bucket, { ossKeyPrefix: 'audit', region: 'cn-beijing', organization: { orgId: 'rd-abc', accountId: '1000000000000009' } }, H(8), 'org');
      putFile(bucket, { ossKeyPrefix: 'audit', region: 'rd-abc' }, H(9), 'member-single-account');
      const org = await discoverScopes(bucket, { ossKeyPrefix: 'audit', organization: { orgId: 'rd-abc' } });
      expect(org.regions).toEqual(['cn-beijing']);
      expect([...org.organizations]).toEqual([['rd-abc', ['1000000000000009']]]);
      expect((await discoverScopes(bucket, { ossKeyPrefix: 'audit' })).regions).toEqual(['rd-abc']);
    });
  }
});

describe('verifyArchive: digests in the account folder (docs/design.md §3.5)', () => {
  const OTHER = '9234567890123456';
  const scope = { ossKeyPrefix: 'audit', region: 'cn-hangzhou' };

  it('verifies a chain that moves from the legacy folder to the account folder', async () => {
    const bucket = new MemoryBucket();
    const h8 = writeHour(bucket, H(8), null);
    const h9 = writeHour(bucket, H(9), h8.link);
    const h10 = writeHour(bucket, H(10), h9.link, { accountFolder: ACCOUNT });
    const h11 = writeHour(bucket, H(11), h10.link, { accountFolder: ACCOUNT });
    expect(h10.digestKey).toContain(`/Actiontrail-Digest/${ACCOUNT}/cn-hangzhou/`);
    expect(h8.digestKey).toContain('/Actiontrail-Digest/cn-hangzhou/');
    const report = await verify(bucket);
    expect(report).toMatchObject({ ok: true, digestsChecked: 4, filesChecked: 8, inserted: [], badSignatures: [], brokenChain: [] });
    // The newest digest (account folder) is found after a range that ends before it.
    const early = await verify(bucket, H(8), H(10));
    expect(early).toMatchObject({ ok: true, digestsChecked: 2, brokenChain: [] });
    expect(h11.link.key).toBe(h11.digestKey);
  });

  it("keeps same-named trails of two accounts apart and flags another account's digest copied into ours", async () => {
    const bucket = new MemoryBucket();
    const ours = writeHour(bucket, H(8), null, { accountFolder: ACCOUNT });
    const theirs = writeHour(bucket, H(8), null, { scope: { ...scope, ossKeyPrefix: 'audit-other' }, accountFolder: OTHER, accountId: OTHER });
    expect(theirs.digestKey).not.toBe(ours.digestKey);
    expect(digestKey({ ...scope, accountId: OTHER, trailName: TRAIL, hourStart: H(8) })).not.toBe(ours.digestKey);
    expect(await verify(bucket, H(8), H(9))).toMatchObject({ ok: true, digestsChecked: 1 });

    // Account OTHER's validly signed digest of the same trail name, stored under our key.
    const forged = createDigestDocument({
      trailName: TRAIL,
      accountId: OTHER,
      region: 'cn-hangzhou',
      hour: H(8),
      files: [],
      previous: null,
      publicKeyFingerprint: keys.fingerprint,
      signedAt: H(9),
    });
    bucket.objects.set(ours.digestKey, Buffer.from(serialiseSignedDigest(signDigest(forged, keys.privateKeyPem))));
    const report = await verify(bucket, H(8), H(9));
    expect(report.ok).toBe(false);
    expect(report.badSignatures).toMatchObject([{ key: ours.digestKey, reason: 'misplaced' }]);
  });
});
