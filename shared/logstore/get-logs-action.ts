/**
 * `GetLogs` on lookup-http: read a trail's logstore like Log Service's GetLogs
 * (`Name`, `From`, `To` in epoch seconds, `Offset`, `Line` 1–100, `Reverse`). The caller sees
 * only its own trails.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { TrailStore } from '../trails/trail-store.ts';
import { GET_LOGS_MAX_LINE, logstoreNameOf, type LogstoreReader } from './logstore.ts';

const epochSeconds = z.coerce.number().int().nonnegative();
const ParamsSchema = z.object({
  Name: z.string().min(1),
  From: epochSeconds,
  To: epochSeconds,
  Offset: z.coerce.number().int().nonnegative().default(0),
  Line: z.coerce.number().int().min(1).max(GET_LOGS_MAX_LINE).default(GET_LOGS_MAX_LINE),
  Reverse: z.enum(['true', 'false']).default('false'),
});

export async function getLogs(
  params: Record<string, string>,
  caller: { accountId: string },
  ports: { trails: Pick<TrailStore, 'get'>; logstore: LogstoreReader },
): Promise<Record<string, unknown>> {
  const parsed = ParamsSchema.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    throw new ValidationError(params[field] === undefined ? 'MissingParameter' : 'InvalidParameter', `${field}: ${issue?.message ?? 'invalid'}`, field);
  }
  const p = parsed.data;
  if (p.To <= p.From) throw new ValidationError('InvalidParameter', 'To must be later than From (epoch seconds; To is exclusive)', 'To');
  const trail = await ports.trails.get(caller.accountId, p.Name);
  if (!trail) throw new NotFoundError('TrailNotFoundException', `trail ${p.Name} does not exist`);
  const result = await ports.logstore.getLogs({
    accountId: caller.accountId,
    trailName: trail.name,
    from: p.From,
    to: p.To,
    offset: p.Offset,
    line: p.Line,
    reverse: p.Reverse === 'true',
  });
  return {
    Logstore: logstoreNameOf(trail.name),
    Count: result.count,
    Progress: result.progress,
    Logs: result.logs.map((l) => ({ __topic__: l.topic, __time__: l.time, eventId: l.eventId, event: l.event })),
  };
}
