/**
 * RFC 3986 percent-encoding as used by Alibaba Cloud request signatures
 * (RPC signature V1.0 / "V2 request syntax" and ACS3-HMAC-SHA256 / "V3").
 *
 * Source: Alibaba Cloud SDK docs, "Request syntax and signature method V2 for RPC APIs"
 * (https://help.aliyun.com/en/sdk/product-overview/rpc-mechanism) and
 * "Request syntax and signature method V3"
 * (https://alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature):
 *   - A-Z, a-z, 0-9, '-', '_', '.', '~' are not encoded;
 *   - every other byte of the UTF-8 encoding becomes %XY (upper-case hex);
 *   - so a space is %20 (never '+'), '*' is %2A and '~' stays '~'
 *     (the docs phrase this as java.net.URLEncoder output with
 *     '+' -> '%20', '*' -> '%2A', '%7E' -> '~').
 */

const HEX = '0123456789ABCDEF';
const UNRESERVED_ONLY = /^[A-Za-z0-9\-_.~]*$/;
/** UTF-8 bytes without Node's Buffer: this module also runs in the browser console. */
const utf8 = new TextEncoder();

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x5f || // _
    byte === 0x2e || // .
    byte === 0x7e // ~
  );
}

export function percentEncode(s: string): string {
  if (UNRESERVED_ONLY.test(s)) return s;
  const bytes = utf8.encode(s);
  let out = '';
  for (const byte of bytes) {
    if (isUnreserved(byte)) {
      out += String.fromCharCode(byte);
    } else {
      out += '%' + HEX.charAt(byte >> 4) + HEX.charAt(byte & 0x0f);
    }
  }
  return out;
}

/**
 * Deterministic ordering used for canonical query strings: plain UTF-16
 * code-unit comparison (what Java's TreeMap / String.compareTo in the
 * official samples does). Never locale-sensitive.
 */
export function compareCodeUnits(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
