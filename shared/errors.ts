/**
 * The few named errors of the domain. Each carries what a caller may be told (`code`,
 * `message`, `status`); adapters map them to answers in one place.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** Whether the message may be shown to the caller. */
  readonly expose: boolean = true;
  constructor(message: string, options?: { cause?: unknown }) {
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
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly status = 404;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ConflictError extends DomainError {
  readonly status = 409;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class AuthError extends DomainError {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 403,
  ) {
    super(message);
  }
}

export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A dependency failed in a way worth retrying (the invocation is retried by FC). */
export class RetryableError extends DomainError {
  readonly status = 503;
  readonly code = 'ServiceUnavailable';
  override readonly expose = false;
}
