/**
 * Function Compute's asynchronous invocation, locally: a durable queue in Redis.
 *
 * `enqueue` answers at once (the caller gets 202); a dispatcher moves each job to a
 * processing list while it runs (so a crash leaves it there, and the next start re-queues
 * it: at-least-once, like FC), retries failures with exponential backoff up to the
 * function's `maxAsyncRetryAttempts`, and then sends FC's destination record to the
 * on-failure destination. Every key shares one hash tag, so the Lua below is cluster-safe.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AsyncInvokeConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { InvocationResult } from './runtime/function-runtime.ts';

/** FC refuses async payloads above 128 KB. */
export const ASYNC_PAYLOAD_LIMIT_BYTES = 128 * 1024;
/** How long the status of an async request stays queryable. */
export const ASYNC_STATUS_TTL_SECONDS = 86_400;
const DEFAULT_RETRY_BASE_MS = 1_000;
const DEFAULT_CONCURRENCY = 16;
const BLOCK_SECONDS = 1;
const PROMOTE_INTERVAL_MS = 50;

export interface AsyncJob {
  requestId: string;
  functionName: string;
  /** base64 of the event bytes */
  payload: string;
  /** 1 for the first try. */
  attempt: number;
  enqueuedAtMs: number;
}

export type AsyncState = 'Enqueued' | 'Running' | 'Retrying' | 'Succeeded' | 'Failed' | 'Expired';

export interface AsyncStatus {
  requestId: string;
  functionName: string;
  state: AsyncState;
  attempts: number;
  lastError?: string;
}

export interface AsyncTarget {
  invoke(functionName: string, event: Buffer, requestId: string): Promise<InvocationResult>;
  configOf(functionName: string): AsyncInvokeConfig | undefined;
  /** `acs:fc:<region>:<account>:functions/<name>` of a function, for the destination record. */
  arnOf(functionName: string): string;
  /** Resolves a destination ARN to a function name we can invoke, if it is one of ours. */
  destinationFunction(arn: string): string | undefined;
}

export interface AsyncQueueOptions {
  namespace?: string;
  retryBaseMs?: number;
  concurrency?: number;
  logger: Logger;
}

const PROMOTE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('LPUSH', KEYS[2], job)
end
return #due`;

const REQUEUE_PROCESSING = `
local n = 0
while true do
  local job = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not job then return n end
  n = n + 1
end`;

export class AsyncQueue {
  private readonly keys;
  private readonly retryBaseMs: number;
  private readonly concurrency: number;
  private blocking: Redis | undefined;
  private running = false;
  private active = 0;
  private readonly idle: (() => void)[] = [];
  private promoteTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly target: AsyncTarget,
    private readonly options: AsyncQueueOptions,
  ) {
    const tag = `{fcemu:${options.namespace ?? 'default'}}`;
    this.keys = {
      ready: `${tag}:async:ready`,
      processing: `${tag}:async:processing`,
      delayed: `${tag}:async:delayed`,
      status: (requestId: string) => `${tag}:async:status:${requestId}`,
    };
    this.retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  async enqueue(functionName: string, event: Buffer, requestId: string = randomUUID()): Promise<string> {
    if (event.byteLength > ASYNC_PAYLOAD_LIMIT_BYTES) {
      throw new PayloadTooLargeError(event.byteLength);
    }
    const job: AsyncJob = { requestId, functionName, payload: event.toString('base64'), attempt: 1, enqueuedAtMs: Date.now() };
    await this.redis
      .multi()
      .hset(this.keys.status(requestId), { requestId, functionName, state: 'Enqueued', attempts: '0' })
      .expire(this.keys.status(requestId), ASYNC_STATUS_TTL_SECONDS)
      .lpush(this.keys.ready, JSON.stringify(job))
      .exec();
    return requestId;
  }

  async status(requestId: string): Promise<AsyncStatus | undefined> {
    const raw = await this.redis.hgetall(this.keys.status(requestId));
    if (!raw['requestId']) return undefined;
    return {
      requestId,
      functionName: raw['functionName'] ?? '',
      state: (raw['state'] ?? 'Enqueued') as AsyncState,
      attempts: Number(raw['attempts'] ?? 0),
      ...(raw['lastError'] ? { lastError: raw['lastError'] } : {}),
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const recovered = (await this.redis.eval(REQUEUE_PROCESSING, 2, this.keys.processing, this.keys.ready)) as number;
    if (recovered > 0) this.options.logger.warn(`async queue: re-queued ${recovered} invocation(s) left running by a previous emulator`);
    this.blocking = this.redis.duplicate();
    this.promoteTimer = setInterval(() => {
      this.redis.eval(PROMOTE_DUE, 2, this.keys.delayed, this.keys.ready, String(Date.now())).catch((error: unknown) => {
        if (this.running) this.options.logger.error(`async queue: promote failed: ${String(error)}`);
      });
    }, PROMOTE_INTERVAL_MS);
    this.loop = this.dispatch();
  }

  private async dispatch(): Promise<void> {
    const blocking = this.blocking!;
    while (this.running) {
      if (this.active >= this.concurrency) {
        await new Promise<void>((resolve) => this.idle.push(resolve));
        continue;
      }
      let raw: string | null;
      try {
        raw = await blocking.blmove(this.keys.ready, this.keys.processing, 'RIGHT', 'LEFT', BLOCK_SECONDS);
      } catch (error) {
        if (!this.running) return;
        this.options.logger.error(`async queue: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!raw) continue;
      this.active++;
      void this.run(raw).finally(() => {
        this.active--;
        this.idle.shift()?.();
      });
    }
  }

  private async run(raw: string): Promise<void> {
    const job = JSON.parse(raw) as AsyncJob;
    const config = this.target.configOf(job.functionName);
    const statusKey = this.keys.status(job.requestId);
    const maxAge = (config?.maxAsyncEventAgeInSeconds ?? 86_400) * 1000;
    if (Date.now() - job.enqueuedAtMs > maxAge) {
      await this.redis.multi().hset(statusKey, { state: 'Expired' }).lrem(this.keys.processing, 1, raw).exec();
      await this.sendToDestination(job, 'MaxEventAgeExceeded', undefined);
      return;
    }
    await this.redis.hset(statusKey, { state: 'Running', attempts: String(job.attempt) });
    const result = await this.target.invoke(job.functionName, Buffer.from(job.payload, 'base64'), job.requestId);
    // Stopped mid-run: leave the job in the processing list; the next start re-queues it.
    if (!this.running) return;
    if (result.ok) {
      await this.redis.multi().hset(statusKey, { state: 'Succeeded' }).lrem(this.keys.processing, 1, raw).exec();
      return;
    }
    const lastError = JSON.stringify(result.error);
    const retries = config?.maxAsyncRetryAttempts ?? 3;
    if (job.attempt <= retries) {
      const next: AsyncJob = { ...job, attempt: job.attempt + 1 };
      const delay = this.retryBaseMs * 2 ** (job.attempt - 1);
      await this.redis
        .multi()
        .hset(statusKey, { state: 'Retrying', lastError })
        .zadd(this.keys.delayed, Date.now() + delay, JSON.stringify(next))
        .lrem(this.keys.processing, 1, raw)
        .exec();
      this.options.logger.warn(`${job.functionName}: async request ${job.requestId} failed (attempt ${job.attempt}); retrying in ${delay} ms`);
      return;
    }
    await this.redis.multi().hset(statusKey, { state: 'Failed', lastError }).lrem(this.keys.processing, 1, raw).exec();
    this.options.logger.error(`${job.functionName}: async request ${job.requestId} failed after ${job.attempt} attempts`);
    await this.sendToDestination(job, 'UnhandledInvocationError', result);
  }

  private async sendToDestination(job: AsyncJob, condition: string, result: InvocationResult | undefined): Promise<void> {
    const arn = this.target.configOf(job.functionName)?.destinationConfig?.onFailure?.destination;
    if (!arn) return;
    const destination = this.target.destinationFunction(arn);
    if (!destination) {
      this.options.logger.error(`${job.functionName}: on-failure destination ${arn} is not a function of this project; record dropped`);
      return;
    }
    const record = {
      timestamp: Date.now(),
      requestContext: {
        requestId: job.requestId,
        functionArn: this.target.arnOf(job.functionName),
        condition,
        approximateInvokeCount: job.attempt,
      },
      requestPayload: Buffer.from(job.payload, 'base64').toString('utf8'),
      responseContext: { statusCode: 200, functionError: result && !result.ok ? result.errorType : condition },
      responsePayload: result && !result.ok ? JSON.stringify(result.error) : '',
    };
    await this.enqueue(destination, Buffer.from(JSON.stringify(record)), `${job.requestId}-onfailure`);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.promoteTimer) clearInterval(this.promoteTimer);
    for (const resolve of this.idle.splice(0)) resolve();
    this.blocking?.disconnect();
    await this.loop?.catch(() => undefined);
  }
}

export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
  constructor(readonly size: number) {
    super(`async invocation payload is ${size} bytes; the limit is ${ASYNC_PAYLOAD_LIMIT_BYTES} bytes`);
  }
}
