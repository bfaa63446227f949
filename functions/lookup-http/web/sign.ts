/**
 * The RPC signature v1 (HMAC-SHA1, SignatureVersion=1.0) in the browser: the same canonical
 * string as the server (shared/auth/rpc-canonical.ts), keyed with `secret + "&"`, Base64.
 * WebCrypto signs when the page has it; sha1.ts otherwise (plain-http LAN addresses).
 * Nonces come from crypto.getRandomValues, which, unlike randomUUID, insecure contexts have too.
 */
import { percentEncode } from '../../../shared/auth/percent-encode.ts';
import {
  RPC_SIGNATURE_METHOD,
  RPC_SIGNATURE_VERSION,
  formatAcsTimestamp,
  rpcStringToSign,
  type RpcMethod,
} from '../../../shared/auth/rpc-canonical.ts';
import { hmacSha1 } from './sha1.ts';

export const API_VERSION = '2020-07-06';

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
}

/** HMAC-SHA1 of `message` under `key`. */
export type HmacSha1 = (key: Uint8Array<ArrayBuffer>, message: Uint8Array<ArrayBuffer>) => Promise<Uint8Array>;

/** The part of WebCrypto's SubtleCrypto the signer uses (K: its CryptoKey). */
export interface SubtleHmac<K> {
  importKey(format: 'raw', keyData: Uint8Array<ArrayBuffer>, algorithm: { name: 'HMAC'; hash: 'SHA-1' }, extractable: false, usages: ['sign']): Promise<K>;
  sign(algorithm: 'HMAC', key: K, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}

/** WebCrypto's HMAC-SHA1 when `subtle` is there, else the plain-TypeScript one. */
export function chooseHmacSha1<K>(subtle: SubtleHmac<K> | undefined): HmacSha1 {
  if (!subtle) return async (key, message) => hmacSha1(key, message);
  return async (key, message) => {
    const cryptoKey = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
    return new Uint8Array(await subtle.sign('HMAC', cryptoKey, message));
  };
}

const utf8 = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** 32 hex digits from a random source (crypto.getRandomValues). */
export function randomNonce(fill: (bytes: Uint8Array<ArrayBuffer>) => void): string {
  const bytes = new Uint8Array(16);
  fill(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Base64 HMAC-SHA1 of the StringToSign, keyed with `accessKeySecret + "&"`. */
export async function signRpc(method: RpcMethod, params: Record<string, string>, accessKeySecret: string, hmac: HmacSha1): Promise<string> {
  return base64(await hmac(utf8.encode(`${accessKeySecret}&`), utf8.encode(rpcStringToSign(method, params))));
}

/**
 * The parameters to send: `params` plus Version, Format, AccessKeyId, SignatureMethod,
 * SignatureVersion, SignatureNonce, Timestamp and Signature.
 */
export async function signRpcParams(
  params: Record<string, string>,
  credentials: Credentials,
  options: { hmac: HmacSha1; nonce: string; now: Date; method?: RpcMethod },
): Promise<Record<string, string>> {
  const signed: Record<string, string> = {
    ...params,
    Version: params['Version'] ?? API_VERSION,
    Format: params['Format'] ?? 'JSON',
    AccessKeyId: credentials.accessKeyId,
    SignatureMethod: RPC_SIGNATURE_METHOD,
    SignatureVersion: RPC_SIGNATURE_VERSION,
    SignatureNonce: options.nonce,
    Timestamp: formatAcsTimestamp(options.now),
  };
  delete signed['Signature'];
  signed['Signature'] = await signRpc(options.method ?? 'GET', signed, credentials.accessKeySecret, options.hmac);
  return signed;
}

/** `k=v&…` with the signature's percent-encoding (space is %20, never '+'). */
export function queryString(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`)
    .join('&');
}
