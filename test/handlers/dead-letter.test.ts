/**
 * functions/dead-letter/index.ts called directly with events/async-on-failure.json (no
 * emulator): the record it keeps is read back from the real Redis through wiring's store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { eventBuffer, fcContext, sampleEvent, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

let servers: HandlerServers;
let services: Services;
let handler: (typeof import('../../functions/dead-letter/index.ts'))['handler'];

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('dead-letter'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET] });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/dead-letter/index.ts'));
});

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
});

describe('dead-letter handler', () => {
  it('the sample destination record is stored by its request id, the record kept as FC sent it', async () => {
    const record = sampleEvent<{ requestContext: { requestId: string } }>('async-on-failure');
    expect(await invoke(record)).toEqual({ stored: true });
    const kept = await services.deadLetters.get(record.requestContext.requestId);
    expect(kept, 'the kept record').toBeDefined();
    expect(JSON.parse(kept as string)).toEqual(record);
  });

  it('the same record delivered again is kept once: stored false the second time', async () => {
    const record = sampleEvent('async-on-failure', { requestContext: { requestId: randomUUID() } });
    expect(await invoke(record)).toEqual({ stored: true });
    expect(await invoke(record)).toEqual({ stored: false });
  });

  it('a destination record missing a field is refused with the field’s path', async () => {
    const record = sampleEvent<Record<string, unknown>>('async-on-failure', { requestContext: { requestId: randomUUID() } });
    delete (record['requestContext'] as Record<string, unknown>)['approximateInvokeCount'];
    const failure = invoke(record);
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/not a valid FC destination event: requestContext\.approximateInvokeCount/);
  });

  it('a destination record with a field of the wrong type is refused with the field’s path', async () => {
    const record = sampleEvent('async-on-failure', { responseContext: { statusCode: '200' } });
    await expect(invoke(record)).rejects.toThrow(/responseContext\.statusCode/);
  });

  it('a timer event is refused: the invocation rejects with BadTriggerEventError naming the kinds', async () => {
    const failure = invoke(sampleEvent('timer-flush'));
    await expect(failure).rejects.toBeInstanceOf(BadTriggerEventError);
    await expect(failure).rejects.toThrow(/timer event reached a function that accepts only destination/);
  });
});
