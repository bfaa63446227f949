/**
 * Raw inflate (RFC 1951) with a preset dictionary, in plain JavaScript.
 *
 * Why not `zlib.inflateRawSync`: every call creates a zlib stream whose ~40 KB of external
 * memory makes V8 run a scavenge every few LookupEvents pages (2–10 ms each) — that alone
 * broke the p99 goal. Bodies are small (~250 bytes in, ~900 out), so a simple decoder that
 * writes into one reused buffer is both faster and allocation-free; the dictionary is simply
 * the start of that buffer, where back-references can reach it.
 *
 * Huffman codes are decoded through a 9-bit lookup table, longer ones bit by bit from
 * per-length counts as in Jørgen Ibsen's tinf.
 */

const FAST_BITS = 9;
const FAST_MASK = (1 << FAST_BITS) - 1;

/**
 * A canonical Huffman code: per-length counts and the symbols sorted by code (for codes longer
 * than FAST_BITS, decoded bit by bit as in tinf), plus a lookup table on the next FAST_BITS
 * input bits: entry = symbol << 4 | length, 0 when the code is longer.
 */
class Tree {
  readonly counts = new Uint16Array(16);
  readonly symbols = new Uint16Array(288);
  readonly fast = new Uint16Array(1 << FAST_BITS);
  /** Table bits actually used: min(FAST_BITS, longest code). */
  mask = FAST_MASK;
}

/** REVERSE[c] = c's FAST_BITS bits in reverse order. */
const REVERSE = new Uint16Array(1 << FAST_BITS);
for (let c = 0; c <= FAST_MASK; c++) {
  let r = 0;
  for (let b = 0; b < FAST_BITS; b++) r |= ((c >> b) & 1) << (FAST_BITS - 1 - b);
  REVERSE[c] = r;
}

const LENGTH_BASE = new Uint16Array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]);
const LENGTH_EXTRA = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
const DIST_BASE = new Uint16Array([1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]);
const DIST_EXTRA = new Uint8Array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);
const CLEN_ORDER = new Uint8Array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

const offsets = new Uint16Array(16);
const nextCode = new Uint16Array(16);
function buildTree(tree: Tree, lengths: Uint8Array, start: number, count: number): void {
  tree.counts.fill(0);
  for (let i = 0; i < count; i++) tree.counts[lengths[start + i]!]!++;
  tree.counts[0] = 0;
  let sum = 0;
  let longest = 1;
  for (let len = 0; len < 16; len++) {
    offsets[len] = sum;
    sum += tree.counts[len]!;
    if (tree.counts[len]) longest = len;
  }
  const bits = Math.min(FAST_BITS, longest);
  const size = 1 << bits;
  tree.mask = size - 1;
  // canonical codes: consecutive per length, lengths in increasing order
  let code = 0;
  for (let len = 1; len < 16; len++) {
    nextCode[len] = code;
    code = (code + tree.counts[len]!) << 1;
  }
  tree.fast.fill(0, 0, size);
  for (let i = 0; i < count; i++) {
    const len = lengths[start + i]!;
    if (!len) continue;
    tree.symbols[offsets[len]!++] = i;
    if (len > bits) continue;
    // deflate sends codes most significant bit first into an LSB-first stream: reverse
    const reversed = REVERSE[nextCode[len]!++ << (FAST_BITS - len)]!;
    const entry = (i << 4) | len;
    for (let k = reversed; k < size; k += 1 << len) tree.fast[k] = entry;
  }
}

const FIXED_LIT = new Tree();
const FIXED_DIST = new Tree();
{
  const lengths = new Uint8Array(288 + 30);
  lengths.fill(8, 0, 144);
  lengths.fill(9, 144, 256);
  lengths.fill(7, 256, 280);
  lengths.fill(8, 280, 288);
  lengths.fill(5, 288, 318);
  buildTree(FIXED_LIT, lengths, 0, 288);
  buildTree(FIXED_DIST, lengths, 288, 30);
}

class InflateError extends Error {
  override name = 'InflateError';
}

/** Decoder state over one input; output goes to `out` from `pos`. */
class Decoder {
  /** Up to 32 input bits, next bit lowest. */
  private bitBuf = 0;
  private bitCount = 0;
  private index = 0;
  readonly lit = new Tree();
  readonly dist = new Tree();
  readonly lengths = new Uint8Array(288 + 32);

  private src: Uint8Array = new Uint8Array(0);
  out: Uint8Array = new Uint8Array(0);
  pos = 0;

  reset(src: Uint8Array, out: Uint8Array, pos: number): void {
    this.src = src;
    this.out = out;
    this.pos = pos;
    this.bitBuf = 0;
    this.bitCount = 0;
    this.index = 0;
  }

  /** Tops the bit buffer up to at least 25 bits, with zero bytes past the end of the input. */
  private refill(): void {
    while (this.bitCount <= 24) {
      if (this.index >= this.src.length + 4) throw new InflateError('inflate: input ends early');
      const byte = this.index < this.src.length ? this.src[this.index]! : 0;
      this.index++;
      this.bitBuf = (this.bitBuf | (byte << this.bitCount)) >>> 0;
      this.bitCount += 8;
    }
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.bitCount < n) this.refill();
    const value = this.bitBuf & ((1 << n) - 1);
    this.bitBuf >>>= n;
    this.bitCount -= n;
    return value;
  }

  private symbol(tree: Tree): number {
    if (this.bitCount < 16) this.refill();
    const entry = tree.fast[this.bitBuf & tree.mask]!;
    if (entry !== 0) {
      const len = entry & 15;
      this.bitBuf >>>= len;
      this.bitCount -= len;
      return entry >> 4;
    }
    let sum = 0;
    let cur = 0;
    let len = 0;
    do {
      cur = 2 * cur + (this.bitBuf & 1);
      this.bitBuf >>>= 1;
      this.bitCount--;
      if (++len > 15) throw new InflateError('inflate: invalid code');
      sum += tree.counts[len]!;
      cur -= tree.counts[len]!;
    } while (cur >= 0);
    return tree.symbols[sum + cur]!;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.out.length) return;
    let size = this.out.length * 2;
    while (size < this.pos + extra) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.out.subarray(0, this.pos));
    this.out = bigger;
  }

  private dynamicTrees(): void {
    const hlit = this.bits(5) + 257;
    const hdist = this.bits(5) + 1;
    const hclen = this.bits(4) + 4;
    const lengths = this.lengths;
    lengths.fill(0, 0, 19);
    for (let i = 0; i < hclen; i++) lengths[CLEN_ORDER[i]!] = this.bits(3);
    buildTree(this.lit, lengths, 0, 19);
    let n = 0;
    while (n < hlit + hdist) {
      const sym = this.symbol(this.lit);
      if (sym < 16) {
        lengths[n++] = sym;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (sym === 16) {
        if (n === 0) throw new InflateError('inflate: repeat without a previous length');
        value = lengths[n - 1]!;
        repeat = 3 + this.bits(2);
      } else if (sym === 17) repeat = 3 + this.bits(3);
      else repeat = 11 + this.bits(7);
      if (n + repeat > hlit + hdist) throw new InflateError('inflate: too many code lengths');
      lengths.fill(value, n, n + repeat);
      n += repeat;
    }
    buildTree(this.lit, lengths, 0, hlit);
    buildTree(this.dist, lengths, hlit, hdist);
  }

  /**
   * One Huffman-coded block. The hot loop keeps the bit buffer, input index and output position
   * in locals (written back for the slow paths and at the end) and copies a match that does not
   * overlap itself with copyWithin.
   */
  private block(lit: Tree, dist: Tree): void {
    const src = this.src;
    const srcLength = src.length;
    const litFast = lit.fast;
    const litMask = lit.mask;
    const distFast = dist.fast;
    const distMask = dist.mask;
    let bitBuf = this.bitBuf;
    let bitCount = this.bitCount;
    let index = this.index;
    let out = this.out;
    let pos = this.pos;
    for (;;) {
      // at least 25 bits: a literal/length code (≤ 15) and its extra bits (≤ 5)
      while (bitCount <= 24) {
        if (index >= srcLength + 4) throw new InflateError('inflate: input ends early');
        bitBuf = (bitBuf | ((index < srcLength ? src[index]! : 0) << bitCount)) >>> 0;
        index++;
        bitCount += 8;
      }
      let sym: number;
      const entry = litFast[bitBuf & litMask]!;
      if (entry !== 0) {
        const len = entry & 15;
        bitBuf >>>= len;
        bitCount -= len;
        sym = entry >> 4;
      } else {
        this.bitBuf = bitBuf;
        this.bitCount = bitCount;
        this.index = index;
        sym = this.symbol(lit);
        ({ bitBuf, bitCount, index } = this);
      }
      if (sym < 256) {
        if (pos >= out.length) {
          this.pos = pos;
          this.ensure(1);
          out = this.out;
        }
        out[pos++] = sym;
        continue;
      }
      if (sym === 256) break;
      const li = sym - 257;
      if (li >= 29) throw new InflateError('inflate: invalid length code');
      const lengthExtra = LENGTH_EXTRA[li]!;
      const length = LENGTH_BASE[li]! + (bitBuf & ((1 << lengthExtra) - 1));
      bitBuf >>>= lengthExtra;
      bitCount -= lengthExtra;
      // a distance code (≤ 15) and its extra bits (≤ 13): refill to 25 first, then again for the extra bits
      while (bitCount <= 24) {
        if (index >= srcLength + 4) throw new InflateError('inflate: input ends early');
        bitBuf = (bitBuf | ((index < srcLength ? src[index]! : 0) << bitCount)) >>> 0;
        index++;
        bitCount += 8;
      }
      let di: number;
      const dentry = distFast[bitBuf & distMask]!;
      if (dentry !== 0) {
        const len = dentry & 15;
        bitBuf >>>= len;
        bitCount -= len;
        di = dentry >> 4;
      } else {
        this.bitBuf = bitBuf;
        this.bitCount = bitCount;
        this.index = index;
        di = this.symbol(dist);
        ({ bitBuf, bitCount, index } = this);
      }
      if (di >= 30) throw new InflateError('inflate: invalid distance code');
      const distExtra = DIST_EXTRA[di]!;
      if (bitCount < distExtra) {
        while (bitCount <= 24) {
          if (index >= srcLength + 4) throw new InflateError('inflate: input ends early');
          bitBuf = (bitBuf | ((index < srcLength ? src[index]! : 0) << bitCount)) >>> 0;
          index++;
          bitCount += 8;
        }
      }
      const distance = DIST_BASE[di]! + (bitBuf & ((1 << distExtra) - 1));
      bitBuf >>>= distExtra;
      bitCount -= distExtra;
      if (distance > pos) throw new InflateError('inflate: distance before the dictionary');
      if (pos + length > out.length) {
        this.pos = pos;
        this.ensure(length);
        out = this.out;
      }
      const from = pos - distance;
      if (distance >= length && length > 16) {
        out.copyWithin(pos, from, from + length);
        pos += length;
      } else {
        const end = pos + length;
        for (let p = pos; p < end; p++) out[p] = out[p - distance]!;
        pos = end;
      }
    }
    this.bitBuf = bitBuf;
    this.bitCount = bitCount;
    this.index = index;
    this.pos = pos;
  }

  private stored(): void {
    // drop the bits up to the byte boundary, then give back whole buffered bytes
    this.bits(this.bitCount & 7);
    this.index -= this.bitCount >> 3;
    this.bitBuf = 0;
    this.bitCount = 0;
    if (this.index + 4 > this.src.length) throw new InflateError('inflate: input ends early');
    const len = this.src[this.index]! | (this.src[this.index + 1]! << 8);
    const nlen = this.src[this.index + 2]! | (this.src[this.index + 3]! << 8);
    if ((len ^ 0xffff) !== nlen) throw new InflateError('inflate: bad stored block length');
    this.index += 4;
    if (this.index + len > this.src.length) throw new InflateError('inflate: input ends early');
    this.ensure(len);
    this.out.set(this.src.subarray(this.index, this.index + len), this.pos);
    this.pos += len;
    this.index += len;
  }

  run(): void {
    let last = 0;
    do {
      last = this.bits(1);
      const type = this.bits(2);
      if (type === 0) this.stored();
      else if (type === 1) this.block(FIXED_LIT, FIXED_DIST);
      else if (type === 2) {
        this.dynamicTrees();
        this.block(this.lit, this.dist);
      } else throw new InflateError('inflate: invalid block type');
    } while (!last);
    if (this.index * 8 - this.bitCount > this.src.length * 8) throw new InflateError('inflate: input ends early');
  }
}

/** A dictionary prefix kept at the start of a reused output buffer. */
export class PresetInflater {
  private buffer: Uint8Array = new Uint8Array(0);
  private view: Buffer = Buffer.alloc(0);
  private readonly decoder = new Decoder();

  constructor(private readonly dictionary: Uint8Array) {
    const buffer = new Uint8Array(Math.max(16_384, dictionary.length * 2));
    buffer.set(dictionary);
    this.use(buffer);
  }

  private use(buffer: Uint8Array): void {
    this.buffer = buffer;
    this.view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /**
   * Inflates `input` as if `dictionary + suffix` had been the preset dictionary, and returns
   * the output decoded as UTF-8.
   */
  inflateToString(input: Uint8Array, suffix: Uint8Array): string {
    const start = this.dictionary.length + suffix.length;
    if (this.buffer.length < start + 1024) {
      const bigger = new Uint8Array(2 * (start + 1024));
      bigger.set(this.dictionary);
      this.use(bigger);
    }
    this.buffer.set(suffix, this.dictionary.length);
    const decoder = this.decoder;
    decoder.reset(input, this.buffer, start);
    decoder.run();
    if (decoder.out !== this.buffer) this.use(decoder.out); // grown for a large body: keep it
    return this.view.toString('utf8', start, decoder.pos);
  }
}
