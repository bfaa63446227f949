/**
 * The one parser of a signed RPC request's parameters (docs/design.md §3): the query string plus,
 * when the body is a form, the form body. The signature verifier and the action dispatcher both
 * receive the object this returns, so what runs is exactly what was signed.
 *
 * - The body is a form only when Content-Type is `application/x-www-form-urlencoded`, optionally
 *   followed by one `charset` parameter (`; charset=UTF-8`); the body is read as UTF-8. Any other
 *   type (`application/x-www-form-urlencodedX`, a second parameter, …): the body is not parameters.
 * - A name given twice (in the body, or in both query and body) is refused (400 InvalidParameter),
 *   never resolved by picking one.
 * - Bounded before anything is decoded or looked up: the form body's size, the number of
 *   parameters, each name's and value's length.
 * - The objects have no prototype: `constructor`, `__proto__` or `toString` are plain names.
 *
 * Pure: no I/O.
 */
import { PayloadTooLargeError } from '../errors.ts';
import { SignatureError } from './signature-error.ts';

/** Largest form body read as parameters (an RPC call's parameters are a few hundred bytes). */
export const RPC_MAX_FORM_BODY_BYTES = 64 * 1024;
/** Most parameters in one request, query and body together. */
export const RPC_MAX_PARAMETERS = 100;
export const RPC_MAX_PARAMETER_NAME_LENGTH = 128;
/** Longest parameter value (a NextToken is at most 4,096 characters). */
export const RPC_MAX_PARAMETER_VALUE_LENGTH = 8 * 1024;

/** RFC 9110 token characters, and a quoted string without escapes. */
const FORM_MEDIA_TYPE =
  /^application\/x-www-form-urlencoded[ \t]*(?:;[ \t]*charset[ \t]*=[ \t]*(?:[A-Za-z0-9!#$%&'*+.^_`|~-]+|"[A-Za-z0-9!#$%&'*+.^_`|~ -]*")[ \t]*)?$/i;

/** Whether a Content-Type header names a form body (see the module comment for the exact rule). */
export function isFormMediaType(contentType: string | undefined): boolean {
  return contentType !== undefined && FORM_MEDIA_TYPE.test(contentType);
}

export type ParameterMap = Readonly<Record<string, string>>;

export interface RequestParameters {
  /** The query string's parameters. */
  readonly query: ParameterMap;
  /** The form body's parameters (empty when the body is not a form). */
  readonly form: ParameterMap;
  /** Query and form together (their names never overlap): what the action runs with. */
  readonly all: ParameterMap;
  /** Whether the body was read as a form. */
  readonly bodyIsForm: boolean;
}

export interface ParameterSource {
  /** Header names in any case. */
  headers: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string>>;
  body: Buffer;
}

function emptyMap(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

function contentTypeOf(headers: Readonly<Record<string, string>>): string | undefined {
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'content-type') return value;
  return undefined;
}

function checkParameter(name: string, value: string, where: string): void {
  if (name.length > RPC_MAX_PARAMETER_NAME_LENGTH) {
    throw new SignatureError(
      'InvalidParameter',
      `a parameter name in the ${where} is ${name.length} characters long; at most ${RPC_MAX_PARAMETER_NAME_LENGTH} are allowed`,
      name.slice(0, RPC_MAX_PARAMETER_NAME_LENGTH),
    );
  }
  if (value.length > RPC_MAX_PARAMETER_VALUE_LENGTH) {
    throw new SignatureError(
      'InvalidParameter',
      `parameter ${name} in the ${where} is ${value.length} characters long; at most ${RPC_MAX_PARAMETER_VALUE_LENGTH} are allowed`,
      name,
    );
  }
}

function tooMany(): SignatureError {
  return new SignatureError('InvalidParameter', `the request has more than ${RPC_MAX_PARAMETERS} parameters`, 'parameters');
}

/** The query's parameters, bounded, in a prototype-less copy (what ACS3 signs besides the body). */
export function parseQueryParameters(query: Readonly<Record<string, string>>): ParameterMap {
  const out = emptyMap();
  let count = 0;
  for (const [name, value] of Object.entries(query)) {
    if (++count > RPC_MAX_PARAMETERS) throw tooMany();
    checkParameter(name, value, 'query string');
    out[name] = value;
  }
  return Object.freeze(out);
}

/**
 * The request's parameters. Throws SignatureError('InvalidParameter') for a duplicate name or a
 * parameter over its bound, PayloadTooLargeError for a form body over {@link RPC_MAX_FORM_BODY_BYTES}.
 */
export function parseRequestParameters(req: ParameterSource): RequestParameters {
  const query = parseQueryParameters(req.query);
  const bodyIsForm = isFormMediaType(contentTypeOf(req.headers)) && req.body.length > 0;
  const form = emptyMap();
  const all = emptyMap();
  Object.assign(all, query);
  if (bodyIsForm) {
    if (req.body.length > RPC_MAX_FORM_BODY_BYTES) {
      throw new PayloadTooLargeError('PayloadTooLarge', `the form body is ${req.body.length} bytes; at most ${RPC_MAX_FORM_BODY_BYTES} are read as parameters`);
    }
    let count = Object.keys(query).length;
    for (const [name, value] of new URLSearchParams(req.body.toString('utf8'))) {
      if (++count > RPC_MAX_PARAMETERS) throw tooMany();
      checkParameter(name, value, 'request body');
      if (Object.hasOwn(form, name)) {
        throw new SignatureError('InvalidParameter', `parameter ${name} appears more than once in the request body`, name);
      }
      if (Object.hasOwn(query, name)) {
        throw new SignatureError('InvalidParameter', `parameter ${name} is given in both the query string and the request body`, name);
      }
      form[name] = value;
      all[name] = value;
    }
  }
  return { query, form: Object.freeze(form), all: Object.freeze(all), bodyIsForm };
}
