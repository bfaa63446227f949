/** Where trails are kept (Redis implementation in adapters/redis/trail-store.ts). */
import type { Trail } from './model.ts';

export interface TrailStore {
  list(accountId: string): Promise<Trail[]>;
  get(accountId: string, name: string): Promise<Trail | undefined>;
  /** Creates the trail unless one of that name exists; false when it exists. */
  create(trail: Trail): Promise<boolean>;
  /** Replaces a trail that exists; false when it does not. */
  update(trail: Trail): Promise<boolean>;
  delete(accountId: string, name: string): Promise<boolean>;
}
