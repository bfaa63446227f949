/**
 * Alerts' use cases (docs/design.md §3.12):
 *
 * Matching (`AlertMatcher`, an AnalysisConsumer of insights-cron's drain): the account's enabled
 * rules are compiled once per rules version (one cheap version read per account and batch; an
 * account without rules stops there), each row is tested in process, and only matching rows
 * (rare) are written — to a per-account match store, once per (rule, eventId), with the event's
 * time. Nothing is added to classify's per-event work. Insight Start events are matched the same
 * way (`insightRows`). Rows whose eventTime is older than ALERT_LATENESS_MS are not alerted on.
 *
 * Evaluation (`runAlerts`, alerts-cron — every minute, and woken when a drain recorded matches):
 * per account, under a lock, the pending matches are read; each rule's groups that reach its
 * threshold within its window (by eventTime, evaluated matches still counting) fire; a firing
 * group is claimed atomically with its deliveries queued (at most one notification per rule and
 * group per ALERT_DEDUP_MS — a second timer run, a second instance or a crash-and-retry finds the
 * claim and notifies nobody); the pending matches are then acknowledged. Due deliveries are
 * leased, sent, and finished, retried after ALERT_RETRY_DELAYS_MS or given up after
 * ALERT_MAX_ATTEMPTS, each outcome written to the rule's delivery log.
 */
import { noteAccountFailure, type FailureReport } from '../accounts/account-failures.ts';
import type { AnalysisConsumer, AnalysisRow } from '../analysis/analysis-row.ts';
import type { InsightEvent } from '../insights/detector.ts';
import { compileCondition, fieldValue, type RowPredicate } from './conditions.ts';
import { ALERT_MAX_ATTEMPTS, firingGroups, groupKey, notificationIdOf, retryDelayMs, type StoredMatch } from './evaluate.ts';
import {
  ALERT_DEDUP_MS,
  ALERT_FUTURE_SKEW_MS,
  ALERT_LATENESS_MS,
  ALERT_MAX_WINDOW_MINUTES,
  type AlertChannel,
  type AlertMatch,
  type AlertRule,
  type DeliveryLogEntry,
  type MatchedEvent,
  type OpenChannel,
} from './model.ts';
import { ALERT_MAX_LISTED_EVENTS, deliveredBy, outgoingRequest, type Notification } from './notify.ts';

/** A queued delivery of one notification to one channel. */
export interface Delivery {
  id: string;
  ruleId: string;
  channelId: string;
  notification: Notification;
  attempts: number;
  createdMs: number;
}

export interface AlertMatchStore {
  /** The account's rules version (changes with every rule write), or undefined: no rules ever. */
  rulesVersion(accountId: string): Promise<string | undefined>;
  rules(accountId: string): Promise<AlertRule[]>;
  /** Stores matches once per (rule, eventId) — a match stored before is left as it is. Returns the new ones. */
  recordMatches(accountId: string, matches: readonly AlertMatch[]): Promise<number>;
}

export interface AlertStore extends AlertMatchStore {
  /** Accounts with at least one rule. */
  accountsWithRules(): Promise<string[]>;
  lock(accountId: string, ttlMs: number): Promise<string | undefined>;
  unlock(accountId: string, token: string): Promise<void>;
  /** Pending matches (not yet evaluated), oldest eventTime first. */
  pending(accountId: string, limit: number): Promise<(AlertMatch & { member: string })[]>;
  /** Every stored match (evaluated or not) with eventTime in [fromMs, toMs]. */
  matchesBetween(accountId: string, fromMs: number, toMs: number): Promise<(AlertMatch & { member: string })[]>;
  ackPending(accountId: string, members: readonly string[]): Promise<void>;
  /** Drops matches with eventTime before `beforeMs` (they can no longer count toward a window). */
  prune(accountId: string, beforeMs: number): Promise<void>;
  /**
   * Atomically: if (rule, group) was not claimed within `dedupMs` before `nowMs`, claims it at
   * `nowMs` and queues `deliveries` due now; returns whether it claimed.
   */
  claim(accountId: string, ruleId: string, groupKey: string, nowMs: number, dedupMs: number, deliveries: readonly Delivery[]): Promise<boolean>;
  /** Delivery ids due at `nowMs`. */
  due(accountId: string, nowMs: number, limit: number): Promise<string[]>;
  /** Takes a due delivery for `leaseMs` (so no other run sends it meanwhile); undefined when not due or gone. */
  lease(accountId: string, id: string, nowMs: number, leaseMs: number): Promise<Delivery | undefined>;
  finish(accountId: string, id: string): Promise<void>;
  reschedule(accountId: string, delivery: Delivery, atMs: number): Promise<void>;
  channel(accountId: string, channelId: string): Promise<AlertChannel | undefined>;
  appendLog(accountId: string, ruleId: string, entries: readonly DeliveryLogEntry[]): Promise<void>;
}

/** Sends one request (adapters/http/webhook-sender.ts: SSRF-checked, bounded); never throws. */
export type SendRequest = (url: string, body: string) => Promise<{ status: number; body: string } | { error: string }>;

/** Opens a stored channel's sealed URL and secret. */
export type OpenChannelFn = (channel: AlertChannel) => OpenChannel;

// ---------------------------------------------------------------- matching

interface CompiledRule {
  rule: AlertRule;
  test: RowPredicate;
}

/** Accounts whose compiled rules are kept by one matcher (an instance); the least recently compiled go first. */
export const MATCHER_CACHE_ACCOUNTS = 1000;

export function matchedEventOf(row: AnalysisRow): MatchedEvent {
  return {
    eventId: row.eventId,
    eventTimeMs: row.eventTimeMs,
    eventName: row.eventName,
    eventType: row.eventType,
    userName: row.userName,
    identityType: row.identityType,
    sourceIpAddress: row.sourceIpAddress,
    errorCode: row.errorCode,
    acsRegion: row.acsRegion,
  };
}

export interface MatchReport {
  rows: number;
  matched: number;
  recorded: number;
  tooLate: number;
}

export class AlertMatcher {
  readonly #store: AlertMatchStore;
  readonly #now: () => number;
  readonly #cache = new Map<string, { version: string; rules: CompiledRule[] }>();

  constructor(store: AlertMatchStore, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  async #compiled(accountId: string): Promise<CompiledRule[]> {
    const version = await this.#store.rulesVersion(accountId);
    if (version === undefined) return [];
    const cached = this.#cache.get(accountId);
    if (cached && cached.version === version) return cached.rules;
    const rules = (await this.#store.rules(accountId)).filter((r) => r.enabled).map((rule) => ({ rule, test: compileCondition(rule.condition) }));
    this.#cache.delete(accountId);
    if (this.#cache.size >= MATCHER_CACHE_ACCOUNTS) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(accountId, { version, rules });
    return rules;
  }

  /** Tests one account's rows against its enabled rules and records the matches. */
  async match(accountId: string, rows: readonly AnalysisRow[]): Promise<MatchReport> {
    const report: MatchReport = { rows: rows.length, matched: 0, recorded: 0, tooLate: 0 };
    const rules = await this.#compiled(accountId);
    if (rules.length === 0) return report;
    const nowMs = this.#now();
    const oldest = nowMs - ALERT_LATENESS_MS;
    const matches: AlertMatch[] = [];
    for (const row of rows) {
      for (const { rule, test } of rules) {
        if (!test(row)) continue;
        if (row.eventTimeMs < oldest) {
          report.tooLate += 1;
          continue;
        }
        const event = matchedEventOf(row);
        if (event.eventTimeMs > nowMs + ALERT_FUTURE_SKEW_MS) event.eventTimeMs = nowMs;
        matches.push({ ruleId: rule.id, group: rule.groupBy ? fieldValue(row, rule.groupBy) : '', event });
      }
    }
    report.matched = matches.length;
    if (matches.length > 0) report.recorded = await this.#store.recordMatches(accountId, matches);
    return report;
  }
}

/** The drain's consumer: matches each batch; `onRecorded` runs when a batch recorded new matches (wakes alerts-cron). */
export function alertMatcherConsumer(matcher: AlertMatcher, onRecorded: (accountId: string, recorded: number) => Promise<void>): AnalysisConsumer {
  return {
    consume: async (accountId, rows) => {
      const report = await matcher.match(accountId, rows);
      if (report.recorded > 0) await onRecorded(accountId, report.recorded);
    },
  };
}

/** Insight Start events as analysis rows (eventType ActionTrailInsight, eventName the insight type, resource the insight object). */
export function insightRows(accountId: string, events: readonly InsightEvent[]): AnalysisRow[] {
  return events
    .filter((e) => e.insightDetails.state === 'Start')
    .map((e) => ({
      eventId: e.eventId,
      accountId,
      eventTimeMs: Date.parse(e.eventTime),
      eventName: e.insightDetails.insightType,
      serviceName: 'Actiontrail',
      eventType: e.eventType,
      eventRW: '',
      acsRegion: e.acsRegion,
      sourceIpAddress: '',
      userAgent: '',
      errorCode: '',
      identityType: '',
      userName: '',
      principalId: '',
      accessKeyId: '',
      sensitive: false,
      resources: [{ type: 'ActionTrailInsight', name: e.insightDetails.insightObject }],
    }));
}

// ---------------------------------------------------------------- evaluation and delivery

/** Most pending matches evaluated per account and run (the rest wait for the next run). */
export const ALERT_PENDING_BATCH = 5000;
/** Most deliveries sent per account and run. */
export const ALERT_DELIVERIES_PER_RUN = 50;
/** A leased delivery is not taken by another run for this long (longer than one send's timeout). */
export const ALERT_LEASE_MS = 30_000;
/** Per-account evaluation lock (alerts-cron's timeout is 55 s). */
export const ALERT_LOCK_MS = 50_000;
/** alerts-cron stops starting accounts after this. */
export const ALERT_RUN_BUDGET_MS = 40_000;

export interface AlertsRunPorts {
  store: AlertStore;
  send: SendRequest;
  openChannel: OpenChannelFn;
  now(): number;
  /** Asks for another run in `delayMs` (a retry due before the next timer); may be a no-op. */
  scheduleRun?(delayMs: number): Promise<void>;
  log?(level: 'info' | 'warn', message: string, fields: Record<string, unknown>): void;
}

export interface AlertsReport extends FailureReport<'evaluate'> {
  accounts: number;
  evaluated: number;
  fired: number;
  suppressed: number;
  sent: number;
  retrying: number;
  gaveUp: number;
  ms: number;
}

async function evaluateAccount(ports: AlertsRunPorts, accountId: string, report: AlertsReport): Promise<void> {
  const { store } = ports;
  const nowMs = ports.now();
  const pending = await store.pending(accountId, ALERT_PENDING_BATCH);
  if (pending.length === 0) return;
  const rules = new Map((await store.rules(accountId)).map((r) => [r.id, r]));
  const byRule = new Map<string, typeof pending>();
  for (const p of pending) {
    let list = byRule.get(p.ruleId);
    if (!list) byRule.set(p.ruleId, (list = []));
    list.push(p);
  }
  const logs: { ruleId: string; entry: DeliveryLogEntry }[] = [];
  for (const [ruleId, list] of byRule) {
    const rule = rules.get(ruleId);
    if (!rule || !rule.enabled) continue; // deleted or disabled since the match: acknowledged below, nobody notified
    const windowMs = rule.windowMinutes * 60_000;
    let matches: StoredMatch[];
    if (rule.threshold <= 1) {
      matches = list.map((p) => ({ group: p.group, event: p.event, pending: true }));
    } else {
      const pendingMembers = new Set(list.map((p) => p.member));
      const times = list.map((p) => p.event.eventTimeMs);
      const around = await store.matchesBetween(accountId, Math.min(...times) - windowMs, Math.max(...times) + windowMs);
      matches = around.filter((m) => m.ruleId === ruleId).map((m) => ({ group: m.group, event: m.event, pending: pendingMembers.has(m.member) }));
      for (const p of list) if (!matches.some((m) => m.event.eventId === p.event.eventId)) matches.push({ group: p.group, event: p.event, pending: true });
    }
    for (const fired of firingGroups(matches, Math.max(1, rule.threshold), windowMs)) {
      report.fired += 1;
      const notificationId = notificationIdOf(rule.id, fired.group, nowMs);
      const notification: Notification = {
        notificationId,
        accountId,
        ruleId: rule.id,
        ruleName: rule.name,
        group: fired.group,
        ...(rule.groupBy ? { groupBy: rule.groupBy } : {}),
        threshold: rule.threshold,
        windowMinutes: rule.windowMinutes,
        count: fired.events.length,
        events: fired.events.slice(-ALERT_MAX_LISTED_EVENTS),
      };
      const deliveries: Delivery[] = rule.channelIds.map((channelId) => ({ id: `${notificationId}:${channelId}`, ruleId: rule.id, channelId, notification, attempts: 0, createdMs: nowMs }));
      const claimed = await store.claim(accountId, rule.id, groupKey(fired.group), nowMs, ALERT_DEDUP_MS, deliveries);
      if (!claimed) report.suppressed += 1;
      // a claimed notification's log lines come from its deliveries; a rule without channels says so here
      if (!claimed || deliveries.length === 0) {
        logs.push({ ruleId: rule.id, entry: { timeMs: nowMs, outcome: claimed ? 'no-channel' : 'suppressed', notificationId, group: fired.group, events: fired.events.length } });
      }
    }
  }
  for (const { ruleId, entry } of logs) await store.appendLog(accountId, ruleId, [entry]);
  await store.ackPending(accountId, pending.map((p) => p.member));
  await store.prune(accountId, nowMs - ALERT_LATENESS_MS - ALERT_MAX_WINDOW_MINUTES * 60_000);
  report.evaluated += 1;
}

async function deliverAccount(ports: AlertsRunPorts, accountId: string, report: AlertsReport): Promise<number | undefined> {
  const { store } = ports;
  let nextRetryMs: number | undefined;
  for (const id of await store.due(accountId, ports.now(), ALERT_DELIVERIES_PER_RUN)) {
    const nowMs = ports.now();
    const delivery = await store.lease(accountId, id, nowMs, ALERT_LEASE_MS);
    if (!delivery) continue;
    const base = { notificationId: delivery.notification.notificationId, group: delivery.notification.group, events: delivery.notification.count, channelId: delivery.channelId };
    const stored = await store.channel(accountId, delivery.channelId);
    if (!stored) {
      await store.finish(accountId, id);
      await store.appendLog(accountId, delivery.ruleId, [{ timeMs: nowMs, outcome: 'gave-up', ...base, attempt: delivery.attempts, error: 'the channel was deleted' }]);
      report.gaveUp += 1;
      continue;
    }
    const attempt = delivery.attempts + 1;
    let channel: OpenChannel | undefined;
    try {
      channel = ports.openChannel(stored);
    } catch {
      channel = undefined;
    }
    const result = channel ? await sendTo(ports, channel, delivery.notification, nowMs) : { ok: false, error: "the channel's sealed URL cannot be opened with this deployment's secrets key" };
    const entry = { timeMs: ports.now(), ...base, channelName: stored.name, attempt, ...(result.status !== undefined ? { status: result.status } : {}) };
    if (result.ok) {
      await store.finish(accountId, id);
      await store.appendLog(accountId, delivery.ruleId, [{ ...entry, outcome: 'sent' }]);
      report.sent += 1;
      continue;
    }
    const delay = retryDelayMs(attempt);
    if (delay === undefined) {
      await store.finish(accountId, id);
      await store.appendLog(accountId, delivery.ruleId, [{ ...entry, outcome: 'gave-up', error: result.error }]);
      ports.log?.('warn', 'alert delivery gave up', { accountId, ruleId: delivery.ruleId, channelId: delivery.channelId, notificationId: base.notificationId, attempts: attempt, maxAttempts: ALERT_MAX_ATTEMPTS, error: result.error });
      report.gaveUp += 1;
      continue;
    }
    await store.reschedule(accountId, { ...delivery, attempts: attempt }, nowMs + delay);
    await store.appendLog(accountId, delivery.ruleId, [{ ...entry, outcome: 'retrying', error: result.error }]);
    report.retrying += 1;
    nextRetryMs = Math.min(nextRetryMs ?? delay, delay);
  }
  return nextRetryMs;
}

/** Sends a notification to an opened channel; never throws. */
export async function sendTo(ports: Pick<AlertsRunPorts, 'send'>, channel: OpenChannel, notification: Notification, nowMs: number): Promise<{ ok: boolean; status?: number; error?: string }> {
  const request = outgoingRequest(channel, notification, nowMs);
  const answer = await ports.send(request.url, request.body);
  if ('error' in answer) return { ok: false, error: answer.error };
  const verdict = deliveredBy(channel.type, answer.status, answer.body);
  return { ok: verdict.ok, status: answer.status, ...(verdict.error ? { error: verdict.error } : {}) };
}

export async function runAlerts(ports: AlertsRunPorts, options: { budgetMs?: number } = {}): Promise<AlertsReport> {
  const started = ports.now();
  const deadline = started + (options.budgetMs ?? ALERT_RUN_BUDGET_MS);
  const report: AlertsReport = { accounts: 0, evaluated: 0, fired: 0, suppressed: 0, sent: 0, retrying: 0, gaveUp: 0, ms: 0, failed: 0, failures: [] };
  let nextRetryMs: number | undefined;
  for (const accountId of await ports.store.accountsWithRules()) {
    if (ports.now() >= deadline) break;
    report.accounts += 1;
    // one account's failure is reported and the others' alerts go on (its matches stay pending)
    try {
      const token = await ports.store.lock(accountId, ALERT_LOCK_MS);
      if (!token) continue;
      try {
        await evaluateAccount(ports, accountId, report);
        const retry = await deliverAccount(ports, accountId, report);
        if (retry !== undefined) nextRetryMs = Math.min(nextRetryMs ?? retry, retry);
      } finally {
        await ports.store.unlock(accountId, token);
      }
    } catch (error) {
      noteAccountFailure(report, accountId, 'evaluate', error);
    }
  }
  if (nextRetryMs !== undefined && nextRetryMs < 60_000) await ports.scheduleRun?.(nextRetryMs);
  report.ms = ports.now() - started;
  return report;
}
