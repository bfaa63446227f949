/**
 * classify (OSS trigger): each staging object (`inbox/`) and backfill file (`backfill/`) it is
 * told of is classified into history, summaries and trail outboxes, and the deliverers are woken
 * (shared/pipeline/classify-object.ts). Records that cannot be stored are set aside under
 * `rejected/`; a store failure fails the invocation, which FC retries.
 */
import { classifyStagedObject } from '../../shared/pipeline/classify-object.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { classifyObjectPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['oss'], async ({ objects }, { context, log }) => {
  const ports = classifyObjectPorts(context, log);
  const outcomes = [];
  for (const object of objects) outcomes.push((await classifyStagedObject(object, ports)).kind);
  return { objects: objects.length, outcomes };
});
