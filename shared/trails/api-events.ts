/**
 * TrailKeeper's own API calls as events of the caller's account (docs/design.md §3.14), as
 * ActionTrail records its own: a state-changing call through lookup-http (CreateTrail,
 * UpdateTrail, DeleteTrail, StartLogging, StopLogging, EnableInsight, DisableInsight,
 * PutInsightSelectors, PutInsightIpAllowlist, CreateDeliveryHistoryJob, DeleteDeliveryHistoryJob,
 * the alert rule and channel writes and TestAlertChannel — every write action of the API) becomes
 * an `ApiCall` / `Write` event with `serviceName` `Actiontrail`, `eventSource`
 * `actiontrail.<region>.aliyuncs.com`, `apiVersion` 2020-07-06, the verified caller's identity, the
 * source IP, the request id, the request parameters without signatures or secrets, and
 * `errorCode` / `errorMessage` when the call was refused. So stopping or deleting a trail shows in
 * LookupEvents.
 *
 * The event takes the path ingested events take: one staging batch written through the ingest
 * use case (shared/pipeline/ingest.ts), which classify files into history, summaries and trails.
 * It is durable before the API answers — a call whose event cannot be staged fails (an audit
 * record is never silently lost) — and idempotent: its eventId derives from the account and the
 * request id, so a retried invocation of the same request adds nothing.
 */
import { createHash } from 'node:crypto';
import { DomainError } from '../errors.ts';
import { ingestBatch, type IngestPorts } from '../pipeline/ingest.ts';

export const API_EVENT_SERVICE_NAME = 'Actiontrail';
export const API_EVENT_API_VERSION = '2020-07-06';
export const API_EVENT_VERSION = 1;
/** ActionTrail's identity type of an account's own AccessKey pair (our keys belong to accounts). */
export const ROOT_ACCOUNT_IDENTITY = 'root-account';
export const ROOT_USER_NAME = 'root';
/** The error code recorded for a call that failed without a domain error (an internal failure). */
export const INTERNAL_ERROR_CODE = 'InternalError';
/** Longest request parameter value recorded (longer values are cut, marked with …). */
export const MAX_RECORDED_PARAMETER_LENGTH = 1024;
/** Longest error message recorded. */
export const MAX_RECORDED_ERROR_MESSAGE_LENGTH = 1024;

/**
 * The write actions of the API: each call of one is recorded, whatever its outcome — the trail
 * actions, and the Insights actions that change what is detected or delivered (docs/design.md
 * §3.9), our PutInsightIpAllowlist among them.
 */
export const RECORDED_ACTIONS: ReadonlySet<string> = new Set([
  'CreateTrail',
  'UpdateTrail',
  'DeleteTrail',
  'StartLogging',
  'StopLogging',
  'EnableInsight',
  'DisableInsight',
  'PutInsightSelectors',
  'PutInsightIpAllowlist',
  // advanced query templates and history (docs/design.md §3.13)
  'CreateAdvancedQueryTemplate',
  'UpdateAdvancedQueryTemplate',
  'DeleteAdvancedQueryTemplate',
  'CreateAdvancedQueryHistory',
  'DeleteAdvancedQueryHistory',
  'CreateDeliveryHistoryJob',
  'DeleteDeliveryHistoryJob',
  // alert rules and channels, and sending a test (docs/design.md §3.12)
  'CreateAlertRule',
  'UpdateAlertRule',
  'DeleteAlertRule',
  'CreateAlertChannel',
  'UpdateAlertChannel',
  'DeleteAlertChannel',
  'TestAlertChannel',
]);

/** RPC common parameters and parameter names never recorded: the signature and anything secret. */
const UNRECORDED_PARAMETERS: ReadonlySet<string> = new Set(['Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'SignatureType', 'SecurityToken', 'AccessKeySecret', 'WebhookUrl']);
const SECRET_NAME = /secret|password|signature|token|credential/i;

export interface ApiCaller {
  accountId: string;
  accessKeyId: string;
}

export interface ApiRequestContext {
  requestId: string;
  sourceIp: string;
  userAgent?: string | undefined;
}

export type ApiOutcome = { ok: true } | { ok: false; error: unknown };

export interface ApiEventInput {
  action: string;
  params: Readonly<Record<string, string>>;
  caller: ApiCaller;
  request: ApiRequestContext;
  /** The API's region (eventSource and acsRegion). */
  region: string;
  at: Date;
  outcome: ApiOutcome;
}

/** ActionTrail's time format (UTC, whole seconds). */
function eventTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The event id of a request's event: a UUID-shaped digest of the account and request id. */
export function apiEventId(accountId: string, requestId: string): string {
  const hex = createHash('sha256').update(`trailkeeper-api-event\u0000${accountId}\u0000${requestId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`.toUpperCase();
}

function clip(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** The request parameters as recorded: no signature, no secret, values cut to a bounded length. */
export function recordedParameters(params: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (UNRECORDED_PARAMETERS.has(name) || SECRET_NAME.test(name)) continue;
    out[name] = clip(value, MAX_RECORDED_PARAMETER_LENGTH);
  }
  return out;
}

function errorOf(error: unknown): { errorCode: string; errorMessage: string } {
  if (error instanceof DomainError && error.expose) return { errorCode: error.code, errorMessage: clip(error.message, MAX_RECORDED_ERROR_MESSAGE_LENGTH) };
  return { errorCode: INTERNAL_ERROR_CODE, errorMessage: 'The request processing has failed due to some unknown error.' };
}

/** The ActionTrail event of one API call. */
export function apiCallEvent(input: ApiEventInput): Record<string, unknown> & { eventId: string } {
  const { caller, request } = input;
  return {
    eventId: apiEventId(caller.accountId, request.requestId),
    eventVersion: API_EVENT_VERSION,
    eventTime: eventTime(input.at),
    eventType: 'ApiCall',
    eventCategory: 'Management',
    eventName: input.action,
    eventRW: 'Write',
    eventSource: `actiontrail.${input.region}.aliyuncs.com`,
    serviceName: API_EVENT_SERVICE_NAME,
    acsRegion: input.region,
    apiVersion: API_EVENT_API_VERSION,
    requestId: request.requestId,
    sourceIpAddress: request.sourceIp,
    ...(request.userAgent ? { userAgent: request.userAgent } : {}),
    userIdentity: {
      type: ROOT_ACCOUNT_IDENTITY,
      principalId: caller.accountId,
      accountId: caller.accountId,
      accessKeyId: caller.accessKeyId,
      userName: ROOT_USER_NAME,
    },
    requestParameters: recordedParameters(input.params),
    ...(input.outcome.ok ? {} : errorOf(input.outcome.error)),
    recipientAccountId: caller.accountId,
  };
}

export class ApiEventNotRecordedError extends Error {
  override name = 'ApiEventNotRecordedError';
}

/**
 * Stages the event of one call through the ingest use case (durable when this resolves). A
 * replay of the same request id counts as a duplicate and stages nothing.
 */
export async function recordApiCall(input: ApiEventInput, ports: IngestPorts): Promise<void> {
  const event = apiCallEvent(input);
  const result = await ingestBatch(
    {
      accountId: input.caller.accountId,
      accessKeyId: input.caller.accessKeyId,
      // its own staging object, next to nothing else of the request
      requestId: `${input.request.requestId}.api-event`,
      sourceIp: input.request.sourceIp,
      receivedAt: input.at,
      body: JSON.stringify([event]),
    },
    ports,
  );
  const [rejected] = result.rejected;
  if (rejected) throw new ApiEventNotRecordedError(`the ${input.action} event was refused: ${rejected.code} ${rejected.field ?? ''} ${rejected.message}`);
}

export type RecordedAction<C> = (params: Record<string, string>, caller: C, request?: ApiRequestContext) => Promise<Record<string, unknown>>;

/**
 * Wraps a write action so each call is recorded before it answers (and before its error is
 * thrown); other actions, and calls without a request context, are returned as they are.
 */
export function recordingApiCalls<C extends ApiCaller>(
  name: string,
  action: (params: Record<string, string>, caller: C) => Promise<Record<string, unknown>>,
  options: { region: string; ports: IngestPorts; now?: () => Date },
): RecordedAction<C> {
  if (!RECORDED_ACTIONS.has(name)) return action;
  const now = options.now ?? (() => new Date());
  return async (params, caller, request) => {
    if (!request) return action(params, caller);
    const record = (outcome: ApiOutcome) =>
      recordApiCall({ action: name, params, caller: { accountId: caller.accountId, accessKeyId: caller.accessKeyId }, request, region: options.region, at: now(), outcome }, options.ports);
    let answer: Record<string, unknown>;
    try {
      answer = await action(params, caller);
    } catch (error) {
      await record({ ok: false, error });
      throw error;
    }
    await record({ ok: true });
    return answer;
  };
}
