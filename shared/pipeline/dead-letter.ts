/**
 * The dead-letter use case: an async invocation that failed for good (FC's on-failure
 * destination record) is kept by its request id — a retried delivery of the same record is kept
 * once — for a person to inspect and replay.
 */
export interface FailedInvocation {
  requestId: string;
  functionArn: string;
  condition: string;
  attempts: number;
  /** The destination record as FC sent it (JSON). */
  record: string;
}

export interface DeadLetterStore {
  /** Keeps a failed invocation; false when one with its request id is already kept. */
  keep(failure: FailedInvocation): Promise<boolean>;
}

export async function keepFailedInvocation(failure: FailedInvocation, store: DeadLetterStore): Promise<{ stored: boolean }> {
  return { stored: await store.keep(failure) };
}
