/**
 * Gathers the facts of one account's compliance report (docs/design.md §3.11) behind ports: the
 * trails that cover it (its own, and its management account's organization trails) with their
 * delivery status; the settings of the buckets logging trails deliver to; each logstore's
 * retention; each archive's digest chain over the last 24 hours; and the governance facts the
 * events answer, read from history with bounded scans (MAX_GOVERNANCE_SCAN_EVENTS each, newest
 * first) and from the AccessKey audit.
 *
 * A port that fails makes its fact `{known: false, reason}` (so its controls are UNKNOWN): one
 * unreadable setting never takes the report down, and is never guessed.
 */
import type { AccessKeySummary } from '../accounts/accounts.ts';
import type { LastUse } from '../accesskeys/accesskey-audit.ts';
import type { DeliveryStatus } from '../delivery/delivery-status.ts';
import { mfaOf, parseEvent } from '../events/schema.ts';
import type { HistoryCursor, HistoryStore, LookupKey } from '../history/history-store.ts';
import { apiEventId, API_EVENT_SERVICE_NAME, ROOT_ACCOUNT_IDENTITY, ROOT_USER_NAME } from '../trails/api-events.ts';
import type { Trail } from '../trails/model.ts';
import {
  DIGEST_CHECK_WINDOW_MS,
  GOVERNANCE_WINDOW_DAYS,
  MAX_GOVERNANCE_SCAN_EVENTS,
  known,
  unknown,
  type AccessKeyFact,
  type BucketFact,
  type ComplianceFacts,
  type ConsoleSigninFacts,
  type DigestFact,
  type EventRef,
  type GovernanceFacts,
  type Known,
  type RootKeyUseFacts,
  type ScanInfo,
  type TrailChangeFact,
  type TrailFact,
} from './facts.ts';

const DAY_MS = 86_400_000;
/** Events per history page read by a scan (the store's largest page). */
const SCAN_PAGE_SIZE = 50;

export interface ComplianceFactPorts {
  trailsOf(accountId: string): Promise<Trail[]>;
  managementAccountOf(accountId: string): Promise<string | undefined>;
  deliveryStatus(accountId: string, trailName: string): Promise<DeliveryStatus>;
  /** A bucket's encryption, object lock and public-access settings; unreadable ones as unknown (never throws). */
  bucketSettings(bucket: string): Promise<BucketFact>;
  /** Days the trail's logstore keeps entries, or why that is not known. */
  logstoreRetentionDays(trail: Trail): Promise<Known<number>>;
  /**
   * The trail's archive verified against its digests over [from, to), or why it could not be;
   * for an organization trail with `memberAccountId`, only that member's folder.
   */
  verifyDigests(trail: Trail, from: Date, to: Date, memberAccountId?: string): Promise<Known<DigestFact>>;
  history: Pick<HistoryStore, 'lookup'>;
  keysOf(accountId: string): Promise<AccessKeySummary[]>;
  lastUses(accountId: string, accessKeyIds: readonly string[], nowMs: number): Promise<Map<string, LastUse>>;
  /** The object-lock retention (days, COMPLIANCE) the archive deliverer puts on every file. */
  archiveLockDays: number;
  now(): number;
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 300);

async function settle<T>(work: () => Promise<T>): Promise<Known<T>> {
  try {
    return known(await work());
  } catch (error) {
    return unknown(reasonOf(error));
  }
}

// ---- history scans -------------------------------------------------------------------------

/** The parts of a stored event the governance checks read. */
interface ScannedEvent {
  eventId: string;
  eventTime: string;
  eventType?: string | undefined;
  eventName: string;
  serviceName?: string | undefined;
  requestId?: string | undefined;
  errorCode?: string | null | undefined;
  identityType?: string | undefined;
  userName?: string | undefined;
  accessKeyId?: string | undefined;
  mfa: boolean | undefined;
  loginFailed: boolean;
  trailName?: string | undefined;
}

/** The fields the checks read from a stored event (undefined: not an event). */
function readScanned(json: string): ScannedEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  const parsed = parseEvent(raw);
  if (!parsed.ok) return undefined;
  const e = parsed.event;
  const extra = (e.additionalEventData ?? {}) as Record<string, unknown>;
  const params = (e.requestParameters ?? {}) as Record<string, unknown>;
  const loginResult = extra['loginResult'] ?? extra['LoginResult'];
  return {
    eventId: e.eventId ?? '',
    eventTime: e.eventTime,
    eventType: e.eventType ?? undefined,
    eventName: e.eventName,
    serviceName: e.serviceName ?? undefined,
    requestId: e.requestId ?? undefined,
    errorCode: e.errorCode,
    identityType: e.userIdentity.type ?? undefined,
    userName: e.userIdentity.userName ?? undefined,
    accessKeyId: e.userIdentity.accessKeyId ?? undefined,
    mfa: mfaOf(e),
    loginFailed: typeof loginResult === 'string' && loginResult.toLowerCase() === 'fail',
    trailName: typeof params['Name'] === 'string' ? params['Name'] : undefined,
  };
}

const refOf = (e: ScannedEvent): EventRef => ({
  eventId: e.eventId,
  eventTime: e.eventTime,
  ...(e.userName ? { userName: e.userName } : {}),
  ...(e.accessKeyId ? { accessKeyId: e.accessKeyId } : {}),
});

/**
 * Reads the account's events matching one lookup condition over the window, newest first, at
 * most MAX_GOVERNANCE_SCAN_EVENTS of them, handing each to `visit`.
 */
async function scan(ports: ComplianceFactPorts, accountId: string, condition: { key: LookupKey; value: string }, window: { startMs: number; endMs: number }, visit: (e: ScannedEvent) => void): Promise<ScanInfo> {
  let read = 0;
  let after: HistoryCursor | undefined;
  for (;;) {
    const page = await ports.history.lookup({
      accountIds: [accountId],
      startMs: window.startMs,
      endMs: window.endMs,
      direction: 'BACKWARD',
      limit: Math.min(SCAN_PAGE_SIZE, MAX_GOVERNANCE_SCAN_EVENTS - read),
      condition,
      ...(after ? { after } : {}),
    });
    for (const json of page.events) {
      read += 1;
      const e = readScanned(json);
      if (e) visit(e);
    }
    if (!page.next) return { scanned: read, capped: false };
    if (read >= MAX_GOVERNANCE_SCAN_EVENTS) return { scanned: read, capped: true };
    after = page.next;
  }
}

async function consoleSignins(ports: ComplianceFactPorts, accountId: string, window: { startMs: number; endMs: number }): Promise<ConsoleSigninFacts> {
  const rootLogons: EventRef[] = [];
  const withoutMfa: EventRef[] = [];
  let noMfaFlag = 0;
  const info = await scan(ports, accountId, { key: 'EventType', value: 'ConsoleSignin' }, window, (e) => {
    if (e.errorCode || e.loginFailed) return;
    if (e.identityType === ROOT_ACCOUNT_IDENTITY) rootLogons.push(refOf(e));
    if (e.mfa === false) withoutMfa.push(refOf(e));
    else if (e.mfa === undefined) noMfaFlag += 1;
  });
  return { ...info, rootLogons, withoutMfa, noMfaFlag };
}

/** Root-account API calls with an AccessKey (history's User index holds `root` for them). */
async function rootKeyUse(ports: ComplianceFactPorts, accountId: string, window: { startMs: number; endMs: number }): Promise<RootKeyUseFacts> {
  const keys = new Map<string, { accessKeyId: string; calls: number; latest: EventRef }>();
  let ownApiCalls = 0;
  const info = await scan(ports, accountId, { key: 'User', value: ROOT_USER_NAME }, window, (e) => {
    if (e.identityType !== ROOT_ACCOUNT_IDENTITY || !e.accessKeyId || e.eventType === 'ConsoleSignin' || e.eventType === 'ConsoleSignout') return;
    // TrailKeeper's own API calls, recorded by lookup-http under an id derived from account and request (api-events.ts)
    if (e.serviceName === API_EVENT_SERVICE_NAME && e.requestId !== undefined && e.eventId === apiEventId(accountId, e.requestId)) {
      ownApiCalls += 1;
      return;
    }
    const entry = keys.get(e.accessKeyId);
    // newest first: the first seen is the latest
    if (entry) entry.calls += 1;
    else keys.set(e.accessKeyId, { accessKeyId: e.accessKeyId, calls: 1, latest: refOf(e) });
  });
  return { ...info, keys: [...keys.values()], ownApiCalls };
}

async function trailChanges(ports: ComplianceFactPorts, accountId: string, window: { startMs: number; endMs: number }): Promise<{ events: TrailChangeFact[] } & ScanInfo> {
  const events: TrailChangeFact[] = [];
  const infos: ScanInfo[] = [];
  for (const eventName of ['StopLogging', 'DeleteTrail'] as const) {
    infos.push(
      await scan(ports, accountId, { key: 'EventName', value: eventName }, window, (e) => {
        if (e.serviceName !== API_EVENT_SERVICE_NAME || e.errorCode || !e.trailName) return;
        events.push({ ...refOf(e), eventName, trailName: e.trailName });
      }),
    );
  }
  events.sort((a, b) => b.eventTime.localeCompare(a.eventTime));
  return { events, scanned: infos.reduce((n, i) => n + i.scanned, 0), capped: infos.some((i) => i.capped) };
}

async function accessKeys(ports: ComplianceFactPorts, accountId: string, nowMs: number): Promise<AccessKeyFact[]> {
  const keys = await ports.keysOf(accountId);
  const uses = await ports.lastUses(
    accountId,
    keys.map((k) => k.accessKeyId),
    nowMs,
  );
  return keys.map((k) => ({ accessKeyId: k.accessKeyId, status: k.status, createdAt: k.createdAt, ...(uses.has(k.accessKeyId) ? { lastUsedMs: uses.get(k.accessKeyId)?.usedMs } : {}) }));
}

async function governance(ports: ComplianceFactPorts, accountId: string, nowMs: number): Promise<GovernanceFacts> {
  const window = { startMs: nowMs - GOVERNANCE_WINDOW_DAYS * DAY_MS, endMs: nowMs };
  const [signins, rootKeys, keys, changes] = await Promise.all([
    settle(() => consoleSignins(ports, accountId, window)),
    settle(() => rootKeyUse(ports, accountId, window)),
    settle(() => accessKeys(ports, accountId, nowMs)),
    settle(() => trailChanges(ports, accountId, window)),
  ]);
  return { windowDays: GOVERNANCE_WINDOW_DAYS, consoleSignins: signins, rootKeyUse: rootKeys, accessKeys: keys, trailChanges: changes };
}

// ---- trails and buckets --------------------------------------------------------------------

/** The trails whose deliveries hold the account's events: its own, and its management account's organization trails. */
async function coveringTrails(ports: ComplianceFactPorts, accountId: string, management: string | undefined): Promise<{ trail: Trail; inherited: boolean }[]> {
  const own = (await ports.trailsOf(accountId)).map((trail) => ({ trail, inherited: false }));
  if (!management) return own;
  const organization = (await ports.trailsOf(management)).filter((t) => t.isOrganizationTrail).map((trail) => ({ trail, inherited: true }));
  return [...own, ...organization];
}

async function trailFact(ports: ComplianceFactPorts, accountId: string, trail: Trail, inherited: boolean, nowMs: number): Promise<TrailFact> {
  const logging = trail.status === 'Enable';
  const to = new Date(nowMs);
  const from = new Date(nowMs - DIGEST_CHECK_WINDOW_MS);
  const [status, retention, digest] = await Promise.all([
    ports.deliveryStatus(trail.accountId, trail.name).catch((): DeliveryStatus => ({})),
    trail.slsProjectArn ? ports.logstoreRetentionDays(trail).catch((error: unknown) => unknown<number>(reasonOf(error))) : Promise.resolve(undefined),
    // a member sees only its own folder of its organization's archive
    logging && trail.ossBucketName ? ports.verifyDigests(trail, from, to, inherited ? accountId : undefined).catch((error: unknown) => unknown<DigestFact>(reasonOf(error))) : Promise.resolve(undefined),
  ]);
  return {
    name: trail.name,
    accountId: trail.accountId,
    homeRegion: trail.homeRegion,
    status: trail.status,
    eventRW: trail.eventRW,
    trailRegion: trail.trailRegion,
    isOrganizationTrail: trail.isOrganizationTrail,
    inherited,
    ...(trail.ossBucketName ? { ossBucketName: trail.ossBucketName } : {}),
    ...(trail.slsProjectArn ? { slsProjectArn: trail.slsProjectArn } : {}),
    ...(status.latestDeliveryError ? { latestDeliveryError: status.latestDeliveryError } : {}),
    ...(status.latestLogstoreDeliveryError ? { latestLogstoreDeliveryError: status.latestLogstoreDeliveryError } : {}),
    ...(retention ? { logstoreRetentionDays: retention } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** Every fact of the account's report. */
export async function gatherComplianceFacts(accountId: string, ports: ComplianceFactPorts): Promise<ComplianceFacts> {
  const nowMs = ports.now();
  const management = await ports.managementAccountOf(accountId);
  const covering = await coveringTrails(ports, accountId, management);
  const buckets = [...new Set(covering.filter((c) => c.trail.status === 'Enable' && c.trail.ossBucketName).map((c) => c.trail.ossBucketName as string))].sort();
  const [trails, bucketFacts, gov] = await Promise.all([
    Promise.all(covering.map((c) => trailFact(ports, accountId, c.trail, c.inherited, nowMs))),
    Promise.all(buckets.map((b) => ports.bucketSettings(b))),
    governance(ports, accountId, nowMs),
  ]);
  return {
    accountId,
    ...(management ? { managementAccountId: management } : {}),
    generatedAtMs: nowMs,
    archiveLockDays: ports.archiveLockDays,
    trails,
    buckets: bucketFacts,
    governance: gov,
  };
}
