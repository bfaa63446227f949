import { describe, expect, it } from 'vitest';
import { jsonArrayUtf8 } from '../../shared/archive/archive-file.ts';
import { describeArchiveFile } from '../../shared/archive/digest.ts';

const joined = (texts: string[]) => Buffer.from(`[${texts.join(',')}]`);

describe('jsonArrayUtf8', () => {
  it('is the bytes of the texts joined into a JSON array', () => {
    const texts = ['{"eventId":"e1","n":1.50}', '{ "spaced" : [ 1 ,2 ] }', '{"s":"\\u0000 \\"q\\""}'];
    const bytes = jsonArrayUtf8(texts);
    expect(bytes.equals(joined(texts))).toBe(true);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(texts.map((t) => JSON.parse(t) as unknown));
  });

  it('writes non-ASCII text as UTF-8, and a lone surrogate as Buffer.from does (U+FFFD)', () => {
    const texts = ['{"a":"é 中文 😀 \u2028"}', '{"lone":"\ud800x"}', '{"tail":"\udc00"}', '{"end":"😀"}'];
    expect(jsonArrayUtf8(texts).equals(joined(texts))).toBe(true);
    expect(jsonArrayUtf8(['\ud83d']).equals(joined(['\ud83d']))).toBe(true);
  });

  it('writes one text and none', () => {
    expect(jsonArrayUtf8(['{"x":1}']).toString('utf8')).toBe('[{"x":1}]');
    expect(jsonArrayUtf8([]).toString('utf8')).toBe('[]');
    expect(jsonArrayUtf8(['', '']).equals(joined(['', '']))).toBe(true);
  });

  it('matches the joined bytes for a file of many mixed texts', () => {
    const texts = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ eventId: `e${i}`, note: i % 7 === 0 ? `ü${'x'.repeat(i % 50)}😀` : 'plain', n: i }));
    expect(jsonArrayUtf8(texts).equals(joined(texts))).toBe(true);
  });
});

describe('describeArchiveFile', () => {
  const body = Buffer.from('x');
  it('takes the earliest and latest eventTime as the events carry them, the first of equal times', () => {
    const events = [
      { eventTime: '2026-01-01T00:00:02Z' },
      { eventTime: '2026-01-01T00:00:01.000Z' },
      { eventTime: '2026-01-01T00:00:01Z' },
      { eventTime: '2026-01-01T00:00:03Z' },
      { eventTime: '2026-01-01T00:00:03.000Z' },
    ];
    expect(describeArchiveFile({ key: 'k', body, events })).toMatchObject({ eventCount: 5, firstEventTime: '2026-01-01T00:00:01.000Z', lastEventTime: '2026-01-01T00:00:03Z' });
    expect(describeArchiveFile({ key: 'k', body, events: [{ eventTime: '2026-01-01T00:00:02Z' }] })).toMatchObject({ firstEventTime: '2026-01-01T00:00:02Z', lastEventTime: '2026-01-01T00:00:02Z' });
  });

  it('refuses an eventTime that is no time, the first one included', () => {
    expect(() => describeArchiveFile({ key: 'k', body, events: [{ eventTime: 'soon' }, { eventTime: '2026-01-01T00:00:02Z' }] })).toThrow(RangeError);
    expect(() => describeArchiveFile({ key: 'k', body, events: [{ eventTime: '2026-01-01T00:00:02Z' }, { eventTime: 'later' }] })).toThrow(RangeError);
  });
});
