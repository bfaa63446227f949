/** Where trails are kept (Redis implementation in adapters/redis/trail-store.ts). */
import type { Trail } from './model.ts';

/** Where a trail delivers its archive: what a write must not silently put back (bucket tenancy, bucket-claims.ts). */
export type TrailDestination = Pick<Trail, 'ossBucketName' | 'ossKeyPrefix'>;

export interface TrailStore {
  list(accountId: string): Promise<Trail[]>;
  get(accountId: string, name: string): Promise<Trail | undefined>;
  /** Creates the trail unless one of that name exists; false when it exists. */
  create(trail: Trail): Promise<boolean>;
  /**
   * Replaces a trail that exists; false when it does not. With `expected` (the destination the
   * caller read), only while the stored trail still has that destination, else `'changed'`: a
   * write from a stale read never moves a trail back onto a bucket whose claim was released.
   */
  update(trail: Trail, expected?: TrailDestination): Promise<boolean | 'changed'>;
  delete(accountId: string, name: string): Promise<boolean>;
}
