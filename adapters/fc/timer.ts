/** FC's timer trigger event (the `payload` string is the trigger's configured payload). */
import { z } from 'zod';

export const FcTimerEventSchema = z.object({
  triggerTime: z.string(),
  triggerName: z.string(),
  payload: z.string().default(''),
});
export type FcTimerEvent = z.infer<typeof FcTimerEventSchema>;

