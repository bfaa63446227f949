/**
 * The local Function Compute: runs the functions of an s.yaml in isolated instances and
 * wires their triggers (HTTP, timer, object storage) and the invoke API (sync and async).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedisClient } from '../adapters/redis.ts';
import { SignatureError, verifyRequest } from '../shared/auth/verify.ts';
import { AsyncQueue } from './async-queue.ts';
import { buildFunctions, buildHelper } from './build.ts';
import { functionNameFromArn, type FunctionSpec, type ProjectSpec, type TimerTrigger } from './config.ts';
import type { FcAuthFailure } from './fc-signature.ts';
import { generateInternalToken } from './http-guard.ts';
import { startInvokeApi, type InvokeApiCore } from './invoke-api.ts';
import { silentLogger, type Logger } from './logger.ts';
import { DEFAULT_MAX_INSTANCES_PER_FUNCTION, FunctionRuntime, type InvocationResult, type InvokeOptions, type RuntimeIdentity } from './runtime/function-runtime.ts';
import { startHttpTrigger, type HttpTriggerServer } from './triggers/http.ts';
import { buildOssEvent, routeOssRecord, S3NotificationSchema } from './triggers/oss.ts';
import { buildTimerEvent, TimerScheduler, timerRequestId } from './triggers/timer.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Default ports of the local stack (DEVELOPERS.md): invoke API 8700, HTTP triggers 8710+. */
export const DEFAULT_INVOKE_PORT = 8700;
export const DEFAULT_HTTP_TRIGGER_PORTS: Readonly<Record<string, number>> = { ingest: 8710, 'lookup-http': 8711 };

export interface EmulatorOptions {
  project: ProjectSpec;
  redisUrl: string;
  identity: RuntimeIdentity;
  host?: string;
  /** 0 picks a free port. */
  invokePort?: number;
  /** Port per resource name for HTTP triggers; resources not listed get a free port. */
  httpPorts?: Readonly<Record<string, number>>;
  /** Arm timer triggers on their schedules (tests fire them by hand instead). */
  timers?: boolean;
  /** Bundle the functions from source before starting (default true). */
  build?: boolean;
  asyncRetryBaseMs?: number;
  asyncConcurrency?: number;
  /** Separates the async queues of emulators sharing one Redis. */
  namespace?: string;
  /**
   * The stack's token for the internal routes (`/-/…`: S3 webhook, timers, async status), sent as
   * `Authorization: Bearer <token>`; generated when not given (see `RunningEmulator.internalToken`).
   */
  internalToken?: string;
  maxInstancesPerFunction?: number;
  /**
   * Start instances up front (FC's provisioned instances), so first requests are warm: `true` one
   * of every function; a record, one of every function and as many of those it names (by function
   * or resource name, at most maxInstancesPerFunction) — what a steady sustained load keeps running.
   */
  warm?: boolean | Readonly<Record<string, number>>;
  logger?: Logger;
}

export interface RunningEmulator {
  readonly invokeUrl: string;
  /** Base URL of each HTTP-triggered function, by resource name. */
  readonly httpUrls: Readonly<Record<string, string>>;
  readonly project: ProjectSpec;
  /** The token the internal routes take (`Authorization: Bearer <token>`). */
  readonly internalToken: string;
  invoke(functionName: string, event: Buffer | string, requestId?: string): Promise<InvocationResult>;
  invokeAsync(functionName: string, event: Buffer | string, requestId?: string): Promise<string>;
  fireTimer(resourceOrFunctionName: string, triggerName: string): Promise<string | undefined>;
  acceptS3Notification(body: unknown, keyEncoded: boolean): Promise<number>;
  /** How many instances of a function (by function or resource name) are running now. */
  instanceCount(functionName: string): number;
  stop(): Promise<void>;
}

function toFcFailure(error: unknown): FcAuthFailure {
  if (error instanceof SignatureError) return { status: 403, code: error.code, message: error.message };
  throw error;
}

export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const { project, identity } = options;
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const byName = new Map<string, FunctionSpec>();
  for (const fn of project.functions) {
    byName.set(fn.functionName, fn);
    byName.set(fn.resourceName, fn);
  }
  const resolve = (name: string): FunctionSpec | undefined => byName.get(name);

  const hostPath = path.join(path.dirname(project.file), 'dist', '.emulator', 'worker-host.mjs');
  mkdirSync(path.dirname(hostPath), { recursive: true });
  await Promise.all([
    options.build === false ? Promise.resolve() : buildFunctions(project.functions),
    buildHelper(path.join(here, 'runtime', 'worker-host.ts'), hostPath),
  ]);

  const runtimes = new Map<string, FunctionRuntime>(
    project.functions.map((fn) => [fn.functionName, new FunctionRuntime(fn, hostPath, identity, logger, options.maxInstancesPerFunction)]),
  );
  const invokeSync = (name: string, event: Buffer, requestId: string, invokeOptions: InvokeOptions = {}): Promise<InvocationResult> => {
    const fn = resolve(name);
    if (!fn) throw new Error(`no function ${name}`);
    return (runtimes.get(fn.functionName) as FunctionRuntime).invoke(event, requestId, invokeOptions);
  };

  // one server or a cluster (redis-cluster://…), as the functions' TK_REDIS_URL
  const redis = createRedisClient(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  await redis.connect();
  const queue = new AsyncQueue(
    redis,
    {
      functionNames: () => project.functions.map((fn) => fn.functionName),
      capacityOf: (name) => {
        const fn = resolve(name);
        return (fn?.instanceConcurrency ?? 1) * (options.maxInstancesPerFunction ?? DEFAULT_MAX_INSTANCES_PER_FUNCTION);
      },
      invoke: invokeSync,
      configOf: (name) => resolve(name)?.asyncInvokeConfig,
      arnOf: (name) => {
        const fn = resolve(name);
        return `acs:fc:${fn?.region ?? ''}:${identity.accountId}:functions/${fn?.functionName ?? name}`;
      },
      destinationFunction: (arn) => {
        const name = functionNameFromArn(arn);
        return name && resolve(name) ? resolve(name)?.functionName : undefined;
      },
    },
    {
      logger,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.asyncRetryBaseMs !== undefined ? { retryBaseMs: options.asyncRetryBaseMs } : {}),
      ...(options.asyncConcurrency !== undefined ? { concurrency: options.asyncConcurrency } : {}),
    },
  );

  const invokeAsync = async (name: string, event: Buffer, requestId: string = randomUUID(), delaySeconds = 0): Promise<string> => {
    const fn = resolve(name);
    if (!fn) throw new Error(`no function ${name}`);
    return queue.enqueue(fn.functionName, event, requestId, { delayMs: delaySeconds * 1000 });
  };

  const fireTimerAt = async (fn: FunctionSpec, trigger: TimerTrigger, at: Date): Promise<string> => {
    const requestId = timerRequestId(fn, trigger, at);
    await invokeAsync(fn.functionName, Buffer.from(JSON.stringify(buildTimerEvent(trigger, at))), requestId);
    return requestId;
  };

  const fireTimer = async (name: string, triggerName: string): Promise<string | undefined> => {
    const fn = resolve(name);
    const trigger = fn?.triggers.find((t): t is TimerTrigger => t.triggerType === 'timer' && t.triggerName === triggerName);
    if (!fn || !trigger) return undefined;
    return fireTimerAt(fn, trigger, new Date(Math.floor(Date.now() / 1000) * 1000));
  };

  const acceptS3Notification = async (body: unknown, keyEncoded: boolean): Promise<number> => {
    const parsed = S3NotificationSchema.safeParse(body);
    if (!parsed.success) {
      logger.warn(`ignored an S3 notification that has no Records: ${parsed.error.issues[0]?.message ?? ''}`);
      return 0;
    }
    let invoked = 0;
    for (const record of parsed.data.Records) {
      for (const fn of project.functions) {
        const event = buildOssEvent(record, { region: fn.region, accountId: identity.accountId, keyEncoded, ruleId: randomUUID().replace(/-/g, '') });
        const [ossRecord] = event.events;
        if (!ossRecord) continue;
        for (const route of routeOssRecord([fn], ossRecord)) {
          await invokeAsync(route.fn.functionName, Buffer.from(JSON.stringify(event)));
          invoked++;
        }
      }
    }
    return invoked;
  };

  const internalToken = options.internalToken ?? generateInternalToken();
  const nonceKey = (id: string, nonce: string) => `{fcemu:${options.namespace ?? 'default'}}:nonce:${id}:${nonce}`;
  const core: InvokeApiCore = {
    accountId: identity.accountId,
    credentials: identity.credentials,
    internalToken,
    hasFunction: (name) => resolve(name) !== undefined,
    invokeSync,
    invokeAsync: async (name, event, requestId, delaySeconds) => {
      await invokeAsync(name, event, requestId, delaySeconds);
    },
    verifyAcs3: async (req) => {
      try {
        await verifyRequest(
          req,
          async (accessKeyId) =>
            accessKeyId === identity.credentials.accessKeyId
              ? { accountId: identity.accountId, accessKeySecret: identity.credentials.accessKeySecret, enabled: true }
              : null,
          { claim: async (id, nonce, ttl) => (await redis.set(nonceKey(id, nonce), '1', 'EX', ttl, 'NX')) === 'OK' },
        );
        return null;
      } catch (error) {
        return toFcFailure(error);
      }
    },
    fireTimer,
    acceptS3Notification,
    asyncStatus: (requestId) => queue.status(requestId),
  };

  const api = await startInvokeApi(core, host, options.invokePort ?? DEFAULT_INVOKE_PORT, logger);
  const httpServers: HttpTriggerServer[] = [];
  const httpUrls: Record<string, string> = {};
  const closeAll = async () => {
    await Promise.all([api.close(), ...httpServers.map((s) => s.close())]);
  };
  try {
    for (const fn of project.functions) {
      for (const trigger of fn.triggers) {
        if (trigger.triggerType !== 'http') continue;
        const server = await startHttpTrigger({
          fn,
          trigger,
          host,
          port: options.httpPorts?.[fn.resourceName] ?? 0,
          accountId: identity.accountId,
          invoke: (event, requestId) => invokeSync(fn.functionName, event, requestId, { httpResponse: true }),
          logger,
        });
        httpServers.push(server);
        httpUrls[fn.resourceName] = server.url;
      }
    }
  } catch (error) {
    await closeAll();
    redis.disconnect();
    throw error;
  }

  const timerEntries = project.functions.flatMap((fn) =>
    fn.triggers.filter((t): t is TimerTrigger => t.triggerType === 'timer').map((trigger) => ({ fn, trigger })),
  );
  const scheduler = new TimerScheduler(timerEntries, async (fn, trigger, at) => {
    await fireTimerAt(fn, trigger, at);
  }, logger);
  if (options.timers !== false) scheduler.start();
  await queue.start();
  if (options.warm) {
    await Promise.all(
      [...runtimes.values()].map((r) => r.warm(typeof options.warm === 'object' ? (options.warm[r.spec.functionName] ?? options.warm[r.spec.resourceName] ?? 1) : 1).catch((error: unknown) => logger.error(`${r.spec.functionName} failed to start: ${error instanceof Error ? error.message : String(error)}`))),
    );
  }
  logger.info(`invoke API on ${api.url}; ${project.functions.length} functions from ${project.file}`);

  return {
    invokeUrl: api.url,
    httpUrls,
    project,
    internalToken,
    invoke: (name, event, requestId = randomUUID()) => invokeSync(name, Buffer.from(event), requestId),
    invokeAsync: (name, event, requestId) => invokeAsync(name, Buffer.from(event), requestId),
    fireTimer,
    acceptS3Notification,
    instanceCount: (name) => {
      const fn = resolve(name);
      return fn ? (runtimes.get(fn.functionName)?.liveInstances ?? 0) : 0;
    },
    stop: async () => {
      scheduler.stop();
      await queue.stop();
      await closeAll();
      await Promise.all([...runtimes.values()].map((r) => r.stop()));
      redis.disconnect();
    },
  };
}
