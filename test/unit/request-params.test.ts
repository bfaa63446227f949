/**
 * The one parameter parser (shared/auth/request-params.ts), the HTTP event's body limits
 * (adapters/fc/http.ts, body.ts) and the action table's own-entry lookup (adapters/fc/rpc.ts):
 * issue 11 items 3 and 8.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  RPC_MAX_FORM_BODY_BYTES,
  RPC_MAX_PARAMETERS,
  RPC_MAX_PARAMETER_NAME_LENGTH,
  RPC_MAX_PARAMETER_VALUE_LENGTH,
  isFormMediaType,
  parseRequestParameters,
  type ParameterSource,
} from '../../shared/auth/request-params.ts';
import { SignatureError } from '../../shared/auth/signature-error.ts';
import { BadTriggerEventError, type FcHttpEvent, type HttpRequest } from '../../adapters/fc/http.ts';
import { decodeTrigger } from '../../adapters/fc/trigger.ts';

/** An HTTP function's decode step, with its route's body limit when given. */
function decodeHttpEvent(event: Buffer, limits?: { maxBodyBytes: number }): HttpRequest {
  return decodeTrigger(event, ['http'], limits ? { maxHttpBodyBytes: limits.maxBodyBytes } : {}).request;
}
import { decodeBody } from '../../adapters/fc/body.ts';
import { findAction, type RpcAction } from '../../adapters/fc/rpc.ts';
import { PayloadTooLargeError } from '../../shared/errors.ts';

const FORM = 'application/x-www-form-urlencoded';

function source(query: Record<string, string>, body = '', contentType?: string): ParameterSource {
  return { query, headers: contentType === undefined ? {} : { 'content-type': contentType }, body: Buffer.from(body, 'utf8') };
}

function refusal(fn: () => unknown): SignatureError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureError);
    return error as SignatureError;
  }
  throw new Error('expected a refusal');
}

describe('isFormMediaType', () => {
  it('accepts the form type, optionally with one charset parameter, in any case', () => {
    for (const type of [FORM, `${FORM}; charset=UTF-8`, `${FORM};charset=utf-8`, `APPLICATION/X-WWW-FORM-URLENCODED; Charset="UTF-8"`, `${FORM} ; charset = utf-8 `]) {
      expect(isFormMediaType(type), type).toBe(true);
    }
  });

  it('refuses anything else, including near misses', () => {
    for (const type of [`${FORM}X`, `${FORM}x; charset=utf-8`, `${FORM}; boundary=x`, `${FORM}; charset=utf-8; x=y`, `${FORM},text/plain`, `x${FORM}`, 'multipart/form-data', 'application/json', 'text/plain', '']) {
      expect(isFormMediaType(type), type).toBe(false);
    }
    expect(isFormMediaType(undefined)).toBe(false);
  });
});

describe('parseRequestParameters', () => {
  it('merges query and a form body into one prototype-less object', () => {
    const p = parseRequestParameters(source({ Action: 'LookupEvents' }, 'MaxResults=5&EventName=a+b%2Ac', `${FORM}; charset=UTF-8`));
    expect(p.bodyIsForm).toBe(true);
    expect({ ...p.all }).toEqual({ Action: 'LookupEvents', MaxResults: '5', EventName: 'a b*c' });
    expect({ ...p.form }).toEqual({ MaxResults: '5', EventName: 'a b*c' });
    expect(Object.getPrototypeOf(p.all)).toBeNull();
    expect(Object.isFrozen(p.all)).toBe(true);
  });

  it('the form-type trick: under `application/x-www-form-urlencodedX` the body is not parameters', () => {
    const p = parseRequestParameters(source({ Action: 'GetCallerIdentity' }, 'Action=DescribeTrails', `${FORM}X`));
    expect(p.bodyIsForm).toBe(false);
    expect(p.all['Action']).toBe('GetCallerIdentity');
    expect({ ...p.form }).toEqual({});
  });

  it('refuses a name in both query and body, or twice in the body (400 InvalidParameter naming it)', () => {
    const both = refusal(() => parseRequestParameters(source({ Action: 'GetCallerIdentity' }, 'Action=DescribeTrails', FORM)));
    expect(both).toMatchObject({ code: 'InvalidParameter', status: 400, field: 'Action' });
    expect(both.message).toContain('both the query string and the request body');
    const twice = refusal(() => parseRequestParameters(source({}, 'Action=A&Action=A', FORM)));
    expect(twice).toMatchObject({ code: 'InvalidParameter', field: 'Action' });
    expect(twice.message).toContain('more than once');
  });

  it('keeps Object.prototype names as plain parameters', () => {
    const p = parseRequestParameters(source({ constructor: 'c', toString: 't' }, '__proto__=p&hasOwnProperty=h', FORM));
    expect(Object.keys(p.all).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    expect(p.all['__proto__']).toBe('p');
    const none = parseRequestParameters(source({ Action: 'x' }));
    expect(none.all['constructor']).toBeUndefined();
    expect(none.all['toString']).toBeUndefined();
  });

  it('bounds the number of parameters, each name and each value', () => {
    const many = Object.fromEntries(Array.from({ length: RPC_MAX_PARAMETERS + 1 }, (_v, i) => [`P${i}`, '1']));
    expect(refusal(() => parseRequestParameters(source(many)))).toMatchObject({ code: 'InvalidParameter', field: 'parameters' });
    const half = Object.fromEntries(Array.from({ length: RPC_MAX_PARAMETERS / 2 }, (_v, i) => [`Q${i}`, '1']));
    const body = new URLSearchParams(Object.fromEntries(Array.from({ length: RPC_MAX_PARAMETERS / 2 + 1 }, (_v, i) => [`B${i}`, '1']))).toString();
    expect(refusal(() => parseRequestParameters(source(half, body, FORM)))).toMatchObject({ code: 'InvalidParameter', field: 'parameters' });
    expect(refusal(() => parseRequestParameters(source({ ['N'.repeat(RPC_MAX_PARAMETER_NAME_LENGTH + 1)]: '1' })))).toMatchObject({ code: 'InvalidParameter' });
    const long = refusal(() => parseRequestParameters(source({}, `NextToken=${'t'.repeat(RPC_MAX_PARAMETER_VALUE_LENGTH + 1)}`, FORM)));
    expect(long).toMatchObject({ code: 'InvalidParameter', field: 'NextToken' });
    expect(parseRequestParameters(source({ NextToken: 't'.repeat(RPC_MAX_PARAMETER_VALUE_LENGTH) })).all['NextToken']).toHaveLength(RPC_MAX_PARAMETER_VALUE_LENGTH);
  });

  it('refuses a form body over its bound before parsing it (413 PayloadTooLarge)', () => {
    const body = `A=${'x'.repeat(RPC_MAX_FORM_BODY_BYTES)}`;
    expect(() => parseRequestParameters(source({}, body, FORM))).toThrow(PayloadTooLargeError);
    // the same bytes under another type are not parameters, so not parsed at all
    expect(parseRequestParameters(source({}, body, 'application/octet-stream')).bodyIsForm).toBe(false);
  });
});

function httpEvent(body: string, options: { base64?: boolean; headers?: Record<string, string> } = {}): Buffer {
  const event: FcHttpEvent = {
    version: 'v1',
    rawPath: '/',
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
    headers: options.headers ?? {},
    queryParameters: {},
    requestContext: { requestId: 'r-1', http: { method: 'POST', path: '/', sourceIp: '', userAgent: '' } },
  };
  return Buffer.from(JSON.stringify(event));
}

describe('decodeTrigger limits on HTTP events', () => {
  const limits = { maxBodyBytes: 1000 };

  it('refuses an oversize event before parsing it (not even JSON is needed to say so)', () => {
    const junk = Buffer.alloc(10 * 1024 * 1024, 0x78);
    expect(() => decodeHttpEvent(junk, limits)).toThrow(PayloadTooLargeError);
    expect(() => decodeHttpEvent(junk)).toThrow(BadTriggerEventError);
  });

  it('refuses by Content-Length and by the body text (plain or base64) before decoding it; at the limit it passes', () => {
    expect(() => decodeHttpEvent(httpEvent('x', { headers: { 'Content-Length': '1001' } }), limits)).toThrow(/1001 bytes/);
    expect(() => decodeHttpEvent(httpEvent('x'.repeat(1001)), limits)).toThrow(PayloadTooLargeError);
    expect(() => decodeHttpEvent(httpEvent('x'.repeat(1001), { base64: true }), limits)).toThrow(PayloadTooLargeError);
    expect(decodeHttpEvent(httpEvent('x'.repeat(1000), { base64: true }), limits).body).toHaveLength(1000);
    expect(decodeHttpEvent(httpEvent('é'.repeat(500)), limits).body).toHaveLength(1000);
  });

  it('gives headers no prototype', () => {
    const request = decodeHttpEvent(httpEvent(''));
    expect(request.headers['constructor']).toBeUndefined();
  });
});

describe('decodeBody limits', () => {
  it('bounds gunzip output, and refuses a raw body over the limit before inflating it', () => {
    const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(10_000);
    expect(() => decodeBody({ headers: { 'content-encoding': 'gzip' }, body: bomb }, 1024 * 1024)).toThrow(PayloadTooLargeError);
    const raw = Buffer.alloc(2000, 0x20);
    expect(() => decodeBody({ headers: { 'content-encoding': 'gzip' }, body: raw }, 1000)).toThrow(PayloadTooLargeError);
    expect(decodeBody({ headers: { 'content-encoding': 'gzip' }, body: gzipSync('[1]') }, 1000)).toBe('[1]');
  });
});

describe('findAction', () => {
  it('finds own entries only: Object.prototype names are not actions', () => {
    const action: RpcAction = async () => ({});
    for (const table of [{ LookupEvents: action }, Object.assign(Object.create(null) as Record<string, RpcAction>, { LookupEvents: action })]) {
      expect(findAction(table, 'LookupEvents')).toBe(action);
      for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
        expect(findAction(table, name), name).toBeUndefined();
      }
    }
  });
});
