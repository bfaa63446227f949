/**
 * The analysis queue on Redis (docs/design.md §3.9): `{tk:<accountId>}:anq`, a hash eventId → analysis
 * row in its wire form (analysis-row-codec.ts; HSET: a row queued twice is stored once), filled by classify in the same pipeline
 * as the summary rows (same slot), and `{tk}:anq:accounts`, the accounts with queued rows, added
 * beside the summary queue's accounts in the same second step (same `{tk}` slot). insights-cron
 * drains it (insights-store.ts).
 */
export function analysisQueueKey(accountId: string): string {
  return `{tk:${accountId}}:anq`;
}

/** Accounts with queued analysis rows (a global key in the `{tk}` slot, beside SUMMARY_ACCOUNTS_KEY). */
export const ANALYSIS_ACCOUNTS_KEY = '{tk}:anq:accounts';
