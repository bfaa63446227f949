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

export type ToWorker = { type: 'invoke'; id: number; event: Uint8Array; context: InvocationContextData };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; error: FcErrorBody }
  | { type: 'result'; id: number; ok: true; payload: Uint8Array }
  | { type: 'result'; id: number; ok: false; error: FcErrorBody }
  | { type: 'log'; requestId: string; level: string; line: string };
