/**
 * The analysis row's queued form (docs/design.md §3.9). classify writes one per event and the
 * insights drain reads each back once, so both ends are hot: a positional JSON array (no field
 * names, no account id — the queue's key names the account), written by `encodeAnalysisRow` and
 * checked field by field by `decodeAnalysisRow`, which also reads the earlier object form (rows
 * queued by a previous version while an upgrade rolls out). Pure.
 *
 *   [1, eventId, eventTimeMs, eventName, serviceName, eventType, eventRW, acsRegion,
 *    sourceIpAddress, userAgent, errorCode, identityType, userName, principalId, accessKeyId,
 *    flags, requestParameters | 0, type₁, name₁, type₂, name₂, …]
 *
 * flags: 1 sensitive, 2 MFA used, 4 MFA not used (neither: not said).
 */
import { z } from 'zod';
import { ANALYSIS_ROW_MAX_RESOURCES, type AnalysisRow } from './analysis-row.ts';

export const ANALYSIS_ROW_WIRE_VERSION = 1;

const FLAG_SENSITIVE = 1;
const FLAG_MFA = 2;
const FLAG_NO_MFA = 4;
/** Index of the first resource pair in the wire array. */
const RESOURCES_AT = 17;

/** The string fields in wire order (indexes 3–14). */
const WIRE_STRINGS = [
  'eventName',
  'serviceName',
  'eventType',
  'eventRW',
  'acsRegion',
  'sourceIpAddress',
  'userAgent',
  'errorCode',
  'identityType',
  'userName',
  'principalId',
  'accessKeyId',
] as const;

export function encodeAnalysisRow(row: AnalysisRow): string {
  const flags = (row.sensitive ? FLAG_SENSITIVE : 0) | (row.mfa === true ? FLAG_MFA : 0) | (row.mfa === false ? FLAG_NO_MFA : 0);
  const wire: (string | number | Record<string, string>)[] = [
    ANALYSIS_ROW_WIRE_VERSION,
    row.eventId,
    row.eventTimeMs,
    row.eventName,
    row.serviceName,
    row.eventType,
    row.eventRW,
    row.acsRegion,
    row.sourceIpAddress,
    row.userAgent,
    row.errorCode,
    row.identityType,
    row.userName,
    row.principalId,
    row.accessKeyId,
    flags,
    row.requestParameters ?? 0,
  ];
  for (const r of row.resources) wire.push(r.type, r.name);
  return JSON.stringify(wire);
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') return undefined;
    out[k] = v;
  }
  return out;
}

function fromWire(a: readonly unknown[], accountId: string): AnalysisRow | undefined {
  if (a[0] !== ANALYSIS_ROW_WIRE_VERSION || a.length < RESOURCES_AT || (a.length - RESOURCES_AT) % 2 !== 0) return undefined;
  if ((a.length - RESOURCES_AT) / 2 > ANALYSIS_ROW_MAX_RESOURCES) return undefined;
  const eventId = a[1];
  const eventTimeMs = a[2];
  const flags = a[15];
  if (typeof eventId !== 'string' || eventId.length === 0) return undefined;
  if (typeof eventTimeMs !== 'number' || !Number.isSafeInteger(eventTimeMs) || eventTimeMs < 0) return undefined;
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 7 || (flags & FLAG_MFA && flags & FLAG_NO_MFA)) return undefined;
  const strings: string[] = [];
  for (let i = 3; i < 15; i++) {
    const v = a[i];
    if (typeof v !== 'string') return undefined;
    strings.push(v);
  }
  const resources: { type: string; name: string }[] = [];
  for (let i = RESOURCES_AT; i < a.length; i += 2) {
    const type = a[i];
    const name = a[i + 1];
    if (typeof type !== 'string' || typeof name !== 'string') return undefined;
    resources.push({ type, name });
  }
  let requestParameters: Record<string, string> | undefined;
  if (a[16] !== 0) {
    requestParameters = stringRecord(a[16]);
    if (!requestParameters) return undefined;
  }
  const [eventName, serviceName, eventType, eventRW, acsRegion, sourceIpAddress, userAgent, errorCode, identityType, userName, principalId, accessKeyId] = strings as [
    string, string, string, string, string, string, string, string, string, string, string, string,
  ];
  const mfa = flags & FLAG_MFA ? true : flags & FLAG_NO_MFA ? false : undefined;
  return {
    eventId,
    accountId,
    eventTimeMs,
    eventName,
    serviceName,
    eventType,
    eventRW,
    acsRegion,
    sourceIpAddress,
    userAgent,
    errorCode,
    identityType,
    userName,
    principalId,
    accessKeyId,
    sensitive: (flags & FLAG_SENSITIVE) !== 0,
    ...(mfa !== undefined ? { mfa } : {}),
    ...(requestParameters !== undefined ? { requestParameters } : {}),
    resources,
  };
}

/** The object form queued before the wire array (version 0). */
const LegacyRowSchema = z.object({
  eventId: z.string().min(1),
  accountId: z.string(),
  eventTimeMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  ...Object.fromEntries(WIRE_STRINGS.map((f) => [f, z.string()])),
  sensitive: z.boolean(),
  mfa: z.boolean().optional(),
  requestParameters: z.record(z.string(), z.string()).optional(),
  resources: z.array(z.object({ type: z.string(), name: z.string() })).max(ANALYSIS_ROW_MAX_RESOURCES),
});

/** A queued row of `accountId`'s queue, or undefined when it is not an analysis row. */
export function decodeAnalysisRow(text: string, accountId: string): AnalysisRow | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (Array.isArray(value)) return fromWire(value, accountId);
  const legacy = LegacyRowSchema.safeParse(value);
  if (!legacy.success) return undefined;
  // the queue's key decides the account, as for the wire form
  return { ...(legacy.data as unknown as AnalysisRow), accountId };
}
