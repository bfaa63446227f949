/**
 * The environment-neutral half of the RPC request signature (SignatureMethod=HMAC-SHA1,
 * SignatureVersion=1.0): the canonical query string and the StringToSign. No Node APIs, so the
 * server (rpc-signature.ts, verify.ts) and the browser console (functions/lookup-http/web/sign.ts)
 * build the very same string.
 *
 * Source: https://help.aliyun.com/en/sdk/product-overview/rpc-mechanism
 *   CanonicalizedQueryString = sorted (by name) percentEncode(name)=percentEncode(value),
 *                              joined by '&', all parameters except Signature
 *   StringToSign = HTTPMethod + '&' + percentEncode('/') + '&' + percentEncode(CanonicalizedQueryString)
 */
import { compareCodeUnits, percentEncode } from './percent-encode.ts';

export type RpcMethod = 'GET' | 'POST';

export const RPC_SIGNATURE_METHOD = 'HMAC-SHA1';
export const RPC_SIGNATURE_VERSION = '1.0';

/** Sorted, percent-encoded `k=v&k=v` string over every parameter except `Signature`. */
export function canonicalizeRpcParams(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((name) => name !== 'Signature')
    .sort(compareCodeUnits)
    .map((name) => `${percentEncode(name)}=${percentEncode(params[name] ?? '')}`)
    .join('&');
}

export function rpcStringToSign(method: RpcMethod, params: Record<string, string>): string {
  return `${method}&${percentEncode('/')}&${percentEncode(canonicalizeRpcParams(params))}`;
}

/** `YYYY-MM-DDThh:mm:ssZ` (UTC, no fractional seconds), the format the docs require. */
export function formatAcsTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
