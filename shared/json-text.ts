/**
 * JSON text passed through as it is: a stored event goes out byte for byte, never parsed and
 * re-serialised (a page of 50 events is ~50 KB of JSON; parsing and re-stringifying it was most
 * of a LookupEvents call's own CPU).
 */
import { randomBytes } from 'node:crypto';

export class JsonText {
  constructor(readonly text: string) {}
  /** The value, parsed (for callers that need to look inside). */
  parse(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

/**
 * JSON.stringify, except that every JsonText is written as its text. Each JsonText becomes a
 * marker string that no value can produce by chance (it carries a random nonce), and the
 * markers are then replaced in the serialised skeleton, so the texts themselves are never
 * scanned or escaped.
 */
export function stringifyJson(value: unknown): string {
  const texts: string[] = [];
  const nonce = randomBytes(9).toString('base64url');
  const skeleton = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof JsonText) {
      texts.push(v.text);
      return `\u0000${nonce}:${texts.length - 1}`;
    }
    return v;
  });
  if (texts.length === 0) return skeleton;
  const marker = new RegExp(`"\\\\u0000${nonce}:(\\d+)"`, 'g');
  return skeleton.replace(marker, (_m, index: string) => texts[Number(index)] as string);
}
