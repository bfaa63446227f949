/**
 * The console's client for lookup-http's signed API: GET `/?Action=…`, signed in the browser
 * (sign.ts). Answers are JSON objects; failures are an ApiError (the server's Code and Message)
 * or a NetworkError (nothing came back). A clock more than 15 minutes off the server's is
 * corrected once from the answer's Date header.
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

export interface ApiClient {
  readonly endpoint: string;
  call(action: string, params?: Record<string, string>, signal?: AbortSignal): Promise<JsonObject>;
}

export interface ApiClientOptions {
  /** lookup-http's address, e.g. `http://127.0.0.1:8711/`. */
  endpoint: string;
  credentials: Credentials;
  hmac: HmacSha1;
  randomBytes: (bytes: Uint8Array<ArrayBuffer>) => void;
  fetch: (url: string, init: { signal?: AbortSignal; cache: 'no-store'; headers: Record<string, string> }) => Promise<Response>;
  now?: () => number;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CLOCK_CODES = new Set(['InvalidTimeStamp.Expired']);

export function createApiClient(options: ApiClientOptions): ApiClient {
  const now = options.now ?? Date.now;
  /** Server time minus local time, learnt from a refused timestamp. */
  let skewMs = 0;

  async function send(action: string, params: Record<string, string>, signal: AbortSignal | undefined): Promise<{ response: Response; body: unknown }> {
    const signed = await signRpcParams({ Action: action, ...params }, options.credentials, {
      hmac: options.hmac,
      nonce: randomNonce(options.randomBytes),
      now: new Date(now() + skewMs),
    });
    let response: Response;
    try {
      response = await options.fetch(`${options.endpoint}?${queryString(signed)}`, { cache: 'no-store', headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new NetworkError(options.endpoint, error);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { response, body };
  }

  return {
    endpoint: options.endpoint,
    async call(action, params = {}, signal) {
      let { response, body } = await send(action, params, signal);
      if (!response.ok && isJsonObject(body) && CLOCK_CODES.has(String(body['Code']))) {
        const serverMs = Date.parse(response.headers.get('date') ?? '');
        if (!Number.isNaN(serverMs)) {
          skewMs = serverMs - now();
          ({ response, body } = await send(action, params, signal));
        }
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
