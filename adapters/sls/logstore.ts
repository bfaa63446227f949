/**
 * The production logstore (docs/design.md §3.6): Alibaba Cloud Log Service through its official Node.js
 * SDK, `@alicloud/log`. A trail's `slsProjectArn` (`acs:log:<region>:<account>:project/<name>`)
 * names the project; the logstore is `actiontrail_<trail>`; each event is one log with
 * `__topic__ = actiontrail_audit_event`, `__time__` = its eventTime in seconds, and contents
 * `event` (the JSON, unchanged) and `eventId`.
 *
 * Delivery is AT-LEAST-ONCE, not exactly once. Log Service's PutLogs has no idempotency key:
 * the SDK posts to `/shards/lb` (load-balanced, no hash key or sequence id), and the service
 * appends whatever it is sent. Within one `write` call repeated eventIds are collapsed; across
 * calls a duplicate appears only when a PutLogs succeeded and its caller did not record it (the
 * function died or timed out before acking its outbox, or a later group of the same write
 * failed and the whole write was retried). Every log carries `eventId`, so a query collapses
 * duplicates, e.g. `* | select arbitrary(event) as event group by eventId`.
 *
 * Request building is pure (`buildPutLogsRequests`); the SDK is loaded only when a write is
 * sent, so code paths that never reach Log Service (the local stack) never load it.
 *
 * Packaging note: @alicloud/log 1.2.6 reads `lib/sls.proto` next to its own file at load time
 * (`path.join(__dirname, './sls.proto')`). In an esbuild bundle `__dirname` is the bundle's
 * folder, so a deployed bundle that uses this writer needs `sls.proto` copied beside it.
 */
import { Buffer } from 'node:buffer';
import type { ClientConfig, PostLogStoreLogsData, PutLog, RequestOptions } from '@alicloud/log';
import { RetryableError, ValidationError } from '../../shared/errors.ts';
import {
  LOGSTORE_TOPIC,
  checkAccountId,
  logTimeOf,
  logstoreNameOf,
  refusalsOf,
  LogEntriesRefusedError,
  type LogEntryInput,
  type LogstoreWriter,
} from '../../shared/logstore/logstore.ts';
import type { Trail } from '../../shared/trails/model.ts';

/** PutLogs limits: a LogGroup holds at most 4096 logs and 5 MiB of raw (uncompressed) data. */
export const SLS_MAX_LOGS_PER_PUT = 4096;
export const SLS_MAX_PUT_BYTES = 5 * 1024 * 1024;
/** Headroom kept under SLS_MAX_PUT_BYTES for protobuf framing we do not count exactly. */
const PUT_BYTES_HEADROOM = 64 * 1024;
/** Per-log and per-field framing estimate (tags, lengths, Time): generous on purpose. */
const LOG_OVERHEAD_BYTES = 16;
const FIELD_OVERHEAD_BYTES = 12;
export const SLS_REQUEST_TIMEOUT_MS = 10_000;

const SLS_PROJECT_ARN = /^acs:log:([a-z0-9-]+):(\d+):project\/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])$/;

export interface SlsProjectRef {
  region: string;
  accountId: string;
  project: string;
}

/** `acs:log:<region>:<account>:project/<name>` → its parts. */
export function parseSlsProjectArn(arn: string): SlsProjectRef {
  const match = SLS_PROJECT_ARN.exec(arn);
  if (!match) {
    throw new ValidationError('InvalidSlsProjectArn', `slsProjectArn must be acs:log:<region>:<account>:project/<name>, got ${JSON.stringify(arn)}`, 'slsProjectArn');
  }
  const [, region = '', accountId = '', project = ''] = match;
  return { region, accountId, project };
}

/** `<region>.log.aliyuncs.com`, or `<region>-intranet.log.aliyuncs.com` from inside the region's VPC. */
export function slsEndpointOf(region: string, net: 'public' | 'intranet' = 'public'): string {
  return `${region}${net === 'intranet' ? '-intranet' : ''}.log.aliyuncs.com`;
}

/** One PutLogs call as the SDK takes it: `client.postLogStoreLogs(projectName, logstoreName, data)`. */
export interface SlsPutLogsRequest {
  projectName: string;
  logstoreName: string;
  region: string;
  data: PostLogStoreLogsData;
}

export interface PutLogsPlan {
  requests: SlsPutLogsRequest[];
  /** Distinct eventIds across the requests. */
  logs: number;
  /** Entries dropped because an earlier entry of the same batch had the same eventId. */
  duplicates: number;
}

function rawSizeOf(log: PutLog): number {
  let size = LOG_OVERHEAD_BYTES;
  for (const [key, value] of Object.entries(log.content)) {
    size += FIELD_OVERHEAD_BYTES + Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  return size;
}

const logOf = (entry: LogEntryInput): PutLog => ({ timestamp: logTimeOf(entry.eventTimeMs), content: { eventId: entry.eventId, event: entry.json } });

/**
 * The PutLogs calls that deliver `entries` to a trail's logstore: one log per distinct eventId
 * (first occurrence wins), in the given order, split into LogGroups within Log Service's limits.
 * Pure: no SDK, no network. LogEntriesRefusedError names every entry it cannot send (malformed,
 * or one log larger than a LogGroup may be).
 */
export function buildPutLogsRequests(trail: Pick<Trail, 'name' | 'slsProjectArn'>, entries: readonly LogEntryInput[]): PutLogsPlan {
  if (!trail.slsProjectArn) {
    throw new ValidationError('InvalidSlsProjectArn', `trail ${trail.name} has no slsProjectArn`, 'slsProjectArn');
  }
  const { region, project } = parseSlsProjectArn(trail.slsProjectArn);
  const budget = SLS_MAX_PUT_BYTES - PUT_BYTES_HEADROOM - Buffer.byteLength(LOGSTORE_TOPIC);
  const logstoreName = logstoreNameOf(trail.name);
  // Every entry Log Service would not take is named at once (nothing is sent), so a deliverer
  // sets exactly those aside and writes the rest.
  const refused = refusalsOf(entries);
  const refusedAt = new Set(refused.map((r) => r.index));
  entries.forEach((entry, index) => {
    if (refusedAt.has(index)) return;
    const size = rawSizeOf(logOf(entry));
    if (size > budget) {
      refused.push({ index, eventId: entry.eventId, code: 'LogTooLarge', field: 'event', reason: `event ${entry.eventId} is ${size} bytes; a Log Service LogGroup holds at most ${SLS_MAX_PUT_BYTES}` });
    }
  });
  if (refused.length > 0) throw new LogEntriesRefusedError(refused.sort((a, b) => a.index - b.index), 'Log Service');
  const requests: SlsPutLogsRequest[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  let group: PutLog[] = [];
  let groupBytes = 0;
  const flush = () => {
    if (group.length === 0) return;
    requests.push({ projectName: project, logstoreName, region, data: { logs: group, topic: LOGSTORE_TOPIC } });
    group = [];
    groupBytes = 0;
  };
  for (const entry of entries) {
    if (seen.has(entry.eventId)) {
      duplicates += 1;
      continue;
    }
    seen.add(entry.eventId);
    const log = logOf(entry);
    const size = rawSizeOf(log);
    if (group.length >= SLS_MAX_LOGS_PER_PUT || groupBytes + size > budget) flush();
    group.push(log);
    groupBytes += size;
  }
  flush();
  return { requests, logs: seen.size, duplicates };
}

export interface SlsCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** What SlsLogstore needs of the SDK client (a seam for tests). */
export interface SlsClient {
  postLogStoreLogs(projectName: string, logstoreName: string, data: PostLogStoreLogsData, options?: RequestOptions): Promise<unknown>;
}

export type SlsClientFactory = (config: ClientConfig) => SlsClient | Promise<SlsClient>;

/** Loads the official SDK on first use and builds a client. */
export const sdkClientFactory: SlsClientFactory = async (config) => {
  const { default: Client } = await import('@alicloud/log');
  return new Client(config);
};

export interface SlsLogstoreOptions {
  /** Where a trail's slsProjectArn is read (a TrailStore). */
  trails: { get(accountId: string, name: string): Promise<Pick<Trail, 'name' | 'slsProjectArn'> | undefined> };
  /** The function's credentials: FC `context.credentials` (STS), or a provider of fresh ones. */
  credentials: SlsCredentials | (() => SlsCredentials | Promise<SlsCredentials>);
  /**
   * Log Service endpoint: a host or URL, or a function of the project's region. Default
   * `https://<region>.log.aliyuncs.com` (`net: 'intranet'` for the in-region VPC endpoint).
   */
  endpoint?: string | ((region: string) => string);
  net?: 'public' | 'intranet';
  /** Passed to each PutLogs request (timeouts; default SLS_REQUEST_TIMEOUT_MS). */
  requestOptions?: RequestOptions;
  clientFactory?: SlsClientFactory;
}

/** Log Service error codes and transport failures worth retrying (the deliverer is re-run). */
const RETRYABLE_CODES = new Set([
  'InternalServerError',
  'ServerBusy',
  'WriteQuotaExceed',
  'ShardWriteQuotaExceed',
  'ProjectQuotaExceed',
  'ExceedQuota',
  'RequestTimeout',
  'RequestTimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
]);

/** A PutLogs failure that retrying will not fix (missing project/logstore, denied, bad request). */
export class SlsWriteError extends Error {
  override name = 'SlsWriteError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function errorCodeOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    return error.name;
  }
  return 'Unknown';
}

export class SlsLogstore implements LogstoreWriter {
  private readonly clientFactory: SlsClientFactory;

  constructor(private readonly options: SlsLogstoreOptions) {
    this.clientFactory = options.clientFactory ?? sdkClientFactory;
  }

  /** At-least-once: see the module note. `duplicates` counts repeats within this call only. */
  async write(accountId: string, trailName: string, entries: readonly LogEntryInput[]): Promise<{ written: number; duplicates: number }> {
    checkAccountId(accountId);
    logstoreNameOf(trailName);
    if (entries.length === 0) return { written: 0, duplicates: 0 };
    const trail = await this.options.trails.get(accountId, trailName);
    if (!trail) throw new ValidationError('TrailNotFoundException', `trail ${trailName} of account ${accountId} does not exist`, 'trailName');
    const plan = buildPutLogsRequests(trail, entries);
    const credentials = typeof this.options.credentials === 'function' ? await this.options.credentials() : this.options.credentials;
    const requestOptions: RequestOptions = { timeout: SLS_REQUEST_TIMEOUT_MS, ...this.options.requestOptions };
    const clients = new Map<string, SlsClient>();
    for (const request of plan.requests) {
      const endpoint = this.endpointFor(request.region);
      let client = clients.get(endpoint);
      if (!client) {
        client = await this.clientFactory({
          region: request.region,
          endpoint,
          accessKeyId: credentials.accessKeyId,
          accessKeySecret: credentials.accessKeySecret,
          ...(credentials.securityToken ? { securityToken: credentials.securityToken } : {}),
        });
        clients.set(endpoint, client);
      }
      try {
        await client.postLogStoreLogs(request.projectName, request.logstoreName, request.data, requestOptions);
      } catch (error) {
        const code = errorCodeOf(error);
        const where = `PutLogs ${request.projectName}/${request.logstoreName} (${request.data.logs.length} logs)`;
        if (RETRYABLE_CODES.has(code)) throw new RetryableError(`${where} failed: ${code}`, { cause: error });
        throw new SlsWriteError(code, `${where} failed: ${code}`, { cause: error });
      }
    }
    return { written: plan.logs, duplicates: plan.duplicates };
  }

  private endpointFor(region: string): string {
    const { endpoint, net } = this.options;
    if (typeof endpoint === 'function') return endpoint(region);
    if (typeof endpoint === 'string' && endpoint !== '') return endpoint;
    return `https://${slsEndpointOf(region, net)}`;
  }
}
