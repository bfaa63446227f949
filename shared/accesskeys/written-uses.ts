/**
 * The uses this process has written to the AccessKey audit (docs/design.md §3.10, "Freshness"),
 * so it can leave out a use that is newer than a written one by less than
 * ACCESS_KEY_AUDIT_REFRESH_MS: the store keeps the greater use, so what it holds is at least the
 * written one, at most that much older than the entry's newest use. Pure and in memory.
 *
 * Bounded (WRITTEN_USES_MAX_ENTRIES, then it starts afresh) and trusted only WRITTEN_USES_TRUST_MS,
 * so an entry lost with its Redis key (a failover) is written again within minutes.
 */
import { ACCESS_KEY_AUDIT_REFRESH_MS, type AuditList } from './accesskey-audit.ts';

export const WRITTEN_USES_MAX_ENTRIES = 200_000;
export const WRITTEN_USES_TRUST_MS = 10 * 60_000;

type Slot = AuditList | 'last';
interface Written {
  usedMs: number;
  atMs: number;
}

export class WrittenUses {
  /** account → AccessKey → list → member → the newest use written */
  private readonly byAccount = new Map<string, Map<string, Map<Slot, Map<string, Written>>>>();
  private count = 0;

  constructor(private readonly refreshMs: number = ACCESS_KEY_AUDIT_REFRESH_MS) {}

  private slot(accountId: string, accessKeyId: string, list: Slot, create: boolean): Map<string, Written> | undefined {
    let keys = this.byAccount.get(accountId);
    if (!keys) {
      if (!create) return undefined;
      this.byAccount.set(accountId, (keys = new Map()));
    }
    let lists = keys.get(accessKeyId);
    if (!lists) {
      if (!create) return undefined;
      keys.set(accessKeyId, (lists = new Map()));
    }
    let members = lists.get(list);
    if (!members && create) lists.set(list, (members = new Map()));
    return members;
  }

  /** Whether a use at `usedMs` must be written (no trusted write of a use at most refreshMs older). */
  needsWrite(accountId: string, accessKeyId: string, list: Slot, member: string, usedMs: number, nowMs: number): boolean {
    const w = this.slot(accountId, accessKeyId, list, false)?.get(member);
    return w === undefined || nowMs - w.atMs >= WRITTEN_USES_TRUST_MS || usedMs - w.usedMs >= this.refreshMs;
  }

  /** After the store took a use (merged by its rule: what it holds is at least this one). */
  note(accountId: string, accessKeyId: string, list: Slot, member: string, usedMs: number, nowMs: number): void {
    const members = this.slot(accountId, accessKeyId, list, true) as Map<string, Written>;
    const w = members.get(member);
    if (w) {
      if (usedMs >= w.usedMs) {
        w.usedMs = usedMs;
        w.atMs = nowMs;
      }
      return;
    }
    if (this.count >= WRITTEN_USES_MAX_ENTRIES) {
      this.byAccount.clear();
      this.count = 0;
      this.note(accountId, accessKeyId, list, member, usedMs, nowMs);
      return;
    }
    members.set(member, { usedMs, atMs: nowMs });
    this.count += 1;
  }

  get size(): number {
    return this.count;
  }
}
