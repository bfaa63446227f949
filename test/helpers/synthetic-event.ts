/** A plain, valid ActionTrail event for tests that vary one field at a time (a RAM user's StopInstance). */
import { randomUUID } from 'node:crypto';

export type Json = Record<string, unknown>;

/** `2026-12-03T16:00:00Z`: UTC, whole seconds, as ActionTrail writes times. */
export const utcSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function syntheticEvent(accountId: string, overrides: Json = {}, eventTimeMs: number = Date.now() - 60_000): Json {
  return {
    eventId: `evt-${randomUUID()}`,
    eventVersion: 1,
    eventTime: utcSeconds(eventTimeMs),
    eventType: 'ApiCall',
    eventName: 'StopInstance',
    eventSource: 'ecs.aliyuncs.com',
    serviceName: 'Ecs',
    acsRegion: 'cn-hangzhou',
    eventRW: 'Write',
    sourceIpAddress: '10.0.0.1',
    requestId: randomUUID(),
    userIdentity: { type: 'ram-user', principalId: '2001', accountId, accessKeyId: 'LTAI5tExample', userName: 'alice' },
    referencedResources: { 'ACS::ECS::Instance': ['i-bp1example'] },
    ...overrides,
  };
}
