/**
 * Object-storage triggers. S3-style notification records (from the embedded S3 server or
 * from MinIO's webhook) become FC's OSS event; each record goes to every OSS trigger whose
 * bucket, event list and key prefix/suffix match.
 */
import { z } from 'zod';
import type { FunctionSpec, OssTrigger } from '../config.ts';
import { bucketFromArn } from '../config.ts';

/** An S3 notification record as S3, MinIO and s3rver send it (only the parts we read). */
export const S3RecordSchema = z.object({
  eventName: z.string(),
  eventTime: z.string().optional(),
  requestParameters: z.record(z.string(), z.unknown()).optional(),
  responseElements: z.record(z.string(), z.unknown()).optional(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});
export type S3Record = z.infer<typeof S3RecordSchema>;

/** A notification body: `{Records:[…]}` (S3, s3rver) or MinIO's `{EventName, Key, Records:[…]}`. */
export const S3NotificationSchema = z.object({ Records: z.array(S3RecordSchema) });

/** s3/MinIO event names → OSS event names (no `oss:` prefix, as in FC's event). */
const S3_TO_OSS: Record<string, string> = {
  'ObjectCreated:Put': 'ObjectCreated:PutObject',
  'ObjectCreated:Post': 'ObjectCreated:PostObject',
  'ObjectCreated:Copy': 'ObjectCreated:CopyObject',
  'ObjectCreated:CompleteMultipartUpload': 'ObjectCreated:CompleteMultipartUpload',
  'ObjectRemoved:Delete': 'ObjectRemoved:DeleteObject',
  'ObjectRemoved:DeleteMarkerCreated': 'ObjectRemoved:DeleteObject',
};

export function ossEventName(s3EventName: string): string {
  const bare = s3EventName.replace(/^s3:/, '');
  return S3_TO_OSS[bare] ?? bare;
}

export interface OssEventRecord {
  eventName: string;
  eventSource: 'acs:oss';
  eventTime: string;
  eventVersion: '1.0';
  oss: {
    bucket: { arn: string; name: string; ownerIdentity: string };
    object: { deltaSize: number; eTag: string; key: string; size: number };
    ossSchemaVersion: '1.0';
    ruleId: string;
  };
  region: string;
  requestParameters: { sourceIPAddress: string };
  responseElements: { requestId: string };
  userIdentity: { principalId: string };
}

/** S3 and MinIO URL-encode keys in notification records (`+` for space); s3rver does not. */
export function decodeRecordKey(key: string, encoded: boolean): string {
  return encoded ? decodeURIComponent(key.replace(/\+/g, ' ')) : key;
}

export function buildOssEvent(
  record: S3Record,
  meta: { region: string; accountId: string; keyEncoded: boolean; ruleId: string },
): { events: OssEventRecord[] } {
  const bucket = record.s3.bucket.name;
  const size = record.s3.object.size ?? 0;
  const requestId = record.responseElements?.['x-amz-request-id'];
  const sourceIp = record.requestParameters?.['sourceIPAddress'];
  return {
    events: [
      {
        eventName: ossEventName(record.eventName),
        eventSource: 'acs:oss',
        eventTime: record.eventTime ?? new Date().toISOString(),
        eventVersion: '1.0',
        oss: {
          bucket: { arn: `acs:oss:${meta.region}:${meta.accountId}:${bucket}`, name: bucket, ownerIdentity: meta.accountId },
          object: {
            deltaSize: size,
            eTag: (record.s3.object.eTag ?? '').replace(/"/g, '').toUpperCase(),
            key: decodeRecordKey(record.s3.object.key, meta.keyEncoded),
            size,
          },
          ossSchemaVersion: '1.0',
          ruleId: meta.ruleId,
        },
        region: meta.region,
        requestParameters: { sourceIPAddress: typeof sourceIp === 'string' ? sourceIp : '' },
        responseElements: { requestId: typeof requestId === 'string' ? requestId : '' },
        userIdentity: { principalId: meta.accountId },
      },
    ],
  };
}

function eventMatches(configured: string, eventName: string): boolean {
  const bare = configured.replace(/^oss:/, '');
  if (bare.endsWith(':*')) return eventName.startsWith(bare.slice(0, -1));
  return bare === eventName;
}

export function ossTriggerMatches(trigger: OssTrigger, bucket: string, eventName: string, key: string): boolean {
  const { prefix, suffix } = trigger.triggerConfig.filter.key;
  return (
    bucketFromArn(trigger.sourceArn) === bucket &&
    trigger.triggerConfig.events.some((configured) => eventMatches(configured, eventName)) &&
    key.startsWith(prefix) &&
    key.endsWith(suffix)
  );
}

/** The (function, trigger) pairs an OSS event record should invoke. */
export function routeOssRecord(
  functions: readonly FunctionSpec[],
  event: OssEventRecord,
): { fn: FunctionSpec; trigger: OssTrigger }[] {
  const routes: { fn: FunctionSpec; trigger: OssTrigger }[] = [];
  for (const fn of functions) {
    for (const trigger of fn.triggers) {
      if (trigger.triggerType !== 'oss') continue;
      if (ossTriggerMatches(trigger, event.oss.bucket.name, event.eventName, event.oss.object.key)) routes.push({ fn, trigger });
    }
  }
  return routes;
}
