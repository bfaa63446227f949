/** Messages between the emulator and a function instance (a worker thread). */

export interface FcCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
}

/** The serialisable part of Function Compute's `context` (the logger is added in the worker). */
export interface InvocationContextData {
  requestId: string;
  credentials: FcCredentials;
  function: { name: string; handler: string; memory: number; timeout: number; initializer?: string };
  service: { name: string; logProject: string; logStore: string; qualifier: string; versionId: string };
  region: string;
  accountId: string;
  tracing: { openTracingSpanContext: string; openTracingSpanBaggages: Record<string, string>; jaegerEndpoint: string };
}

/** FC's error body for a failed invocation. */
export interface FcErrorBody {
  errorMessage: string;
  errorType: string;
  stackTrace: string[];
}

export interface WorkerData {
  bundlePath: string;
  handlerExport: string;
  functionName: string;
}

/**
 * An HTTP trigger's response struct as the instance hands it over: FC serialises the handler's
 * `{statusCode, headers, body, isBase64Encoded}` and the gateway decodes it; between threads the
 * same struct travels as a structured clone with its body already as the bytes the gateway
 * writes (base64 decoded, text as UTF-8), the body's buffer transferred, not copied. Only a struct
 * whose JSON round trip is itself is sent this way (worker-host.ts); any other result goes as
 * JSON bytes, exactly as before.
 */
export interface HttpResponseParts {
  statusCode: number;
  headers: Record<string, string | number | string[]>;
  body: Uint8Array;
}

export type ToWorker = {
  type: 'invoke';
  id: number;
  event: Uint8Array;
  context: InvocationContextData;
  /** Set by HTTP triggers: the result may come back as HttpResponseParts. */
  httpResponse?: boolean;
};

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; error: FcErrorBody }
  | { type: 'result'; id: number; ok: true; payload: Uint8Array }
  | { type: 'result'; id: number; ok: true; http: HttpResponseParts }
  | { type: 'result'; id: number; ok: false; error: FcErrorBody }
  | { type: 'log'; requestId: string; level: string; line: string };
