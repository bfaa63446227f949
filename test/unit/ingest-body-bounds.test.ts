/**
 * The record-count bound is checked before the records are made: an NDJSON body of millions of
 * short lines (5 MiB of "x\n" is 2.6 million lines) once parsed every line and built a
 * rejection for each — over a gigabyte of heap and seconds of CPU — before TooManyEvents.
 */
import { describe, expect, it } from 'vitest';
import { INGEST_MAX_BODY_BYTES, INGEST_MAX_EVENTS, parseBody } from '../../shared/pipeline/records.ts';

describe('parseBody bounds the record count before parsing records', () => {
  it('an NDJSON body of millions of bad lines is TooManyRecords without a rejection per line', () => {
    const body = 'x\n'.repeat(Math.floor(INGEST_MAX_BODY_BYTES / 2));
    const started = process.hrtime.bigint();
    const result = parseBody(body, INGEST_MAX_EVENTS);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(result).toEqual({ ok: false, code: 'TooManyRecords', count: INGEST_MAX_EVENTS + 1, maxRecords: INGEST_MAX_EVENTS });
    // counting stops at the bound: far below the seconds the per-line parse took
    expect(ms).toBeLessThan(1000);
  });

  it('blank lines do not count; exactly the bound is taken, one more is refused', () => {
    const line = '{"eventName":"X"}';
    const atBound = Array.from({ length: INGEST_MAX_EVENTS }, () => line).join('\n \n\r\n');
    const taken = parseBody(atBound, INGEST_MAX_EVENTS);
    expect(taken.ok && taken.records.length).toBe(INGEST_MAX_EVENTS);
    expect(parseBody(`${atBound}\n${line}`, INGEST_MAX_EVENTS)).toMatchObject({ ok: false, code: 'TooManyRecords' });
  });

  it('a JSON array over the bound is TooManyRecords with its count', () => {
    const body = JSON.stringify(Array.from({ length: INGEST_MAX_EVENTS + 5 }, () => ({})));
    expect(parseBody(body, INGEST_MAX_EVENTS)).toEqual({ ok: false, code: 'TooManyRecords', count: INGEST_MAX_EVENTS + 5, maxRecords: INGEST_MAX_EVENTS });
  });

  it('bad NDJSON lines under the bound are still rejected one by one', () => {
    const result = parseBody('{"eventName":"X"}\nnot json\n{"eventName":"Y"}', INGEST_MAX_EVENTS);
    expect(result.ok && result.rejected.map((r) => [r.index, r.code])).toEqual([[1, 'InvalidJSON']]);
  });
});
