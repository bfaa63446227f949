/**
 * The LookupAttribute keys the current ActionTrail API adds, SensitiveAction and RoleName:
 * parameters, and the history index fields the indexer derives for them.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import { LOOKUP_KEYS, historyRecordOf, isSensitiveAction, roleNameOf } from '../../shared/history/history-store.ts';
import { parseLookupParams } from '../../shared/lookup/lookup-params.ts';
import { fieldsOf } from '../../adapters/redis/history-codec.ts';
import type { ClassifiedEvent } from '../../shared/classify/classify.ts';

const NOW = Date.UTC(2024, 5, 15, 12, 30, 45);

function refusal(params: Record<string, string>): ValidationError {
  try {
    parseLookupParams(params, NOW);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

const base: ClassifiedEvent & { eventId: string } = {
  eventId: 'e-1',
  eventTime: '2024-06-15T12:00:00Z',
  eventName: 'DeleteTrail',
  eventRW: 'Write',
  eventType: 'ApiCall',
  referencedResources: {},
  serviceName: 'Actiontrail',
  userIdentity: { type: 'assumed-role', accountId: '1234567890123456', userName: 'AliyunServiceRoleForActionTrail:session-1', accessKeyId: 'STS.N1' },
} as ClassifiedEvent & { eventId: string };

describe('LookupAttribute keys SensitiveAction and RoleName', () => {
  it('are documented keys, accepted alone', () => {
    expect(LOOKUP_KEYS).toEqual(expect.arrayContaining(['SensitiveAction', 'RoleName']));
    expect(parseLookupParams({ 'LookupAttribute.1.Key': 'SensitiveAction', 'LookupAttribute.1.Value': 'true' }, NOW).condition).toEqual({
      key: 'SensitiveAction',
      value: 'true',
    });
    expect(parseLookupParams({ 'LookupAttribute.1.Key': 'RoleName', 'LookupAttribute.1.Value': 'AliyunServiceRoleForActionTrail' }, NOW).condition).toEqual({
      key: 'RoleName',
      value: 'AliyunServiceRoleForActionTrail',
    });
  });

  it('SensitiveAction takes only the value true', () => {
    for (const value of ['false', 'TRUE', 'yes']) {
      expect(refusal({ 'LookupAttribute.1.Key': 'SensitiveAction', 'LookupAttribute.1.Value': value })).toMatchObject({
        code: 'InvalidQueryParameter',
        field: 'LookupAttribute.1.Value',
      });
    }
  });

  it('pair with nothing (ActionTrail lists no pair with them)', () => {
    expect(refusal({ 'LookupAttribute.1.Key': 'RoleName', 'LookupAttribute.1.Value': 'r', 'LookupAttribute.2.Key': 'EventName', 'LookupAttribute.2.Value': 'x' })).toMatchObject({
      code: 'InvalidParameterCombination',
    });
  });
});

describe('index fields of SensitiveAction and RoleName', () => {
  it('index a sensitive event under SensitiveAction=true (boolean or text), and others not at all', () => {
    expect(isSensitiveAction({ eventAttributes: { SensitiveAction: true } })).toBe(true);
    expect(isSensitiveAction({ eventAttributes: { SensitiveAction: 'true' } })).toBe(true);
    expect(isSensitiveAction({ eventAttributes: { SensitiveAction: false } })).toBe(false);
    expect(isSensitiveAction({})).toBe(false);
    const sensitive = historyRecordOf({ ...base, eventAttributes: { SensitiveAction: true } }, '1234567890123456', NOW, { types: [], names: [] });
    expect(sensitive.attributes.SensitiveAction).toEqual(['true']);
    expect(fieldsOf(sensitive)).toContain('Atrue');
    const plain = historyRecordOf(base, '1234567890123456', NOW, { types: [], names: [] });
    expect(plain.attributes.SensitiveAction).toEqual([]);
    expect(fieldsOf(plain).some((f) => f.startsWith('A'))).toBe(false);
  });

  it('derive the role of an assumed-role identity from its arn, else from userName <role>:<session>', () => {
    expect(roleNameOf({ type: 'assumed-role', userName: 'CommonBuyAdminRole:yx_sub_acc' })).toBe('CommonBuyAdminRole');
    expect(roleNameOf({ type: 'assumed-role', userName: 'ignored:x', arn: 'acs:ram::1234567890123456:assumed-role/app-role/app-session' })).toBe('app-role');
    expect(roleNameOf({ type: 'ram-user', userName: 'alice' })).toBeUndefined();
    expect(roleNameOf({ type: 'assumed-role', userName: '' })).toBeUndefined();
    const record = historyRecordOf(base, '1234567890123456', NOW, { types: [], names: [] });
    expect(record.attributes.RoleName).toEqual(['AliyunServiceRoleForActionTrail']);
    expect(fieldsOf(record)).toContain('OAliyunServiceRoleForActionTrail');
  });
});

describe("the console's filters", () => {
  it('offer RoleName and SensitiveAction (true only), only LookupEvents keys, and keep them out of summaries', async () => {
    const { FILTERS, NOT_SUMMARY_DIMENSIONS, filterSpec } = await import('../../functions/lookup-http/web/query.ts');
    for (const f of FILTERS) expect(LOOKUP_KEYS).toContain(f.key);
    expect(filterSpec('RoleName')).toBeDefined();
    expect(filterSpec('SensitiveAction')).toMatchObject({ choices: ['true'] });
    expect(NOT_SUMMARY_DIMENSIONS.has('RoleName') && NOT_SUMMARY_DIMENSIONS.has('SensitiveAction')).toBe(true);
  });
});
