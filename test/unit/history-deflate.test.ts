/**
 * PresetDeflater (adapters/redis/history-deflate.ts): every stream it writes is plain raw
 * deflate that zlib (with a 16 KiB window) and PresetInflater read back byte for byte, with the
 * dictionary ‖ eventId preset; and it compresses the sample events as zlib's settings did.
 */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PresetDeflater } from '../../adapters/redis/history-deflate.ts';
import { PresetInflater } from '../../adapters/redis/history-inflate.ts';
import { HISTORY_DICTIONARY_V1 } from '../../adapters/redis/history-dictionary.ts';
import { sampleEvents } from '../../scripts/lib/sample-events.ts';

/** What bodies were written with before PresetDeflater: zlib at level 3, fixed codes, a 16 KiB window. */
const ZLIB_OPTIONS = { windowBits: 14, memLevel: 6, level: 3, strategy: zlib.constants.Z_FIXED } as const;
const deflater = new PresetDeflater(HISTORY_DICTIONARY_V1);
const inflater = new PresetInflater(HISTORY_DICTIONARY_V1);

function roundTrip(id: Buffer, input: Buffer): Buffer {
  const stream = Buffer.from(deflater.deflate(id, input));
  const byZlib = zlib.inflateRawSync(stream, { dictionary: Buffer.concat([HISTORY_DICTIONARY_V1, id]), windowBits: 14 });
  expect(byZlib.equals(input)).toBe(true);
  // PresetInflater answers the text (decoded as UTF-8, as the bytes decode)
  expect(inflater.inflateToString(stream, id)).toBe(input.toString('utf8'));
  return stream;
}

let seed = 7;
const random = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
};

describe('PresetDeflater', () => {
  it('round-trips the sample events as zlib and PresetInflater read them, as small as zlib level 3 with fixed codes', () => {
    let ours = 0;
    let zlibs = 0;
    for (const event of sampleEvents('1234567890123456', 300)) {
      const id = Buffer.from(String(event['eventId']));
      const json = Buffer.from(JSON.stringify(event));
      ours += roundTrip(id, json).length;
      zlibs += zlib.deflateRawSync(json, { ...ZLIB_OPTIONS, dictionary: Buffer.concat([HISTORY_DICTIONARY_V1, id]) }).length;
    }
    expect(ours).toBeLessThanOrEqual(zlibs * 1.03);
  });

  it('round-trips the edge cases: empty, tiny, runs past the longest match, every byte value, long and non-ASCII ids', () => {
    const cases: [string, Buffer][] = [
      ['', Buffer.alloc(0)],
      ['a', Buffer.from('x')],
      ['ab', Buffer.from('xy')],
      ['abc', Buffer.from('xyz')],
      ['run', Buffer.alloc(1000, 'a')],
      ['run258', Buffer.alloc(258 * 3 + 1, 'b')],
      ['bytes', Buffer.from(Array.from({ length: 2048 }, (_, i) => i % 256))],
      ['é'.repeat(127), Buffer.from('{"eventName":"Überprüfung","note":"日本語のテキスト"}'.repeat(20))],
      ['i'.repeat(255), Buffer.from(JSON.stringify(sampleEvents('1234567890123456', 1)[0]))],
    ];
    for (const [id, input] of cases) roundTrip(Buffer.from(id), input);
  });

  it('round-trips random text and bytes of random lengths, the dictionary and repeats mixed in', () => {
    const dictionaryText = HISTORY_DICTIONARY_V1.toString('latin1');
    for (let i = 0; i < 300; i++) {
      const parts: string[] = [];
      const length = random(3000);
      while (parts.join('').length < length) {
        const kind = random(3);
        if (kind === 0) parts.push(dictionaryText.slice(random(dictionaryText.length), random(dictionaryText.length)));
        else if (kind === 1) parts.push(String.fromCharCode(...Array.from({ length: random(40) }, () => 32 + random(95))));
        else parts.push((parts.at(-1) ?? 'z').repeat(1 + random(5)));
      }
      roundTrip(Buffer.from(`ev-${i}`), Buffer.from(parts.join('').slice(0, length), 'latin1'));
      roundTrip(Buffer.from(`raw-${i}`), Buffer.from(Array.from({ length: random(600) }, () => random(256))));
    }
  });

  it('keeps every distance within a 16 KiB window on bodies far larger than it, and grows its buffers', () => {
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => `{"n":${i % 97},"v":"${'k'.repeat(i % 13)}"}`).join(','));
    expect(big.length).toBeGreaterThan(64 * 1024);
    roundTrip(Buffer.from('big'), big);
    // a smaller body after the growth: no state of the big one leaks into it
    roundTrip(Buffer.from('after'), Buffer.from('{"small":true}'));
  });

  it('answers the same stream for the same input whatever came before (no state leaks between calls)', () => {
    const [a, b] = sampleEvents('1234567890123456', 2).map((e) => Buffer.from(JSON.stringify(e)));
    const first = Buffer.from(deflater.deflate(Buffer.from('id-a'), a!));
    deflater.deflate(Buffer.from('id-b'), b!);
    expect(Buffer.from(deflater.deflate(Buffer.from('id-a'), a!)).equals(first)).toBe(true);
    expect(Buffer.from(new PresetDeflater(HISTORY_DICTIONARY_V1).deflate(Buffer.from('id-a'), a!)).equals(first)).toBe(true);
  });

  it('refuses a preset suffix over 255 bytes', () => {
    expect(() => deflater.deflate(Buffer.alloc(256, 'x'), Buffer.from('{}'))).toThrow(RangeError);
  });
});
