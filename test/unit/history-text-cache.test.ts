/** BlobTextCache (adapters/redis/history-text-cache.ts): content-addressed, bounded, never stale. */
import { describe, expect, it } from 'vitest';
import { BlobTextCache } from '../../adapters/redis/history-text-cache.ts';

function counting() {
  const decoded: string[] = [];
  const decode = (blob: Buffer) => {
    decoded.push(blob.toString('latin1'));
    return `text of ${blob.toString('latin1')}`;
  };
  return { decoded, decode };
}
const id = (s: string) => Buffer.from(s, 'latin1');

describe('BlobTextCache', () => {
  it('decodes a blob once and answers the same bytes from the cache', () => {
    const { decoded, decode } = counting();
    const cache = new BlobTextCache(decode);
    expect(cache.text(Buffer.from('blob-a'), id('a'))).toBe('text of blob-a');
    expect(cache.text(Buffer.from('blob-a'), id('a'))).toBe('text of blob-a');
    expect(decoded).toEqual(['blob-a']);
  });

  it('decodes afresh when the blob under an eventId differs (another account, a rewritten body): never a stale or foreign text', () => {
    const { decoded, decode } = counting();
    const cache = new BlobTextCache(decode);
    cache.text(Buffer.from('account-1 body'), id('same-id'));
    expect(cache.text(Buffer.from('account-2 body'), id('same-id'))).toBe('text of account-2 body');
    expect(cache.text(Buffer.from('account-1 body'), id('same-id'))).toBe('text of account-1 body');
    expect(decoded).toEqual(['account-1 body', 'account-2 body', 'account-1 body']);
  });

  it('keeps its own copy of the blob: a reused reply buffer changed afterwards is not a hit', () => {
    const { decoded, decode } = counting();
    const cache = new BlobTextCache(decode);
    const reply = Buffer.from('xxblob-1yy');
    cache.text(reply.subarray(2, 8), id('e'));
    reply.write('BLOB-2', 2, 'latin1');
    expect(cache.text(reply.subarray(2, 8), id('e'))).toBe('text of BLOB-2');
    expect(decoded).toEqual(['blob-1', 'BLOB-2']);
  });

  it('stays within its byte bound, dropping the least recently used first', () => {
    const { decoded, decode } = counting();
    // each entry: blob 6 + 2 × (id 1 + text 14) = 36 bytes; room for 3
    const cache = new BlobTextCache(decode, 110);
    for (const k of ['a', 'b', 'c']) cache.text(Buffer.from(`blob-${k}`), id(k));
    cache.text(Buffer.from('blob-a'), id('a')); // a is now the most recent
    cache.text(Buffer.from('blob-d'), id('d')); // b goes
    expect(cache.size).toEqual({ entries: 3, bytes: 108 });
    decoded.length = 0;
    cache.text(Buffer.from('blob-a'), id('a'));
    cache.text(Buffer.from('blob-b'), id('b'));
    expect(decoded).toEqual(['blob-b']);
  });
});
