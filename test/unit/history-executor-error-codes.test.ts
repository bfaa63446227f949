/**
 * The history executor's errorCode streams (shared/query/history-executor.ts, ERROR CODES): which
 * index conditions a select asks the store for, from the account's errorCode dictionary.
 */
import { describe, expect, it } from 'vitest';
import type { ErrorCodeValues, HistoryCondition, HistoryQuery } from '../../shared/history/history-store.ts';
import { driverOf, MAX_ERROR_CODE_STREAMS, selectHistory } from '../../shared/query/history-executor.ts';
import { parseQuery } from '../../shared/query/parser.ts';
import { filterOf } from '../../shared/query/plan.ts';

async function streamsOf(query: string, dictionary: ErrorCodeValues): Promise<(HistoryCondition | undefined)[]> {
  const asked: (HistoryCondition | undefined)[] = [];
  const history = {
    scan: async (q: HistoryQuery) => {
      asked.push(q.condition);
      return { entries: [] };
    },
    errorCodes: async () => dictionary,
  };
  await selectHistory(parseQuery(query), { accountIds: ['1'], startMs: 0, endMs: 1e12 }, { history });
  return asked;
}

describe('errorCode streams of a select', () => {
  it('picks the driver: exact value, every error for a wildcard or exists, nothing for a pattern that matches ""', () => {
    expect(driverOf(filterOf(parseQuery('event.errorCode: Forbidden and event.eventRW: Write')))?.condition).toEqual({ key: 'ErrorCode', value: 'Forbidden' });
    expect(driverOf(filterOf(parseQuery('event.errorCode: *')))?.condition).toEqual({ key: 'ErrorCode' });
    expect(driverOf(filterOf(parseQuery('event.errorCode: Forb*')))).toMatchObject({ condition: { key: 'ErrorCode' }, pattern: { parts: ['Forb', ''] } });
    // an indexed accessKeyId ranks before every error
    expect(driverOf(filterOf(parseQuery('event.errorCode: Forb* and event.userIdentity.accessKeyId: K')))?.condition).toEqual({ key: 'EventAccessKeyId', value: 'K' });
    expect(driverOf(filterOf(parseQuery('not event.errorCode: Forb*')))).toBeUndefined();
  });

  it('reads the matching values on indexed days and every event of the other days, when the dictionary is complete', async () => {
    const asked = await streamsOf('event.errorCode: Forb* | select count(*)', { values: ['Forbidden', 'Throttling', 'Forbidden.RAM'], complete: true });
    expect(asked).toEqual([
      { key: 'ErrorCode', value: 'Forbidden', days: 'indexed' },
      { key: 'ErrorCode', value: 'Forbidden.RAM', days: 'indexed' },
      { key: 'ErrorCode', days: 'unindexed' },
    ]);
  });

  it('reads every error when the dictionary is partial, or when too many values match', async () => {
    expect(await streamsOf('event.errorCode: Forb* | select count(*)', { values: ['Forbidden'], complete: false })).toEqual([{ key: 'ErrorCode' }]);
    const many = Array.from({ length: MAX_ERROR_CODE_STREAMS + 1 }, (_, i) => `E${i}`);
    expect(await streamsOf('event.errorCode: E* | select count(*)', { values: many, complete: true })).toEqual([{ key: 'ErrorCode' }]);
    // a rows select keeps the store's order: one stream
    expect(await streamsOf('event.errorCode: Forb* | select event.eventId', { values: ['Forbidden'], complete: true })).toEqual([{ key: 'ErrorCode' }]);
  });
});
