/** The one place errors become HTTP answers (`{RequestId, Code, Message}` as Alibaba Cloud answers). */
import { SignatureError } from '../../shared/auth/verify.ts';
import { DomainError } from '../../shared/errors.ts';
import { errorFields, type Log } from './handler.ts';
import { json, type HttpRequest, type HttpResponse } from './http.ts';

export interface ErrorAnswerOptions {
  /**
   * The status of a refused signature, when a route answers otherwise than the gateway's table
   * (ingest: 401 unsigned, 403 badly signed, docs/design.md §3.2); `request` is undefined when
   * the event could not be decoded.
   */
  signatureStatus?: (request: HttpRequest | undefined) => (code: SignatureError['code']) => number;
}

export function errorAnswer(error: unknown, requestId: string, log: Log, options: ErrorAnswerOptions = {}, request?: HttpRequest): HttpResponse {
  if (error instanceof SignatureError) {
    const status = options.signatureStatus ? options.signatureStatus(request)(error.code) : error.status;
    log.warn('signature refused', { code: error.code, field: error.field });
    const field = error.field === undefined ? {} : { Field: error.field };
    return json(status, { RequestId: requestId, Code: error.code, Message: error.message, ...field });
  }
  if (error instanceof DomainError) {
    if (error.status >= 500) log.error(error.message, { code: error.code, ...errorFields(error) });
    const field = 'field' in error && typeof error.field === 'string' ? { Field: error.field } : {};
    // where in a query text the error points (advanced query's InvalidQuery)
    const position = 'position' in error && typeof error.position === 'number' ? { Position: error.position } : {};
    return json(error.status, { RequestId: requestId, Code: error.code, Message: error.expose ? error.message : 'the service is temporarily unavailable; retry', ...field, ...position });
  }
  log.error('unexpected error', errorFields(error));
  return json(500, { RequestId: requestId, Code: 'InternalError', Message: 'an internal error occurred; retry, and report the RequestId if it persists' });
}
