/** FC's timer trigger event (the `payload` string is the trigger's configured payload). */
import { z } from 'zod';
import { BadTriggerEventError } from './http.ts';

export const FcTimerEventSchema = z.object({
  triggerTime: z.string(),
  triggerName: z.string(),
  payload: z.string().default(''),
});
export type FcTimerEvent = z.infer<typeof FcTimerEventSchema>;

export function decodeTimerEvent(event: Buffer): FcTimerEvent {
  let json: unknown;
  try {
    json = JSON.parse(event.toString('utf8'));
  } catch {
    throw new BadTriggerEventError('the timer trigger event is not JSON');
  }
  const parsed = FcTimerEventSchema.safeParse(json);
  if (!parsed.success) throw new BadTriggerEventError(`not an FC timer event: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}
