/**
 * functions/alerts-cron/index.ts called directly with its timer payload and its wake-up cloned
 * from events/ (events/timer-alerts.json, events/wake-matched.json; no emulator): a rule and a
 * channel to a real local receiver, a match recorded as the insights drain records it, then the
 * handler's report and the receiver read back; the second invocation notifies nobody again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { sealAlertChannelSecret } from '../../adapters/alert-channels.ts';
import { maskedUrlOf } from '../../shared/alerts/address-policy.ts';
import { AlertMatcher } from '../../shared/alerts/engine.ts';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alert-receiver.ts';
import { analysisRow } from '../helpers/analysis-row.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';

let servers: HandlerServers;
let services: Services;
let receiver: AlertReceiver;
let handler: (typeof import('../../functions/alerts-cron/index.ts'))['handler'];

const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('alerts-cron'));

beforeAll(async () => {
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET], env: { TK_ALERTS_ALLOW_PRIVATE_NETWORKS: 'true' } });
  services = (await import('../../adapters/wiring.ts')).getServices();
  ({ handler } = await import('../../functions/alerts-cron/index.ts'));
  receiver = await startAlertReceiver();
});

afterAll(async () => {
  await receiver?.close();
  await services?.redis.quit();
  await servers?.stop();
});

describe('alerts-cron handler', () => {
  it('a timer with no rules anywhere returns an empty report with the trigger time', async () => {
    expect(await invoke(sampleEvent('timer-alerts'))).toMatchObject({ triggerTime: '2026-11-22T02:01:00Z', accounts: 0, fired: 0, sent: 0 });
  });

  it('a wake-up sends a recorded match once; the timer after it sends nothing again', async () => {
    const now = Date.now();
    const url = `${receiver.url}/webhook/handler?token=t`;
    await services.alerts.putChannel({
      id: 'ac-00000000000000a1',
      accountId: SAMPLE_ACCOUNT,
      name: 'hook',
      type: 'webhook',
      maskedUrl: maskedUrlOf(url),
      sealedUrl: sealAlertChannelSecret(services.secrets, SAMPLE_ACCOUNT, 'ac-00000000000000a1', 'url', url),
      createdAtMs: now,
      updatedAtMs: now,
    });
    await services.alerts.putRule({
      id: 'ar-00000000000000b1',
      accountId: SAMPLE_ACCOUNT,
      name: 'stop',
      enabled: true,
      condition: { field: 'eventName', equals: 'StopLogging' },
      threshold: 1,
      windowMinutes: 1,
      channelIds: ['ac-00000000000000a1'],
      createdAtMs: now,
      updatedAtMs: now,
    });
    const report = await new AlertMatcher(services.alerts).match(SAMPLE_ACCOUNT, [analysisRow(SAMPLE_ACCOUNT, now - 1000, { eventName: 'StopLogging' })]);
    expect(report).toMatchObject({ matched: 1, recorded: 1 });

    expect(await invoke(sampleEvent('wake-matched'))).toMatchObject({ reason: 'matched', accounts: 1, fired: 1, sent: 1 });
    expect(await invoke(sampleEvent('timer-alerts'))).toMatchObject({ fired: 0, sent: 0 });
    expect(receiver.received.filter((r) => r.path === '/webhook/handler')).toHaveLength(1);
  });

  it('an OSS event is refused: the invocation rejects with BadTriggerEventError', async () => {
    await expect(invoke(sampleEvent('oss-inbox'))).rejects.toBeInstanceOf(BadTriggerEventError);
  });
});
