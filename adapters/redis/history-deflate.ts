/**
 * Raw deflate (RFC 1951) with a preset dictionary, in plain JavaScript: one block of fixed
 * Huffman codes, LZ77 matches found through hash chains. The writer's twin of
 * `history-inflate.ts`; what it writes is plain deflate, which zlib reads as well.
 *
 * Why not `zlib.deflateRawSync`: every call creates a zlib stream (~70 KB of native memory,
 * which V8 counts and answers with scavenges) and hashes the whole 7 KiB dictionary again before
 * the ~900-byte body — the call cost classify 20–40 µs an event, the largest single item of its
 * profile. Here the dictionary's hash chains are built once; a call hashes only the eventId and
 * the body, into tables stamped with the call's generation instead of cleared.
 *
 * The settings follow zlib's level 3 with Z_FIXED (what the bodies were written with before):
 * a greedy match per position, a bounded chain walk, fixed codes. Matches reach back at most
 * MAX_DISTANCE, so a reader with a 16 KiB window (zlib's windowBits 14) reads every stream.
 */

const MIN_MATCH = 4;
const MAX_MATCH = 258;
/** zlib's largest distance for a 16 KiB window (w_size − MIN_LOOKAHEAD). */
export const MAX_DISTANCE = (1 << 14) - 262;
const HASH_BITS = 15;
const HASH_SIZE = 1 << HASH_BITS;
/** Candidates tried per position (zlib level 3: 32), and the length that ends the search at once. */
const MAX_CHAIN = 32;
const NICE_LENGTH = 64;
/** Positions inside a match up to this length are all hashed (zlib's max_insert_length); a longer match only at its start. */
const MAX_INSERT_LENGTH = 16;
/** Longest preset suffix (the eventId): the blob header keeps its length in one byte. */
const MAX_SUFFIX = 255;

// ---- the fixed codes (RFC 1951 §3.2.6), bit-reversed for the LSB-first bit stream ----------

function reverseBits(code: number, length: number): number {
  let r = 0;
  for (let i = 0; i < length; i++) r |= ((code >> i) & 1) << (length - 1 - i);
  return r;
}

/** Literal/length symbol → its fixed code (reversed) and code length. */
const LIT_CODE = new Uint16Array(288);
const LIT_BITS = new Uint8Array(288);
for (let s = 0; s < 288; s++) {
  const [code, bits] = s < 144 ? [0x30 + s, 8] : s < 256 ? [0x190 + s - 144, 9] : s < 280 ? [s - 256, 7] : [0xc0 + s - 280, 8];
  LIT_CODE[s] = reverseBits(code, bits);
  LIT_BITS[s] = bits;
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/** Match length → length code index (symbol 257 + index); 258 is its own code (285). */
const LENGTH_INDEX = new Uint8Array(MAX_MATCH + 1);
for (let i = 0; i < 28; i++) for (let len = LENGTH_BASE[i]!; len < LENGTH_BASE[i]! + (1 << LENGTH_EXTRA[i]!) && len < MAX_MATCH; len++) LENGTH_INDEX[len] = i;
LENGTH_INDEX[MAX_MATCH] = 28;

/** Distance → distance code, as zlib's _dist_code: distances 1–256 directly, longer ones by (d − 1) >> 7. */
const DIST_SMALL = new Uint8Array(256);
const DIST_LARGE = new Uint8Array(256);
for (let c = 0; c < 30; c++) {
  for (let d = DIST_BASE[c]!; d < DIST_BASE[c]! + (1 << DIST_EXTRA[c]!) && d <= 32768; d++) {
    if (d <= 256) DIST_SMALL[d - 1] = c;
    else DIST_LARGE[(d - 1) >> 7] = c;
  }
}
/** Distance code → its fixed 5-bit code, reversed. */
const DIST_CODE = Uint8Array.from({ length: 30 }, (_, c) => reverseBits(c, 5));

const hashAt = (b: Uint8Array, i: number): number => (Math.imul((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!, 0x9e3779b1) >>> (32 - HASH_BITS));

export class PresetDeflater {
  /** dictionary ‖ suffix ‖ input, the dictionary written once. */
  private window: Uint8Array;
  /** Earlier position with the same hash, per position (the dictionary's built once, the rest per call). */
  private prev: Int32Array;
  /** The dictionary's chain heads (read-only after the constructor). */
  private readonly dictionaryHead = new Int32Array(HASH_SIZE).fill(-1);
  /** This call's chain heads, valid where stamp = generation; else the dictionary's. */
  private readonly head = new Int32Array(HASH_SIZE);
  private readonly stamp = new Uint32Array(HASH_SIZE);
  private generation = 0;
  private out = new Uint8Array(4096);
  private outLength = 0;
  private bitBuffer = 0;
  private bitCount = 0;

  constructor(private readonly dictionary: Uint8Array) {
    if (dictionary.length + MAX_SUFFIX > MAX_DISTANCE) throw new RangeError('the preset dictionary must leave room in the window');
    this.window = new Uint8Array(dictionary.length + MAX_SUFFIX + 4096);
    this.window.set(dictionary);
    this.prev = new Int32Array(this.window.length);
    // chains over the positions whose 4 bytes lie wholly in the dictionary
    for (let i = 0; i + MIN_MATCH <= dictionary.length; i++) {
      const h = hashAt(this.window, i);
      this.prev[i] = this.dictionaryHead[h]!;
      this.dictionaryHead[h] = i;
    }
  }

  /**
   * The raw deflate stream of `input` with the preset dictionary ‖ `suffix` (the eventId). The
   * answer is a view of an internal buffer, valid until the next call: copy it to keep it.
   */
  deflate(suffix: Uint8Array, input: Uint8Array): Uint8Array {
    if (suffix.length > MAX_SUFFIX) throw new RangeError(`a preset suffix is at most ${MAX_SUFFIX} bytes`);
    const start = this.dictionary.length + suffix.length;
    const end = start + input.length;
    if (end > this.window.length) this.grow(end);
    const w = this.window;
    w.set(suffix, this.dictionary.length);
    w.set(input, start);
    if (++this.generation === 0xffffffff) {
      this.stamp.fill(0);
      this.generation = 1;
    }
    // worst case: every byte a 9-bit literal, plus the block header and end
    const need = Math.ceil((input.length * 9) / 8) + 16;
    if (this.out.length < need) this.out = new Uint8Array(Math.max(need, this.out.length * 2));
    this.outLength = 0;
    this.bitBuffer = 0;
    this.bitCount = 0;
    this.bits(3, 3); // BFINAL 1, BTYPE 01 (fixed codes)

    // the positions whose 4 bytes reach past the dictionary into the suffix: hashed per call
    const hashEnd = end - MIN_MATCH; // last position with 4 bytes
    for (let i = Math.max(0, this.dictionary.length - MIN_MATCH + 1); i < start && i <= hashEnd; i++) this.insert(i);

    let p = start;
    while (p < end) {
      let bestLength = 0;
      let bestDistance = 0;
      if (p <= hashEnd) {
        const h = hashAt(w, p);
        let candidate = this.stamp[h] === this.generation ? this.head[h]! : this.dictionaryHead[h]!;
        this.prev[p] = candidate;
        this.head[h] = p;
        this.stamp[h] = this.generation;
        const limit = Math.min(MAX_MATCH, end - p);
        let chain = MAX_CHAIN;
        while (candidate >= 0 && p - candidate <= MAX_DISTANCE && chain-- > 0) {
          if (w[candidate + bestLength] === w[p + bestLength]) {
            let n = 0;
            while (n < limit && w[candidate + n] === w[p + n]) n++;
            if (n > bestLength) {
              bestLength = n;
              bestDistance = p - candidate;
              if (n >= NICE_LENGTH || n === limit) break;
            }
          }
          candidate = this.prev[candidate]!;
        }
      }
      if (bestLength >= MIN_MATCH) {
        this.match(bestLength, bestDistance);
        const next = p + bestLength;
        if (bestLength <= MAX_INSERT_LENGTH) for (let i = p + 1; i < next && i <= hashEnd; i++) this.insert(i);
        p = next;
      } else {
        this.literal(w[p]!);
        p++;
      }
    }
    this.bits(LIT_CODE[256]!, LIT_BITS[256]!);
    if (this.bitCount > 0) this.out[this.outLength++] = this.bitBuffer & 0xff;
    return this.out.subarray(0, this.outLength);
  }

  private insert(i: number): void {
    const h = hashAt(this.window, i);
    this.prev[i] = this.stamp[h] === this.generation ? this.head[h]! : this.dictionaryHead[h]!;
    this.head[h] = i;
    this.stamp[h] = this.generation;
  }

  private literal(byte: number): void {
    this.bits(LIT_CODE[byte]!, LIT_BITS[byte]!);
  }

  private match(length: number, distance: number): void {
    const li = LENGTH_INDEX[length]!;
    this.bits(LIT_CODE[257 + li]!, LIT_BITS[257 + li]!);
    if (LENGTH_EXTRA[li]) this.bits(length - LENGTH_BASE[li]!, LENGTH_EXTRA[li]!);
    const dc = distance <= 256 ? DIST_SMALL[distance - 1]! : DIST_LARGE[(distance - 1) >> 7]!;
    this.bits(DIST_CODE[dc]!, 5);
    if (DIST_EXTRA[dc]) this.bits(distance - DIST_BASE[dc]!, DIST_EXTRA[dc]!);
  }

  /** Appends `count` (≤ 16) bits of `value`, least significant first. */
  private bits(value: number, count: number): void {
    this.bitBuffer |= value << this.bitCount;
    this.bitCount += count;
    while (this.bitCount >= 8) {
      this.out[this.outLength++] = this.bitBuffer & 0xff;
      this.bitBuffer >>>= 8;
      this.bitCount -= 8;
    }
  }

  private grow(size: number): void {
    const window = new Uint8Array(Math.max(size, this.window.length * 2));
    window.set(this.window.subarray(0, this.dictionary.length));
    const prev = new Int32Array(window.length);
    prev.set(this.prev.subarray(0, this.dictionary.length));
    this.window = window;
    this.prev = prev;
  }
}
