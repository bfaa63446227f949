/**
 * The uncompressed bytes of an archive file: the outbox entries' JSON texts as one JSON array
 * (`[text,text,…]`), UTF-8. Pure.
 *
 * The bytes are those of `Buffer.from(`[${texts.join(',')}]`)`, written straight into one buffer
 * of the exact size: joining a thousand ~1 KB texts into one string and then encoding it cost
 * several times what the writes do (a lone surrogate is written as U+FFFD either way).
 */

const OPEN = 0x5b; // [
const COMMA = 0x2c; // ,
const CLOSE = 0x5d; // ]

export function jsonArrayUtf8(texts: readonly string[]): Buffer {
  let size = texts.length === 0 ? 2 : texts.length + 1;
  for (const text of texts) size += Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = OPEN;
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) out[at++] = COMMA;
    at += out.write(texts[i] as string, at, 'utf8');
  }
  out[at++] = CLOSE;
  if (at !== size) throw new RangeError(`archive file text is ${at} bytes, ${size} were counted`);
  return out;
}
