/**
 * The alerting API on lookup-http (ours; docs/design.md §3.12): CreateAlertRule, UpdateAlertRule,
 * DeleteAlertRule, GetAlertRule, ListAlertRules, ListAlertTemplates, CreateAlertChannel,
 * UpdateAlertChannel, DeleteAlertChannel, ListAlertChannels, TestAlertChannel (send a test) and
 * DescribeAlertHistory (a rule's delivery log). A caller sees and changes only its own account.
 *
 * Webhook URLs and DingTalk secrets are secrets: sealed before they are stored (`seal`), never
 * returned — a channel shows its scheme and host only (`Url`: `https://oapi.dingtalk.com/…`) and
 * whether it has a secret.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import { formatUtcSecond } from '../lookup/lookup-params.ts';
import { blockedAddress, maskedUrlOf, webhookUrlProblem } from './address-policy.ts';
import { ALERT_FIELDS, ALERT_MAX_CONDITION_CHARS, parseCondition, type AlertField, type Condition } from './conditions.ts';
import { sendTo, type SendRequest } from './engine.ts';
import {
  ALERT_DEFAULT_WINDOW_MINUTES,
  ALERT_MAX_CHANNELS,
  ALERT_MAX_RULE_CHANNELS,
  ALERT_MAX_RULES,
  ALERT_MAX_THRESHOLD,
  ALERT_MAX_WINDOW_MINUTES,
  ALERT_NAME_MAX_CHARS,
  CHANNEL_TYPES,
  ChannelIdSchema,
  RuleIdSchema,
  type AlertChannel,
  type AlertRule,
  type ChannelType,
  type DeliveryLogEntry,
  type OpenChannel,
} from './model.ts';
import type { Notification } from './notify.ts';
import { ALERT_TEMPLATES, templateById } from './templates.ts';

/** Longest DingTalk signing secret accepted. */
export const ALERT_SECRET_MAX_CHARS = 256;
/** Longest TemplateParameters / ChannelIds JSON accepted. */
const PARAMS_JSON_MAX_CHARS = 8192;
export const ALERT_HISTORY_DEFAULT = 50;
export const ALERT_HISTORY_MAX = 100;

export interface AlertApiStore {
  rules(accountId: string): Promise<AlertRule[]>;
  rule(accountId: string, ruleId: string): Promise<AlertRule | undefined>;
  ruleCount(accountId: string): Promise<number>;
  putRule(rule: AlertRule): Promise<void>;
  deleteRule(accountId: string, ruleId: string): Promise<boolean>;
  channels(accountId: string): Promise<AlertChannel[]>;
  channel(accountId: string, channelId: string): Promise<AlertChannel | undefined>;
  channelCount(accountId: string): Promise<number>;
  putChannel(channel: AlertChannel): Promise<void>;
  deleteChannel(accountId: string, channelId: string): Promise<boolean>;
  history(accountId: string, ruleId: string, limit: number): Promise<DeliveryLogEntry[]>;
}

export interface AlertApiPorts {
  store: AlertApiStore;
  /** Seals a secret of a channel (`what`: url or secret) bound to the channel's record. */
  seal(accountId: string, channelId: string, what: 'url' | 'secret', plaintext: string): string;
  open(channel: AlertChannel): OpenChannel;
  send: SendRequest;
  allowPrivateNetworks: boolean;
  now(): number;
}

type Caller = { accountId: string };
export type AlertAction = (params: Record<string, string>, caller: Caller, ports: AlertApiPorts) => Promise<Record<string, unknown>>;

const present = (params: Record<string, string>, name: string): string | undefined => (Object.hasOwn(params, name) && params[name] !== '' ? params[name] : undefined);

function required(params: Record<string, string>, name: string): string {
  const v = present(params, name);
  if (v === undefined) throw new ValidationError('MissingParameter', `the parameter ${name} is required`, name);
  return v;
}

function invalid(name: string, why: string): ValidationError {
  return new ValidationError('InvalidParameter', `the parameter ${name} is invalid: ${why}`, name);
}

function checked<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw invalid(name, `${issue?.message ?? 'bad value'}${issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''}`);
}

function jsonParam(params: Record<string, string>, name: string, maxChars: number): unknown {
  const text = required(params, name);
  if (text.length > maxChars) throw invalid(name, `at most ${maxChars} characters`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(name, 'not JSON');
  }
}

const nameSchema = z
  .string()
  .min(1)
  .max(ALERT_NAME_MAX_CHARS, { error: `at most ${ALERT_NAME_MAX_CHARS} characters` })
  .regex(/^[^\u0000-\u001f\u007f]+$/, { error: 'no control characters' });
const intText = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, { error: 'must be an integer' })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: `must be ${min}–${max}` }).max(max, { error: `must be ${min}–${max}` }));
const boolText = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true');
const groupBySchema = z.enum(ALERT_FIELDS, { error: `must be one of ${ALERT_FIELDS.join(', ')}` });
const channelIdsSchema = z.array(ChannelIdSchema).max(ALERT_MAX_RULE_CHANNELS, { error: `at most ${ALERT_MAX_RULE_CHANNELS} channels` });

const newId = (prefix: 'ar' | 'ac') => `${prefix}-${randomBytes(8).toString('hex')}`;

function ruleId(params: Record<string, string>): string {
  return checked(RuleIdSchema, required(params, 'RuleId'), 'RuleId');
}

async function ruleOf(params: Record<string, string>, caller: Caller, ports: AlertApiPorts): Promise<AlertRule> {
  const rule = await ports.store.rule(caller.accountId, ruleId(params));
  if (!rule) throw new NotFoundError('AlertRuleNotFound', 'The specified alert rule does not exist.');
  return rule;
}

async function channelOf(params: Record<string, string>, caller: Caller, ports: AlertApiPorts): Promise<AlertChannel> {
  const id = checked(ChannelIdSchema, required(params, 'ChannelId'), 'ChannelId');
  const channel = await ports.store.channel(caller.accountId, id);
  if (!channel) throw new NotFoundError('AlertChannelNotFound', 'The specified alert channel does not exist.');
  return channel;
}

/** The channel ids of a rule: JSON array of the account's channels. */
async function channelIds(params: Record<string, string>, caller: Caller, ports: AlertApiPorts): Promise<string[]> {
  const ids = [...new Set(checked(channelIdsSchema, jsonParam(params, 'ChannelIds', PARAMS_JSON_MAX_CHARS), 'ChannelIds'))];
  for (const id of ids) if (!(await ports.store.channel(caller.accountId, id))) throw new NotFoundError('AlertChannelNotFound', `The channel ${id} does not exist.`);
  return ids;
}

interface RuleSpec {
  template?: string;
  templateParameters?: Record<string, unknown>;
  condition: Condition;
  threshold: number;
  windowMinutes: number;
  groupBy?: AlertField;
}

const CUSTOM_ONLY = ['Condition', 'Threshold', 'WindowMinutes', 'GroupBy'] as const;

function templateSpec(templateId: string, params: Record<string, string>): RuleSpec {
  const template = templateById(templateId);
  if (!template) throw new ValidationError('AlertTemplateNotFound', `the template ${JSON.stringify(templateId.slice(0, 64))} does not exist; one of ${ALERT_TEMPLATES.map((t) => t.id).join(', ')}`, 'Template');
  for (const name of CUSTOM_ONLY) if (present(params, name) !== undefined) throw invalid(name, `a rule made from a template takes its ${name} from the template (set TemplateParameters)`);
  const raw = present(params, 'TemplateParameters') === undefined ? {} : jsonParam(params, 'TemplateParameters', PARAMS_JSON_MAX_CHARS);
  const parameters = checked(template.parameters, raw, 'TemplateParameters');
  let spec;
  try {
    spec = template.expand(parameters);
  } catch (error) {
    const issue = error instanceof z.ZodError ? error.issues[0] : undefined;
    throw invalid('TemplateParameters', issue ? `${issue.message}${issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''}` : 'not valid for this template');
  }
  const checkedCondition = parseCondition(spec.condition);
  if (!('condition' in checkedCondition)) throw invalid('TemplateParameters', checkedCondition.message);
  return { template: template.id, templateParameters: parameters, ...spec, condition: checkedCondition.condition };
}

function customSpec(params: Record<string, string>, base?: AlertRule): RuleSpec {
  const condition =
    present(params, 'Condition') !== undefined || !base
      ? (() => {
          const parsed = parseCondition(jsonParam(params, 'Condition', ALERT_MAX_CONDITION_CHARS));
          if (!('condition' in parsed)) throw invalid('Condition', parsed.message);
          return parsed.condition;
        })()
      : base.condition;
  const thresholdText = present(params, 'Threshold');
  const windowText = present(params, 'WindowMinutes');
  const groupByText = present(params, 'GroupBy');
  const threshold = thresholdText !== undefined ? checked(intText(1, ALERT_MAX_THRESHOLD), thresholdText, 'Threshold') : (base?.threshold ?? 1);
  const windowMinutes = windowText !== undefined ? checked(intText(1, ALERT_MAX_WINDOW_MINUTES), windowText, 'WindowMinutes') : (base?.windowMinutes ?? ALERT_DEFAULT_WINDOW_MINUTES);
  const groupBy = groupByText !== undefined ? checked(groupBySchema, groupByText, 'GroupBy') : base?.groupBy;
  return { condition, threshold, windowMinutes, ...(groupBy ? { groupBy } : {}) };
}

const time = (ms: number) => formatUtcSecond(ms);

export function ruleAnswer(rule: AlertRule): Record<string, unknown> {
  return {
    RuleId: rule.id,
    Name: rule.name,
    Enabled: rule.enabled,
    ...(rule.template ? { Template: rule.template, TemplateParameters: rule.templateParameters ?? {} } : {}),
    Condition: rule.condition,
    Threshold: rule.threshold,
    WindowMinutes: rule.windowMinutes,
    ...(rule.groupBy ? { GroupBy: rule.groupBy } : {}),
    ChannelIds: rule.channelIds,
    CreateTime: time(rule.createdAtMs),
    UpdateTime: time(rule.updatedAtMs),
  };
}

export function channelAnswer(channel: AlertChannel): Record<string, unknown> {
  return {
    ChannelId: channel.id,
    Name: channel.name,
    Type: channel.type,
    Url: channel.maskedUrl,
    HasSecret: channel.sealedSecret !== undefined,
    CreateTime: time(channel.createdAtMs),
    UpdateTime: time(channel.updatedAtMs),
  };
}

/** A webhook URL: well-formed, and not a literal blocked address (a host name is checked when it is called). */
function webhookUrl(params: Record<string, string>, ports: AlertApiPorts): string {
  const url = required(params, 'WebhookUrl');
  const problem = webhookUrlProblem(url);
  if (problem) throw invalid('WebhookUrl', problem);
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (/^[\d.]+$|:/.test(host)) {
    const why = blockedAddress(host, ports.allowPrivateNetworks);
    if (why) throw invalid('WebhookUrl', why);
  }
  return url;
}

function secretParam(params: Record<string, string>): string | undefined {
  const secret = present(params, 'Secret');
  if (secret === undefined) return undefined;
  if (secret.length > ALERT_SECRET_MAX_CHARS || !/^[\x21-\x7e]+$/.test(secret)) throw invalid('Secret', `printable ASCII, at most ${ALERT_SECRET_MAX_CHARS} characters`);
  return secret;
}

export const ALERT_ACTIONS: Readonly<Record<string, AlertAction>> = {
  ListAlertTemplates: async () => ({
    Templates: ALERT_TEMPLATES.map((t) => {
      // a template with a required parameter (the IP allowlist) has no default expansion to show
      const parsed = t.parameters.safeParse({});
      const spec = parsed.success ? t.expand(parsed.data) : undefined;
      return {
        Id: t.id,
        Name: t.name,
        Description: t.description,
        Parameters: t.defaults,
        ...(spec ? { Condition: spec.condition, Threshold: spec.threshold, WindowMinutes: spec.windowMinutes, ...(spec.groupBy ? { GroupBy: spec.groupBy } : {}) } : {}),
      };
    }),
  }),

  CreateAlertRule: async (params, caller, ports) => {
    const name = checked(nameSchema, required(params, 'Name'), 'Name');
    const templateId = present(params, 'Template');
    const spec = templateId !== undefined ? templateSpec(templateId, params) : customSpec(params);
    const channels = present(params, 'ChannelIds') !== undefined ? await channelIds(params, caller, ports) : [];
    const enabledText = present(params, 'Enabled');
    const enabled = enabledText === undefined ? true : checked(boolText, enabledText, 'Enabled');
    if ((await ports.store.ruleCount(caller.accountId)) >= ALERT_MAX_RULES) throw new ValidationError('AlertRuleLimitExceeded', `an account keeps at most ${ALERT_MAX_RULES} alert rules`);
    const nowMs = ports.now();
    const rule: AlertRule = { id: newId('ar'), accountId: caller.accountId, name, enabled, ...spec, channelIds: channels, createdAtMs: nowMs, updatedAtMs: nowMs };
    await ports.store.putRule(rule);
    return { Rule: ruleAnswer(rule) };
  },

  UpdateAlertRule: async (params, caller, ports) => {
    const rule = await ruleOf(params, caller, ports);
    const nameText = present(params, 'Name');
    const enabledText = present(params, 'Enabled');
    let spec: RuleSpec;
    if (rule.template) spec = present(params, 'TemplateParameters') !== undefined || CUSTOM_ONLY.some((n) => present(params, n) !== undefined) ? templateSpec(rule.template, params) : rule as RuleSpec;
    else spec = customSpec(params, rule);
    const updated: AlertRule = {
      ...rule,
      ...(nameText !== undefined ? { name: checked(nameSchema, nameText, 'Name') } : {}),
      ...(enabledText !== undefined ? { enabled: checked(boolText, enabledText, 'Enabled') } : {}),
      ...(present(params, 'ChannelIds') !== undefined ? { channelIds: await channelIds(params, caller, ports) } : {}),
      condition: spec.condition,
      threshold: spec.threshold,
      windowMinutes: spec.windowMinutes,
      groupBy: spec.groupBy,
      templateParameters: spec.templateParameters,
      updatedAtMs: ports.now(),
    };
    if (!updated.groupBy) delete updated.groupBy;
    if (!updated.templateParameters) delete updated.templateParameters;
    await ports.store.putRule(updated);
    return { Rule: ruleAnswer(updated) };
  },

  DeleteAlertRule: async (params, caller, ports) => {
    const id = ruleId(params);
    if (!(await ports.store.deleteRule(caller.accountId, id))) throw new NotFoundError('AlertRuleNotFound', 'The specified alert rule does not exist.');
    return {};
  },

  GetAlertRule: async (params, caller, ports) => ({ Rule: ruleAnswer(await ruleOf(params, caller, ports)) }),

  ListAlertRules: async (_params, caller, ports) => ({ Rules: (await ports.store.rules(caller.accountId)).map(ruleAnswer) }),

  DescribeAlertHistory: async (params, caller, ports) => {
    const rule = await ruleOf(params, caller, ports);
    const maxText = present(params, 'MaxResults');
    const limit = maxText === undefined ? ALERT_HISTORY_DEFAULT : checked(intText(1, ALERT_HISTORY_MAX), maxText, 'MaxResults');
    const entries = await ports.store.history(caller.accountId, rule.id, limit);
    return {
      RuleId: rule.id,
      History: entries.map((e) => ({
        Time: time(e.timeMs),
        Outcome: e.outcome,
        NotificationId: e.notificationId,
        Group: e.group,
        Events: e.events,
        ...(e.channelId ? { ChannelId: e.channelId } : {}),
        ...(e.channelName ? { ChannelName: e.channelName } : {}),
        ...(e.attempt !== undefined ? { Attempt: e.attempt } : {}),
        ...(e.status !== undefined ? { Status: e.status } : {}),
        ...(e.error ? { Error: e.error } : {}),
      })),
    };
  },

  CreateAlertChannel: async (params, caller, ports) => {
    const name = checked(nameSchema, required(params, 'Name'), 'Name');
    const type: ChannelType = checked(z.enum(CHANNEL_TYPES, { error: `must be one of ${CHANNEL_TYPES.join(', ')}` }), required(params, 'Type'), 'Type');
    const url = webhookUrl(params, ports);
    const secret = secretParam(params);
    if (secret !== undefined && type !== 'dingtalk') throw invalid('Secret', 'only a dingtalk channel signs its requests');
    if ((await ports.store.channelCount(caller.accountId)) >= ALERT_MAX_CHANNELS) throw new ValidationError('AlertChannelLimitExceeded', `an account keeps at most ${ALERT_MAX_CHANNELS} alert channels`);
    const id = newId('ac');
    const nowMs = ports.now();
    const channel: AlertChannel = {
      id,
      accountId: caller.accountId,
      name,
      type,
      maskedUrl: maskedUrlOf(url),
      sealedUrl: ports.seal(caller.accountId, id, 'url', url),
      ...(secret !== undefined ? { sealedSecret: ports.seal(caller.accountId, id, 'secret', secret) } : {}),
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    await ports.store.putChannel(channel);
    return { Channel: channelAnswer(channel) };
  },

  UpdateAlertChannel: async (params, caller, ports) => {
    const channel = await channelOf(params, caller, ports);
    const nameText = present(params, 'Name');
    const url = present(params, 'WebhookUrl') !== undefined ? webhookUrl(params, ports) : undefined;
    const secret = secretParam(params);
    if (secret !== undefined && channel.type !== 'dingtalk') throw invalid('Secret', 'only a dingtalk channel signs its requests');
    const updated: AlertChannel = {
      ...channel,
      ...(nameText !== undefined ? { name: checked(nameSchema, nameText, 'Name') } : {}),
      ...(url !== undefined ? { maskedUrl: maskedUrlOf(url), sealedUrl: ports.seal(caller.accountId, channel.id, 'url', url) } : {}),
      ...(secret !== undefined ? { sealedSecret: ports.seal(caller.accountId, channel.id, 'secret', secret) } : {}),
      updatedAtMs: ports.now(),
    };
    await ports.store.putChannel(updated);
    return { Channel: channelAnswer(updated) };
  },

  DeleteAlertChannel: async (params, caller, ports) => {
    const channel = await channelOf(params, caller, ports);
    const users = (await ports.store.rules(caller.accountId)).filter((r) => r.channelIds.includes(channel.id));
    if (users.length > 0) throw new ValidationError('AlertChannelInUse', `the channel is used by ${users.length} rule(s): ${users.map((r) => r.id).join(', ')}; remove it from them first`, 'ChannelId');
    await ports.store.deleteChannel(caller.accountId, channel.id);
    return {};
  },

  ListAlertChannels: async (_params, caller, ports) => ({ Channels: (await ports.store.channels(caller.accountId)).map(channelAnswer) }),

  TestAlertChannel: async (params, caller, ports) => {
    const channel = await channelOf(params, caller, ports);
    const nowMs = ports.now();
    const notification: Notification = {
      notificationId: `an-test-${randomBytes(6).toString('hex')}`,
      accountId: caller.accountId,
      ruleId: 'test',
      ruleName: 'Test notification',
      group: '',
      threshold: 1,
      windowMinutes: 1,
      count: 0,
      events: [],
      test: true,
    };
    const result = await sendTo(ports, ports.open(channel), notification, nowMs);
    return { ChannelId: channel.id, Delivered: result.ok, ...(result.status !== undefined ? { Status: result.status } : {}), ...(result.error ? { Error: result.error } : {}) };
  },
};
