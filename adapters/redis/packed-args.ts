/**
 * A script's argument list packed into one MessagePack array (docs/design.md §3.9, "Script
 * arguments"): one Buffer argument instead of tens of thousands of bulk strings.
 *
 * Why: ioredis builds a command of N arguments as one string concatenated N times (with a
 * Buffer.byteLength per argument) and then writes it, flattening and encoding the whole rope; for
 * the analysis scripts (a fold or an audit merge of one object: ~10,000–20,000 arguments) that was
 * a third of classify's analysis CPU, and the garbage it made most of the rest. Here each value is
 * written once, straight into a growing Buffer; Redis's built-in `cmsgpack` (a C library, part of
 * every Redis since 2.6) turns it back into a Lua table at C speed. Every value travels as a string,
 * so a script reads `A[i]` exactly as it read `ARGV[i]`.
 */

/** What a script gets in place of ARGV: `local A = cmsgpack.unpack(ARGV[n])`. */
export const UNPACK_ARGS_LUA = 'cmsgpack.unpack';

/** Longest packed argument list we build (a Redis bulk string may be 512 MB; our scripts stay far below). */
export const PACKED_ARGS_MAX_BYTES = 256 * 1024 * 1024;

/** Strings up to this length are copied byte by byte when ASCII (a native write costs more for them). */
const SHORT_STRING = 48;

/**
 * Builds one MessagePack array of strings. Strings are written as str32 (a valid, if not the
 * shortest, encoding: every decoder reads it), so a value's length is filled in after writing it
 * and no value is measured twice.
 */
export class PackedArgs {
  private buffer: Buffer;
  private offset = 5; // array32 header, filled in by toBuffer
  private count = 0;

  constructor(expectedBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, expectedBytes));
  }

  private room(bytes: number): void {
    const needed = this.offset + bytes;
    if (needed <= this.buffer.length) return;
    if (needed > PACKED_ARGS_MAX_BYTES) throw new RangeError(`packed script arguments over ${PACKED_ARGS_MAX_BYTES} bytes`);
    const next = Buffer.allocUnsafe(Math.min(PACKED_ARGS_MAX_BYTES, Math.max(needed, this.buffer.length * 2)));
    this.buffer.copy(next, 0, 0, this.offset);
    this.buffer = next;
  }

  /** Appends a string (a number is written as its decimal text, as ioredis sends it). */
  push(value: string | number): this {
    const text = typeof value === 'string' ? value : String(value);
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    this.room(5 + text.length * 3);
    const at = this.offset;
    const buffer = this.buffer;
    let written = 0;
    if (text.length <= SHORT_STRING) {
      // most values are short ASCII (numbers, ids, series names): copied here, without a native call each
      for (; written < text.length; written++) {
        const c = text.charCodeAt(written);
        if (c >= 0x80) break;
        buffer[at + 5 + written] = c;
      }
      if (written < text.length) written = buffer.write(text, at + 5, 'utf8');
    } else {
      written = buffer.write(text, at + 5, 'utf8');
    }
    buffer[at] = 0xdb;
    buffer[at + 1] = written >>> 24;
    buffer[at + 2] = (written >>> 16) & 0xff;
    buffer[at + 3] = (written >>> 8) & 0xff;
    buffer[at + 4] = written & 0xff;
    this.offset = at + 5 + written;
    this.count += 1;
    return this;
  }

  pushAll(values: Iterable<string | number>): this {
    for (const v of values) this.push(v);
    return this;
  }

  /** The packed array (a view of this builder's buffer: send it before pushing more). */
  toBuffer(): Buffer {
    this.buffer[0] = 0xdd;
    this.buffer.writeUInt32BE(this.count, 1);
    return this.buffer.subarray(0, this.offset);
  }
}
