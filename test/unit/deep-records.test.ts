/**
 * A record nested past what later stages can serialise is refused at ingest, per record, and
 * never takes its batch down; setting aside a record no JSON writer can serialise still works.
 */
import { describe, expect, it } from 'vitest';
import { EVENT_MAX_DEPTH, parseEvent } from '../../shared/events/schema.ts';
import { validateRecords } from '../../shared/pipeline/records.ts';
import { writeSetAside } from '../../shared/pipeline/set-aside.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const ACCOUNT = '1234567890123456';

/** `{"a":{"a":…1…}}` with `levels` objects, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

describe('nesting depth at ingest', () => {
  it('refuses, per record, a field nested 17,000 levels deep (JSON.stringify overflows there); the batch keeps its valid records', () => {
    const deep = syntheticEvent(ACCOUNT, { requestParameters: { z: nested(17_000) } });
    const batch = validateRecords([syntheticEvent(ACCOUNT), deep, syntheticEvent(ACCOUNT)], ACCOUNT, [], { receivedAtMs: Date.now() });
    expect(batch.accepted.map((a) => a.index)).toEqual([0, 2]);
    expect(batch.rejected).toEqual([
      expect.objectContaining({ index: 1, code: 'InvalidField', field: 'requestParameters', message: expect.stringContaining(`deeper than ${EVENT_MAX_DEPTH} levels`) }),
    ]);
  });

  it('accepts a record exactly EVENT_MAX_DEPTH levels deep and refuses one level more', () => {
    // The record is level 1, requestParameters level 2: `nested(n)` under it adds n levels.
    expect(parseEvent(syntheticEvent(ACCOUNT, { requestParameters: nested(EVENT_MAX_DEPTH - 1) })).ok).toBe(true);
    const refused = parseEvent(syntheticEvent(ACCOUNT, { requestParameters: nested(EVENT_MAX_DEPTH) }));
    expect(refused).toMatchObject({ ok: false, issues: [{ field: 'requestParameters', code: 'too_deep' }] });
  });

  it('counts arrays as levels too', () => {
    let value: unknown = [];
    for (let i = 0; i < EVENT_MAX_DEPTH; i++) value = [value];
    expect(parseEvent(syntheticEvent(ACCOUNT, { additionalEventData: { list: value } }))).toMatchObject({ ok: false, issues: [{ field: 'additionalEventData' }] });
  });
});

describe('setting aside a record no JSON writer can serialise', () => {
  it('writes the rejected object with a note in place of the record', async () => {
    const written: unknown[] = [];
    const warnings: string[] = [];
    const keys = await writeSetAside(
      { bucket: 'staging', objectId: 'staging/backfill/x.json@E1', receivedAtMs: Date.UTC(2026, 11, 3), describe: { key: 'backfill/x.json' }, logFields: {} },
      [{ stage: 'classify', accountId: ACCOUNT, eventId: 'deep-1', code: 'Unclassifiable', reason: 'too deep', record: { requestParameters: nested(20_000) } }],
      {
        writeJson: async (_bucket, _key, document) => {
          written.push(JSON.parse(JSON.stringify(document)));
        },
        log: { warn: (message) => warnings.push(message) },
      },
    );
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^rejected/${ACCOUNT}/2026/12/03/`))]);
    expect(written).toEqual([
      expect.objectContaining({ records: [expect.objectContaining({ eventId: 'deep-1', record: { unserialisable: expect.stringContaining('stays in its source object') } })] }),
    ]);
    expect(warnings).toContain('rejected object written');
  });
});

describe('many faults in one record', () => {
  it('150,000 non-string names in referencedResources are one rejected record with one issue, not a thrown RangeError for the batch', () => {
    const wide = syntheticEvent(ACCOUNT, { referencedResources: { 'ACS::ECS::Instance': Array.from({ length: 150_000 }, () => 1) } });
    const batch = validateRecords([syntheticEvent(ACCOUNT), wide, syntheticEvent(ACCOUNT)], ACCOUNT, [], { receivedAtMs: Date.now() });
    expect(batch.accepted.map((a) => a.index)).toEqual([0, 2]);
    expect(batch.rejected).toEqual([expect.objectContaining({ index: 1, code: 'InvalidField', field: 'referencedResources.ACS::ECS::Instance.0' })]);
    expect(batch.rejected[0]?.message.length).toBeLessThan(1000);
  });

  it('300,000 resource types that are not well-formed text give one short rejection, not a message per key', () => {
    const keys = Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`t\uD800${i}`, []]));
    const refused = parseEvent(syntheticEvent(ACCOUNT, { referencedResources: keys }));
    expect(refused).toMatchObject({ ok: false, issues: [{ field: 'referencedResources.t\uD8000' }] });
    expect(refused.ok === false && refused.issues).toHaveLength(1);
  });

  it('a well-formed referencedResources passes; a bad element is named by its path', () => {
    expect(parseEvent(syntheticEvent(ACCOUNT, { referencedResources: { 'ACS::ECS::Instance': ['i-1', 'i-2'] } })).ok).toBe(true);
    expect(parseEvent(syntheticEvent(ACCOUNT, { referencedResources: { T: ['ok', 'x\uDC00'] } }))).toMatchObject({ ok: false, issues: [{ field: 'referencedResources.T.1' }] });
    expect(parseEvent(syntheticEvent(ACCOUNT, { referencedResources: { T: 'i-1' } }))).toMatchObject({ ok: false, issues: [{ field: 'referencedResources.T' }] });
    expect(parseEvent(syntheticEvent(ACCOUNT, { referencedResources: ['i-1'] }))).toMatchObject({ ok: false, issues: [{ field: 'referencedResources' }] });
  });
});
