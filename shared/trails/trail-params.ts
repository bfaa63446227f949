/**
 * RPC parameters of the trail actions (ActionTrail OpenAPI 2020-07-06) → typed inputs.
 *
 * Parameters arrive as strings from the query or the form body (`IsOrganizationTrail=true`,
 * `NameList=a,b`). Keys the action does not define — the RPC common parameters (Action,
 * Version, AccessKeyId, Signature…) and anything else — are ignored, as ActionTrail does.
 * A parameter sent empty counts as not sent, except in UpdateTrail, where an empty
 * destination parameter clears that destination (see `UpdateTrailInput`).
 *
 * Refusals are `ValidationError`s (400) naming the parameter in `field`, with ActionTrail's
 * codes: `MissingParameter` (required parameter absent), `InvalidTrailNameException`,
 * `InvalidPrefixException` and `InvalidQueryParameter` (listed for CreateTrail, UpdateTrail and
 * DescribeTrails in the 2020-07-06 API metadata), `InvalidBucketNameException` (documented by
 * the 2015-09-28 CreateTrail/UpdateTrail; the 2020-07-06 list has no bucket-name code).
 * Value rules come from the API pages: bucket 3–63 chars `[a-z0-9-]`; OssKeyPrefix 6–32 chars,
 * a letter first, then letters, digits, `-`, `/`, `_`; the rest from `trailSchema`, so a
 * parsed input always makes a valid stored trail.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { CREATE_TRAIL_DEFAULT_EVENT_RW, TRAIL_EVENT_RW, trailSchema, validateTrailName, type TrailEventRW } from './model.ts';

type Check<T> = { ok: true; value: T } | { ok: false; code: string; message: string };
type Parser<T> = (value: string, param: string) => Check<T>;

const ok = <T>(value: T): Check<T> => ({ ok: true, value });
const bad = <T>(code: string, message: string): Check<T> => ({ ok: false, code, message });

const INVALID = 'InvalidQueryParameter';
/** Longest ARN accepted (RAM role names are at most 64 characters, SLS projects 63). */
const MAX_ARN_LENGTH = 256;

function refuse(ctx: z.RefinementCtx, code: string, message: string): never {
  ctx.addIssue({ code: 'custom', message, params: { code } });
  return z.NEVER;
}

function missing(param: string): string {
  return `The input parameter "${param}" that is mandatory for processing this request is not supplied.`;
}

/** A required parameter: absent or empty → MissingParameter. */
function required<T>(param: string, parse: Parser<T>) {
  return z
    .string()
    .optional()
    .transform((value, ctx): T => {
      if (value === undefined || value === '') return refuse(ctx, 'MissingParameter', missing(param));
      const check = parse(value, param);
      return check.ok ? check.value : refuse(ctx, check.code, check.message);
    });
}

/** An optional parameter: absent or empty → undefined. */
function optional<T>(param: string, parse: Parser<T>) {
  return z
    .string()
    .optional()
    .transform((value, ctx): T | undefined => {
      if (value === undefined || value === '') return undefined;
      const check = parse(value, param);
      return check.ok ? check.value : refuse(ctx, check.code, check.message);
    });
}

/** An UpdateTrail destination parameter: absent → undefined (unchanged), empty → null (cleared). */
function clearable<T>(param: string, parse: Parser<T>) {
  return z
    .string()
    .optional()
    .transform((value, ctx): T | null | undefined => {
      if (value === undefined) return undefined;
      if (value === '') return null;
      const check = parse(value, param);
      return check.ok ? check.value : refuse(ctx, check.code, check.message);
    });
}

// ── value parsers ────────────────────────────────────────────────────────────────────────

const trailName: Parser<string> = (value) => {
  const check = validateTrailName(value);
  return check.ok ? ok(check.name) : bad(check.code, check.message);
};

const bucketName: Parser<string> = (value, param) =>
  trailSchema.shape.ossBucketName.safeParse(value).success
    ? ok(value)
    : bad(
        'InvalidBucketNameException',
        `${param} "${value}" is not a valid OSS bucket name: 3 to 63 characters, lowercase letters, digits and "-", starting and ending with a letter or digit.`,
      );

const KEY_PREFIX = /^[A-Za-z][A-Za-z0-9/_-]{5,31}$/;
/**
 * ActionTrail's rule (6–32 chars, a letter first, `[A-Za-z0-9/_-]`), plus: no empty path
 * segment (`//`) and no trailing `/`, since archive keys are `<prefix>/AliyunLogs/…` (§3.5).
 */
const keyPrefix: Parser<string> = (value, param) => {
  if (!KEY_PREFIX.test(value)) {
    return bad(
      'InvalidPrefixException',
      `The specified OSS bucket prefix is invalid: ${param} must be 6 to 32 characters, start with a letter and contain only letters, digits, "-", "/" and "_" (got "${value}").`,
    );
  }
  if (value.includes('//') || value.endsWith('/')) {
    return bad('InvalidPrefixException', `The specified OSS bucket prefix is invalid: ${param} may not contain "//" or end with "/" (got "${value}").`);
  }
  return ok(value);
};

const roleArn: Parser<string> = (value, param) =>
  value.length <= MAX_ARN_LENGTH && trailSchema.shape.slsWriteRoleArn.safeParse(value).success
    ? ok(value)
    : bad(INVALID, `${param} must be a RAM role ARN, acs:ram::<accountId>:role/<roleName> (got "${value}").`);

const slsProjectArn: Parser<string> = (value, param) =>
  value.length <= MAX_ARN_LENGTH && trailSchema.shape.slsProjectArn.safeParse(value).success
    ? ok(value)
    : bad(INVALID, `${param} must be a Log Service project ARN, acs:log:<region>:<accountId>:project/<projectName> (got "${value}").`);

const eventRW: Parser<TrailEventRW> = (value, param) => {
  const found = TRAIL_EVENT_RW.find((rw) => rw === value);
  return found ? ok(found) : bad(INVALID, `${param} must be one of ${TRAIL_EVENT_RW.join(', ')} (got "${value}").`);
};

const trailRegion: Parser<string> = (value, param) =>
  trailSchema.shape.trailRegion.safeParse(value).success
    ? ok(value)
    : bad(INVALID, `${param} must be All or a region ID such as cn-hangzhou (got "${value}").`);

const boolean: Parser<boolean> = (value, param) => {
  const lower = value.toLowerCase();
  if (lower === 'true') return ok(true);
  if (lower === 'false') return ok(false);
  return bad(INVALID, `${param} must be true or false (got "${value}").`);
};

/** `NameList=a,b`: comma-separated, blanks dropped, duplicates collapsed, each a valid trail name. */
const nameList: Parser<string[]> = (value, param) => {
  const names = [...new Set(value.split(',').map((n) => n.trim()).filter((n) => n !== ''))];
  for (const name of names) {
    const check = validateTrailName(name);
    if (!check.ok) return bad(check.code, `${param}: ${check.message}`);
  }
  return ok(names);
};

/** MaxCompute delivery is part of ActionTrail's API but not of this service (§2: OSS and logstore). */
const unsupported: Parser<never> = (_value, param) =>
  bad(INVALID, `${param} is not supported: this service delivers trails to OSS buckets and Log Service projects only.`);

// ── action schemas ───────────────────────────────────────────────────────────────────────

interface TrailParamsParsed {
  Name: string;
  OssBucketName?: unknown;
  OssKeyPrefix?: unknown;
  OssWriteRoleArn?: unknown;
  SlsProjectArn?: unknown;
  SlsWriteRoleArn?: unknown;
  EventRW?: unknown;
  TrailRegion?: unknown;
  IsOrganizationTrail?: unknown;
}

/** ActionTrail's parameter names → the trail's field names (CreateTrail and UpdateTrail). */
function trailFields<P extends TrailParamsParsed>(p: P) {
  // Indexed types keep each schema's own value types (UpdateTrail's may be null: cleared).
  return {
    name: p.Name,
    ossBucketName: p.OssBucketName as P['OssBucketName'],
    ossKeyPrefix: p.OssKeyPrefix as P['OssKeyPrefix'],
    ossWriteRoleArn: p.OssWriteRoleArn as P['OssWriteRoleArn'],
    slsProjectArn: p.SlsProjectArn as P['SlsProjectArn'],
    slsWriteRoleArn: p.SlsWriteRoleArn as P['SlsWriteRoleArn'],
    eventRW: p.EventRW as P['EventRW'],
    trailRegion: p.TrailRegion as P['TrailRegion'],
    isOrganizationTrail: p.IsOrganizationTrail as P['IsOrganizationTrail'],
  };
}

/** CreateTrail. Defaults: EventRW All (CREATE_TRAIL_DEFAULT_EVENT_RW), IsOrganizationTrail false here; TrailRegion All by `trailSchema`. */
export const createTrailParams = z
  .object({
    Name: required('Name', trailName),
    OssBucketName: optional('OssBucketName', bucketName),
    OssKeyPrefix: optional('OssKeyPrefix', keyPrefix),
    OssWriteRoleArn: optional('OssWriteRoleArn', roleArn),
    SlsProjectArn: optional('SlsProjectArn', slsProjectArn),
    SlsWriteRoleArn: optional('SlsWriteRoleArn', roleArn),
    EventRW: optional('EventRW', eventRW),
    TrailRegion: optional('TrailRegion', trailRegion),
    IsOrganizationTrail: optional('IsOrganizationTrail', boolean),
    MaxComputeProjectArn: optional('MaxComputeProjectArn', unsupported),
    MaxComputeWriteRoleArn: optional('MaxComputeWriteRoleArn', unsupported),
  })
  .transform((p) => ({ ...trailFields(p), eventRW: p.EventRW ?? CREATE_TRAIL_DEFAULT_EVENT_RW, isOrganizationTrail: p.IsOrganizationTrail ?? false }));
export type CreateTrailInput = z.output<typeof createTrailParams>;

/**
 * UpdateTrail. Absent parameters leave the trail as it is (EventRW and TrailRegion included:
 * their documented defaults apply at creation). A destination parameter sent empty clears it
 * (`null`). Name identifies the trail and cannot change; IsOrganizationTrail is not an
 * UpdateTrail parameter in ActionTrail — it is read only to refuse an attempt to change it.
 */
export const updateTrailParams = z
  .object({
    Name: required('Name', trailName),
    OssBucketName: clearable('OssBucketName', bucketName),
    OssKeyPrefix: clearable('OssKeyPrefix', keyPrefix),
    OssWriteRoleArn: clearable('OssWriteRoleArn', roleArn),
    SlsProjectArn: clearable('SlsProjectArn', slsProjectArn),
    SlsWriteRoleArn: clearable('SlsWriteRoleArn', roleArn),
    EventRW: optional('EventRW', eventRW),
    TrailRegion: optional('TrailRegion', trailRegion),
    IsOrganizationTrail: optional('IsOrganizationTrail', boolean),
    MaxComputeProjectArn: optional('MaxComputeProjectArn', unsupported),
    MaxComputeWriteRoleArn: optional('MaxComputeWriteRoleArn', unsupported),
  })
  .transform(trailFields);
export type UpdateTrailInput = z.output<typeof updateTrailParams>;

/** DeleteTrail, StartLogging, StopLogging: `Name` only. */
export const trailNameParams = z.object({ Name: required('Name', trailName) }).transform((p) => ({ name: p.Name }));
export type TrailNameInput = z.output<typeof trailNameParams>;

/** GetTrailStatus: `Name`, `IsOrganizationTrail` (default false). */
export const getTrailStatusParams = z
  .object({
    Name: required('Name', trailName),
    IsOrganizationTrail: optional('IsOrganizationTrail', boolean),
  })
  .transform((p) => ({ name: p.Name, isOrganizationTrail: p.IsOrganizationTrail ?? false }));
export type GetTrailStatusInput = z.output<typeof getTrailStatusParams>;

/** DescribeTrails: `NameList` (comma-separated), `IncludeShadowTrails` and `IncludeOrganizationTrail` (both default false). */
export const describeTrailsParams = z
  .object({
    NameList: optional('NameList', nameList),
    IncludeShadowTrails: optional('IncludeShadowTrails', boolean),
    IncludeOrganizationTrail: optional('IncludeOrganizationTrail', boolean),
  })
  .transform((p) => ({
    nameList: p.NameList,
    includeShadowTrails: p.IncludeShadowTrails ?? false,
    includeOrganizationTrail: p.IncludeOrganizationTrail ?? false,
  }));
export type DescribeTrailsInput = z.output<typeof describeTrailsParams>;

/**
 * Parses RPC parameters with one of the schemas above; the first refusal becomes a
 * `ValidationError` carrying its ActionTrail code and the parameter's name.
 */
export function parseParams<S extends z.ZodType>(schema: S, params: Record<string, string>): z.output<S> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? String(issue.path[0]) : undefined;
  const custom: unknown = issue?.code === 'custom' ? issue.params?.['code'] : undefined;
  const code = typeof custom === 'string' ? custom : INVALID;
  const message = issue ? (custom !== undefined ? issue.message : `${field ?? 'parameters'}: ${issue.message}`) : 'The specified query parameter is invalid.';
  throw new ValidationError(code, message, field);
}
