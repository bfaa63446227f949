/**
 * dead-letter: the on-failure destination of every async invocation. Keeps each failed
 * request (keyed by its request id, so a retried delivery is stored once) for inspection and
 * replay, and logs it.
 */
import { z } from 'zod';
import { fcHandler } from '../../adapters/fc/handler.ts';
import { readEnv } from '../../adapters/env.ts';
import { redisFor } from '../../adapters/redis.ts';

/** FC's destination record (the on-failure payload). */
const DestinationRecordSchema = z.object({
  timestamp: z.number(),
  requestContext: z.object({
    requestId: z.string(),
    functionArn: z.string(),
    condition: z.string(),
    approximateInvokeCount: z.number(),
  }),
  requestPayload: z.string(),
  responseContext: z.object({ statusCode: z.number(), functionError: z.string() }),
  responsePayload: z.string(),
});

export const DEAD_LETTER_KEY = '{tk}:deadletter';

export const handler = fcHandler(async (event, _context, log) => {
  const record = DestinationRecordSchema.parse(JSON.parse(event.toString('utf8')));
  const redis = redisFor(readEnv().TK_REDIS_URL);
  const added = await redis.hset(DEAD_LETTER_KEY, record.requestContext.requestId, JSON.stringify(record));
  log.error('async invocation failed for good', {
    failedRequestId: record.requestContext.requestId,
    functionArn: record.requestContext.functionArn,
    condition: record.requestContext.condition,
    attempts: record.requestContext.approximateInvokeCount,
  });
  return { stored: added === 1 };
});
