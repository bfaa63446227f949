/**
 * Every Function Compute event this product receives, decoded once into a tagged union:
 *   http        — an HTTP trigger's request (FC 3.0, `version: 'v1'`)
 *   oss         — an OSS trigger's object notices
 *   timer       — a timer trigger's firing
 *   wake        — an async invocation one of our functions sent another (`{reason, …}`)
 *   destination — FC's on-failure destination record of an async invocation
 * Each kind is a named zod part; a kind is recognised by the fields only it has, then checked
 * whole, so an event that looks like an OSS notice but lacks a bucket is reported as a bad OSS
 * event with every issue's path, not as "unknown". Handlers say which kinds they accept.
 */
import { z } from 'zod';
import { BadTriggerEventError, checkHttpBodySize, FcHttpEventSchema, HTTP_EVENT_BODY_EXPANSION, HTTP_EVENT_OVERHEAD_BYTES, httpRequestOf, tooLargeBody, type HttpRequest } from './http.ts';
import { FcOssEventSchema, objectNoticesOf, type ObjectNotice } from './oss.ts';
import { FcTimerEventSchema, type FcTimerEvent } from './timer.ts';

/** Largest trigger event decoded (FC's own synchronous payload limit is 32 MB; our HTTP bodies are bounded far lower). */
export const MAX_TRIGGER_EVENT_BYTES = 32 * 1024 * 1024;

/** An async invocation between our functions: why it was sent, and what it concerns. */
export const WakeEventSchema = z.object({
  reason: z.enum(['classified', 'deferred-flush', 'manual', 'matched', 'retry']),
  object: z.string().max(1024).optional(),
});
export type WakeEvent = z.infer<typeof WakeEventSchema>;

/** FC's destination record (the on-failure payload of an async invocation). */
export const DestinationRecordSchema = z.object({
  timestamp: z.number(),
  requestContext: z.object({
    requestId: z.string().min(1),
    functionArn: z.string(),
    condition: z.string(),
    approximateInvokeCount: z.number(),
  }),
  requestPayload: z.string(),
  responseContext: z.object({ statusCode: z.number(), functionError: z.string() }),
  responsePayload: z.string(),
});
export type DestinationRecord = z.infer<typeof DestinationRecordSchema>;

export type Trigger =
  | { kind: 'http'; request: HttpRequest }
  | { kind: 'oss'; objects: ObjectNotice[] }
  | { kind: 'timer'; timer: FcTimerEvent }
  | { kind: 'wake'; wake: WakeEvent }
  | { kind: 'destination'; record: DestinationRecord };
export type TriggerKind = Trigger['kind'];
export type TriggerOf<K extends TriggerKind> = Extract<Trigger, { kind: K }>;

type JsonObject = Record<string, unknown>;

/** How each kind is named in errors. */
const KIND_NAMES: Readonly<Record<TriggerKind, string>> = { http: 'an HTTP', oss: 'an OSS', timer: 'a timer', wake: 'a wake-up', destination: 'a destination' };

/** The fields that only one kind carries, in the order they are tried. */
const SNIFF: ReadonlyArray<readonly [TriggerKind, (event: JsonObject) => boolean]> = [
  ['http', (e) => 'requestContext' in e && 'rawPath' in e],
  ['oss', (e) => Array.isArray(e['events'])],
  ['timer', (e) => 'triggerTime' in e || 'triggerName' in e],
  ['destination', (e) => 'requestPayload' in e && 'responseContext' in e],
  ['wake', (e) => 'reason' in e],
];

export interface DecodeOptions {
  /**
   * The largest raw HTTP body the function takes: an HTTP event that could only hold a larger
   * one is refused (PayloadTooLargeError) before it is parsed, then by its Content-Length and
   * body length before the body is decoded.
   */
  maxHttpBodyBytes?: number;
}

function build(kind: TriggerKind, json: JsonObject, options: DecodeOptions): Trigger | z.ZodError {
  switch (kind) {
    case 'http': {
      const parsed = FcHttpEventSchema.safeParse(json);
      if (!parsed.success) return parsed.error;
      if (options.maxHttpBodyBytes !== undefined) checkHttpBodySize(parsed.data, { maxBodyBytes: options.maxHttpBodyBytes });
      return { kind, request: httpRequestOf(parsed.data) };
    }
    case 'oss': {
      const parsed = FcOssEventSchema.safeParse(json);
      return parsed.success ? { kind, objects: objectNoticesOf(parsed.data) } : parsed.error;
    }
    case 'timer': {
      const parsed = FcTimerEventSchema.safeParse(json);
      return parsed.success ? { kind, timer: parsed.data } : parsed.error;
    }
    case 'wake': {
      const parsed = WakeEventSchema.safeParse(json);
      return parsed.success ? { kind, wake: parsed.data } : parsed.error;
    }
    case 'destination': {
      const parsed = DestinationRecordSchema.safeParse(json);
      return parsed.success ? { kind, record: parsed.data } : parsed.error;
    }
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(event)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Decodes an FC event (a Buffer of JSON) into the one trigger kind it is, among `accepted`.
 * Throws BadTriggerEventError (with the zod error as `cause`) when it is none of them.
 */
export function decodeTrigger<K extends TriggerKind>(event: Buffer, accepted: readonly K[], options: DecodeOptions = {}): TriggerOf<K> {
  const httpLimit = options.maxHttpBodyBytes;
  if (httpLimit !== undefined && accepted.length === 1 && accepted[0] === 'http' && event.length > httpLimit * HTTP_EVENT_BODY_EXPANSION + HTTP_EVENT_OVERHEAD_BYTES) {
    throw tooLargeBody(httpLimit);
  }
  if (event.length > MAX_TRIGGER_EVENT_BYTES) {
    throw new BadTriggerEventError(`the trigger event is ${event.length} bytes, over the ${MAX_TRIGGER_EVENT_BYTES}-byte limit`);
  }
  let json: unknown;
  try {
    json = JSON.parse(event.toString('utf8'));
  } catch (error) {
    throw new BadTriggerEventError('the trigger event is not JSON', { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadTriggerEventError(`the trigger event is not a JSON object (expected one of: ${accepted.join(', ')})`);
  }
  const object = json as JsonObject;
  const kind = SNIFF.find(([k, looksLike]) => looksLike(object) && (accepted as readonly TriggerKind[]).includes(k))?.[0];
  if (!kind) {
    const seen = SNIFF.find(([, looksLike]) => looksLike(object))?.[0];
    throw new BadTriggerEventError(
      seen ? `${KIND_NAMES[seen]} event reached a function that accepts only ${accepted.join(', ')}` : `not an FC event of any kind this function accepts (${accepted.join(', ')})`,
    );
  }
  const trigger = build(kind, object, options);
  if (trigger instanceof z.ZodError) {
    throw new BadTriggerEventError(`not a valid FC ${kind} event: ${describeIssues(trigger)}`, { cause: trigger });
  }
  return trigger as TriggerOf<K>;
}
