/**
 * One function's instances. Each instance is a worker thread with its own module state and
 * its own `process.env` (the function's environmentVariables plus FC_* variables), serving
 * up to `instanceConcurrency` invocations at once. New instances start on demand up to a cap.
 * A timed-out invocation stops its instance, as Function Compute does.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { FunctionSpec } from '../config.ts';
import { bundlePathOf } from '../build.ts';
import type { Logger } from '../logger.ts';
import type { FcCredentials, FcErrorBody, FromWorker, HttpResponseParts, InvocationContextData, ToWorker, WorkerData } from './protocol.ts';

/** Cap on instances per function: the machine has 2 cores, so more buys nothing locally. */
export const DEFAULT_MAX_INSTANCES_PER_FUNCTION = 4;
/**
 * An instance's young generation (V8's new space), MB. FC runs each instance as its own process,
 * whose new space V8 sizes for a full heap; a worker given only an old-generation limit gets a
 * new space sized from that limit instead — a few MB — and scavenges and promotes several times
 * as often (the pipeline's functions spent ~30 % more CPU an event in such a worker than in a
 * process). At most an eighth of the function's memory.
 */
export const INSTANCE_YOUNG_GENERATION_MB = 64;

export type InvocationResult =
  /**
   * `response`: an HTTP trigger's response struct, decoded by the instance (asked for with
   * `{ httpResponse: true }`, given when the struct's JSON would carry it unchanged); `payload`
   * is then empty. Otherwise `payload` is the result's JSON bytes, as FC returns them.
   */
  | { ok: true; requestId: string; payload: Buffer; durationMs: number; response?: HttpResponseParts }
  | { ok: false; requestId: string; error: FcErrorBody; errorType: 'UnhandledInvocationError'; durationMs: number };

export interface RuntimeIdentity {
  accountId: string;
  credentials: FcCredentials;
}

export interface InvokeOptions {
  /** An HTTP trigger's invocation: the response struct may come back decoded (InvocationResult.response). */
  httpResponse?: boolean;
}

interface Pending {
  resolve: (result: InvocationResult) => void;
  requestId: string;
  started: number;
  timer: NodeJS.Timeout;
}

class Instance {
  readonly id = randomUUID().replace(/-/g, '').slice(0, 16);
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly pending = new Map<number, Pending>();
  /** Invocations assigned to this instance (reserved before they are sent). */
  active = 0;
  private nextId = 1;
  dead = false;

  constructor(
    private readonly fn: FunctionSpec,
    hostPath: string,
    identity: RuntimeIdentity,
    private readonly logger: Logger,
    private readonly onExit: (instance: Instance) => void,
  ) {
    const env: Record<string, string> = {
      ...fn.environment,
      FC_FUNCTION_NAME: fn.functionName,
      FC_FUNCTION_HANDLER: fn.handler,
      FC_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      FC_REGION: fn.region,
      FC_ACCOUNT_ID: identity.accountId,
      FC_INSTANCE_ID: this.id,
      FC_RUNTIME: 'nodejs20',
      FC_CUSTOM_LISTEN_PORT: '9000',
      ALIBABA_CLOUD_ACCESS_KEY_ID: identity.credentials.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: identity.credentials.accessKeySecret,
      ALIBABA_CLOUD_SECURITY_TOKEN: identity.credentials.securityToken,
      TZ: 'UTC',
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      NODE_OPTIONS: '--enable-source-maps',
    };
    const data: WorkerData = { bundlePath: bundlePathOf(fn), handlerExport: fn.handlerExport, functionName: fn.functionName };
    this.worker = new Worker(hostPath, {
      workerData: data,
      env,
      // --cpu-prof* given to the emulator's process (as --flag=value) reach its instances too: a profile per thread
      execArgv: [...process.execArgv.filter((arg) => arg.startsWith('--cpu-prof')), '--enable-source-maps'],
      resourceLimits: { maxOldGenerationSizeMb: fn.memorySize, maxYoungGenerationSizeMb: Math.min(INSTANCE_YOUNG_GENERATION_MB, Math.floor(fn.memorySize / 8)) },
      stdout: true,
      stderr: true,
    });
    this.pipe(this.worker.stdout, 'INFO');
    this.pipe(this.worker.stderr, 'ERROR');
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === 'ready') {
          this.worker.off('message', onMessage);
          resolve();
        } else if (message.type === 'init-error') {
          this.worker.off('message', onMessage);
          reject(Object.assign(new Error(message.error.errorMessage), { fcError: message.error }));
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (message: FromWorker) => this.onMessage(message));
    this.worker.on('error', (error) => this.logger.error(`${fn.functionName} instance ${this.id} crashed: ${error.message}`));
    this.worker.on('exit', () => this.handleExit());
  }

  private pipe(stream: NodeJS.ReadableStream | null, level: string): void {
    if (!stream) return;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        this.logger.functionLog(this.fn.functionName, '', level, buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'log') {
      this.logger.functionLog(this.fn.functionName, message.requestId, message.level, message.line);
      return;
    }
    if (message.type !== 'result') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    const durationMs = Date.now() - pending.started;
    if (message.ok && 'http' in message) {
      pending.resolve({ ok: true, requestId: pending.requestId, payload: Buffer.alloc(0), durationMs, response: message.http });
    } else if (message.ok) {
      pending.resolve({ ok: true, requestId: pending.requestId, payload: Buffer.from(message.payload), durationMs });
    } else {
      pending.resolve({ ok: false, requestId: pending.requestId, error: message.error, errorType: 'UnhandledInvocationError', durationMs });
    }
  }

  private handleExit(): void {
    this.dead = true;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve({
        ok: false,
        requestId: pending.requestId,
        errorType: 'UnhandledInvocationError',
        durationMs: Date.now() - pending.started,
        error: { errorMessage: 'Process exited unexpectedly before completing request', errorType: 'ProcessExitedError', stackTrace: [] },
      });
    }
    this.pending.clear();
    this.onExit(this);
  }

  invoke(event: Buffer, context: InvocationContextData, timeoutSeconds: number, options: InvokeOptions): Promise<InvocationResult> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      const started = Date.now();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({
          ok: false,
          requestId: context.requestId,
          errorType: 'UnhandledInvocationError',
          durationMs: Date.now() - started,
          error: {
            errorMessage: `Function timed out after ${timeoutSeconds} seconds`,
            errorType: 'FunctionTimeoutError',
            stackTrace: [],
          },
        });
        this.logger.warn(`${this.fn.functionName}: request ${context.requestId} timed out after ${timeoutSeconds}s; stopping instance ${this.id}`);
        void this.stop();
      }, timeoutSeconds * 1000);
      this.pending.set(id, { resolve, requestId: context.requestId, started, timer });
      const message: ToWorker = { type: 'invoke', id, event: new Uint8Array(event), context, ...(options.httpResponse ? { httpResponse: true } : {}) };
      this.worker.postMessage(message);
    });
  }

  async stop(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

export class FunctionRuntime {
  private readonly instances: Instance[] = [];
  private readonly waiting: (() => void)[] = [];
  private stopped = false;

  constructor(
    readonly spec: FunctionSpec,
    private readonly hostPath: string,
    private readonly identity: RuntimeIdentity,
    private readonly logger: Logger,
    private readonly maxInstances = DEFAULT_MAX_INSTANCES_PER_FUNCTION,
  ) {}

  /** Invokes the function once; never throws (errors are results, as FC answers them). */
  async invoke(event: Buffer, requestId: string = randomUUID(), options: InvokeOptions = {}): Promise<InvocationResult> {
    const started = Date.now();
    let instance: Instance;
    try {
      instance = await this.acquire();
    } catch (error) {
      const fcError = (error as { fcError?: FcErrorBody }).fcError;
      return {
        ok: false,
        requestId,
        errorType: 'UnhandledInvocationError',
        durationMs: Date.now() - started,
        error: fcError ?? { errorMessage: error instanceof Error ? error.message : String(error), errorType: 'InitializationError', stackTrace: [] },
      };
    }
    try {
      return await instance.invoke(event, this.contextFor(requestId), this.spec.timeout, options);
    } finally {
      this.release(instance);
    }
  }

  private contextFor(requestId: string): InvocationContextData {
    return {
      requestId,
      credentials: this.identity.credentials,
      function: {
        name: this.spec.functionName,
        handler: this.spec.handler,
        memory: this.spec.memorySize,
        timeout: this.spec.timeout,
      },
      service: { name: '', logProject: '', logStore: '', qualifier: 'LATEST', versionId: '' },
      region: this.spec.region,
      accountId: this.identity.accountId,
      tracing: { openTracingSpanContext: '', openTracingSpanBaggages: {}, jaegerEndpoint: '' },
    };
  }

  private async acquire(): Promise<Instance> {
    for (;;) {
      if (this.stopped) throw new Error(`function ${this.spec.functionName} is stopped`);
      let instance = this.instances.find((i) => !i.dead && i.active < this.spec.instanceConcurrency);
      if (!instance && this.instances.length < this.maxInstances) {
        instance = new Instance(this.spec, this.hostPath, this.identity, this.logger, (gone) => this.forget(gone));
        this.instances.push(instance);
      }
      if (!instance) {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        continue;
      }
      instance.active++;
      try {
        await instance.ready;
      } catch (error) {
        instance.active--;
        this.forget(instance);
        await instance.stop();
        throw error;
      }
      if (!instance.dead) return instance;
      instance.active--;
    }
  }

  private release(instance: Instance): void {
    instance.active--;
    this.waiting.shift()?.();
  }

  private forget(instance: Instance): void {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
    this.waiting.shift()?.();
  }

  get liveInstances(): number {
    return this.instances.filter((i) => !i.dead).length;
  }

  /** Starts instances ahead of traffic until `count` are running (FC's provisioned instances, locally), at most maxInstances. */
  async warm(count = 1): Promise<void> {
    const starting: Promise<void>[] = [];
    for (let live = this.liveInstances; live < Math.min(count, this.maxInstances); live++) {
      const instance = new Instance(this.spec, this.hostPath, this.identity, this.logger, (gone) => this.forget(gone));
      this.instances.push(instance);
      starting.push(instance.ready);
    }
    await Promise.all(starting);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const resolve of this.waiting.splice(0)) resolve();
    await Promise.all(this.instances.map((i) => i.stop()));
  }
}
