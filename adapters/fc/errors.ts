/** The one place errors become HTTP answers (`{RequestId, Code, Message}` as Alibaba Cloud answers). */
import { SignatureError } from '../../shared/auth/verify.ts';
import { DomainError } from '../../shared/errors.ts';
import type { Log } from './handler.ts';
import { json, type HttpResponse } from './http.ts';

export interface ErrorAnswerOptions {
  /** Ingest answers signature failures 401 (unsigned) / 403 (badly signed), per docs/design.md §3.2. */
  signatureStatus?: (error: SignatureError) => number;
}

export function errorAnswer(error: unknown, requestId: string, log: Log, options: ErrorAnswerOptions = {}): HttpResponse {
  if (error instanceof SignatureError) {
    const status = options.signatureStatus ? options.signatureStatus(error) : error.httpStatus;
    log.warn('signature refused', { code: error.code, field: error.field });
    const field = error.field === undefined ? {} : { Field: error.field };
    return json(status, { RequestId: requestId, Code: error.code, Message: error.message, ...field });
  }
  if (error instanceof DomainError) {
    if (error.status >= 500) log.error(error.message, { code: error.code, cause: String((error as { cause?: unknown }).cause ?? '') });
    const field = 'field' in error && typeof error.field === 'string' ? { Field: error.field } : {};
    return json(error.status, { RequestId: requestId, Code: error.code, Message: error.expose ? error.message : 'the service is temporarily unavailable; retry', ...field });
  }
  log.error('unexpected error', { error: error instanceof Error ? error.stack : String(error) });
  return json(500, { RequestId: requestId, Code: 'InternalError', Message: 'an internal error occurred; retry, and report the RequestId if it persists' });
}
