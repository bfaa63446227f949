/**
 * classify (OSS trigger): runs on each staging object (`inbox/`) and backfill file
 * (`backfill/`), classifies its events, writes history, queues summaries, fills trail
 * outboxes, and wakes the deliverers. Backfill files get a result object next to them.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BACKFILL_PREFIX, BACKFILL_RESULT_SUFFIX, INBOX_PREFIX, StagingBatchSchema } from '../../shared/pipeline/staging.ts';
import { classifyObject, type ClassifyOutcome } from '../../shared/pipeline/classify-batch.ts';
import { parseBody, validateRecords, type IdentifiedEvent, type Rejection } from '../../shared/pipeline/records.ts';
import { fcHandler, type Log } from '../../adapters/fc/handler.ts';
import { decodeOssEvent, type ObjectNotice } from '../../adapters/fc/oss.ts';
import type { FcContext } from '../../adapters/fc/context.ts';
import { FunctionInvoker } from '../../adapters/fc-invoker.ts';
import { readObject } from '../../adapters/s3-staging.ts';
import { classifyPorts, DELIVERER_FUNCTIONS, getServices, type Services } from '../../adapters/wiring.ts';

interface BackfillResult {
  file: string;
  eTag: string;
  processedAt: string;
  records: number;
  accepted: number;
  rejected: Rejection[];
  duplicatesInFile: number;
  outcome: ClassifyOutcome;
}

async function eventsOf(services: Services, object: ObjectNotice): Promise<{ events: IdentifiedEvent[]; report?: Omit<BackfillResult, 'outcome' | 'processedAt'> }> {
  const bytes = await readObject(services.s3, object.bucket, object.key);
  if (object.key.startsWith(INBOX_PREFIX)) {
    const batch = StagingBatchSchema.parse(JSON.parse(bytes.toString('utf8')));
    return { events: batch.events as IdentifiedEvent[] };
  }
  const body = parseBody(bytes.toString('utf8'));
  if (!body.ok) {
    const rejected: Rejection[] = [{ index: 0, code: body.code === 'InvalidJSON' ? 'InvalidJSON' : 'InvalidRecord', message: body.message, field: '' }];
    return { events: [], report: { file: object.key, eTag: object.eTag, records: 0, accepted: 0, rejected, duplicatesInFile: 0 } };
  }
  const batch = validateRecords(body.records, undefined, body.rejected);
  return {
    events: batch.accepted.map((a) => a.event),
    report: { file: object.key, eTag: object.eTag, records: body.records.length, accepted: batch.accepted.length, rejected: batch.rejected, duplicatesInFile: batch.duplicateIndexes.length },
  };
}

async function processObject(services: Services, object: ObjectNotice, context: FcContext, log: Log): Promise<void> {
  if (object.key.endsWith(BACKFILL_RESULT_SUFFIX)) return;
  const backfill = object.key.startsWith(BACKFILL_PREFIX);
  if (!backfill && !object.key.startsWith(INBOX_PREFIX)) {
    log.warn('object outside inbox/ and backfill/ ignored', { key: object.key });
    return;
  }
  const objectId = `${object.bucket}/${object.key}@${object.eTag}`;
  const { events, report } = await eventsOf(services, object);
  const outcome = await classifyObject(objectId, events, { backfill, nowMs: Date.now() }, classifyPorts(services));
  log.info('object classified', { key: object.key, skipped: outcome.skipped, kept: outcome.kept, dropped: outcome.dropped.length, historyAdded: outcome.historyAdded, routed: outcome.routed });
  if (report && !outcome.skipped) {
    const result: BackfillResult = { ...report, processedAt: new Date().toISOString(), outcome };
    await services.s3.send(
      new PutObjectCommand({
        Bucket: object.bucket,
        Key: `${object.key}${BACKFILL_RESULT_SUFFIX}`,
        Body: JSON.stringify(result, null, 2),
        ContentType: 'application/json',
      }),
    );
  }
  if (Object.keys(outcome.routed).length > 0) {
    const invoker = new FunctionInvoker(context, services.env.TK_FC_ENDPOINT);
    const wake = { reason: 'classified', object: object.key };
    await Promise.all(DELIVERER_FUNCTIONS.map((fn) => invoker.invokeAsync(fn, wake)));
  }
}

export const handler = fcHandler(async (event, context, log) => {
  const services = getServices();
  const objects = decodeOssEvent(event);
  for (const object of objects) await processObject(services, object, context, log);
  return { objects: objects.length };
});
