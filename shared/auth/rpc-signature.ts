/**
 * Alibaba Cloud RPC request signature: SignatureMethod=HMAC-SHA1, SignatureVersion=1.0
 * (called "signature method V2 for RPC APIs" in the current docs).
 *
 * Source: https://help.aliyun.com/en/sdk/product-overview/rpc-mechanism
 *   CanonicalizedQueryString = sorted (by name) percentEncode(name)=percentEncode(value),
 *                              joined by '&', all parameters except Signature
 *   StringToSign = HTTPMethod + '&' + percentEncode('/') + '&' + percentEncode(CanonicalizedQueryString)
 *   Signature    = Base64(HMAC-SHA1(AccessKeySecret + '&', UTF-8(StringToSign)))
 *
 * The canonical string is built in rpc-canonical.ts (shared with the browser console); this
 * module adds the HMAC. Pure: no I/O besides node:crypto.
 */
import { createHmac, randomUUID } from 'node:crypto';
import {
  RPC_SIGNATURE_METHOD,
  RPC_SIGNATURE_VERSION,
  canonicalizeRpcParams,
  formatAcsTimestamp,
  rpcStringToSign,
  type RpcMethod,
} from './rpc-canonical.ts';

export { RPC_SIGNATURE_METHOD, RPC_SIGNATURE_VERSION, canonicalizeRpcParams, formatAcsTimestamp, rpcStringToSign, type RpcMethod };

/** Base64 HMAC-SHA1 of the StringToSign, keyed with `accessKeySecret + "&"`. */
export function signRpc(method: RpcMethod, params: Record<string, string>, accessKeySecret: string): string {
  return createHmac('sha1', `${accessKeySecret}&`).update(rpcStringToSign(method, params), 'utf8').digest('base64');
}

export interface SignRpcRequestInput {
  method: RpcMethod;
  params: Record<string, string>;
  accessKeyId: string;
  accessKeySecret: string;
  /** Defaults to params.SignatureNonce, else a random UUID. */
  nonce?: string;
  /** Defaults to params.Timestamp, else the current time. */
  timestamp?: Date | string;
}

/**
 * Returns a new parameter set ready to send (as query string or form body):
 * fills SignatureMethod, SignatureVersion, SignatureNonce, Timestamp and Format=JSON
 * when missing, sets AccessKeyId, and adds Signature. The input is not mutated.
 */
export function signRpcRequest(input: SignRpcRequestInput): Record<string, string> {
  const out: Record<string, string> = { ...input.params };
  delete out['Signature'];

  out['AccessKeyId'] = input.accessKeyId;
  out['SignatureMethod'] ??= RPC_SIGNATURE_METHOD;
  out['SignatureVersion'] ??= RPC_SIGNATURE_VERSION;
  out['Format'] ??= 'JSON';

  if (input.nonce !== undefined) out['SignatureNonce'] = input.nonce;
  else out['SignatureNonce'] ??= randomUUID();

  if (input.timestamp !== undefined) {
    out['Timestamp'] = typeof input.timestamp === 'string' ? input.timestamp : formatAcsTimestamp(input.timestamp);
  } else {
    out['Timestamp'] ??= formatAcsTimestamp(new Date());
  }

  out['Signature'] = signRpc(input.method, out, input.accessKeySecret);
  return out;
}
