/**
 * Re-delivery: re-send a time range of a trail's events from its archive files to its logstore
 * (after a logstore outage, or to fill a new logstore). The logstore collapses entries it
 * already holds, so re-delivering a range twice adds nothing.
 */
import { z } from 'zod';
import type { ClassifiedEvent } from '../classify/classify.ts';
import { eventTimeMs } from '../events/schema.ts';
import { parseArchiveFileKey } from '../archive/layout.ts';
import type { LogstoreWriter } from '../logstore/logstore.ts';
import type { Trail } from '../trails/model.ts';
import { trailsForEvent } from '../trails/routing.ts';
import { DomainError, RetryableError, ValidationError } from '../errors.ts';

export const REDELIVER_PREFIX = 'redeliver/';
export const REDELIVER_RESULT_SUFFIX = '.result.json';
/** Events written to the logstore per call. */
export const REDELIVERY_WRITE_BATCH = 500;

export const RedeliveryRequestSchema = z.object({
  accountId: z.string().regex(/^\d{16}$/, 'accountId is the trail owner: 16 digits'),
  trailName: z.string().min(1),
  from: z.string().datetime({ message: 'from must be an ISO time, e.g. 2026-11-21T00:00:00Z' }),
  to: z.string().datetime({ message: 'to must be an ISO time, e.g. 2026-11-22T00:00:00Z' }),
});
export type RedeliveryRequest = z.infer<typeof RedeliveryRequestSchema>;

export function parseRedeliveryRequest(input: unknown): RedeliveryRequest {
  const parsed = RedeliveryRequestSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError('InvalidRedeliveryRequest', `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, issue?.path.join('.'));
  }
  if (Date.parse(parsed.data.to) <= Date.parse(parsed.data.from)) throw new ValidationError('InvalidRedeliveryRequest', 'to must be later than from', 'to');
  return parsed.data;
}

export interface RedeliveryPorts {
  getTrail(accountId: string, name: string): Promise<Trail | undefined>;
  /** Archive file keys under the trail's OssKeyPrefix. */
  listArchiveFiles(bucket: string, ossKeyPrefix: string | undefined): Promise<string[]>;
  readArchiveFile(bucket: string, key: string): Promise<unknown[]>;
  managementAccountOf(accountId: string): Promise<string | undefined>;
  logstore: LogstoreWriter;
}

export interface RedeliveryResult {
  accountId: string;
  trailName: string;
  from: string;
  to: string;
  filesRead: number;
  eventsInRange: number;
  written: number;
  duplicates: number;
}

export async function redeliver(request: RedeliveryRequest, ports: RedeliveryPorts): Promise<RedeliveryResult> {
  const trail = await ports.getTrail(request.accountId, request.trailName);
  if (!trail) throw new ValidationError('TrailNotFoundException', `trail ${request.trailName} of account ${request.accountId} does not exist`, 'trailName');
  if (!trail.ossBucketName) throw new ValidationError('InvalidRedeliveryRequest', `trail ${trail.name} has no archive (OssBucketName) to re-deliver from`, 'trailName');
  const fromMs = Date.parse(request.from);
  const toMs = Date.parse(request.to);
  // Files are named by delivery time, which is never before the events they hold.
  const dayStart = fromMs - (fromMs % 86_400_000);
  const keys = (await ports.listArchiveFiles(trail.ossBucketName, trail.ossKeyPrefix)).filter((key) => {
    const parsed = parseArchiveFileKey(key);
    return parsed !== undefined && Boolean(parsed.organization) === trail.isOrganizationTrail && parsed.deliveredAt.getTime() >= dayStart;
  });
  // Trails may share a bucket and prefix: keep only what this trail would receive.
  const asLogging: Trail = { ...trail, status: 'Enable', startLoggingTimeMs: undefined };
  const managers = new Map<string, string | undefined>();
  const result: RedeliveryResult = { ...request, filesRead: 0, eventsInRange: 0, written: 0, duplicates: 0 };
  let batch: { eventId: string; eventTimeMs: number; json: string }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const written = await ports.logstore.write(trail.accountId, trail.name, batch);
    result.written += written.written;
    result.duplicates += written.duplicates;
    batch = [];
  };
  for (const key of keys) {
    const events = await ports.readArchiveFile(trail.ossBucketName, key);
    result.filesRead++;
    for (const raw of events) {
      const event = raw as ClassifiedEvent & { eventId: string };
      const timeMs = eventTimeMs(event);
      if (timeMs < fromMs || timeMs >= toMs) continue;
      const account = event.userIdentity.accountId;
      if (!managers.has(account)) managers.set(account, await ports.managementAccountOf(account));
      if (trailsForEvent(event, [asLogging], { managementAccountOf: (a) => managers.get(a) }, { backfill: true }).length === 0) continue;
      result.eventsInRange++;
      batch.push({ eventId: event.eventId, eventTimeMs: timeMs, json: JSON.stringify(event) });
      if (batch.length >= REDELIVERY_WRITE_BATCH) await flush();
    }
  }
  await flush();
  return result;
}

export interface RedeliveryObjectPorts extends RedeliveryPorts {
  readJson(bucket: string, key: string): Promise<unknown>;
  writeJson(bucket: string, key: string, document: unknown): Promise<void>;
}

/**
 * A re-delivery request object put under `redeliver/` (OSS trigger): re-delivers the range it
 * names and writes the result — or the request's error — next to it (`<key>.result.json`).
 * Running it twice writes nothing twice: the logstore collapses events by eventId.
 */
export async function redeliverRequestObject(object: { bucket: string; key: string }, ports: RedeliveryObjectPorts): Promise<RedeliveryResult | { error: { code: string; message: string } } | undefined> {
  if (!object.key.startsWith(REDELIVER_PREFIX) || object.key.endsWith(REDELIVER_RESULT_SUFFIX)) return undefined;
  let answer: RedeliveryResult | { error: { code: string; message: string } };
  try {
    answer = await redeliver(parseRedeliveryRequest(await ports.readJson(object.bucket, object.key)), ports);
  } catch (error) {
    if (error instanceof DomainError && !(error instanceof RetryableError)) answer = { error: { code: error.code, message: error.message } };
    else if (error instanceof SyntaxError) answer = { error: { code: 'InvalidJSON', message: error.message } };
    else throw error;
  }
  await ports.writeJson(object.bucket, `${object.key}${REDELIVER_RESULT_SUFFIX}`, answer);
  return answer;
}

