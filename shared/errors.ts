/**
 * The few named errors of the domain, one family: each carries what a caller may be told
 * (`code`, `message`, `status`, and `field` where one field is at fault) and the error behind it
 * (`cause`, ErrorOptions). adapters/fc/errors.ts maps them to answers in one place; the request
 * errors of authentication (SignatureError, shared/auth/signature-error.ts) and of the trail API
 * (TrailRequestError) are members too.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** Whether the message may be shown to the caller. */
  readonly expose: boolean = true;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  readonly status = 400;
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class NotFoundError extends DomainError {
  readonly status = 404;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Stored bytes that cannot be decoded (a gzip object that is not valid gzip): retrying reads the same bytes. */
export class UnreadableObjectError extends DomainError {
  readonly status = 422;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A dependency failed in a way worth retrying (the invocation is retried by FC). */
export class RetryableError extends DomainError {
  readonly status = 503;
  readonly code = 'ServiceUnavailable';
  override readonly expose = false;
}

/** One record a store refused, and why (the store names the limit it enforces). */
export interface RefusedRecord {
  eventId: string;
  reason: string;
}

/**
 * A store refused some records of a write for what they are, not because it failed: nothing of
 * that write was stored, and a retry would be refused again. The caller sets those records
 * aside (a "rejected" object under `rejected/`) and writes the rest.
 */
export class RecordRefusedError extends DomainError {
  readonly status = 422;
  readonly code = 'RecordRefused';
  constructor(
    readonly refused: readonly RefusedRecord[],
    readonly store: string,
  ) {
    super(`${store} refused ${refused.length} record(s): ${refused.map((r) => `${r.eventId.slice(0, 80)}: ${r.reason}`).join('; ').slice(0, 500)}`);
  }
}

/** The caller may not do this (another account's data it does not govern): 403. */
export class PermissionError extends DomainError {
  readonly status = 403;
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
