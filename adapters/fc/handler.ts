/**
 * The edge every function shares, as @middy/core steps:
 *   before  — a structured log for the invocation, then decodeTrigger (the event's one kind)
 *   after   — HTTP functions: the answer encoded as FC's HTTP response struct
 *   onError — HTTP functions: a named error becomes its answer (adapters/fc/errors.ts, the one
 *             place); every function: anything else is logged once with its stack and causes,
 *             then rethrown, so FC records it (and retries an async invocation).
 * A handler then reads as a sentence: decode (done here), one use case, answer.
 */
import middy from '@middy/core';
import type { FcContext } from './context.ts';
import { errorAnswer, type ErrorAnswerOptions } from './errors.ts';
import { encodeHttpResponse, type FcHttpResponse, type HttpRequest, type HttpResponse } from './http.ts';
import { decodeTrigger, type DecodeOptions, type TriggerKind, type TriggerOf } from './trigger.ts';

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
  return value !== undefined && Object.hasOwn(ORDER, value) ? (value as LogLevel) : 'info';
}

/** JSON log lines: `{"level","msg","fn","requestId",…}` on stdout (warnings and errors on stderr). */
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

/** Most causes followed when an error is logged. */
const MAX_LOGGED_CAUSES = 5;

/** An error as log fields: name, message, stack, and its chain of causes. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const causes: string[] = [];
  let cause: unknown = error.cause;
  while (cause !== undefined && causes.length < MAX_LOGGED_CAUSES) {
    causes.push(cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return { error: error.name, message: error.message, stack: error.stack, ...(causes.length > 0 ? { causes } : {}) };
}

/** What a use case gets beside its decoded trigger. */
export interface Invocation {
  context: FcContext;
  log: Log;
}

/** The event as it moves through the steps: FC's bytes, then the decoded trigger. */
interface Envelope<T> {
  readonly raw: Buffer;
  trigger?: T;
  log?: Log;
}

type Step<T, R> = middy.MiddlewareObj<Envelope<T>, R, Error, FcContext>;

export type FcHandler<R> = (event: Buffer, context: FcContext) => Promise<R>;

function logStep<T, R>(): Step<T, R> {
  return {
    name: 'log',
    before: (request) => {
      request.event.log = createLog(request.context);
    },
  };
}

function decodeStep<K extends TriggerKind, R>(kinds: readonly K[], options: DecodeOptions = {}): Step<TriggerOf<K>, R> {
  return {
    name: 'decode-trigger',
    before: (request) => {
      request.event.trigger = decodeTrigger(request.event.raw, kinds, options);
    },
  };
}

/** Logs a failure the function does not answer, with its stack and causes; FC then records it. */
function logFailureStep<T, R>(): Step<T, R> {
  return {
    name: 'log-failure',
    onError: (request) => {
      if (request.response !== undefined && request.response !== null) return;
      (request.event.log ?? createLog(request.context)).error('invocation failed', errorFields(request.error));
    },
  };
}

function wrap<T, R>(steps: Step<T, R>[], run: (trigger: T, invocation: Invocation) => Promise<R>): FcHandler<R> {
  let instance = middy<Envelope<T>, R, Error, FcContext>({ timeoutEarlyInMillis: 0 });
  for (const step of steps) instance = instance.use(step);
  const wrapped = instance.handler(async (envelope, context) => {
    if (envelope.trigger === undefined) throw new Error('the decode step did not run');
    return run(envelope.trigger, { context, log: envelope.log ?? createLog(context) });
  });
  return (event, context) => wrapped({ raw: event }, context);
}

/**
 * A function triggered by OSS, timers, wake-ups or destinations: `useCase` gets the decoded
 * trigger of one of `kinds`. An event of another kind, or a malformed one, fails the invocation.
 */
export function onTrigger<K extends Exclude<TriggerKind, 'http'>, R>(kinds: readonly K[], useCase: (trigger: TriggerOf<K>, invocation: Invocation) => Promise<R>): FcHandler<R> {
  return wrap<TriggerOf<K>, R>([logStep(), logFailureStep(), decodeStep(kinds)], useCase);
}

export interface HttpOptions extends ErrorAnswerOptions {
  /** The largest raw body any route of the function takes; larger ones are refused before parsing (413). */
  maxBodyBytes: number;
}

/** What an HTTP function's steps pass along: the route's answer, then (after encoding) FC's response struct. */
type HttpResult = HttpResponse | FcHttpResponse;

/** Encodes the route's answer, and maps errors to answers in the one place (errorAnswer). */
function httpAnswerStep(options: ErrorAnswerOptions): Step<TriggerOf<'http'>, HttpResult> {
  return {
    name: 'http-answer',
    after: (request) => {
      // Before this step the response is the route's HttpResponse (the only thing a route returns).
      if (request.response) request.response = encodeHttpResponse(request.response as HttpResponse);
    },
    onError: (request) => {
      const requestId = request.event.trigger?.request.requestId ?? request.context.requestId;
      const log = request.event.log ?? createLog(request.context);
      request.response = encodeHttpResponse(errorAnswer(request.error, requestId, log, options, request.event.trigger?.request));
    },
  };
}

/** An HTTP-triggered function: `route` turns the request into an answer; errors become answers. */
export function onHttp(route: (request: HttpRequest, invocation: Invocation) => Promise<HttpResponse>, options: HttpOptions): FcHandler<FcHttpResponse> {
  const steps: Step<TriggerOf<'http'>, HttpResult>[] = [logStep(), httpAnswerStep(options), decodeStep(['http'], { maxHttpBodyBytes: options.maxBodyBytes })];
  const handler = wrap<TriggerOf<'http'>, HttpResult>(steps, (trigger, invocation) => route(trigger.request, invocation));
  // The http-answer step encodes every answer, the route's and the errors' alike.
  return async (event, context) => (await handler(event, context)) as FcHttpResponse;
}
