/**
 * LookupEvents' NextToken: opaque to the client, tamper-proof, bound to the query.
 *
 *   token = base64url(payload JSON) "." base64url(HMAC-SHA256(key, DOMAIN ‖ payload part))
 *   payload = { v: 1, c: [cursor.timeMs, cursor.eventId], w: [startMs, endMs], q: binding hash }
 *
 * `q` is SHA-256 over the caller, the accounts it may see, StartTime/EndTime as given,
 * Direction and the conditions. MaxResults is deliberately not bound: a client may change
 * its page size while paging (the cursor does not depend on it).
 *
 * `w` carries the window the first page searched: a defaulted or clamped window is relative
 * to "now", so later pages must search the window of the first one, not a new "now".
 *
 * Any failure — bad shape, truncation, wrong tag, another query or account — is
 * ValidationError('InvalidNextToken'); tags and hashes are compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import type { HistoryCursor } from '../history/history-store.ts';
import type { Direction, LookupCondition } from './lookup-params.ts';

const VERSION = 1;
const DOMAIN = 'trailkeeper/LookupEvents/NextToken/v1\0';
const TAG_BYTES = 32;
const MIN_KEY_BYTES = 16;
/** Longest token read at all (ours are ~200 characters for UUID event ids). */
const MAX_TOKEN_LENGTH = 4096;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** What a token is bound to: it reads back only for the same caller, accounts and query. */
export interface TokenBinding {
  callerAccountId: string;
  /** The accounts the caller sees (order and duplicates do not matter). */
  accountIds: readonly string[];
  /** StartTime / EndTime as given by the client (undefined: defaulted). */
  startTime?: string | undefined;
  endTime?: string | undefined;
  direction: Direction;
  /** The conditions in effect, store condition first. */
  conditions: readonly LookupCondition[];
  /**
   * What else the token is bound to, for an action other than LookupEvents (RunAdvancedQuery:
   * the action, the query text, source and trail). Absent for LookupEvents (its tokens unchanged).
   */
  scope?: string;
}

/** What a token carries: where to continue, in which window. */
export interface TokenState {
  cursor: HistoryCursor;
  startMs: number;
  endMs: number;
}

const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const payloadSchema = z.strictObject({
  v: z.literal(VERSION),
  c: z.tuple([safeInt, z.string().min(1).max(2048)]),
  w: z.tuple([safeInt, safeInt]),
  q: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

function invalid(reason: string): ValidationError {
  return new ValidationError('InvalidNextToken', `The specified NextToken is invalid: ${reason}.`, 'NextToken');
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length < MIN_KEY_BYTES) {
    throw new TypeError(`NextToken key must be a Buffer of at least ${MIN_KEY_BYTES} bytes`);
  }
}

/** base64url SHA-256 of the binding, canonical (account ids sorted and deduplicated). */
export function bindingHash(b: TokenBinding): string {
  const canonical = JSON.stringify([
    'LookupEvents',
    b.callerAccountId,
    [...new Set(b.accountIds)].sort(),
    b.startTime ?? null,
    b.endTime ?? null,
    b.direction,
    b.conditions.map((c) => [c.key, c.value]),
    ...(b.scope === undefined ? [] : [b.scope]),
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

function tagOf(payloadPart: string, key: Buffer): Buffer {
  return createHmac('sha256', key).update(DOMAIN, 'utf8').update(payloadPart, 'ascii').digest();
}

export function issueToken(state: TokenState, boundTo: TokenBinding, key: Buffer): string {
  checkKey(key);
  const payload = {
    v: VERSION,
    c: [state.cursor.timeMs, state.cursor.eventId],
    w: [state.startMs, state.endMs],
    q: bindingHash(boundTo),
  };
  const checked = payloadSchema.safeParse(payload);
  if (!checked.success) throw new RangeError(`NextToken: cannot encode ${checked.error.issues[0]?.message ?? 'state'}`);
  const payloadPart = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${payloadPart}.${tagOf(payloadPart, key).toString('base64url')}`;
}

export function readToken(token: string, boundTo: TokenBinding, key: Buffer): TokenState {
  checkKey(key);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw invalid('malformed');
  const dot = token.indexOf('.');
  const payloadPart = token.slice(0, dot);
  const tagPart = token.slice(dot + 1);
  if (dot <= 0 || !B64URL.test(payloadPart) || !B64URL.test(tagPart)) throw invalid('malformed');
  const tag = Buffer.from(tagPart, 'base64url');
  // Canonical encoding only: a re-encoded (padded, altered trailing bits) tag is refused.
  if (tag.length !== TAG_BYTES || tag.toString('base64url') !== tagPart) throw invalid('malformed');
  if (!timingSafeEqual(tag, tagOf(payloadPart, key))) throw invalid('not issued by this service or altered');

  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    throw invalid('malformed');
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) throw invalid('malformed');
  const { c, w, q } = parsed.data;
  const expected = Buffer.from(bindingHash(boundTo), 'base64url');
  const actual = Buffer.from(q, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw invalid('it was issued for another query (the parameters must be those of the previous request)');
  }
  if (w[0] > w[1]) throw invalid('malformed');
  return { cursor: { timeMs: c[0], eventId: c[1] }, startMs: w[0], endMs: w[1] };
}
