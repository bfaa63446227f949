/**
 * The console's client for lookup-http's signed API: GET `/?Action=…`, signed in the browser
 * (sign.ts). Answers are JSON objects; failures are an ApiError (the server's Code and Message)
 * or a NetworkError (nothing came back).
 *
 * The server's clock is what counts (signature timestamps, preset windows): every answer's Date
 * header updates a Clock shared by all clients of the page, and a request refused for its
 * timestamp (a clock more than 15 minutes off) is signed again once with the corrected time.
 */
import { randomNonce, queryString, signRpcParams, type Credentials, type HmacSha1 } from './sign.ts';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json | undefined;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(readonly endpoint: string, cause: unknown) {
    super(`cannot reach ${endpoint}`, { cause });
  }
}

/** Server time minus local time, shared by every client of the page (learnt from Date headers). */
export interface Clock {
  skewMs: number;
}

export interface ApiClient {
  readonly endpoint: string;
  /** The server's time, as far as the Date headers seen so far tell (epoch ms). */
  now(): number;
  /** `post`: the signed parameters go in a form body, not the URL (for secrets such as a webhook URL). */
  call(action: string, params?: Record<string, string>, signal?: AbortSignal, options?: { post?: boolean }): Promise<JsonObject>;
}

export interface ApiClientOptions {
  /** lookup-http's address, e.g. `http://127.0.0.1:8711/`. */
  endpoint: string;
  credentials: Credentials;
  hmac: HmacSha1;
  randomBytes: (bytes: Uint8Array<ArrayBuffer>) => void;
  fetch: (url: string, init: { signal?: AbortSignal; cache: 'no-store'; headers: Record<string, string>; method?: 'POST'; body?: string }) => Promise<Response>;
  /** Local time (epoch ms); Date.now by default. */
  now?: () => number;
  /** Shared with the page's other clients, so a skew learnt once holds for all; a new one by default. */
  clock?: Clock;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Codes of a request refused for its timestamp (ours, and what other Alibaba Cloud APIs say). */
export const CLOCK_CODES: ReadonlySet<string> = new Set(['InvalidTimeStamp.Expired', 'SignatureExpired', 'RequestTimeTooSkewed']);

/**
 * A Date header is whole seconds and the answer took a while: skews within this much of the one
 * known are noise, not a change (the server allows 15 minutes).
 */
const SKEW_TOLERANCE_MS = 2_000;

/** The skew a reply's Date header shows, given when the request left and its answer came (local ms). */
export function skewFromDate(dateHeader: string | null, sentMs: number, receivedMs: number): number | undefined {
  const serverMs = Date.parse(dateHeader ?? '');
  if (Number.isNaN(serverMs)) return undefined;
  // The header truncates to the second (+500 ms on average); the server read its clock mid-flight.
  return serverMs + 500 - (sentMs + receivedMs) / 2;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const localNow = options.now ?? (() => Date.now());
  const clock = options.clock ?? { skewMs: 0 };
  const serverNow = () => localNow() + clock.skewMs;

  async function send(action: string, params: Record<string, string>, signal: AbortSignal | undefined, post = false): Promise<{ response: Response; body: unknown; skewMs: number | undefined }> {
    const signed = await signRpcParams({ Action: action, ...params }, options.credentials, {
      hmac: options.hmac,
      nonce: randomNonce(options.randomBytes),
      now: new Date(serverNow()),
      method: post ? 'POST' : 'GET',
    });
    const sentMs = localNow();
    let response: Response;
    try {
      response = post
        ? await options.fetch(options.endpoint, {
            method: 'POST',
            cache: 'no-store',
            headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
            body: queryString(signed),
            ...(signal ? { signal } : {}),
          })
        : await options.fetch(`${options.endpoint}?${queryString(signed)}`, { cache: 'no-store', headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new NetworkError(options.endpoint, error);
    }
    const skewMs = skewFromDate(response.headers.get('date'), sentMs, localNow());
    if (skewMs !== undefined && Math.abs(skewMs - clock.skewMs) > SKEW_TOLERANCE_MS) clock.skewMs = skewMs;
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { response, body, skewMs };
  }

  return {
    endpoint: options.endpoint,
    now: serverNow,
    async call(action, params = {}, signal, callOptions = {}) {
      const post = callOptions.post === true;
      let { response, body, skewMs } = await send(action, params, signal, post);
      if (!response.ok && isJsonObject(body) && CLOCK_CODES.has(String(body['Code'])) && skewMs !== undefined) {
        // Refused for the time: sign again (a new nonce) with the server's time, once.
        clock.skewMs = skewMs;
        ({ response, body } = await send(action, params, signal, post));
      }
      if (response.ok && isJsonObject(body)) return body;
      if (isJsonObject(body) && typeof body['Code'] === 'string') {
        const requestId = typeof body['RequestId'] === 'string' ? body['RequestId'] : undefined;
        throw new ApiError(body['Code'], typeof body['Message'] === 'string' ? body['Message'] : '', response.status, requestId);
      }
      const detail = isJsonObject(body) && typeof body['errorMessage'] === 'string' ? body['errorMessage'] : String(body).slice(0, 200);
      throw new ApiError(`HTTP${response.status}`, detail || response.statusText, response.status);
    },
  };
}
