/**
 * The errors of request authentication (see verify.ts and request-params.ts), with Alibaba Cloud's
 * codes and statuses. A separate module so the parameter parser and the verifier share it without
 * importing each other.
 */
import { DomainError } from '../errors.ts';

export type SignatureErrorCode =
  | 'IncompleteSignature'
  | 'SignatureDoesNotMatch'
  | 'InvalidAccessKeyId.NotFound'
  | 'InvalidAccessKeyId.Inactive'
  | 'SignatureNonceUsed'
  | 'InvalidTimeStamp.Expired'
  | 'InvalidTimeStamp.Format'
  | 'MissingParameter'
  | 'InvalidParameter';

/**
 * HTTP statuses as documented by Alibaba Cloud for its API gateway's common client errors:
 *  - "管控OpenAPI的客户端公用错误码" (https://developer.aliyun.com/ask/278265):
 *    InvalidAccessKeyId.NotFound 404, InvalidAccessKeyId.Inactive 400, InvalidTimeStamp.Format 400,
 *    InvalidTimeStamp.Expired 400, SignatureNonceUsed 400, SignatureDoesNotMatch 400, Missing{Param} 400.
 *  - Client error codes (https://help.aliyun.com/document_detail/51132.html):
 *    IncompleteSignature 400, MissingParameter 400, InvalidAccessKeyId.NotFound 404.
 * (Some individual products document other values, e.g. Alibaba Cloud DNS lists
 * SignatureDoesNotMatch as 403; we follow the common gateway table.)
 * InvalidParameter (400) is the gateway's code for a parameter it refuses outright: a signature
 * field over its bound, a parameter given twice (docs/design.md §3).
 */
export const SIGNATURE_ERROR_HTTP_STATUS: Readonly<Record<SignatureErrorCode, number>> = {
  IncompleteSignature: 400,
  SignatureDoesNotMatch: 400,
  'InvalidAccessKeyId.NotFound': 404,
  'InvalidAccessKeyId.Inactive': 400,
  SignatureNonceUsed: 400,
  'InvalidTimeStamp.Expired': 400,
  'InvalidTimeStamp.Format': 400,
  MissingParameter: 400,
  InvalidParameter: 400,
};

/** A request whose signature, or a field of it, is refused; one of the domain's errors (shared/errors.ts). */
export class SignatureError extends DomainError {
  readonly status: number;

  constructor(
    readonly code: SignatureErrorCode,
    message: string,
    /** The request field at fault (a parameter or header name), when there is one. */
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = SIGNATURE_ERROR_HTTP_STATUS[code];
  }
}

/** Longest excerpt of a caller's value quoted back in an error message. */
export const ERROR_QUOTE_MAX_CHARS = 64;

/** `"value"`, cut to {@link ERROR_QUOTE_MAX_CHARS} characters, for error messages. */
export function quoteForError(value: string): string {
  return value.length <= ERROR_QUOTE_MAX_CHARS ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, ERROR_QUOTE_MAX_CHARS))}… (${value.length} characters)`;
}
