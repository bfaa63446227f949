/**
 * A trail as stored (docs/design.md §3.4), with ActionTrail's parameter rules.
 * Defaults follow the ActionTrail OpenAPI (2020-07-06) CreateTrail as the current
 * actiontrail-20200706 SDK documents it: EventRW defaults to All (CREATE_TRAIL_DEFAULT_EVENT_RW,
 * applied by CreateTrail's parameters), TrailRegion to All, IsOrganizationTrail to false; a new
 * trail is Fresh. The schema's own EventRW default (Write, the earlier documented default) only
 * fills records written without one.
 */
import { z } from 'zod';
import { INSIGHT_TYPE_NAMES } from '../insights/types.ts';

export const MAX_TRAILS_PER_REGION = 5;
export const MAX_ORGANIZATION_TRAILS = 1;

/** 6–36 characters, a lowercase letter first, then lowercase letters, digits, `-` and `_`. */
export const TRAIL_NAME_PATTERN = /^[a-z][a-z0-9_-]{5,35}$/;

export const TRAIL_EVENT_RW = ['Read', 'Write', 'All'] as const;
export type TrailEventRW = (typeof TRAIL_EVENT_RW)[number];
/** CreateTrail's EventRW when none is given ("All (default)" in the current SDK's CreateTrailRequest). */
export const CREATE_TRAIL_DEFAULT_EVENT_RW: TrailEventRW = 'All';

export const TRAIL_STATUS = ['Fresh', 'Enable', 'Disable'] as const;
export type TrailStatus = (typeof TRAIL_STATUS)[number];

export type TrailNameCheck =
  | { ok: true; name: string }
  | { ok: false; code: 'InvalidTrailNameException'; message: string };

export function validateTrailName(name: unknown): TrailNameCheck {
  const fail = (message: string): TrailNameCheck => ({ ok: false, code: 'InvalidTrailNameException', message });
  if (typeof name !== 'string' || name === '') return fail('The trail name is required.');
  if (name.length < 6 || name.length > 36) {
    return fail(`The trail name must be 6 to 36 characters long; "${name}" has ${name.length}.`);
  }
  if (!/^[a-z]/.test(name)) return fail(`The trail name must start with a lowercase letter: "${name}".`);
  if (!TRAIL_NAME_PATTERN.test(name)) {
    return fail(`The trail name may contain only lowercase letters, digits, "-" and "_": "${name}".`);
  }
  return { ok: true, name };
}

const REGION_ID = /^[a-z]{2,}(?:-[a-z0-9]+)+$/;
const ACCOUNT_ID = /^\d+$/;
const OSS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const SLS_PROJECT_ARN = /^acs:log:[a-z0-9-]+:\d+:project\/[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const RAM_ROLE_ARN = /^acs:ram::\d+:role\/[A-Za-z0-9._-]+$/;
const epochMs = z.number().int().nonnegative();

export const trailSchema = z.object({
  name: z.string().regex(TRAIL_NAME_PATTERN, { error: 'name must be 6–36 characters: a lowercase letter, then [a-z0-9_-]' }),
  accountId: z.string().regex(ACCOUNT_ID, { error: 'accountId must be a string of digits' }),
  homeRegion: z.string().regex(REGION_ID, { error: 'homeRegion must be a region id such as cn-hangzhou' }),
  eventRW: z.enum(TRAIL_EVENT_RW).default('Write'),
  trailRegion: z
    .string()
    .refine((r) => r === 'All' || REGION_ID.test(r), { error: 'trailRegion must be All or a region id' })
    .default('All'),
  isOrganizationTrail: z.boolean().default(false),
  organizationId: z.string().min(1).optional(),
  ossBucketName: z.string().regex(OSS_BUCKET, { error: 'ossBucketName must be a valid bucket name' }).optional(),
  ossKeyPrefix: z.string().max(1024).optional(),
  slsProjectArn: z.string().regex(SLS_PROJECT_ARN, { error: 'slsProjectArn must be acs:log:<region>:<account>:project/<name>' }).optional(),
  slsWriteRoleArn: z.string().regex(RAM_ROLE_ARN, { error: 'slsWriteRoleArn must be acs:ram::<account>:role/<name>' }).optional(),
  /** The RAM role ActionTrail assumes to write the OSS bucket (kept and returned; local delivery needs no role). */
  ossWriteRoleArn: z.string().regex(RAM_ROLE_ARN, { error: 'ossWriteRoleArn must be acs:ram::<account>:role/<name>' }).optional(),
  status: z.enum(TRAIL_STATUS).default('Fresh'),
  createdAtMs: epochMs,
  updatedAtMs: epochMs,
  startLoggingTimeMs: epochMs.optional(),
  stopLoggingTimeMs: epochMs.optional(),
  latestDeliveryTimeMs: epochMs.optional(),
  latestDeliveryError: z.string().optional(),
  /** PutInsightSelectors: the insight types this trail delivers (docs/design.md §3.9). */
  insightSelectors: z.array(z.enum(INSIGHT_TYPE_NAMES)).optional(),
});

/** A stored trail (defaults applied). */
export type Trail = z.infer<typeof trailSchema>;
/** What a caller supplies before defaults are applied. */
export type TrailInput = z.input<typeof trailSchema>;
