/**
 * The compliance controls over facts (docs/design.md §3.11): each control's PASS, FAIL (with the
 * exact remediation call), NOT_APPLICABLE and UNKNOWN, from a compliant account's facts varied
 * one fact at a time; the report's summary and text rendering.
 */
import { describe, expect, it } from 'vitest';
import { CONTROLS, remediation } from '../../shared/compliance/controls.ts';
import {
  known,
  unknown,
  MAX_GOVERNANCE_SCAN_EVENTS,
  type BucketFact,
  type ComplianceFacts,
  type EventRef,
  type TrailFact,
} from '../../shared/compliance/facts.ts';
import { ComplianceReportSchema, evaluateCompliance, formatReportText } from '../../shared/compliance/report.ts';

const ACCOUNT = '1234567890123456';
const NOW = Date.UTC(2026, 11, 3, 12);
const DAY = 86_400_000;

function trail(overrides: Partial<TrailFact> = {}): TrailFact {
  return {
    name: 'audit-trail',
    accountId: ACCOUNT,
    homeRegion: 'cn-hangzhou',
    status: 'Enable',
    eventRW: 'All',
    trailRegion: 'All',
    isOrganizationTrail: false,
    inherited: false,
    ossBucketName: 'audit-logs',
    slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/audit`,
    logstoreRetentionDays: known(180),
    digest: known({ ok: true, from: '2026-12-02T12:00:00.000Z', to: '2026-12-03T13:00:00.000Z', digestsChecked: 24, filesChecked: 100, problems: [], overdueHours: 0, pendingFiles: 0 }),
    ...overrides,
  };
}

function bucket(overrides: Partial<BucketFact> = {}): BucketFact {
  return {
    bucket: 'audit-logs',
    encryption: known({ algorithm: 'KMS', kmsKeyId: 'key-1' }),
    objectLock: known({ enabled: true, mode: 'COMPLIANCE', days: 365 }),
    publicAccess: { acl: known({ publicGrants: [] }), policy: known(null), block: known(null) },
    ...overrides,
  };
}

const signins = (o: Partial<{ rootLogons: EventRef[]; withoutMfa: EventRef[]; noMfaFlag: number; scanned: number; capped: boolean }> = {}) =>
  known({ rootLogons: [], withoutMfa: [], noMfaFlag: 0, scanned: 10, capped: false, ...o });

function facts(overrides: Partial<ComplianceFacts> = {}, gov: Partial<ComplianceFacts['governance']> = {}): ComplianceFacts {
  return {
    accountId: ACCOUNT,
    generatedAtMs: NOW,
    archiveLockDays: 180,
    trails: [trail()],
    buckets: [bucket()],
    governance: {
      windowDays: 90,
      consoleSignins: signins(),
      rootKeyUse: known({ keys: [], ownApiCalls: 0, scanned: 0, capped: false }),
      accessKeys: known([{ accessKeyId: 'LTAI5tKeyAAAAAAAAAAAAAAA', status: 'Active', createdAt: new Date(NOW - 200 * DAY).toISOString(), lastUsedMs: NOW - DAY }]),
      trailChanges: known({ events: [], scanned: 0, capped: false }),
      ...gov,
    },
    ...overrides,
  };
}

function control(id: string, f: ComplianceFacts) {
  const c = CONTROLS.find((x) => x.id === id);
  if (!c) throw new Error(`no control ${id}`);
  return c.evaluate(f);
}

const calls = (r: { remediation: { call: string }[] }) => r.remediation.map((x) => x.call);
const ev = (n: number): EventRef => ({ eventId: `evt-${n}`, eventTime: `2026-12-0${1 + (n % 2)}T0${n % 10}:00:00Z`, userName: 'root' });

describe('the catalogue', () => {
  it('has unique ids, a source and a rule for every control, and every control passes on a compliant account', () => {
    expect(new Set(CONTROLS.map((c) => c.id)).size).toBe(CONTROLS.length);
    for (const c of CONTROLS) {
      expect(c.source.length).toBeGreaterThan(10);
      expect(c.rule.length).toBeGreaterThan(10);
      expect({ id: c.id, status: c.evaluate(facts()).status }).toEqual({ id: c.id, status: 'PASS' });
    }
  });

  it('covers the CIS logging control, the best-practice sheet and the governance checks', () => {
    expect(CONTROLS.map((c) => c.id)).toEqual([
      'CIS-2.1',
      'CIS-2.2',
      'BP-ALL-REGIONS',
      'BP-ALL-EVENTS',
      'BP-DESTINATION',
      'BP-ARCHIVE-ENCRYPTION',
      'BP-ARCHIVE-RETENTION-LOCK',
      'BP-LOGSTORE-RETENTION',
      'BP-DIGEST-CHAIN',
      'GOV-ROOT-CONSOLE-LOGON',
      'GOV-ROOT-ACCESSKEY',
      'GOV-CONSOLE-MFA',
      'GOV-ACCESSKEY-UNUSED',
      'GOV-TRAIL-STOPPED',
    ]);
  });
});

describe('CIS-2.1 ActionTrail exports all log entries', () => {
  it('fails with CreateTrail + StartLogging when the account has no trail', () => {
    const r = control('CIS-2.1', facts({ trails: [], buckets: [] }));
    expect(r.status).toBe('FAIL');
    expect(calls(r)).toEqual(['CreateTrail --Name compliance-all-events --OssBucketName <your-log-bucket> --EventRW All --TrailRegion All', 'StartLogging --Name compliance-all-events']);
  });

  it('fails with the UpdateTrail that widens a Write-only, one-region trail', () => {
    const r = control('CIS-2.1', facts({ trails: [trail({ eventRW: 'Write', trailRegion: 'cn-hangzhou' })] }));
    expect(r.status).toBe('FAIL');
    expect(r.evidence.join('\n')).toContain('EventRW=Write, TrailRegion=cn-hangzhou');
    expect(calls(r)).toEqual(['UpdateTrail --Name audit-trail --EventRW All --TrailRegion All']);
  });

  it('fails with StartLogging for a stopped trail that is otherwise right', () => {
    const r = control('CIS-2.1', facts({ trails: [trail({ status: 'Disable' })] }));
    expect(r.status).toBe('FAIL');
    expect(calls(r)).toEqual(['StartLogging --Name audit-trail']);
  });

  it('picks the own trail needing the fewest changes', () => {
    const r = control('CIS-2.1', facts({ trails: [trail({ name: 'narrow-trail', eventRW: 'Read', trailRegion: 'cn-beijing', status: 'Fresh' }), trail({ name: 'almost-trail', eventRW: 'Write' })] }));
    expect(calls(r)).toEqual(['UpdateTrail --Name almost-trail --EventRW All']);
  });

  it("passes on an organization trail of the management account, and names it as such", () => {
    const r = control('CIS-2.1', facts({ trails: [trail({ name: 'org-trail', accountId: '9999999999999999', isOrganizationTrail: true, inherited: true })] }));
    expect(r.status).toBe('PASS');
    expect(r.evidence[0]).toContain('organization trail of management account 9999999999999999');
  });

  it('names the management account to run the fix as when only an inherited trail exists', () => {
    const r = control('CIS-2.1', facts({ trails: [trail({ name: 'org-trail', accountId: '9999999999999999', isOrganizationTrail: true, inherited: true, eventRW: 'Write' })] }));
    expect(r.status).toBe('FAIL');
    expect(r.remediation[0]).toMatchObject({ call: 'UpdateTrail --Name org-trail --EventRW All', asAccountId: '9999999999999999' });
  });
});

describe('trail settings: all regions, all events, destination', () => {
  it('BP-ALL-REGIONS passes on TrailRegion=All and fails otherwise with UpdateTrail --TrailRegion All', () => {
    expect(control('BP-ALL-REGIONS', facts({ trails: [trail({ eventRW: 'Write' })] })).status).toBe('PASS');
    const r = control('BP-ALL-REGIONS', facts({ trails: [trail({ trailRegion: 'cn-shanghai' })] }));
    expect(r.status).toBe('FAIL');
    expect(calls(r)).toEqual(['UpdateTrail --Name audit-trail --TrailRegion All']);
  });

  it('BP-ALL-EVENTS fails on EventRW=Read with UpdateTrail --EventRW All', () => {
    const r = control('BP-ALL-EVENTS', facts({ trails: [trail({ eventRW: 'Read' })] }));
    expect(r.status).toBe('FAIL');
    expect(calls(r)).toEqual(['UpdateTrail --Name audit-trail --EventRW All']);
  });

  it('BP-DESTINATION passes with a logstore alone, fails without a destination, and reports delivery errors', () => {
    expect(control('BP-DESTINATION', facts({ trails: [trail({ ossBucketName: undefined })] })).status).toBe('PASS');
    const none = control('BP-DESTINATION', facts({ trails: [trail({ ossBucketName: undefined, slsProjectArn: undefined })] }));
    expect(none.status).toBe('FAIL');
    expect(calls(none)).toEqual(['UpdateTrail --Name audit-trail --OssBucketName <your-log-bucket>']);
    const erring = control('BP-DESTINATION', facts({ trails: [trail({ latestDeliveryError: 'NoSuchBucket' })] }));
    expect(erring.evidence.join('\n')).toContain('latest OSS delivery failed: NoSuchBucket');
  });

  it('a Fresh trail is not logging: every trail control fails on it', () => {
    const f = facts({ trails: [trail({ status: 'Fresh' })] });
    for (const id of ['CIS-2.1', 'BP-ALL-REGIONS', 'BP-ALL-EVENTS', 'BP-DESTINATION']) expect(control(id, f).status).toBe('FAIL');
  });
});

describe('bucket controls', () => {
  it('are NOT_APPLICABLE when no logging trail delivers to a bucket', () => {
    const f = facts({ trails: [trail({ ossBucketName: undefined })], buckets: [] });
    for (const id of ['CIS-2.2', 'BP-ARCHIVE-ENCRYPTION', 'BP-ARCHIVE-RETENTION-LOCK', 'BP-DIGEST-CHAIN']) expect(control(id, f).status).toBe('NOT_APPLICABLE');
  });

  it('are UNKNOWN with the reason when the storage server cannot report the settings (never PASS)', () => {
    const reason = 'the storage server does not implement GetBucketEncryption (NotImplemented, HTTP 501)';
    const f = facts({
      buckets: [bucket({ encryption: unknown(reason), objectLock: unknown('no lock'), publicAccess: { acl: unknown('no acl'), policy: unknown('no policy'), block: unknown('no block') } })],
    });
    const enc = control('BP-ARCHIVE-ENCRYPTION', f);
    expect(enc.status).toBe('UNKNOWN');
    expect(enc.evidence[0]).toContain(reason);
    expect(enc.remediation).toEqual([]);
    expect(control('BP-ARCHIVE-RETENTION-LOCK', f).status).toBe('UNKNOWN');
    const pub = control('CIS-2.2', f);
    expect(pub.status).toBe('UNKNOWN');
    expect(pub.evidence[0]).toContain('no acl');
  });

  it('CIS-2.2 fails on a public ACL grant or a public policy, with PutBucketAcl and PutPublicAccessBlock', () => {
    const acl = control('CIS-2.2', facts({ buckets: [bucket({ publicAccess: { acl: known({ publicGrants: ['AllUsers READ'] }), policy: known(null), block: known(null) } })] }));
    expect(acl.status).toBe('FAIL');
    expect(acl.evidence[0]).toContain('AllUsers READ');
    expect(calls(acl)).toEqual([
      'PutBucketAcl --Bucket audit-logs --ACL private',
      'PutPublicAccessBlock --Bucket audit-logs --PublicAccessBlockConfiguration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true',
    ]);
    const policy = control('CIS-2.2', facts({ buckets: [bucket({ publicAccess: { acl: known({ publicGrants: [] }), policy: known({ isPublic: true }), block: known(null) } })] }));
    expect(policy.status).toBe('FAIL');
  });

  it('CIS-2.2 passes when PublicAccessBlock blocks everything, even with the ACL unreadable', () => {
    const all = { blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true };
    const r = control('CIS-2.2', facts({ buckets: [bucket({ publicAccess: { acl: unknown('x'), policy: unknown('y'), block: known(all) } })] }));
    expect(r.status).toBe('PASS');
  });

  it('BP-ARCHIVE-ENCRYPTION fails without default encryption (PutBucketEncryption with KMS) and passes on AES256 noting KMS is preferred', () => {
    const none = control('BP-ARCHIVE-ENCRYPTION', facts({ buckets: [bucket({ encryption: known(null) })] }));
    expect(none.status).toBe('FAIL');
    expect(calls(none)).toEqual([`PutBucketEncryption --Bucket audit-logs --ServerSideEncryptionConfiguration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"KMS"}}]}'`]);
    const aes = control('BP-ARCHIVE-ENCRYPTION', facts({ buckets: [bucket({ encryption: known({ algorithm: 'AES256' }) })] }));
    expect(aes.status).toBe('PASS');
    expect(aes.evidence[0]).toContain('SSE-KMS is preferred');
  });

  it('BP-ARCHIVE-RETENTION-LOCK: lock off fails; short GOVERNANCE default with no per-file lock fails; per-file lock of 180 days passes', () => {
    const off = control('BP-ARCHIVE-RETENTION-LOCK', facts({ buckets: [bucket({ objectLock: known({ enabled: false }) })] }));
    expect(off.status).toBe('FAIL');
    expect(calls(off)[0]).toBe(`PutObjectLockConfiguration --Bucket audit-logs --ObjectLockConfiguration '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE","Days":180}}}'`);
    const governance = control('BP-ARCHIVE-RETENTION-LOCK', facts({ archiveLockDays: 0, buckets: [bucket({ objectLock: known({ enabled: true, mode: 'GOVERNANCE', days: 365 }) })] }));
    expect(governance.status).toBe('FAIL');
    const perFile = control('BP-ARCHIVE-RETENTION-LOCK', facts({ archiveLockDays: 180, buckets: [bucket({ objectLock: known({ enabled: true }) })] }));
    expect(perFile.status).toBe('PASS');
  });

  it('judges a bucket once for all the trails that share it', () => {
    const r = control('BP-ARCHIVE-ENCRYPTION', facts({ trails: [trail(), trail({ name: 'second-trail' })] }));
    expect(r.evidence).toHaveLength(1);
    expect(r.evidence[0]).toContain('trail audit-trail, second-trail');
  });
});

describe('BP-LOGSTORE-RETENTION', () => {
  it('passes at 180 days, fails below with UpdateLogStore, is UNKNOWN when not read, NOT_APPLICABLE without a logstore', () => {
    const short = control('BP-LOGSTORE-RETENTION', facts({ trails: [trail({ logstoreRetentionDays: known(30) })] }));
    expect(short.status).toBe('FAIL');
    expect(calls(short)).toEqual(['UpdateLogStore --ProjectName audit --LogstoreName actiontrail_audit-trail --Ttl 180']);
    const sls = control('BP-LOGSTORE-RETENTION', facts({ trails: [trail({ logstoreRetentionDays: unknown('Log Service: not read') })] }));
    expect(sls.status).toBe('UNKNOWN');
    expect(sls.evidence[0]).toContain('Log Service: not read');
    expect(control('BP-LOGSTORE-RETENTION', facts({ trails: [trail({ slsProjectArn: undefined, logstoreRetentionDays: undefined })] })).status).toBe('NOT_APPLICABLE');
  });
});

describe('BP-DIGEST-CHAIN', () => {
  it('fails with the problems and the verify command when the archive does not match', () => {
    const r = control('BP-DIGEST-CHAIN', facts({ trails: [trail({ digest: known({ ok: false, from: 'a', to: 'b', digestsChecked: 3, filesChecked: 5, problems: ['modified AliyunLogs/x.gz'], overdueHours: 0, pendingFiles: 2 }) })] }));
    expect(r.status).toBe('FAIL');
    expect(r.evidence[0]).toContain('modified AliyunLogs/x.gz');
    expect(r.evidence[0]).toContain('2 newer file(s) await their hour\'s digest');
    expect(calls(r)).toEqual([`npm run verify -- --trail audit-trail --account ${ACCOUNT} --from a --to b`]);
  });

  it('is UNKNOWN when the chain could not be verified', () => {
    const r = control('BP-DIGEST-CHAIN', facts({ trails: [trail({ digest: unknown('no digest signing key exists yet') })] }));
    expect(r.status).toBe('UNKNOWN');
    expect(r.evidence[0]).toContain('no digest signing key');
  });
});

describe('governance checks', () => {
  it('GOV-ROOT-CONSOLE-LOGON: three root logons pass, four fail with the RAM calls, event ids named', () => {
    expect(control('GOV-ROOT-CONSOLE-LOGON', facts({}, { consoleSignins: signins({ rootLogons: [ev(1), ev(2), ev(3)] }) })).status).toBe('PASS');
    const r = control('GOV-ROOT-CONSOLE-LOGON', facts({}, { consoleSignins: signins({ rootLogons: [ev(1), ev(2), ev(3), ev(4)] }) }));
    expect(r.status).toBe('FAIL');
    expect(r.evidence[0]).toBe('4 root-account console logon(s)');
    expect(r.evidence.join('\n')).toContain('evt-4');
    expect(calls(r)[0]).toBe('CreateUser --UserName <admin-user>');
  });

  it('a capped scan that found too few to fail is UNKNOWN and says it was capped', () => {
    const r = control('GOV-ROOT-CONSOLE-LOGON', facts({}, { consoleSignins: signins({ rootLogons: [ev(1)], scanned: MAX_GOVERNANCE_SCAN_EVENTS, capped: true }) }));
    expect(r.status).toBe('UNKNOWN');
    expect(r.evidence.join('\n')).toContain(`scan capped: read the newest ${MAX_GOVERNANCE_SCAN_EVENTS}`);
  });

  it('UNKNOWN with the reason when history cannot be read', () => {
    const r = control('GOV-CONSOLE-MFA', facts({}, { consoleSignins: unknown('Redis is down') }));
    expect(r.status).toBe('UNKNOWN');
    expect(r.evidence[0]).toContain('Redis is down');
  });

  it('GOV-ROOT-ACCESSKEY fails with DeleteAccessKey per key; TrailKeeper\'s own API calls are not counted but reported', () => {
    const used = known({ keys: [{ accessKeyId: 'LTAI5tRootKey', calls: 7, latest: ev(1) }], ownApiCalls: 2, scanned: 9, capped: false });
    const r = control('GOV-ROOT-ACCESSKEY', facts({}, { rootKeyUse: used }));
    expect(r.status).toBe('FAIL');
    expect(calls(r)).toEqual(['DeleteAccessKey --UserAccessKeyId LTAI5tRootKey']);
    expect(r.evidence.join('\n')).toContain('2 TrailKeeper API call(s)');
    const own = control('GOV-ROOT-ACCESSKEY', facts({}, { rootKeyUse: known({ keys: [], ownApiCalls: 2, scanned: 2, capped: false }) }));
    expect(own.status).toBe('PASS');
  });

  it('GOV-CONSOLE-MFA fails per RAM user with UpdateLoginProfile (root: the console, no API); logons without a flag are only reported', () => {
    const r = control('GOV-CONSOLE-MFA', facts({}, { consoleSignins: signins({ withoutMfa: [{ ...ev(1), userName: 'alice' }, ev(2)], noMfaFlag: 3 }) }));
    expect(r.status).toBe('FAIL');
    expect(r.evidence[0]).toBe('2 console logon(s) without MFA by alice, root');
    expect(r.evidence.join('\n')).toContain('3 logon(s) carry no MFA flag');
    expect(calls(r)).toEqual(['UpdateLoginProfile --UserName alice --MFABindRequired true']);
    expect(r.evidence.join('\n')).toContain('bind its MFA device in the console');
    expect(control('GOV-CONSOLE-MFA', facts({}, { consoleSignins: signins({ noMfaFlag: 3 }) })).status).toBe('PASS');
  });

  it('GOV-ACCESSKEY-UNUSED: an old key unused 90 days fails; a new never-used key and an inactive one do not', () => {
    const old = { accessKeyId: 'LTAI5tOldKey', status: 'Active' as const, createdAt: new Date(NOW - 400 * DAY).toISOString(), lastUsedMs: NOW - 91 * DAY };
    const fresh = { accessKeyId: 'LTAI5tNewKey', status: 'Active' as const, createdAt: new Date(NOW - DAY).toISOString() };
    const inactive = { ...old, accessKeyId: 'LTAI5tOffKey', status: 'Inactive' as const };
    const r = control('GOV-ACCESSKEY-UNUSED', facts({}, { accessKeys: known([old, fresh, inactive]) }));
    expect(r.status).toBe('FAIL');
    expect(calls(r)).toEqual(['npm run keys -- disable LTAI5tOldKey']);
    expect(control('GOV-ACCESSKEY-UNUSED', facts({}, { accessKeys: known([fresh, inactive]) })).status).toBe('PASS');
    expect(control('GOV-ACCESSKEY-UNUSED', facts({}, { accessKeys: known([inactive]) })).status).toBe('NOT_APPLICABLE');
    expect(control('GOV-ACCESSKEY-UNUSED', facts({}, { accessKeys: unknown('store down') })).status).toBe('UNKNOWN');
  });

  it('GOV-TRAIL-STOPPED lists the calls; fails while a stopped trail is not logging or a deleted one is gone', () => {
    const stop = { eventId: 'evt-stop', eventTime: '2026-12-01T00:00:00Z', eventName: 'StopLogging' as const, trailName: 'audit-trail' };
    const restarted = control('GOV-TRAIL-STOPPED', facts({}, { trailChanges: known({ events: [stop], scanned: 1, capped: false }) }));
    expect(restarted.status).toBe('PASS');
    expect(restarted.evidence.join('\n')).toContain('StopLogging audit-trail');
    const stopped = control('GOV-TRAIL-STOPPED', facts({ trails: [trail({ status: 'Disable' })] }, { trailChanges: known({ events: [stop], scanned: 1, capped: false }) }));
    expect(stopped.status).toBe('FAIL');
    expect(calls(stopped)).toEqual(['StartLogging --Name audit-trail']);
    const deleted = control('GOV-TRAIL-STOPPED', facts({}, { trailChanges: known({ events: [{ ...stop, eventName: 'DeleteTrail', trailName: 'gone-trail' }], scanned: 1, capped: false }) }));
    expect(deleted.status).toBe('FAIL');
    expect(calls(deleted)).toEqual(['CreateTrail --Name gone-trail --OssBucketName <your-log-bucket> --EventRW All --TrailRegion All', 'StartLogging --Name gone-trail']);
  });
});

describe('the report', () => {
  it('summarises the statuses, is compliant only without a FAIL, and matches its own schema', () => {
    const passing = evaluateCompliance(facts());
    expect(passing.Compliant).toBe(true);
    expect(passing.Summary).toEqual({ Total: CONTROLS.length, Pass: CONTROLS.length, Fail: 0, NotApplicable: 0, Unknown: 0 });
    const unknownOnly = evaluateCompliance(facts({ buckets: [bucket({ encryption: unknown('x') })] }));
    expect(unknownOnly.Compliant).toBe(true);
    expect(unknownOnly.Summary.Unknown).toBe(1);
    const failing = evaluateCompliance(facts({ trails: [trail({ eventRW: 'Write' })] }));
    expect(failing.Compliant).toBe(false);
    expect(ComplianceReportSchema.parse(failing)).toEqual(failing);
  });

  it('a control that throws is UNKNOWN, not a crash', () => {
    const broken = { ...CONTROLS[0]!, evaluate: () => { throw new Error('boom'); } };
    const r = evaluateCompliance(facts(), [broken]);
    expect(r.Controls[0]).toMatchObject({ Status: 'UNKNOWN', Evidence: ['the control could not be evaluated: boom'] });
  });

  it('renders failures with the exact call and the npm run lookup line that makes it here', () => {
    const text = formatReportText(evaluateCompliance(facts({ trails: [trail({ eventRW: 'Write' })] })));
    expect(text).toContain('[FAIL] CIS-2.1');
    expect(text).toContain('ActionTrail: UpdateTrail --Name audit-trail --EventRW All');
    expect(text).toContain('here: npm run lookup -- Action=UpdateTrail Name=audit-trail EventRW=All');
    expect(text).toContain('NOT COMPLIANT');
  });

  it('quotes values a shell would split', () => {
    expect(remediation('OSS', 'PutX', { Bucket: 'b', Config: `{"a": "it's"}` }).call).toBe(`PutX --Bucket b --Config '{"a": "it'\\''s"}'`);
  });
});
