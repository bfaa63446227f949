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
  return answerShaped(value) ?? stringifyGeneric(value);
}

/**
 * The fast path for an API answer: a plain object whose JsonTexts sit at its top level, alone
 * or as arrays of them (`{RequestId, …, Events: [JsonText…]}`, `{Event: JsonText}`); written
 * piece by piece, with JSON.stringify for everything else. Undefined when the value has
 * another shape (the generic path then handles it).
 */
function answerShaped(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    let text: string | undefined;
    if (v instanceof JsonText) text = v.text;
    else if (Array.isArray(v) && v.length > 0 && v.every((item) => item instanceof JsonText)) text = `[${v.map((item: JsonText) => item.text).join(',')}]`;
    else if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    else if (typeof v === 'object' && v !== null && containsJsonText(v)) return undefined;
    else text = JSON.stringify(v);
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

function containsJsonText(value: object): boolean {
  if (value instanceof JsonText) return true;
  for (const v of Object.values(value)) if (typeof v === 'object' && v !== null && containsJsonText(v)) return true;
  return false;
}

function stringifyGeneric(value: unknown): string {
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
