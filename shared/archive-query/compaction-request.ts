/** The optional range of a compaction run, from compact-cron's timer payload (docs/design.md §3.13). Pure. */
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import type { CompactionRange } from './compaction.ts';

/** Longest payload read. */
export const MAX_COMPACTION_PAYLOAD_BYTES = 1024;

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a UTC day YYYY-MM-DD' }).refine((d) => { const ms = Date.parse(`${d}T00:00:00Z`); return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === d; }, { error: 'is not a real day' });

const payloadSchema = z.looseObject({ fromDay: day.optional(), toDay: day.optional() });

/** `{"fromDay","toDay"}` (both, inclusive) → a range; anything else (the periodic `{"reason":"compact"}`, empty) → the recent days. */
export function compactionRangeOf(payload: string): CompactionRange | undefined {
  if (payload.trim() === '') return undefined;
  if (Buffer.byteLength(payload, 'utf8') > MAX_COMPACTION_PAYLOAD_BYTES) throw new ValidationError('InvalidParameter', `the payload is over ${MAX_COMPACTION_PAYLOAD_BYTES} bytes`, 'payload');
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new ValidationError('InvalidParameter', 'the payload is not JSON', 'payload');
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError('InvalidParameter', `${issue?.path.join('.') || 'payload'} ${issue?.message ?? 'is invalid'}`, issue?.path.join('.') || 'payload');
  }
  const { fromDay, toDay } = parsed.data;
  if (fromDay === undefined && toDay === undefined) return undefined;
  if (fromDay === undefined || toDay === undefined) throw new ValidationError('InvalidParameter', 'give both fromDay and toDay', fromDay === undefined ? 'fromDay' : 'toDay');
  const range = { fromDayMs: Date.parse(`${fromDay}T00:00:00Z`), toDayMs: Date.parse(`${toDay}T00:00:00Z`) };
  if (range.fromDayMs > range.toDayMs) throw new ValidationError('InvalidParameter', 'fromDay is after toDay', 'fromDay');
  return range;
}
