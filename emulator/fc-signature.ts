/**
 * Function Compute's request signature for the 2016-08-15 API, as `@alicloud/fc2` sends it:
 * `Authorization: FC <AccessKeyId>:<base64 HMAC-SHA256(secret, stringToSign)>`, where
 * stringToSign = METHOD \n Content-MD5 \n Content-Type \n Date \n canonical x-fc-* headers + path.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** FC refuses requests whose Date is further than this from its clock. */
export const FC_MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export function fcStringToSign(method: string, path: string, headers: Record<string, string | undefined>): string {
  const fcHeaders = Object.keys(headers)
    .map((k) => k.toLowerCase().trim())
    .filter((k) => k.startsWith('x-fc-'))
    .sort()
    .map((k) => `${k}:${headers[k] ?? ''}\n`)
    .join('');
  return `${method}\n${headers['content-md5'] ?? ''}\n${headers['content-type'] ?? ''}\n${headers['date'] ?? ''}\n${fcHeaders}${path}`;
}

export function fcSignature(secret: string, method: string, path: string, headers: Record<string, string | undefined>): string {
  return createHmac('sha256', secret).update(fcStringToSign(method, path, headers), 'utf8').digest('base64');
}

/** fc2 sends Content-MD5 as base64 of the hex digest string. */
export function fcContentMd5(body: Buffer): string {
  return Buffer.from(createHash('md5').update(body).digest('hex'), 'utf8').toString('base64');
}

export type FcAuthFailure = { status: number; code: string; message: string };

export function verifyFcSignature(
  req: { method: string; path: string; headers: Record<string, string | undefined>; body: Buffer },
  credentials: { accessKeyId: string; accessKeySecret: string },
  now: number = Date.now(),
): FcAuthFailure | null {
  const authorization = req.headers['authorization'];
  const match = authorization ? /^FC ([^:]+):(.+)$/.exec(authorization) : null;
  if (!match) return { status: 403, code: 'MissingAuthorization', message: 'the Authorization header "FC <AccessKeyId>:<Signature>" is required' };
  const date = req.headers['date'];
  const dateMs = date ? Date.parse(date) : Number.NaN;
  if (Number.isNaN(dateMs)) return { status: 403, code: 'MissingDate', message: 'the Date header is missing or not an HTTP date' };
  if (Math.abs(now - dateMs) > FC_MAX_CLOCK_SKEW_MS) {
    return { status: 403, code: 'RequestTimeTooSkewed', message: `the Date header ${date} is more than 15 minutes from the server time` };
  }
  if (match[1] !== credentials.accessKeyId) return { status: 403, code: 'InvalidAccessKeyID', message: `AccessKeyId ${match[1]} is not known` };
  const expected = Buffer.from(fcSignature(credentials.accessKeySecret, req.method, req.path, req.headers));
  const given = Buffer.from(match[2] as string);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { status: 403, code: 'SignatureNotMatch', message: 'the request signature does not match; check your AccessKeySecret and signing method' };
  }
  const md5 = req.headers['content-md5'];
  if (md5 && req.body.length > 0 && md5 !== fcContentMd5(req.body)) {
    return { status: 400, code: 'InvalidArgument', message: 'Content-MD5 does not match the body' };
  }
  return null;
}
