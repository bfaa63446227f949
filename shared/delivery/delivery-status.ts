/** What each deliverer last did for a trail: shown by GetTrailStatus. */
export interface DeliveryStatus {
  latestDeliveryTimeMs?: number;
  latestDeliveryError?: string;
  latestLogstoreDeliveryTimeMs?: number;
  latestLogstoreDeliveryError?: string;
}

export interface DeliveryStatusStore {
  get(accountId: string, trailName: string): Promise<DeliveryStatus>;
  /** Records a success (clears the error) or a failure (keeps the last success time). */
  record(accountId: string, trailName: string, destination: 'oss' | 'logstore', outcome: { ok: true; atMs: number } | { ok: false; error: string }): Promise<void>;
}
