/**
 * The one wrapper every function uses (@middy/core): structured logs carrying the request id
 * and function name, and errors logged once before FC records them.
 */
import middy from '@middy/core';
import type { FcContext } from './context.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Log {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function levelFromEnv(): LogLevel {
  const value = process.env['TK_LOG_LEVEL'];
  return value && value in ORDER ? (value as LogLevel) : 'info';
}

/** JSON log lines: `{"level","msg","fn","requestId",…}` on stdout. */
export function createLog(context: Pick<FcContext, 'requestId' | 'function'>): Log {
  const min = ORDER[levelFromEnv()];
  const write = (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < min) return;
    const line = JSON.stringify({ level, msg, fn: context.function.name, requestId: context.requestId, ...fields });
    if (level === 'error' || level === 'warn') process.stderr.write(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export type FcHandler<R> = (event: Buffer, context: FcContext) => Promise<R>;

export function fcHandler<R>(handler: (event: Buffer, context: FcContext, log: Log) => Promise<R>): FcHandler<R> {
  const wrapped = middy<Buffer, R, Error, FcContext>({ timeoutEarlyInMillis: 0 })
    .onError(async (request) => {
      const error = request.error;
      createLog(request.context).error('invocation failed', {
        error: error?.name,
        message: error?.message,
      });
    })
    .handler(async (event, context) => handler(event, context, createLog(context)));
  return (event, context) => wrapped(event, context);
}
