/**
 * The built-in alert templates (docs/design.md §3.12), after ActionTrail's: each expands, with its
 * parameters, into a condition, a threshold over a window and a group. Pure.
 */
import { z } from 'zod';
import type { AlertField, Condition } from './conditions.ts';
import { OutsideHoursSchema, WEEKDAYS } from './conditions.ts';
import { ALERT_MAX_THRESHOLD, ALERT_MAX_WINDOW_MINUTES } from './model.ts';
import { MAX_ALLOWLIST_ENTRY_LENGTH, parseCidr } from '../insights/allowlist.ts';

export interface TemplateSpec {
  condition: Condition;
  threshold: number;
  windowMinutes: number;
  groupBy?: AlertField;
}

export interface AlertTemplate {
  id: string;
  name: string;
  description: string;
  /** The parameters it takes (a JSON object), with their defaults. */
  parameters: z.ZodType<Record<string, unknown>>;
  defaults: Record<string, unknown>;
  expand(parameters: Record<string, unknown>): TemplateSpec;
}

const SIGNIN: Condition = { field: 'eventType', equals: 'ConsoleSignin' };
const SUCCEEDED: Condition = { field: 'errorCode', exists: false };
const ROOT: Condition = { field: 'userIdentity.type', equals: 'root-account' };
/** The error codes of calls refused for want of permission or a valid key (§3.12). */
export const UNAUTHORIZED_ERROR_PREFIXES = ['Forbidden', 'NoPermission', 'InvalidAccessKeyId'];
/** RAM permission changes (the events PolicyChangeInsight counts, and user policy attachments). */
export const RAM_POLICY_EVENTS = [
  'CreatePolicy',
  'DeletePolicy',
  'CreatePolicyVersion',
  'DeletePolicyVersion',
  'SetDefaultPolicyVersion',
  'AttachPolicyToUser',
  'AttachPolicyToGroup',
  'AttachPolicyToRole',
  'DetachPolicyFromUser',
  'DetachPolicyFromGroup',
  'DetachPolicyFromRole',
  'UpdatePolicyDescription',
];

const none = z.strictObject({});
const count = (def: number) => z.number().int().min(1).max(ALERT_MAX_THRESHOLD).default(def);
const minutes = (def: number) => z.number().int().min(1).max(ALERT_MAX_WINDOW_MINUTES).default(def);
const cidrs = z
  .array(z.string().max(MAX_ALLOWLIST_ENTRY_LENGTH).refine((s) => parseCidr(s) !== undefined, { error: 'each entry must be an IP or a CIDR block' }))
  .min(1)
  .max(100);

function template<S extends z.ZodType<Record<string, unknown>>>(t: {
  id: string;
  name: string;
  description: string;
  parameters: S;
  expand: (p: z.infer<S>) => TemplateSpec;
}): AlertTemplate {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    parameters: t.parameters,
    defaults: (t.parameters.safeParse({}).data ?? {}) as Record<string, unknown>,
    expand: (p) => t.expand(t.parameters.parse(p)),
  };
}

export const ALERT_TEMPLATES: readonly AlertTemplate[] = [
  template({
    id: 'root-logon',
    name: 'Root account logon',
    description: 'The root account signed in to the console.',
    parameters: none,
    expand: () => ({ condition: { and: [SIGNIN, ROOT] }, threshold: 1, windowMinutes: 1 }),
  }),
  template({
    id: 'logon-without-mfa',
    name: 'Console logon without MFA',
    description: 'A console sign-in succeeded without multi-factor authentication.',
    parameters: none,
    expand: () => ({ condition: { and: [SIGNIN, SUCCEEDED, { field: 'mfaChecked', equals: 'false' }] }, threshold: 1, windowMinutes: 1, groupBy: 'userIdentity.userName' }),
  }),
  template({
    id: 'logon-failures',
    name: 'Consecutive logon failures',
    description: 'A user failed to sign in `count` times within `windowMinutes` minutes.',
    parameters: z.strictObject({ count: count(5), windowMinutes: minutes(10) }),
    expand: (p) => ({ condition: { and: [SIGNIN, { field: 'errorCode', exists: true }] }, threshold: p.count, windowMinutes: p.windowMinutes, groupBy: 'userIdentity.userName' }),
  }),
  template({
    id: 'logon-unauthorized-ip',
    name: 'Logon from an IP outside the allowlist',
    description: 'A console sign-in came from an address outside `allowlist` (IPs and CIDR blocks).',
    parameters: z.strictObject({ allowlist: cidrs }),
    expand: (p) => ({ condition: { and: [SIGNIN, { not: { field: 'sourceIpAddress', cidr: p.allowlist } }] }, threshold: 1, windowMinutes: 1, groupBy: 'sourceIpAddress' }),
  }),
  template({
    id: 'logon-outside-hours',
    name: 'Logon outside business hours',
    description: 'A console sign-in outside `fromHour`–`toHour` on `days` (ISO weekdays) in `timeZone`.',
    parameters: z.strictObject({
      timeZone: z.string().default('Asia/Shanghai'),
      fromHour: z.number().int().default(9),
      toHour: z.number().int().default(18),
      days: z.array(z.number().int()).default([...WEEKDAYS]),
    }),
    expand: (p) => ({ condition: { and: [SIGNIN, { outsideHours: OutsideHoursSchema.parse(p) }] }, threshold: 1, windowMinutes: 1, groupBy: 'userIdentity.userName' }),
  }),
  template({
    id: 'accesskey-change',
    name: 'AccessKey created or deleted',
    description: 'An AccessKey was created or deleted (RAM).',
    parameters: none,
    expand: () => ({ condition: { field: 'eventName', in: ['CreateAccessKey', 'DeleteAccessKey'] }, threshold: 1, windowMinutes: 1 }),
  }),
  template({
    id: 'trail-change',
    name: 'Trail stopped, deleted or updated',
    description: 'A trail stopped logging, was deleted or was updated.',
    parameters: none,
    expand: () => ({ condition: { and: [{ field: 'serviceName', equals: 'Actiontrail' }, { field: 'eventName', in: ['StopLogging', 'DeleteTrail', 'UpdateTrail'] }, SUCCEEDED] }, threshold: 1, windowMinutes: 1 }),
  }),
  template({
    id: 'ram-policy-change',
    name: 'RAM policy change',
    description: 'A RAM policy was created, changed, deleted, attached or detached.',
    parameters: none,
    expand: () => ({ condition: { and: [{ field: 'eventName', in: RAM_POLICY_EVENTS }, SUCCEEDED] }, threshold: 1, windowMinutes: 1 }),
  }),
  template({
    id: 'unauthorized-calls',
    name: 'Unauthorized API calls',
    description: 'At least `count` calls refused for permission or key reasons (Forbidden*, NoPermission*, InvalidAccessKeyId*) within `windowMinutes` minutes, per user.',
    parameters: z.strictObject({ count: count(10), windowMinutes: minutes(5) }),
    expand: (p) => ({ condition: { field: 'errorCode', prefix: UNAUTHORIZED_ERROR_PREFIXES }, threshold: p.count, windowMinutes: p.windowMinutes, groupBy: 'userIdentity.userName' }),
  }),
  template({
    id: 'any-insight',
    name: 'Any Insights event',
    description: 'An insight opened (an ActionTrailInsight Start event of any type).',
    parameters: none,
    expand: () => ({ condition: { field: 'eventType', equals: 'ActionTrailInsight' }, threshold: 1, windowMinutes: 1, groupBy: 'eventName' }),
  }),
];

export function templateById(id: string): AlertTemplate | undefined {
  return ALERT_TEMPLATES.find((t) => t.id === id);
}
