/** FC's OSS trigger event (one part of decodeTrigger, trigger.ts) and the objects it names. */
import { z } from 'zod';

export const FcOssEventSchema = z.object({
  events: z
    .array(
      z.object({
        eventName: z.string(),
        eventTime: z.string().optional(),
        region: z.string().optional(),
        oss: z.object({
          bucket: z.object({ name: z.string() }),
          object: z.object({ key: z.string(), eTag: z.string().default(''), size: z.number().default(0) }),
        }),
      }),
    )
    .min(1),
});

export interface ObjectNotice {
  eventName: string;
  bucket: string;
  key: string;
  eTag: string;
  size: number;
}

/** A checked OSS event's objects; ETags unquoted and upper-cased, as S3 servers differ. */
export function objectNoticesOf(event: z.output<typeof FcOssEventSchema>): ObjectNotice[] {
  return event.events.map((e) => ({
    eventName: e.eventName,
    bucket: e.oss.bucket.name,
    key: e.oss.object.key,
    eTag: e.oss.object.eTag.replace(/"/g, '').toUpperCase(),
    size: e.oss.object.size,
  }));
}
