/**
 * dead-letter: the on-failure destination of every async invocation. Keeps each failed request
 * by its request id (a retried delivery is kept once) for inspection and replay, and logs it.
 */
import { keepFailedInvocation } from '../../shared/pipeline/dead-letter.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { getServices } from '../../adapters/wiring.ts';

export const handler = onTrigger(['destination'], async ({ record }, { log }) => {
  const failure = {
    requestId: record.requestContext.requestId,
    functionArn: record.requestContext.functionArn,
    condition: record.requestContext.condition,
    attempts: record.requestContext.approximateInvokeCount,
  };
  log.error('async invocation failed for good', { ...failure, failedRequestId: failure.requestId });
  return keepFailedInvocation({ ...failure, record: JSON.stringify(record) }, getServices().deadLetters);
});
