/**
 * Function Compute's asynchronous invocation, locally: a durable queue in Redis, one lane per
 * function (as in FC, a busy function never holds up another's invocations).
 *
 * `enqueue` answers at once (the caller gets 202); a dispatcher moves each job to a
 * processing list while it runs (so a crash leaves it there, and the next start re-queues
 * it: at-least-once, like FC), retries failures with exponential backoff up to the
 * function's `maxAsyncRetryAttempts`, and then sends FC's destination record to the
 * on-failure destination. Every key shares one hash tag, so the Lua below is cluster-safe.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../adapters/redis.ts';
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
const REQUEUE_RETRY_MS = 200;

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
  /** The functions that have lanes. */
  functionNames(): readonly string[];
  /** How many invocations of a function may run at once (instances × instanceConcurrency). */
  capacityOf(functionName: string): number;
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

// Delayed retries go back to their function's lane: KEYS[2] .. functionName (same hash tag).
const PROMOTE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('LPUSH', KEYS[2] .. cjson.decode(job).functionName, job)
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
  private readonly blocking: RedisClient[] = [];
  private running = false;
  private readonly wakers = new Set<() => void>();
  private promoteTimer: NodeJS.Timeout | undefined;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly target: AsyncTarget,
    private readonly options: AsyncQueueOptions,
  ) {
    const tag = `{fcemu:${options.namespace ?? 'default'}}`;
    this.keys = {
      readyPrefix: `${tag}:async:ready:`,
      ready: (fn: string) => `${tag}:async:ready:${fn}`,
      processing: (fn: string) => `${tag}:async:processing:${fn}`,
      delayed: `${tag}:async:delayed`,
      status: (requestId: string) => `${tag}:async:status:${requestId}`,
    };
    this.retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** Queues an invocation; with `delayMs` (FC's `x-fc-async-delay`) it runs that much later. */
  async enqueue(functionName: string, event: Buffer, requestId: string = randomUUID(), options: { delayMs?: number } = {}): Promise<string> {
    if (event.byteLength > ASYNC_PAYLOAD_LIMIT_BYTES) {
      throw new EntityTooLargeError(event.byteLength);
    }
    const delayMs = Math.max(0, options.delayMs ?? 0);
    // a deferred invocation's event age counts from when it is due
    const job: AsyncJob = { requestId, functionName, payload: event.toString('base64'), attempt: 1, enqueuedAtMs: Date.now() + delayMs };
    const tx = this.redis
      .multi()
      .hset(this.keys.status(requestId), { requestId, functionName, state: 'Enqueued', attempts: '0' })
      .expire(this.keys.status(requestId), ASYNC_STATUS_TTL_SECONDS + Math.ceil(delayMs / 1000));
    if (delayMs > 0) tx.zadd(this.keys.delayed, job.enqueuedAtMs, JSON.stringify(job));
    else tx.lpush(this.keys.ready(functionName), JSON.stringify(job));
    await tx.exec();
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
    for (const fn of this.target.functionNames()) {
      const recovered = (await this.redis.eval(REQUEUE_PROCESSING, 2, this.keys.processing(fn), this.keys.ready(fn))) as number;
      if (recovered > 0) this.options.logger.warn(`async queue: re-queued ${recovered} invocation(s) of ${fn} left running by a previous emulator`);
    }
    this.promoteTimer = setInterval(() => {
      this.redis.eval(PROMOTE_DUE, 2, this.keys.delayed, this.keys.readyPrefix, String(Date.now())).catch((error: unknown) => {
        if (this.running) this.options.logger.error(`async queue: promote failed: ${String(error)}`);
      });
    }, PROMOTE_INTERVAL_MS);
    this.loops = this.target.functionNames().map((fn) => this.dispatch(fn));
  }

  /** One lane: moves its function's jobs to processing while they run, up to its capacity. */
  private async dispatch(fn: string): Promise<void> {
    const blocking = this.redis.duplicate();
    this.blocking.push(blocking);
    const limit = Math.max(1, Math.min(this.concurrency, this.target.capacityOf(fn)));
    let active = 0;
    let freed: (() => void) | undefined;
    while (this.running) {
      if (active >= limit) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.wakers.delete(wake);
            freed = undefined;
            resolve();
          };
          this.wakers.add(wake);
          freed = wake;
        });
        continue;
      }
      let raw: string | null;
      try {
        raw = await blocking.blmove(this.keys.ready(fn), this.keys.processing(fn), 'RIGHT', 'LEFT', BLOCK_SECONDS);
      } catch (error) {
        if (!this.running) return;
        this.options.logger.error(`async queue (${fn}): ${String(error)}`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!raw) continue;
      active++;
      void this.run(raw)
        .catch((error: unknown) => this.requeue(raw, error))
        .finally(() => {
          active--;
          freed?.();
        });
    }
  }

  /**
   * A job whose bookkeeping failed (Redis answered an error — BUSY while a script runs past its
   * time limit, a dropped connection — before, or after, the invocation): back to its lane, so it
   * runs again (at least once, as in FC) instead of the rejection ending the emulator's process.
   * Retried until Redis takes it or the queue stops (then the next start re-queues it).
   */
  private async requeue(raw: string, error: unknown): Promise<void> {
    const fn = (JSON.parse(raw) as AsyncJob).functionName;
    // a destination record too large for the queue would fail again on every run: dropped, as FC drops it
    const again = !(error instanceof EntityTooLargeError);
    this.options.logger.error(`async queue (${fn}): ${String(error)}; ${again ? 'the invocation goes back to its lane' : 'its destination record is dropped'}`);
    while (this.running) {
      try {
        const tx = this.redis.multi().lrem(this.keys.processing(fn), 1, raw);
        const replies = await (again ? tx.rpush(this.keys.ready(fn), raw) : tx).exec();
        const failed = replies?.find(([e]) => e)?.[0];
        if (failed) throw failed;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, REQUEUE_RETRY_MS));
      }
    }
  }

  private async run(raw: string): Promise<void> {
    const job = JSON.parse(raw) as AsyncJob;
    const config = this.target.configOf(job.functionName);
    const statusKey = this.keys.status(job.requestId);
    const maxAge = (config?.maxAsyncEventAgeInSeconds ?? 86_400) * 1000;
    if (Date.now() - job.enqueuedAtMs > maxAge) {
      await this.redis.multi().hset(statusKey, { state: 'Expired' }).lrem(this.keys.processing(job.functionName), 1, raw).exec();
      await this.sendToDestination(job, 'MaxEventAgeExceeded', undefined);
      return;
    }
    await this.redis.hset(statusKey, { state: 'Running', attempts: String(job.attempt) });
    const result = await this.target.invoke(job.functionName, Buffer.from(job.payload, 'base64'), job.requestId);
    // Stopped mid-run: leave the job in the processing list; the next start re-queues it.
    if (!this.running) return;
    if (result.ok) {
      await this.redis.multi().hset(statusKey, { state: 'Succeeded' }).lrem(this.keys.processing(job.functionName), 1, raw).exec();
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
        .lrem(this.keys.processing(job.functionName), 1, raw)
        .exec();
      this.options.logger.warn(`${job.functionName}: async request ${job.requestId} failed (attempt ${job.attempt}); retrying in ${delay} ms`);
      return;
    }
    await this.redis.multi().hset(statusKey, { state: 'Failed', lastError }).lrem(this.keys.processing(job.functionName), 1, raw).exec();
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
    for (const wake of [...this.wakers]) wake();
    for (const connection of this.blocking) connection.disconnect();
    await Promise.all(this.loops.map((loop) => loop.catch(() => undefined)));
  }
}

/** FC's EntityTooLarge: an async payload over the 128 KB cap (the emulator's; the product's errors are in shared/errors.ts). */
export class EntityTooLargeError extends Error {
  override name = 'EntityTooLargeError';
  constructor(readonly size: number) {
    super(`async invocation payload is ${size} bytes; the limit is ${ASYNC_PAYLOAD_LIMIT_BYTES} bytes`);
  }
}
