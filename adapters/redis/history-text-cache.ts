/**
 * Event texts decoded from history blobs, kept per instance by the blob they came from
 * (docs/design.md §3.7). A LookupEvents page inflates up to 50 deflated bodies, and the same
 * pages — the newest events, of the whole account or of a common value — are read again and
 * again; inflating was the largest single cost of a call in lookup-http's thread.
 *
 * Content-addressed: an entry is used only when the blob just read from Redis is byte for byte
 * the blob the entry was decoded from (the eventId is only the map key). A blob's text is a pure
 * function of its bytes (history-codec.ts decodeJson), so
 *   - an answer carries exactly the text decoding that blob gives — byte for byte as stored;
 *   - no account can see another's event through it: a hit needs the very bytes, read from the
 *     caller's own keys;
 *   - nothing can go stale: a changed or removed body is a different blob or no blob.
 * Bounded: at most TEXT_CACHE_MAX_BYTES of texts and blobs, the least recently used go first.
 */

/** Texts (and their blobs) one instance keeps, a character counted as 2 bytes: ~8,000 events of ~1 KB. */
export const TEXT_CACHE_MAX_BYTES = 16 * 1024 * 1024;
/** Texts longer than this are decoded but not kept (a big body would push out many small ones). */
const MAX_CACHED_TEXT_LENGTH = 16 * 1024;

interface Entry {
  /** A copy (a reply's Buffer may be a view of a whole socket chunk). */
  blob: Buffer;
  text: string;
  bytes: number;
}

export class BlobTextCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly decode: (blob: Buffer) => string,
    private readonly maxBytes = TEXT_CACHE_MAX_BYTES,
  ) {}

  /** The text of `blob`, whose eventId's bytes are `id`: from the cache when it holds this very blob. */
  text(blob: Buffer, id: Buffer): string {
    const key = id.toString('latin1');
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      if (hit.blob.equals(blob)) {
        this.entries.set(key, hit); // the most recently used now
        return hit.text;
      }
      this.bytes -= hit.bytes;
    }
    const text = this.decode(blob);
    if (text.length <= MAX_CACHED_TEXT_LENGTH) {
      const entry: Entry = { blob: Buffer.from(blob), text, bytes: blob.length + 2 * (key.length + text.length) };
      this.entries.set(key, entry);
      this.bytes += entry.bytes;
      for (const [oldest, old] of this.entries) {
        if (this.bytes <= this.maxBytes) break;
        this.entries.delete(oldest);
        this.bytes -= old.bytes;
      }
    }
    return text;
  }

  /** Entries held, and their bytes (tests). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }
}
