/**
 * Per-account isolation for the timer functions that work through many accounts in one run
 * (insights-cron, summarize-cron, alerts-cron): one account's failure — a row its store refuses,
 * a consumer or a channel that throws — is reported and the run goes on with the next account,
 * so no account's data can stop another's analysis. What failed stays queued for the next run.
 */

/** Failures a run's report lists; a store outage fails every account alike, so the rest are only counted. */
export const MAX_REPORTED_FAILURES = 10;

/** One account's failure in a run: at which stage, and the error's message. */
export interface AccountFailure<Stage extends string = string> {
  accountId: string;
  stage: Stage;
  message: string;
}

/** The part of a run's report that counts its accounts' failures. */
export interface FailureReport<Stage extends string = string> {
  /** Accounts that failed at some stage this run (the others went on). */
  failed: number;
  /** The first MAX_REPORTED_FAILURES of them. */
  failures: AccountFailure<Stage>[];
}

export function noteAccountFailure<Stage extends string>(report: FailureReport<Stage>, accountId: string, stage: Stage, error: unknown): void {
  report.failed += 1;
  if (report.failures.length < MAX_REPORTED_FAILURES) {
    report.failures.push({ accountId, stage, message: error instanceof Error ? error.message : String(error) });
  }
}
