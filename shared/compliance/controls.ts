/**
 * The compliance controls (docs/design.md §3.11), as data: each has an id, its source (the CIS
 * benchmark recommendation, the best-practice line or MLPS 2.0 requirement, or the governance
 * check), the rule in words, and `evaluate(facts)`, a pure function that returns the status,
 * the evidence and — for a failure — the exact calls that fix it.
 *
 * Statuses: PASS; FAIL; NOT_APPLICABLE (nothing the control is about exists, e.g. no trail
 * delivers to a bucket); UNKNOWN (a fact could not be read — the reason is in the evidence —
 * or a bounded scan stopped before it could decide). UNKNOWN is never turned into PASS.
 *
 * "Logging trail": a trail covering the account whose status is Enable — its own, or an
 * organization trail of its management account (which receives the members' events).
 */
import { ACCESS_KEY_UNUSED_DAYS } from '../accesskeys/accesskey-actions.ts';
import {
  GOVERNANCE_WINDOW_DAYS,
  MAX_EVIDENCE_ITEMS,
  MAX_GOVERNANCE_SCAN_EVENTS,
  MAX_ROOT_CONSOLE_LOGONS,
  MLPS_RETENTION_DAYS,
  type BucketFact,
  type ComplianceFacts,
  type EventRef,
  type Known,
  type ScanInfo,
  type TrailFact,
} from './facts.ts';

export const CONTROL_STATUSES = ['PASS', 'FAIL', 'NOT_APPLICABLE', 'UNKNOWN'] as const;
export type ControlStatus = (typeof CONTROL_STATUSES)[number];

export const CONTROL_GROUPS = ['CIS', 'BestPractice', 'Governance'] as const;
export type ControlGroup = (typeof CONTROL_GROUPS)[number];

/** One call that fixes a failure: the API, the action and its parameters. */
export interface Remediation {
  /** The API the action belongs to: ActionTrail (served by TrailKeeper's lookup-http), OSS (its S3 API), SLS, RAM, or TrailKeeper's own tools. */
  api: 'ActionTrail' | 'OSS' | 'SLS' | 'RAM' | 'TrailKeeper';
  action: string;
  params: Record<string, string>;
  /** The account to run it as, when it is not the report's (an inherited organization trail). */
  asAccountId?: string;
  /** `Action --Name value …`, shell-quoted: what a person types into the platform's CLI. */
  call: string;
}

export interface ControlResult {
  status: ControlStatus;
  evidence: string[];
  remediation: Remediation[];
}

export interface Control {
  id: string;
  title: string;
  group: ControlGroup;
  /** Where the control comes from: the benchmark recommendation or best-practice line. */
  source: string;
  /** The rule in words (what PASS means). */
  rule: string;
  evaluate(facts: ComplianceFacts): ControlResult;
}

// ---- helpers -------------------------------------------------------------------------------

const SHELL_SAFE = /^[A-Za-z0-9_./:@,=+-]+$/;
/** A placeholder the reader replaces (`<your-log-bucket>`), shown as it is. */
const PLACEHOLDER = /^<[a-z0-9-]+>$/;
const quote = (value: string): string => (SHELL_SAFE.test(value) || PLACEHOLDER.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

export function remediation(api: Remediation['api'], action: string, params: Record<string, string>, asAccountId?: string): Remediation {
  const args = Object.entries(params).map(([k, v]) => ` --${k} ${quote(v)}`);
  return { api, action, params, ...(asAccountId ? { asAccountId } : {}), call: `${action}${args.join('')}` };
}

const result = (status: ControlStatus, evidence: string[], fixes: Remediation[] = []): ControlResult => ({ status, evidence, remediation: status === 'FAIL' ? fixes : [] });

/** At most MAX_EVIDENCE_ITEMS items, and a line saying how many more there are. */
function capped<T>(items: readonly T[], line: (item: T) => string): string[] {
  const out = items.slice(0, MAX_EVIDENCE_ITEMS).map(line);
  if (items.length > MAX_EVIDENCE_ITEMS) out.push(`… and ${items.length - MAX_EVIDENCE_ITEMS} more`);
  return out;
}

const isLogging = (t: TrailFact): boolean => t.status === 'Enable';
const loggingTrails = (f: ComplianceFacts): TrailFact[] => f.trails.filter(isLogging);
const ownTrails = (f: ComplianceFacts): TrailFact[] => f.trails.filter((t) => !t.inherited);

function trailLabel(t: TrailFact): string {
  return t.inherited ? `trail ${t.name} (organization trail of management account ${t.accountId})` : `trail ${t.name}`;
}

function destinations(t: TrailFact): string {
  const out = [t.ossBucketName ? `oss://${t.ossBucketName}` : '', t.slsProjectArn ? `logstore actiontrail_${t.name} in ${t.slsProjectArn}` : ''].filter((d) => d !== '');
  return out.length > 0 ? out.join(' and ') : 'no destination';
}

function describeTrail(t: TrailFact): string {
  const state = t.status === 'Enable' ? 'logging' : t.status === 'Fresh' ? 'never started (Fresh)' : 'stopped (Disable)';
  return `${trailLabel(t)}: ${state}, EventRW=${t.eventRW}, TrailRegion=${t.trailRegion}, ${destinations(t)}`;
}

/** The call that makes the account's own trail `t` have `changes`, then start it if it is not logging. */
function fixTrail(t: TrailFact, changes: Record<string, string>): Remediation[] {
  const asAccount = t.inherited ? t.accountId : undefined;
  const out: Remediation[] = [];
  if (Object.keys(changes).length > 0) out.push(remediation('ActionTrail', 'UpdateTrail', { Name: t.name, ...changes }, asAccount));
  if (!isLogging(t)) out.push(remediation('ActionTrail', 'StartLogging', { Name: t.name }, asAccount));
  return out;
}

/** The name suggested for a trail created by a remediation. */
export const SUGGESTED_TRAIL_NAME = 'compliance-all-events';
const YOUR_BUCKET = '<your-log-bucket>';

function createTrail(): Remediation[] {
  return [
    remediation('ActionTrail', 'CreateTrail', { Name: SUGGESTED_TRAIL_NAME, OssBucketName: YOUR_BUCKET, EventRW: 'All', TrailRegion: 'All' }),
    remediation('ActionTrail', 'StartLogging', { Name: SUGGESTED_TRAIL_NAME }),
  ];
}

/**
 * A trail-configuration control: PASS when a logging trail satisfies `ok`; else FAIL with the
 * call that brings the closest own trail there (or creates one).
 */
function trailControl(f: ComplianceFacts, ok: (t: TrailFact) => boolean, changesFor: (t: TrailFact) => Record<string, string>, what: string): ControlResult {
  const passing = loggingTrails(f).filter(ok);
  if (passing.length > 0) return result('PASS', passing.map((t) => `${describeTrail(t)} — ${what}`));
  if (f.trails.length === 0) return result('FAIL', ['the account has no trail (by default an account has none): events are kept only 90 days in history'], createTrail());
  const evidence = f.trails.map(describeTrail);
  // the account's own trail that needs the fewest changes; an inherited one only when the account has none
  const candidates = ownTrails(f).length > 0 ? ownTrails(f) : f.trails;
  const cost = (t: TrailFact) => Object.keys(changesFor(t)).length + (isLogging(t) ? 0 : 1);
  const best = [...candidates].sort((a, b) => cost(a) - cost(b))[0] as TrailFact;
  return result('FAIL', evidence, fixTrail(best, changesFor(best)));
}

const allRegionsChange = (t: TrailFact): Record<string, string> => (t.trailRegion === 'All' ? {} : { TrailRegion: 'All' });
const allEventsChange = (t: TrailFact): Record<string, string> => (t.eventRW === 'All' ? {} : { EventRW: 'All' });
const destinationChange = (t: TrailFact): Record<string, string> => (hasDestination(t) ? {} : { OssBucketName: YOUR_BUCKET });
const hasDestination = (t: TrailFact): boolean => t.ossBucketName !== undefined || t.slsProjectArn !== undefined;

/** The buckets logging trails deliver to, with the trails of each. */
function loggingBuckets(f: ComplianceFacts): { bucket: BucketFact | undefined; name: string; trails: TrailFact[] }[] {
  const byName = new Map<string, TrailFact[]>();
  for (const t of loggingTrails(f)) if (t.ossBucketName) byName.set(t.ossBucketName, [...(byName.get(t.ossBucketName) ?? []), t]);
  return [...byName].map(([name, trails]) => ({ name, trails, bucket: f.buckets.find((b) => b.bucket === name) }));
}

const trailNames = (trails: readonly TrailFact[]): string => trails.map((t) => t.name).join(', ');

/**
 * A per-bucket control: each bucket of a logging trail is judged by `judge`; FAIL if any fails,
 * else UNKNOWN if any is unknown, else PASS; NOT_APPLICABLE when no logging trail has a bucket.
 */
function bucketControl(
  f: ComplianceFacts,
  judge: (b: BucketFact) => { status: 'PASS' | 'FAIL' | 'UNKNOWN'; line: string; fixes?: Remediation[] },
): ControlResult {
  const buckets = loggingBuckets(f);
  if (buckets.length === 0) return result('NOT_APPLICABLE', ['no logging trail delivers to an OSS bucket']);
  const judged = buckets.map(({ name, trails, bucket }) => {
    const j = bucket ? judge(bucket) : { status: 'UNKNOWN' as const, line: 'its settings were not read' };
    return { ...j, line: `bucket ${name} (trail ${trailNames(trails)}): ${j.line}` };
  });
  return combine(judged);
}

function combine(judged: readonly { status: 'PASS' | 'FAIL' | 'UNKNOWN' | 'NOT_APPLICABLE'; line: string; fixes?: Remediation[] | undefined }[]): ControlResult {
  const evidence = judged.map((j) => j.line);
  if (judged.some((j) => j.status === 'FAIL')) return result('FAIL', evidence, judged.flatMap((j) => (j.status === 'FAIL' ? (j.fixes ?? []) : [])));
  if (judged.some((j) => j.status === 'UNKNOWN')) return result('UNKNOWN', evidence);
  if (judged.every((j) => j.status === 'NOT_APPLICABLE')) return result('NOT_APPLICABLE', evidence);
  return result('PASS', evidence);
}

const notRead = (k: { known: false; reason: string }): string => `could not be read — ${k.reason}`;

function ref(e: EventRef): string {
  return `${e.eventTime} event ${e.eventId}${e.userName ? ` by ${e.userName}` : ''}${e.accessKeyId ? ` (AccessKey ${e.accessKeyId})` : ''}`;
}

function scanLine(s: ScanInfo, windowDays: number, what: string): string {
  return s.capped
    ? `scan capped: read the newest ${s.scanned} ${what} of the last ${windowDays} days (limit ${MAX_GOVERNANCE_SCAN_EVENTS}); older ones were not read`
    : `read all ${s.scanned} ${what} of the last ${windowDays} days`;
}

/** A governance scan's fact: UNKNOWN with the reason when it could not be read. */
function withScan<T extends ScanInfo>(fact: Known<T>, decide: (value: T) => ControlResult): ControlResult {
  if (!fact.known) return result('UNKNOWN', [`the events could not be read — ${fact.reason}`]);
  return decide(fact.value);
}

/** TrailKeeper's keys are disabled with its keys tool (positional id, not a flag). */
function disableKey(k: { accessKeyId: string }): Remediation {
  return { api: 'TrailKeeper', action: 'npm run keys -- disable', params: { AccessKeyId: k.accessKeyId }, call: `npm run keys -- disable ${quote(k.accessKeyId)}` };
}

// ---- public access (CIS 2.2) ---------------------------------------------------------------

function judgePublic(b: BucketFact): { status: 'PASS' | 'FAIL' | 'UNKNOWN'; line: string; fixes?: Remediation[] } {
  const { acl, policy, block } = b.publicAccess;
  const fixes = [
    remediation('OSS', 'PutBucketAcl', { Bucket: b.bucket, ACL: 'private' }),
    remediation('OSS', 'PutPublicAccessBlock', {
      Bucket: b.bucket,
      PublicAccessBlockConfiguration: 'BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true',
    }),
  ];
  if (block.known && block.value && block.value.blockPublicAcls && block.value.ignorePublicAcls && block.value.blockPublicPolicy && block.value.restrictPublicBuckets) {
    return { status: 'PASS', line: 'public access is blocked (all four PublicAccessBlock settings on)' };
  }
  const publicBy: string[] = [];
  const ignoreAcls = block.known && block.value?.ignorePublicAcls === true;
  const restrictPolicy = block.known && block.value?.restrictPublicBuckets === true;
  if (acl.known && acl.value.publicGrants.length > 0 && !ignoreAcls) publicBy.push(`its ACL grants ${acl.value.publicGrants.join(', ')}`);
  if (policy.known && policy.value?.isPublic && !restrictPolicy) publicBy.push('its bucket policy is public (GetBucketPolicyStatus IsPublic=true)');
  if (publicBy.length > 0) return { status: 'FAIL', line: `publicly readable: ${publicBy.join('; ')}`, fixes };
  const unread = [
    ...(acl.known || ignoreAcls ? [] : [`the ACL ${notRead(acl)}`]),
    ...(policy.known || restrictPolicy ? [] : [`the policy status ${notRead(policy)}`]),
  ];
  if (unread.length > 0) return { status: 'UNKNOWN', line: `${unread.join('; ')}${block.known ? '' : `; the public access block ${notRead(block)}`}` };
  return { status: 'PASS', line: 'no public ACL grant and no public bucket policy' };
}

// ---- the catalogue -------------------------------------------------------------------------

const CIS = 'CIS Alibaba Cloud Foundation Benchmark v1.0.0';

export const CONTROLS: readonly Control[] = [
  {
    id: 'CIS-2.1',
    title: 'ActionTrail is configured to export copies of all log entries',
    group: 'CIS',
    source: `${CIS}, 2.1 "Ensure that ActionTrail is configured to export copies of all Log entries"`,
    rule: 'At least one logging trail applies to all regions (TrailRegion=All), records all events (EventRW=All) and delivers to OSS and/or Log Service.',
    evaluate: (f) =>
      trailControl(
        f,
        (t) => t.trailRegion === 'All' && t.eventRW === 'All' && hasDestination(t),
        (t) => ({ ...allEventsChange(t), ...allRegionsChange(t), ...destinationChange(t) }),
        'exports all events of all regions',
      ),
  },
  {
    id: 'CIS-2.2',
    title: 'The bucket holding ActionTrail logs is not publicly accessible',
    group: 'CIS',
    source: `${CIS}, 2.2 "Ensure the OSS used to store ActionTrail logs is not publicly accessible"`,
    rule: 'No bucket a logging trail delivers to grants read to everyone (ACL AllUsers/AuthenticatedUsers) or has a public bucket policy, unless PublicAccessBlock blocks it.',
    evaluate: (f) => bucketControl(f, judgePublic),
  },
  {
    id: 'BP-ALL-REGIONS',
    title: 'Events of all regions are recorded',
    group: 'BestPractice',
    source: 'ActionTrail best practice (Cloud Config rule actiontrail-trail-intact-enabled): events of all regions',
    rule: 'At least one logging trail has TrailRegion=All.',
    evaluate: (f) => trailControl(f, (t) => t.trailRegion === 'All', allRegionsChange, 'records all regions'),
  },
  {
    id: 'BP-ALL-EVENTS',
    title: 'Events of both kinds (read and write) are recorded',
    group: 'BestPractice',
    source: 'ActionTrail best practice (Cloud Config rule actiontrail-trail-intact-enabled): events of both kinds',
    rule: 'At least one logging trail has EventRW=All.',
    evaluate: (f) => trailControl(f, (t) => t.eventRW === 'All', allEventsChange, 'records read and write events'),
  },
  {
    id: 'BP-DESTINATION',
    title: 'Events are delivered to OSS and/or Log Service',
    group: 'BestPractice',
    source: `MLPS 2.0: operation logs kept at least ${MLPS_RETENTION_DAYS} days — history keeps 90, so a trail must deliver them (Cloud Config rule actiontrail-enabled)`,
    rule: 'At least one logging trail delivers to an OSS bucket and/or a Log Service logstore.',
    evaluate: (f) => {
      const r = trailControl(f, hasDestination, destinationChange, 'delivers events');
      const errors = loggingTrails(f).flatMap((t) => [
        ...(t.latestDeliveryError ? [`${trailLabel(t)}: latest OSS delivery failed: ${t.latestDeliveryError}`] : []),
        ...(t.latestLogstoreDeliveryError ? [`${trailLabel(t)}: latest logstore delivery failed: ${t.latestLogstoreDeliveryError}`] : []),
      ]);
      return { ...r, evidence: [...r.evidence, ...errors] };
    },
  },
  {
    id: 'BP-ARCHIVE-ENCRYPTION',
    title: 'The archive is encrypted at rest',
    group: 'BestPractice',
    source: 'ActionTrail best practice: server-side encryption of the archive bucket (SSE-KMS preferred over SSE-OSS)',
    rule: 'Every bucket a logging trail delivers to has default server-side encryption (KMS or AES256).',
    evaluate: (f) =>
      bucketControl(f, (b) => {
        if (!b.encryption.known) return { status: 'UNKNOWN', line: `default encryption ${notRead(b.encryption)}` };
        const sse = b.encryption.value;
        if (!sse) {
          return {
            status: 'FAIL',
            line: 'no default server-side encryption',
            fixes: [remediation('OSS', 'PutBucketEncryption', { Bucket: b.bucket, ServerSideEncryptionConfiguration: '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"KMS"}}]}' })],
          };
        }
        const kms = /kms/i.test(sse.algorithm);
        return { status: 'PASS', line: `default encryption ${sse.algorithm}${sse.kmsKeyId ? ` (key ${sse.kmsKeyId})` : ''}${kms ? '' : ' — SSE-KMS is preferred'}` };
      }),
  },
  {
    id: 'BP-ARCHIVE-RETENTION-LOCK',
    title: `Archived events cannot be changed or deleted for ${MLPS_RETENTION_DAYS} days`,
    group: 'BestPractice',
    source: `MLPS 2.0 (≥ ${MLPS_RETENTION_DAYS} days) and ActionTrail best practice: a retention policy so delivered events cannot be changed or deleted`,
    rule: `Every bucket a logging trail delivers to has object lock enabled, and COMPLIANCE-mode retention of at least ${MLPS_RETENTION_DAYS} days applies — the bucket's default retention, or the retention the deliverer sets on each file (TK_ARCHIVE_LOCK_DAYS).`,
    evaluate: (f) =>
      bucketControl(f, (b) => {
        if (!b.objectLock.known) return { status: 'UNKNOWN', line: `object lock configuration ${notRead(b.objectLock)}` };
        const lock = b.objectLock.value;
        const fixes = [
          remediation('OSS', 'PutObjectLockConfiguration', {
            Bucket: b.bucket,
            ObjectLockConfiguration: `{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE","Days":${MLPS_RETENTION_DAYS}}}}`,
          }),
        ];
        if (!lock.enabled) return { status: 'FAIL', line: 'object lock is not enabled: archive files can be overwritten or deleted', fixes };
        const defaultDays = lock.mode === 'COMPLIANCE' ? (lock.days ?? 0) : 0;
        const days = Math.max(defaultDays, f.archiveLockDays);
        const parts = [
          lock.mode ? `default retention ${lock.mode} ${lock.days ?? 0} days` : 'no default retention',
          `the deliverer locks each file ${f.archiveLockDays} days (COMPLIANCE)`,
        ];
        if (days >= MLPS_RETENTION_DAYS) return { status: 'PASS', line: `object lock enabled; ${parts.join('; ')}` };
        return { status: 'FAIL', line: `object lock enabled but retention is ${days} days (< ${MLPS_RETENTION_DAYS}; GOVERNANCE mode can be bypassed): ${parts.join('; ')}`, fixes };
      }),
  },
  {
    id: 'BP-LOGSTORE-RETENTION',
    title: `The logstore keeps events at least ${MLPS_RETENTION_DAYS} days`,
    group: 'BestPractice',
    source: `MLPS 2.0: logstore retention ≥ ${MLPS_RETENTION_DAYS} days`,
    rule: `Every logstore a logging trail delivers to keeps entries at least ${MLPS_RETENTION_DAYS} days.`,
    evaluate: (f) => {
      const withLogstore = loggingTrails(f).filter((t) => t.slsProjectArn !== undefined);
      if (withLogstore.length === 0) return result('NOT_APPLICABLE', ['no logging trail delivers to a logstore']);
      return combine(
        withLogstore.map((t) => {
          const label = `${trailLabel(t)}: logstore actiontrail_${t.name}`;
          const r = t.logstoreRetentionDays;
          if (!r || !r.known) return { status: 'UNKNOWN' as const, line: `${label}: retention ${r ? notRead(r) : 'was not read'}` };
          if (r.value >= MLPS_RETENTION_DAYS) return { status: 'PASS' as const, line: `${label}: kept ${r.value} days` };
          const project = /project\/(.+)$/.exec(t.slsProjectArn ?? '')?.[1] ?? '<project>';
          return {
            status: 'FAIL' as const,
            line: `${label}: kept ${r.value} days (< ${MLPS_RETENTION_DAYS})`,
            fixes: [remediation('SLS', 'UpdateLogStore', { ProjectName: project, LogstoreName: `actiontrail_${t.name}`, Ttl: String(MLPS_RETENTION_DAYS) })],
          };
        }),
      );
    },
  },
  {
    id: 'BP-DIGEST-CHAIN',
    title: 'The archive matches its signed digests (last 24 hours)',
    group: 'BestPractice',
    source: 'ActionTrail best practice: delivered events cannot be changed or deleted unnoticed — the signed hourly digest chain is intact',
    rule: 'For every logging trail with a bucket, the archive of the last 24 hours matches its signed digests: no file modified, deleted or inserted, no bad digest, no break in the chain.',
    evaluate: (f) => {
      const withBucket = loggingTrails(f).filter((t) => t.ossBucketName !== undefined);
      if (withBucket.length === 0) return result('NOT_APPLICABLE', ['no logging trail delivers to an OSS bucket']);
      return combine(
        withBucket.map((t) => {
          const label = `${trailLabel(t)} in oss://${t.ossBucketName ?? ''}`;
          const d = t.digest;
          if (!d || !d.known) return { status: 'UNKNOWN' as const, line: `${label}: ${d ? `not verified — ${d.reason}` : 'not verified'}` };
          const v = d.value;
          const summary = `${v.from} .. ${v.to}: ${v.digestsChecked} digest(s), ${v.filesChecked} file(s) checked${v.pendingFiles > 0 ? `, ${v.pendingFiles} newer file(s) await their hour's digest` : ''}${v.overdueHours > 0 ? `, ${v.overdueHours} hour(s) whose digest is overdue` : ''}`;
          if (v.ok) return { status: 'PASS' as const, line: `${label}: intact, ${summary}` };
          return {
            status: 'FAIL' as const,
            line: `${label}: NOT intact, ${summary}; ${v.problems.slice(0, MAX_EVIDENCE_ITEMS).join('; ')}${v.problems.length > MAX_EVIDENCE_ITEMS ? `; … and ${v.problems.length - MAX_EVIDENCE_ITEMS} more` : ''}`,
            // nothing undoes tampering: the fix is to find out what changed, from the verifier's full report
            fixes: [remediation('TrailKeeper', 'npm run verify --', { trail: t.name, account: t.accountId, from: v.from, to: v.to })],
          };
        }),
      );
    },
  },
  {
    id: 'GOV-ROOT-CONSOLE-LOGON',
    title: `Root account console logons (no more than ${MAX_ROOT_CONSOLE_LOGONS} in ${GOVERNANCE_WINDOW_DAYS} days)`,
    group: 'Governance',
    source: 'ActionTrail governance check: root-account console logons in the last 90 days (more than three is non-compliant)',
    rule: `At most ${MAX_ROOT_CONSOLE_LOGONS} successful root-account ConsoleSignin events in the last 90 days.`,
    evaluate: (f) =>
      withScan(f.governance.consoleSignins, (s) => {
        const logons = s.rootLogons;
        const evidence = [`${logons.length} root-account console logon(s)`, ...capped(logons, ref), scanLine(s, f.governance.windowDays, 'console logons')];
        if (logons.length > MAX_ROOT_CONSOLE_LOGONS) {
          return result('FAIL', evidence, [
            remediation('RAM', 'CreateUser', { UserName: '<admin-user>' }),
            remediation('RAM', 'CreateLoginProfile', { UserName: '<admin-user>', Password: '<initial-password>', MFABindRequired: 'true' }),
          ]);
        }
        return result(s.capped ? 'UNKNOWN' : 'PASS', evidence);
      }),
  },
  {
    id: 'GOV-ROOT-ACCESSKEY',
    title: 'No AccessKey of the root account is in use',
    group: 'Governance',
    source: 'ActionTrail governance check: an AccessKey of the root account in use (use RAM users\' keys instead)',
    rule: 'No API call in the last 90 days was signed with an AccessKey of the root account (TrailKeeper\'s own recorded API calls aside: its keys are account keys by design).',
    evaluate: (f) =>
      withScan(f.governance.rootKeyUse, (s) => {
        const calls = s.keys.reduce((n, k) => n + k.calls, 0);
        const evidence = [
          `${s.keys.length} root-account AccessKey(s) signed ${calls} API call(s)`,
          ...capped(s.keys, (k) => `AccessKey ${k.accessKeyId}: ${k.calls} call(s), latest ${ref(k.latest)}`),
          ...(s.ownApiCalls > 0 ? [`${s.ownApiCalls} TrailKeeper API call(s) recorded with its account keys not counted`] : []),
          scanLine(s, f.governance.windowDays, 'root-account events'),
        ];
        if (s.keys.length > 0) return result('FAIL', evidence, s.keys.map((k) => remediation('RAM', 'DeleteAccessKey', { UserAccessKeyId: k.accessKeyId })));
        return result(s.capped ? 'UNKNOWN' : 'PASS', evidence);
      }),
  },
  {
    id: 'GOV-CONSOLE-MFA',
    title: 'Console logons use MFA',
    group: 'Governance',
    source: 'ActionTrail governance check: console logons without MFA (isMFAChecked / mfaChecked)',
    rule: 'No successful console logon in the last 90 days says MFA was not checked.',
    evaluate: (f) =>
      withScan(f.governance.consoleSignins, (s) => {
        const users = [...new Set(s.withoutMfa.map((e) => e.userName ?? ''))].filter((u) => u !== '');
        const root = s.withoutMfa.some((e) => e.userName === 'root' || e.userName === undefined);
        const evidence = [
          `${s.withoutMfa.length} console logon(s) without MFA${users.length > 0 ? ` by ${users.slice(0, MAX_EVIDENCE_ITEMS).join(', ')}` : ''}`,
          ...capped(s.withoutMfa, ref),
          ...(s.noMfaFlag > 0 ? [`${s.noMfaFlag} logon(s) carry no MFA flag (not counted)`] : []),
          // no API binds the root account's MFA device: say so rather than name a call that does not do it
          ...(root ? ['the root account logged on without MFA: bind its MFA device in the console (Security Settings) — no API call does it'] : []),
          scanLine(s, f.governance.windowDays, 'console logons'),
        ];
        if (s.withoutMfa.length > 0) {
          return result('FAIL', evidence, users.filter((u) => u !== 'root').map((u) => remediation('RAM', 'UpdateLoginProfile', { UserName: u, MFABindRequired: 'true' })));
        }
        return result(s.capped ? 'UNKNOWN' : 'PASS', evidence);
      }),
  },
  {
    id: 'GOV-ACCESSKEY-UNUSED',
    title: `No active AccessKey unused for ${ACCESS_KEY_UNUSED_DAYS} days`,
    group: 'Governance',
    source: `ActionTrail AccessKey audit: AccessKeys unused for ${ACCESS_KEY_UNUSED_DAYS} days should be disabled`,
    rule: `Every active AccessKey of the account created ${ACCESS_KEY_UNUSED_DAYS} days ago or earlier was used in the last ${ACCESS_KEY_UNUSED_DAYS} days.`,
    evaluate: (f) => {
      const keys = f.governance.accessKeys;
      if (!keys.known) return result('UNKNOWN', [`the AccessKeys could not be read — ${keys.reason}`]);
      const active = keys.value.filter((k) => k.status === 'Active');
      if (active.length === 0) return result('NOT_APPLICABLE', ['the account has no active AccessKey']);
      const cutoff = f.generatedAtMs - ACCESS_KEY_UNUSED_DAYS * 86_400_000;
      const stale = active.filter((k) => Date.parse(k.createdAt) <= cutoff && (k.lastUsedMs === undefined || k.lastUsedMs <= cutoff));
      const evidence = [
        `${active.length} active AccessKey(s), ${stale.length} unused for ${ACCESS_KEY_UNUSED_DAYS} days or more`,
        ...capped(stale, (k) => `AccessKey ${k.accessKeyId}: created ${k.createdAt}, ${k.lastUsedMs === undefined ? 'never used' : `last used ${new Date(k.lastUsedMs).toISOString()}`}`),
      ];
      if (stale.length > 0) return result('FAIL', evidence, stale.map(disableKey));
      return result('PASS', evidence);
    },
  },
  {
    id: 'GOV-TRAIL-STOPPED',
    title: 'No trail was stopped or deleted and left so',
    group: 'Governance',
    source: 'ActionTrail governance check: trails stopped or deleted (StopLogging, DeleteTrail) in the last 90 days',
    rule: 'Every trail stopped (StopLogging) or deleted (DeleteTrail) in the last 90 days is logging again; the events are listed either way.',
    evaluate: (f) =>
      withScan(f.governance.trailChanges, (s) => {
        const byName = new Map(f.trails.filter((t) => !t.inherited).map((t) => [t.name, t]));
        // what matters now: each trail named by such a call that is not logging today
        const left = [...new Set(s.events.map((e) => e.trailName))].filter((name) => {
          const trail = byName.get(name);
          return !trail || !isLogging(trail);
        });
        const evidence = [
          `${s.events.length} StopLogging/DeleteTrail call(s)`,
          ...capped(s.events, (e) => `${e.eventName} ${e.trailName}: ${ref(e)}`),
          ...left.map((name) => `trail ${name} is ${byName.has(name) ? 'not logging' : 'deleted and not recreated'}`),
          scanLine(s, f.governance.windowDays, 'StopLogging/DeleteTrail events'),
        ];
        if (left.length > 0) {
          return result(
            'FAIL',
            evidence,
            left.flatMap((name) =>
              byName.has(name)
                ? [remediation('ActionTrail', 'StartLogging', { Name: name })]
                : [remediation('ActionTrail', 'CreateTrail', { Name: name, OssBucketName: YOUR_BUCKET, EventRW: 'All', TrailRegion: 'All' }), remediation('ActionTrail', 'StartLogging', { Name: name })],
            ),
          );
        }
        return result(s.capped ? 'UNKNOWN' : 'PASS', evidence);
      }),
  },
];
